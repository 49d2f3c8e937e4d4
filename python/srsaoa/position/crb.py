"""Position Cramer-Rao bound and error ellipses.

For independent Gaussian measurements z_i = h_i(p) + n_i, n_i ~ N(0, sigma_i^2), the Fisher
information of the horizontal position p = (x, y) is J = sum_i g_i g_i^T / sigma_i^2 with
g_i = grad h_i(p), and any unbiased estimator has cov >= J^-1 (Kay, Fundamentals of
Statistical Signal Processing I, section 3.8). With AoA measurements at their own CRB, J^-1 is
the bound of the position given the received SRS and UWB ranges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize

from .anchors import Anchor, aoa_jacobian, range_jacobian


def position_crb(
    anchors: Sequence[Anchor],
    p_xy: ArrayLike,
    sigma_aoa_deg: Mapping[str, float] | float | None,
    sigma_range_m: Mapping[str, float] | float | None = None,
    ue_height_m: float = 0.0,
) -> NDArray[np.float64]:
    """2 x 2 CRB (m^2) of (x, y) from AoA (and range) of every anchor.

    ``sigma_aoa_deg`` / ``sigma_range_m``: one value for all anchors, a mapping name -> sigma
    (anchors missing from it contribute no such measurement), or None (no such measurement).
    Returns inf entries when the position is not observable.
    """

    def get(spec, name):
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            return spec.get(name)
        return float(spec)

    info = np.zeros((2, 2))
    for a in anchors:
        sa = get(sigma_aoa_deg, a.name)
        if sa is not None:
            g = aoa_jacobian(a, p_xy, ue_height_m)  # rad / m
            info += np.outer(g, g) / math.radians(sa) ** 2
        sr = get(sigma_range_m, a.name)
        if sr is not None:
            g = range_jacobian(a, p_xy, ue_height_m)
            info += np.outer(g, g) / sr**2
    if np.linalg.cond(info) > 1e12:
        return np.full((2, 2), np.inf)
    return np.linalg.inv(info)


def rms_bound(cov: ArrayLike) -> float:
    """sqrt(trace(cov)): the bound on the RMS position error (m)."""
    return float(math.sqrt(np.trace(np.asarray(cov, dtype=np.float64))))


def error_ellipse(cov: ArrayLike, probability: float = 0.95) -> tuple[float, float, float]:
    """(semi-major m, semi-minor m, orientation deg ccw from +x) of the ellipse holding a
    2-D Gaussian error with this covariance with the given probability
    (scale sqrt(-2 ln(1 - P)), the 2-degree-of-freedom chi-square quantile)."""
    c = np.asarray(cov, dtype=np.float64)
    if not (0.0 < probability < 1.0):
        raise ValueError("probability must lie in (0, 1)")
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    k = math.sqrt(-2.0 * math.log(1.0 - probability))
    w = np.clip(w, 0.0, None)
    return (
        k * math.sqrt(w[1]),
        k * math.sqrt(w[0]),
        math.degrees(math.atan2(v[1, 1], v[0, 1])),
    )


def error_cdf(r: float, cov: ArrayLike) -> float:
    """P(|e| <= r) for e ~ N(0, cov) in 2-D (exact, by integration over the angle)."""
    w = np.clip(np.linalg.eigvalsh(np.asarray(cov, dtype=np.float64)), 0.0, None)
    small, large = float(w[0]), float(w[1])
    if r <= 0:
        return 0.0
    if large == 0.0:
        return 1.0
    # |e|^2 = large z1^2 + small z2^2 with z1, z2 ~ N(0, 1): condition on z1 in [-a, a],
    # a = r / sqrt(large), and substitute z1 = a sin u (smooth even when small -> 0):
    # P = int_{-pi/2}^{pi/2} phi(a sin u) erf(r cos u / sqrt(2 small)) a cos u du.
    a = r / math.sqrt(large)

    def integrand(u: float) -> float:
        z = a * math.sin(u)
        c = math.cos(u)
        inner = 1.0 if small == 0.0 else math.erf(r * c / math.sqrt(2.0 * small))
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * inner * a * c

    val, _ = integrate.quad(integrand, -math.pi / 2, math.pi / 2, limit=200)
    return float(min(1.0, max(0.0, val)))


def error_quantile(q: float, covs: Sequence[ArrayLike] | ArrayLike) -> float:
    """The q-quantile of |e| when e ~ N(0, cov_i) with cov_i picked uniformly from ``covs``
    (one covariance, or one per trial): the error percentile an efficient estimator reaches."""
    arr = np.asarray(covs, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if not (0.0 < q < 1.0):
        raise ValueError("q must lie in (0, 1)")

    def f(r: float) -> float:
        return float(np.mean([error_cdf(r, c) for c in arr])) - q

    hi = 10.0 * max(math.sqrt(float(np.trace(c))) for c in arr)
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-9 * hi))
