"""Snapshot position solvers: single-anchor AoA + range, multi-anchor AoA (+ range) WLS.

Measurements are AoA (deg, sigma in deg: the estimate's CRB) and UWB slant ranges (m).
The weighted least-squares solver minimises sum ((z_i - h_i(p)) / sigma_i)^2 over the
horizontal position p = (x, y) of a UE at a known height, by Gauss-Newton from a closed-form
start, and reports cov = (H^T W H)^-1 (the CRB at the solution). Outliers are removed by a
chi-square test of the weighted residuals: while it fails and the problem stays
over-determined, the measurement whose removal leaves the smallest chi-square is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from ..errors import SrsaoaError
from .anchors import Anchor, aoa_deg, aoa_jacobian, range_jacobian, range_m

AOA = "aoa"
RANGE = "range"


@dataclass(frozen=True)
class Measurement:
    """One AoA (value/sigma in deg) or range (value/sigma in m) measurement from an anchor."""

    kind: str
    anchor: Anchor
    value: float
    sigma: float
    t_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in (AOA, RANGE):
            raise ValueError(f"measurement kind must be 'aoa' or 'range', got {self.kind!r}")
        if not (math.isfinite(self.value) and math.isfinite(self.sigma) and self.sigma > 0):
            raise SrsaoaError(
                f"{self.kind} measurement of anchor {self.anchor.name} at t={self.t_s} s needs "
                f"a finite value and sigma > 0 (got {self.value}, {self.sigma})"
            )
        if self.kind == AOA and not abs(self.value) < 90.0:
            raise SrsaoaError(
                f"AoA {self.value} deg of anchor {self.anchor.name} outside (-90, 90)"
            )
        if self.kind == RANGE and self.value < 0:
            raise SrsaoaError(f"negative range {self.value} m from anchor {self.anchor.name}")

    def predict(self, p_xy: NDArray, ue_height_m: float) -> float:
        if self.kind == AOA:
            return aoa_deg(self.anchor, p_xy, ue_height_m)
        return range_m(self.anchor, p_xy, ue_height_m)

    def jacobian(self, p_xy: NDArray, ue_height_m: float) -> NDArray:
        """Row of d h / d (x, y) in the measurement's units (deg or m) per metre."""
        if self.kind == AOA:
            return np.degrees(aoa_jacobian(self.anchor, p_xy, ue_height_m))
        return range_jacobian(self.anchor, p_xy, ue_height_m)


@dataclass
class Fix:
    """A position: ``xy`` (m), ``cov`` (2 x 2, m^2), the anchors and measurements used."""

    t_s: float
    xy: NDArray[np.float64]
    cov: NDArray[np.float64]
    method: str
    used: list[Measurement] = field(default_factory=list)
    rejected: list[Measurement] = field(default_factory=list)

    @property
    def anchors(self) -> list[str]:
        seen: list[str] = []
        for m in self.used:
            if m.anchor.name not in seen:
                seen.append(m.anchor.name)
        return seen

    def to_record(self) -> dict:
        """The DESIGN section 9 position JSON object."""
        c = self.cov
        xy = 0.5 * float(c[0, 1] + c[1, 0])
        return {
            "t_s": float(self.t_s),
            "x_m": float(self.xy[0]),
            "y_m": float(self.xy[1]),
            "cov_m2": [[float(c[0, 0]), xy], [xy, float(c[1, 1])]],
            "anchors": self.anchors,
            "method": self.method,
        }


def method_name(measurements: Sequence[Measurement]) -> str:
    kinds = {m.kind for m in measurements}
    if kinds == {AOA}:
        return "aoa"
    if kinds == {RANGE}:
        return "range"
    return "aoa+range"


def single_anchor(
    anchor: Anchor,
    aoa: float,
    sigma_aoa_deg: float,
    rng_m: float,
    sigma_range_m: float,
    ue_height_m: float = 0.0,
    t_s: float = 0.0,
) -> Fix:
    """Closed-form position from one anchor's AoA and UWB range (the Spanos testbed).

    The range fixes |d|, the AoA fixes d . u = |d| sin(AoA), the height difference fixes d_z,
    and the UE is taken in front of the array (d . b >= 0). The covariance maps the AoA and
    range variances through the inverse Jacobian: cov = J^-1 diag(sa^2, sr^2) J^-T.
    """
    ma = Measurement(AOA, anchor, aoa, sigma_aoa_deg, t_s)
    mr = Measurement(RANGE, anchor, rng_m, sigma_range_m, t_s)
    dz = ue_height_m - anchor.position_m[2]
    along = rng_m * math.sin(math.radians(aoa))
    front2 = rng_m * rng_m - dz * dz - along * along
    front = math.sqrt(front2) if front2 > 0 else 0.0
    xy = anchor.xyz[:2] + front * anchor.broadside[:2] + along * anchor.axis[:2]
    return Fix(t_s, xy, _covariance([ma, mr], xy, ue_height_m), "aoa+range", [ma, mr])


def _information(ms: Sequence[Measurement], xy: NDArray, ue_height_m: float) -> NDArray:
    h = np.array([m.jacobian(xy, ue_height_m) for m in ms])
    w = np.array([1.0 / m.sigma**2 for m in ms])
    return (h * w[:, None]).T @ h


