"""Score AoA estimates against a recording's truth; tables and plots for `srsaoa run` and the demo.

Plain Python/numpy/matplotlib (no GNU Radio). An estimate's primary angle is its strongest
path, ``aoa_deg[0]`` (every estimator sorts its paths by power), which is the LOS path in
the scenarios we score; the truth is the LOS angle of the SigMF annotation that covers the
estimate's ``sample_index`` (DESIGN section 5), or ``srsaoa:truth.los_aoa_deg`` /
``paths[0].aoa_deg`` for a static recording.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All JSON objects of a JSON-lines file (blank lines skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


class TruthTrack:
    """LOS AoA against sample index from a recording's truth and annotations."""

    def __init__(
        self, truth: dict | None, annotations: Sequence[dict] | None, resource: str | None = None
    ):
        """``resource``: with several UEs (truth ``ues``), the UE whose truth to follow
        (None: the first); annotations of the other UEs are not read."""
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._aoa: list[float] = []
        ues = (truth or {}).get("ues") or []
        if ues:
            if resource is None:
                resource = ues[0]["id"]
            match = [u for u in ues if u["id"] == resource]
            truth = {"los_aoa_deg": match[0]["los_aoa_deg"]} if match else None
        for a in annotations or ():
            if a.get("srsaoa:resource", resource) != resource:
                continue
            if "srsaoa:aoa_deg" in a and "core:sample_start" in a:
                start = int(a["core:sample_start"])
                self._starts.append(start)
                self._ends.append(start + int(a.get("core:sample_count", 1)))
                self._aoa.append(float(a["srsaoa:aoa_deg"]))
        order = np.argsort(self._starts)
        self._starts = [self._starts[i] for i in order]
        self._ends = [self._ends[i] for i in order]
        self._aoa = [self._aoa[i] for i in order]
        self.static: float | None = None
        if truth:
            if truth.get("los_aoa_deg") is not None:
                self.static = float(truth["los_aoa_deg"])
            elif truth.get("paths"):
                self.static = float(truth["paths"][0]["aoa_deg"])

    @property
    def known(self) -> bool:
        return bool(self._aoa) or self.static is not None

    def aoa_at(self, sample_index: int | None) -> float | None:
        """Truth LOS AoA (deg) of the slot starting near ``sample_index``; None if unknown."""
        if sample_index is not None and self._starts:
            i = int(np.searchsorted(self._starts, sample_index, side="right")) - 1
            # a detected slot start may sit a few samples before the annotated one
            for j in (i, i + 1):
                if 0 <= j < len(self._starts) and (
                    self._starts[j] - 64 <= sample_index < self._ends[j]
                ):
                    return self._aoa[j]
        return self.static


def primary_aoa(rec: dict[str, Any]) -> float | None:
    """The strongest path's angle of one result line, or None if it has none."""
    aoa = [a for a in rec.get("aoa_deg") or [] if a is not None]
    return float(aoa[0]) if aoa else None


@dataclass
class MethodStats:
    method: str
    estimates: int
    median_aoa_deg: float
    rmse_deg: float | None
    median_abs_err_deg: float | None
    p80_abs_err_deg: float | None
    p95_abs_err_deg: float | None
    scored: int


def summarize(
    records: Iterable[dict[str, Any]],
    truth: TruthTrack | None,
    order: Sequence[str] = (),
) -> list[MethodStats]:
    """Per-method statistics; errors only where the truth is known. Rows follow ``order``
    (the methods as the user listed them), then any other method by name: the same table
    whichever branch of the flowgraph finished first."""
    by_method: dict[str, list[tuple[float, float | None]]] = {}
    for rec in records:
        a = primary_aoa(rec)
        if a is None:
            continue
        t = truth.aoa_at(rec.get("sample_index")) if truth is not None else None
        by_method.setdefault(str(rec.get("method")), []).append((a, t))
    rank = {m: i for i, m in enumerate(order)}
    out = []
    for method in sorted(by_method, key=lambda m: (rank.get(m, len(rank)), m)):
        pairs = by_method[method]
        est = np.array([p[0] for p in pairs])
        err = np.array([p[0] - p[1] for p in pairs if p[1] is not None])
        has = err.size > 0
        out.append(
            MethodStats(
                method=method,
                estimates=len(pairs),
                median_aoa_deg=float(np.median(est)),
                rmse_deg=float(np.sqrt(np.mean(err**2))) if has else None,
                median_abs_err_deg=float(np.median(np.abs(err))) if has else None,
                p80_abs_err_deg=float(np.percentile(np.abs(err), 80)) if has else None,
                p95_abs_err_deg=float(np.percentile(np.abs(err), 95)) if has else None,
                scored=int(err.size),
            )
        )
    return out


def format_table(stats: Sequence[MethodStats]) -> str:
    """A fixed-width table, one row per method."""

    def f(v: float | None) -> str:
        return "     -" if v is None or not math.isfinite(v) else f"{v:6.2f}"

    lines = [
        "method       estimates  median AoA   RMSE  |err| p50  |err| p80  |err| p95   (deg)",
        "-" * 83,
    ]
    for s in stats:
        lines.append(
            f"{s.method:<12} {s.estimates:>9}  {s.median_aoa_deg:>10.2f} {f(s.rmse_deg):>6}"
            f"  {f(s.median_abs_err_deg):>9}  {f(s.p80_abs_err_deg):>9}  {f(s.p95_abs_err_deg):>9}"
        )
    return "\n".join(lines)


def plot_aoa_vs_time(
    records: Sequence[dict[str, Any]],
    truth: TruthTrack | None,
    sample_rate: float,
    path: str | Path,
    title: str = "AoA against time",
) -> None:
    """PNG: each method's primary AoA against time, with the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    methods = sorted({str(r.get("method")) for r in records})
    markers = dict(zip(methods, "o^sDvx*+", strict=False))
    for m in methods:
        pts = [
            (r["sample_index"] / sample_rate, primary_aoa(r))
            for r in records
            if str(r.get("method")) == m
            and primary_aoa(r) is not None
            and r.get("sample_index") is not None
        ]
        if pts:
            t, a = zip(*pts, strict=True)
            ax.plot(t, a, linestyle="none", marker=markers.get(m, "."), ms=3.5, label=m, alpha=0.8)
    if truth is not None and truth.known:
        idx = sorted({r["sample_index"] for r in records if r.get("sample_index") is not None})
        tt = [(i / sample_rate, truth.aoa_at(i)) for i in idx]
        tt = [p for p in tt if p[1] is not None]
        if tt:
            t, a = zip(*tt, strict=True)
            ax.plot(t, a, "k-", lw=1.2, label="truth (LOS)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("AoA (deg from broadside)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_spectra(
    grid_deg: np.ndarray,
    spectra: dict[str, np.ndarray],
    truth_deg: float | None,
    path: str | Path,
    title: str,
) -> None:
    """PNG: normalised spatial spectra (dB) of several methods at one instant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, p in spectra.items():
        p = np.abs(np.asarray(p, dtype=float))
        p = p / max(p.max(), 1e-300)
        ax.plot(grid_deg, 10 * np.log10(np.maximum(p, 1e-6)), label=name, lw=1.2)
    if truth_deg is not None:
        ax.axvline(truth_deg, color="k", ls="--", lw=1, label=f"truth {truth_deg:.1f} deg")
    ax.set_ylim(-40, 2)
    ax.set_xlabel("angle (deg from broadside)")
    ax.set_ylabel("normalised spectrum (dB)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
