"""The positioning map: anchors, bearing rays, range circles, track, truth, error ellipses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .anchors import Anchor
from .crb import error_ellipse
from .solve import AOA, RANGE, Fix


def plot_map(
    path: str | Path,
    anchors: Sequence[Anchor],
    fixes: Sequence[Fix],
    truth: np.ndarray | None = None,
    ellipse_probability: float = 0.95,
    max_ellipses: int = 12,
    title: str | None = None,
    ue_height_m: float = 0.0,
) -> Path:
    """Write a PNG map. ``truth``: [N, 2] (x, y) of the true track, or None.

    The bearing rays (the locus of the measured AoA cone in the UE's horizontal plane: a
    straight ray at azimuth yaw + AoA when the heights match) and range circles (horizontal
    radius at the UE height) are those of the last fix's measurements; error ellipses are drawn for up to
    ``max_ellipses`` fixes spread over the track.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    fig, ax = plt.subplots(figsize=(7, 6))
    xy = np.array([f.xy for f in fixes]) if fixes else np.zeros((0, 2))
    pts = [a.xyz[:2] for a in anchors] + list(xy)
    if truth is not None and len(truth):
        pts += list(np.asarray(truth)[:, :2])
    pts = np.array(pts)
    span = float(np.max(np.ptp(pts, axis=0))) if len(pts) > 1 else 10.0
    span = max(span, 1.0)
    for a in anchors:
        p = a.xyz[:2]
        ax.plot(*p, "k^", ms=9)
        ax.annotate(a.name, p, textcoords="offset points", xytext=(6, 6))
        b = a.broadside[:2] * 0.08 * span
        ax.arrow(p[0], p[1], b[0], b[1], color="k", width=0.004 * span, length_includes_head=True)
    if fixes:
        last = fixes[-1]
        for m in last.used:
            p = m.anchor.xyz[:2]
            dz = ue_height_m - m.anchor.position_m[2]
            if m.kind == AOA:
                sn = math.sin(math.radians(m.value))
                f = np.linspace(0.0, 1.5 * span, 200)
                along = sn * np.sqrt(f**2 + dz**2) / math.sqrt(1.0 - sn * sn)
                ray = p + np.outer(f, m.anchor.broadside[:2]) + np.outer(along, m.anchor.axis[:2])
                ax.plot(ray[:, 0], ray[:, 1], "--", color="tab:orange", lw=1)
            elif m.kind == RANGE and m.value > abs(dz):
                radius = math.sqrt(m.value**2 - dz**2)
                ax.add_patch(plt.Circle(p, radius, fill=False, ls=":", color="tab:purple", lw=1))
        ax.plot(xy[:, 0], xy[:, 1], ".-", color="tab:blue", ms=3, lw=0.8, label="estimate")
        step = max(1, len(fixes) // max(1, max_ellipses))
        for f in fixes[::step]:
            if not np.all(np.isfinite(f.cov)):
                continue
            major, minor, ang = error_ellipse(f.cov, ellipse_probability)
            ax.add_patch(
                Ellipse(f.xy, 2 * major, 2 * minor, angle=ang, fill=False, color="tab:blue", lw=0.8)
            )
    if truth is not None and len(truth):
        t = np.asarray(truth)
        ax.plot(t[:, 0], t[:, 1], "-", color="tab:green", lw=1.2, label="truth")
    ax.plot([], [], "--", color="tab:orange", label="bearing rays (last fix)")
    ax.plot([], [], ":", color="tab:purple", label="range circles (last fix)")
    ax.set_aspect("equal")
    c = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
    half = 0.6 * span
    ax.set_xlim(c[0] - half, c[0] + half)
    ax.set_ylim(c[1] - half, c[1] + half)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or f"{len(fixes)} positions, {ellipse_probability:.0%} error ellipses")
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