def _covariance(ms: Sequence[Measurement], xy: NDArray, ue_height_m: float) -> NDArray:
    info = _information(ms, xy, ue_height_m)
    if np.linalg.cond(info) > 1e12:
        return np.full((2, 2), np.inf)
    return np.linalg.inv(info)


def _chi2(ms: Sequence[Measurement], xy: NDArray, ue_height_m: float) -> float:
    return float(sum(((m.value - m.predict(xy, ue_height_m)) / m.sigma) ** 2 for m in ms))


def observable(ms: Sequence[Measurement], xy: NDArray, ue_height_m: float) -> bool:
    """True when the measurements determine (x, y) (information matrix well conditioned)."""
    if len(ms) < 2:
        return False
    return bool(np.linalg.cond(_information(ms, xy, ue_height_m)) < 1e10)


def initial_guess(ms: Sequence[Measurement], ue_height_m: float) -> NDArray[np.float64] | None:
    """A start for Gauss-Newton: the best single-anchor AoA + range fix, else the
    least-squares intersection of horizontal bearing lines (azimuth yaw + AoA)."""
    by_anchor: dict[str, dict[str, Measurement]] = {}
    for m in ms:
        by_anchor.setdefault(m.anchor.name, {}).setdefault(m.kind, m)
    pairs = [v for v in by_anchor.values() if AOA in v and RANGE in v]
    if pairs:
        best = min(pairs, key=lambda v: v[RANGE].value * math.radians(v[AOA].sigma))
        a = best[AOA].anchor
        return single_anchor(
            a, best[AOA].value, best[AOA].sigma, best[RANGE].value, best[RANGE].sigma, ue_height_m
        ).xy
    rows, rhs = [], []
    for v in by_anchor.values():
        if AOA not in v:
            continue
        m = v[AOA]
        az = math.radians(m.anchor.yaw_deg + m.value)
        n = np.array([-math.sin(az), math.cos(az)])
        rows.append(n)
        rhs.append(float(n @ m.anchor.xyz[:2]))
    if len(rows) < 2:
        return None
    a = np.array(rows)
    if np.linalg.cond(a.T @ a) > 1e10:
        return None
    return np.linalg.lstsq(a, np.array(rhs), rcond=None)[0]


def gauss_newton(
    ms: Sequence[Measurement],
    x0: NDArray,
    ue_height_m: float = 0.0,
    max_iter: int = 30,
    tol_m: float = 1e-7,
) -> NDArray[np.float64]:
    """Weighted least squares by Gauss-Newton with step halving (bounded iterations)."""
    xy = np.asarray(x0, dtype=np.float64).copy()
    cost = _chi2(ms, xy, ue_height_m)
    for _ in range(max_iter):
        h = np.array([m.jacobian(xy, ue_height_m) / m.sigma for m in ms])
        r = np.array([(m.value - m.predict(xy, ue_height_m)) / m.sigma for m in ms])
        step = np.linalg.lstsq(h, r, rcond=None)[0]
        for _half in range(20):
            cand = xy + step
            try:
                c = _chi2(ms, cand, ue_height_m)
            except ValueError:  # stepped onto an anchor
                c = math.inf
            if c <= cost:
                break
            step = step / 2
        else:
            break
        xy, cost = cand, c
        if float(np.linalg.norm(step)) < tol_m:
            break
    return xy


def solve(
    ms: Sequence[Measurement],
    ue_height_m: float = 0.0,
    t_s: float | None = None,
    outlier_alpha: float | None = 1e-3,
    x0: NDArray | None = None,
) -> Fix | None:
    """WLS position of one epoch's measurements; None when they do not determine it.

    ``outlier_alpha``: significance of the chi-square test that triggers outlier rejection
    (None: keep every measurement).
    """
    ms = list(ms)
    if not ms:
        return None
    t = float(np.mean([m.t_s for m in ms])) if t_s is None else float(t_s)
    start = initial_guess(ms, ue_height_m) if x0 is None else np.asarray(x0, dtype=np.float64)
    if start is None or not observable(ms, start, ue_height_m):
        return None
    xy = gauss_newton(ms, start, ue_height_m)
    used, rejected = ms, []
    if outlier_alpha is not None:
        while len(used) > 2:
            dof = len(used) - 2
            if _chi2(used, xy, ue_height_m) <= chi2.ppf(1.0 - outlier_alpha, dof):
                break
            best = None
            for i in range(len(used)):
                rest = used[:i] + used[i + 1 :]
                if not observable(rest, xy, ue_height_m):
                    continue
                g = initial_guess(rest, ue_height_m)
                cand = gauss_newton(rest, xy if g is None else g, ue_height_m)
                c = _chi2(rest, cand, ue_height_m)
                if best is None or c < best[0]:
                    best = (c, i, cand)
            if best is None:
                break
            _, i, xy = best
            rejected.append(used[i])
            used = used[:i] + used[i + 1 :]
    cov = _covariance(used, xy, ue_height_m)
    if not np.all(np.isfinite(cov)):
        return None
    return Fix(t, xy, cov, method_name(used), list(used), rejected)
