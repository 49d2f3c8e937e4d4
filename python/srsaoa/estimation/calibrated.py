"""Calibrated estimators: DBF, MUSIC, deterministic ML and joint angle-delay ML on a measured
array manifold (docs/estimation.md, "Calibrated estimators").

The array is seen only through a :class:`~..array.manifold.Manifold`: its response
b(theta, f) (element 0 referenced, b_0 = 1) in B frequency bands, with the derivative
d b / d theta. The CFR H[m, s, k] (as cfr_extractor outputs it, after the angle-independent
correction of the calibration file) is modelled as

    H[:, s, k] = sum_p b(theta_p, f_k) alpha_{p,s} exp(-j 2 pi f_k tau_p) + n,

with b(theta, f_k) taken at the centre of the band holding f_k. The covariance methods use one
covariance per band, R_b = sum_{k in b, s} h h^H (N_b snapshots):

- DBF: P(theta) = sum_b b_b^H R_b b_b / ||b_b||^2 / N (the P = 1 deterministic ML cost);
- MUSIC: P(theta) = 1 / sum_b (N_b/N) ||E_n,b^H b_b||^2 / ||b_b||^2 with the noise subspace
  E_n,b of every band;
- ML (deterministic, Stoica and Nehorai 1989): maximise sum_b tr(P_{A_b(theta)} R_b) over the
  P angles, A_b = [b_b(theta_1) ... b_b(theta_P)]; an exhaustive grid for P = 1, the grid of
  all pairs (vectorised, closed-form 2 x 2 projection) for P = 2, alternating projection
  (Ziskind and Wax 1988) for P >= 3, then a joint continuous refinement (L-BFGS-B with the
  analytic gradient 2 Re[A^+ R P_A^perp D]_pp). It needs no rank in the source covariance,
  so coherent paths are fine;
- joint angle-delay ML on the CFR: maximise sum_s h_s^H P_C h_s over (theta_p, tau_p), C the
  [MK, P] matrix of the columns b(theta_p, f_k) exp(-j 2 pi f_k tau_p); a coarse 2-D angle x
  delay search on the delays where the power delay profile has energy, paths added one at a
  time on the residual (SAGE-like successive projection), alternating-projection sweeps,
  then a joint continuous refinement of all angles and delays.

Every peak is refined off the grid on the manifold itself (no grid bias). The Cramer-Rao
bounds use the manifold and its derivative with the Fisher information summed over bands;
for the ideal ULA they reduce to ``crb.crb_deterministic`` / ``crb.crb_stochastic``.

Plain numpy/scipy; never imports GNU Radio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize, minimize_scalar

from ..array.manifold import IdealManifold, Manifold, band_index
from . import los as _los
from . import order as _order
from .doa import Estimate, _peaks, _uniform_step, default_grid

__all__ = [
    "ANGLE_INDEPENDENT_METHODS",
    "CALIBRATED_METHODS",
    "BandCovariances",
    "band_covariances",
    "baseband_frequencies",
    "calibrated_spectrum",
    "crb_angle_delay_calibrated",
    "crb_calibrated",
    "dbf_spectrum",
    "estimate_calibrated",
    "joint_angle_delay_ml",
    "ml",
    "music_spectrum",
    "search_range",
]

CALIBRATED_METHODS = ("dbf", "music", "ml", "2d-ml")
# these use only the angle-independent part of a calibration (cfr_extractor applies it)
ANGLE_INDEPENDENT_METHODS = ("esprit", "root-music", "2d-esprit")

_ANGLE_LIMIT = 89.9  # deg: the search never reaches endfire (d b / d theta -> 0 there)


# --------------------------------------------------------------------------- band covariances


@dataclass
class BandCovariances:
    """Per-band sums R_b = sum h h^H [B_used, M, M], snapshot counts [B_used] and the indices
    of those bands in the manifold's band list (bands without a subcarrier are left out)."""

    r: NDArray[np.complex128]
    n: NDArray[np.float64]
    bands: NDArray[np.intp]

    @property
    def num_elements(self) -> int:
        return int(self.r.shape[1])

    @property
    def total(self) -> float:
        return float(np.sum(self.n))

    def full_band(self) -> NDArray[np.complex128]:
        """The full-band sample covariance (1/N) sum_b R_b."""
        return np.sum(self.r, axis=0) / self.total


def _check_cfr(cfr: ArrayLike, manifold: Manifold) -> NDArray[np.complex128]:
    x = np.asarray(cfr)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"CFR must be [M, S, K] or [M, K], got shape {np.shape(cfr)}")
    if x.shape[0] != manifold.num_elements:
        raise ValueError(
            f"CFR has {x.shape[0]} elements, the calibrated manifold {manifold.num_elements}"
        )
    if x.shape[1] * x.shape[2] == 0:
        raise ValueError("CFR has no snapshots")
    if not np.all(np.isfinite(x)):
        raise ValueError("CFR contains NaN or Inf")
    return x.astype(np.complex128)


def _check_freqs(subcarrier_hz: ArrayLike, k: int) -> NDArray[np.float64]:
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    if f.size != k:
        raise ValueError(f"{f.size} subcarrier frequencies for {k} CFR columns")
    if not np.all(np.isfinite(f)):
        raise ValueError("subcarrier frequencies must be finite")
    return f


def _num_bands(manifold: Manifold) -> int:
    return int(np.asarray(manifold.band_edges_hz).size - 1)


def band_covariances(
    cfr: ArrayLike, subcarrier_hz: ArrayLike, manifold: Manifold
) -> BandCovariances:
    """R_b = sum over the band's subcarriers and symbols of h h^H, from a CFR [M, S, K]."""
    h = _check_cfr(cfr, manifold)
    f = _check_freqs(subcarrier_hz, h.shape[2])
    bidx = band_index(manifold.band_edges_hz, f)
    m, s, _ = h.shape
    rs, ns, used = [], [], []
    for b in range(_num_bands(manifold)):
        sel = bidx == b
        if not np.any(sel):
            continue
        x = h[:, :, sel].reshape(m, -1)
        rs.append(x @ x.conj().T)
        ns.append(float(x.shape[1]))
        used.append(b)
    return BandCovariances(np.stack(rs), np.asarray(ns), np.asarray(used, dtype=np.intp))


def covariance_bands(r: ArrayLike, n_snapshots: float, manifold: Manifold) -> BandCovariances:
    """One band from a full-band covariance R (M x M, a mean) of N snapshots; only for a
    manifold with a single band (a covariance carries no frequency information)."""
    r = np.asarray(r, dtype=np.complex128)
    m = manifold.num_elements
    if r.shape != (m, m):
        raise ValueError(f"covariance must be {m} x {m} for this manifold, got {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("covariance contains NaN or Inf")
    if _num_bands(manifold) != 1:
        raise ValueError(
            "the calibrated manifold has several frequency bands: give the CFR, a covariance "
            "has no frequency information"
        )
    n = float(n_snapshots)
    if not (np.isfinite(n) and n > 0):
        raise ValueError(f"n_snapshots must be > 0, got {n_snapshots}")
    r = 0.5 * (r + r.conj().T)
    return BandCovariances((r * n)[None], np.array([n]), np.array([0], dtype=np.intp))


# --------------------------------------------------------------------------- manifold access


def search_range(manifold: Manifold, fov_deg: tuple[float, float]) -> tuple[float, float]:
    """The field of view intersected with the manifold's known angles (and +-89.9 deg)."""
    lo = max(float(fov_deg[0]), float(manifold.angle_range_deg[0]), -_ANGLE_LIMIT)
    hi = min(float(fov_deg[1]), float(manifold.angle_range_deg[1]), _ANGLE_LIMIT)
    if not hi > lo:
        raise ValueError(
            f"the field of view {tuple(fov_deg)} does not overlap the calibrated angles "
            f"{tuple(manifold.angle_range_deg)}"
        )
    return lo, hi


def _steer(manifold: Manifold, theta_deg: ArrayLike, bands: NDArray) -> NDArray:
    """b at the band centres, [B_used, M, L]."""
    return np.transpose(manifold.steering(theta_deg)[:, :, bands], (2, 0, 1))


def _deriv(manifold: Manifold, theta_deg: ArrayLike, bands: NDArray) -> NDArray:
    """d b / d theta (1/rad) at the band centres, [B_used, M, L]."""
    return np.transpose(manifold.derivative(theta_deg)[:, :, bands], (2, 0, 1))


class _Local:
    """The manifold near a few angles: a Chebyshev interpolant (degree 12) of b in theta on
    [c - w, c + w] around every centre c, per element and band. The refinements evaluate
    the manifold tens of times; this needs one vectorised manifold call instead, and
    interpolates to ~1e-12 (b is smooth: its phase changes by < 1 rad over a window).
    Angles outside every window go to the manifold itself."""

    _DEG = 12

    def __init__(self, manifold: Manifold, centres: ArrayLike, half_deg: float) -> None:
        self.base = manifold
        self.num_elements = manifold.num_elements
        self.spacing_wavelengths = manifold.spacing_wavelengths
        self.angle_range_deg = manifold.angle_range_deg
        self.band_edges_hz = manifold.band_edges_hz
        self.centres = np.unique(np.asarray(centres, dtype=np.float64).ravel())
        self.half = float(half_deg)
        n = self._DEG + 1
        x = np.cos(np.pi * (np.arange(n) + 0.5) / n)  # Chebyshev nodes of the first kind
        nodes = self.centres[:, None] + self.half * x[None, :]
        b = manifold.steering(nodes.ravel())  # [M, C n, B]
        m, _, nb = b.shape
        self.nb = nb
        y = b.reshape(m, self.centres.size, n, nb).transpose(1, 2, 0, 3).reshape(-1, n, m * nb)
        self.coef = np.stack([_cheb.chebfit(x, yc, self._DEG) for yc in y])  # [C, n, M B]
        self.dcoef = _cheb.chebder(self.coef, axis=1) * (180.0 / np.pi / self.half)

    def _eval(self, theta_deg: ArrayLike, coef: NDArray, fallback) -> NDArray:
        th = np.atleast_1d(np.asarray(theta_deg, dtype=np.float64))
        idx = np.argmin(np.abs(th[:, None] - self.centres[None, :]), axis=1)
        x = (th - self.centres[idx]) / self.half
        out = np.empty((self.num_elements, th.size, self.nb), dtype=np.complex128)
        inside = np.abs(x) <= 1.0 + 1e-12
        for c in np.unique(idx[inside]):
            sel = inside & (idx == c)
            v = _cheb.chebvander(x[sel], coef.shape[1] - 1) @ coef[c]  # [L_c, M B]
            out[:, sel, :] = v.reshape(-1, self.num_elements, self.nb).transpose(1, 0, 2)
        if not np.all(inside):
            out[:, ~inside, :] = fallback(th[~inside])
        return out

    def steering(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        return self._eval(theta_deg, self.coef, self.base.steering)

    def derivative(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        return self._eval(theta_deg, self.dcoef, self.base.derivative)


def _coarse_step(manifold: Manifold, grid_step_deg: float) -> float:
    """Step of the pair and angle-delay grids: 1/12 of the half-power beam width (about
    50 / (M d/lambda) deg), at least the fine step and at most 2 deg (M = 4: 2 deg). The
    continuous refinement starts within half a step of the optimum, well inside its basin."""
    beam = 50.0 / (manifold.num_elements * max(manifold.spacing_wavelengths, 1e-3))
    return max(float(grid_step_deg), min(2.0, beam / 12.0))


def _local_refine(
    manifold: Manifold, theta0: NDArray, half: float, lo: float, hi: float, solve
) -> tuple[NDArray, _Local]:
    """Run ``solve(local manifold, start, bounds) -> theta`` with windows of +-half around
    the start; while a path ends on its window's edge (not the search range's), re-centre."""
    theta = np.asarray(theta0, dtype=np.float64).copy()
    loc = _Local(manifold, theta, half)
    for _ in range(4):
        bounds = [(max(lo, t - half), min(hi, t + half)) for t in theta]
        new = np.asarray(solve(loc, theta, bounds), dtype=np.float64)
        edge = [
            (abs(v - b0) < 1e-6 and b0 > lo) or (abs(v - b1) < 1e-6 and b1 < hi)
            for v, (b0, b1) in zip(new, bounds, strict=True)
        ]
        theta = new
        if not any(edge):
            break
        loc = _Local(manifold, theta, half)
    return theta, loc


class _GridCache:
    """The manifold on a search grid (all bands), kept for the next occasions: steering
    [B, M, L], squared norms [B, L] and, for the pair search, the Gram matrices [B, L, L].
    Shared by the estimator blocks' threads (a lock guards the table)."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._items: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: tuple) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(key)

    def get(self, manifold: Manifold, lo: float, hi: float, step: float) -> dict[str, Any]:
        key = (id(manifold), lo, hi, step)
        item = self.lookup(key)
        if item is None or item["manifold"] is not manifold:
            grid = default_grid(lo, hi, step)
            a = np.transpose(manifold.steering(grid), (2, 0, 1))
            if a.shape[1:] != (manifold.num_elements, grid.size) or not np.all(np.isfinite(a)):
                raise ValueError("the manifold returned steering vectors of the wrong shape")
            item = {
                "manifold": manifold,
                "grid": grid,
                "a": a,
                "norm2": np.sum(np.abs(a) ** 2, axis=1),
            }
            self.put(key, item)
        return item

    def put(self, key: tuple, item: dict[str, Any]) -> None:
        with self._lock:
            if key not in self._items and len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = item

    def gram(self, item: dict[str, Any]) -> NDArray:
        if "gram" not in item:
            a = item["a"]
            item["gram"] = np.einsum("bml,bmn->bln", a.conj(), a)
        return item["gram"]


_CACHE = _GridCache()


# --------------------------------------------------------------------------- spectra


def dbf_spectrum(
    bc: BandCovariances, manifold: Manifold, grid: dict[str, Any]
) -> NDArray[np.float64]:
    """Calibrated Bartlett spectrum sum_b b^H R_b b / ||b||^2 / N on the grid (units of R)."""
    a = grid["a"][bc.bands]
    q = np.real(np.einsum("bml,bmn,bnl->bl", a.conj(), bc.r, a)) / grid["norm2"][bc.bands]
    return np.sum(q, axis=0) / bc.total


def _noise_subspaces(bc: BandCovariances, order: int) -> NDArray[np.complex128]:
    """E_n of every band, [B, M, M - d] (eigenvectors of the M - d smallest eigenvalues)."""
    _, v = np.linalg.eigh(bc.r / bc.n[:, None, None])
    return v[:, :, : bc.num_elements - order]


def _music_cost(en: NDArray, w: NDArray, a: NDArray) -> NDArray[np.float64]:
    """sum_b w_b ||E_n,b^H b_b||^2 / ||b_b||^2 for a [B, M, L]."""
    num = np.sum(np.abs(np.einsum("bmj,bml->bjl", en.conj(), a)) ** 2, axis=1)
    return np.sum(w[:, None] * num / np.sum(np.abs(a) ** 2, axis=1), axis=0)


def music_spectrum(
    bc: BandCovariances, manifold: Manifold, grid: dict[str, Any], order: int
) -> NDArray[np.float64]:
    """Calibrated MUSIC pseudo-spectrum 1 / sum_b (N_b/N) ||E_n,b^H b||^2 / ||b||^2."""
    en = _noise_subspaces(bc, order)
    cost = _music_cost(en, bc.n / bc.total, grid["a"][bc.bands])
    return 1.0 / np.maximum(cost, np.finfo(float).tiny)


def _refine_1d(cost, grid: NDArray, idx: ArrayLike, lo: float, hi: float) -> NDArray:
    """Minimise cost(theta_deg) between the grid neighbours of each index (bounded Brent)."""
    out = []
    for j in np.atleast_1d(idx):
        a, b = max(grid[max(j - 1, 0)], lo), min(grid[min(j + 1, grid.size - 1)], hi)
        res = minimize_scalar(cost, bounds=(a, b), method="bounded", options={"xatol": 1e-7})
        out.append(res.x if res.fun <= cost(grid[j]) else grid[j])
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------- deterministic ML


def _ml_cost_grad(
    theta: NDArray, bc: BandCovariances, manifold: Manifold, grad: bool = True
) -> tuple[float, NDArray]:
    """J = sum_b tr(P_A_b R_b) and dJ/dtheta (per rad)."""
    a = _steer(manifold, theta, bc.bands)  # [B, M, P]
    ah = np.conj(np.transpose(a, (0, 2, 1)))
    apinv = np.linalg.solve(ah @ a, ah)  # [B, P, M]
    ar = apinv @ bc.r  # [B, P, M]
    j = float(np.real(np.trace(ar @ a, axis1=1, axis2=2)).sum())
    if not grad:
        return j, np.zeros(0)
    d = _deriv(manifold, theta, bc.bands)
    # A^+ R P_perp D = A^+ R D - (A^+ R A) (A^+ D)
    t = ar @ d - (ar @ a) @ (apinv @ d)
    g = 2.0 * np.real(np.diagonal(t, axis1=1, axis2=2)).sum(axis=0)
    return j, g


def _ml_pairs(bc: BandCovariances, item: dict[str, Any], gram: NDArray) -> tuple[int, int]:
    """Best pair (i < j) of grid angles: tr(G^-1 Q) with the 2 x 2 Gram G and Q = A^H R A."""
    a = item["a"][bc.bands]  # [B, M, L]
    g = gram[bc.bands]  # [B, L, L]
    q = np.conj(np.transpose(a, (0, 2, 1))) @ (bc.r @ a)  # [B, L, L]
    gd = np.real(np.diagonal(g, axis1=1, axis2=2))  # [B, L]
    qd = np.real(np.diagonal(q, axis1=1, axis2=2))
    iu, ju = np.triu_indices(gd.shape[1], 1)
    gij, qij = g[:, iu, ju], q[:, iu, ju]
    gi, gj = gd[:, iu], gd[:, ju]
    num = gj * qd[:, iu] + gi * qd[:, ju] - 2.0 * (gij.real * qij.real + gij.imag * qij.imag)
    gg = gi * gj
    det = gg - (gij.real**2 + gij.imag**2)
    ok = det > 1e-9 * gg
    cost = np.sum(np.where(ok, num / np.where(ok, det, 1.0), -np.inf), axis=0)
    best = int(np.argmax(cost))
    return int(iu[best]), int(ju[best])


def _ml_conditional(
    bc: BandCovariances, manifold: Manifold, item: dict[str, Any], others: NDArray
) -> int:
    """Grid index maximising the ML cost of one more path with ``others`` fixed."""
    a = item["a"][bc.bands]
    ao = _steer(manifold, others, bc.bands)
    aoh = np.conj(np.transpose(ao, (0, 2, 1)))
    pperp = np.eye(bc.num_elements)[None] - ao @ np.linalg.solve(aoh @ ao, aoh)
    y = pperp @ a  # [B, M, L]
    num = np.real(np.sum(y.conj() * (bc.r @ y), axis=1))
    den = np.sum(np.abs(y) ** 2, axis=1)
    ok = den > 1e-9 * item["norm2"][bc.bands]
    cost = np.sum(np.where(ok, num / np.where(ok, den, 1.0), -np.inf), axis=0)
    return int(np.argmax(cost))


def _refine_joint(f_and_g, x0: NDArray, bounds: list[tuple[float, float]]) -> NDArray:
    res = minimize(
        f_and_g,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 200},
    )
    f0 = f_and_g(x0)[0]
    return res.x if res.fun <= f0 else x0


def ml(
    bc: BandCovariances,
    manifold: Manifold,
    order: int,
    fov_deg: tuple[float, float] = (-90.0, 90.0),
    grid_step_deg: float = 0.5,
    max_sweeps: int = 10,
) -> NDArray[np.float64]:
    """Deterministic ML angles (deg) of ``order`` paths on the calibrated manifold."""
    p = _check_order(order, bc.num_elements)
    lo, hi = search_range(manifold, fov_deg)
    scale = float(np.real(np.trace(bc.r, axis1=1, axis2=2)).sum())
    if not scale > 0:
        raise ValueError("the CFR is all zeros")
    if p == 1:
        item = _CACHE.get(manifold, lo, hi, grid_step_deg)
        j = int(np.argmax(dbf_spectrum(bc, manifold, item)))
        return _refine_peaks(lambda loc, t: -_ml_cost_grad(np.array([t]), bc, loc, False)[0],
                             manifold, item["grid"], [j], lo, hi)  # fmt: skip
    coarse = _coarse_step(manifold, grid_step_deg)
    item = _CACHE.get(manifold, lo, hi, coarse)
    grid = item["grid"]
    if p == 2:
        i, j = _ml_pairs(bc, item, _CACHE.gram(item))
        theta = grid[[i, j]]
    else:
        theta = grid[[int(np.argmax(dbf_spectrum(bc, manifold, item)))]]
        for _ in range(1, p):
            theta = np.append(theta, grid[_ml_conditional(bc, manifold, item, theta)])
        for _ in range(max_sweeps):
            old = theta.copy()
            for q in range(p):
                rest = np.delete(theta, q)
                theta[q] = grid[_ml_conditional(bc, manifold, item, rest)]
            if np.array_equal(old, theta):
                break

    def solve(loc: _Local, start: NDArray, bounds: list) -> NDArray:
        def fg(x: NDArray) -> tuple[float, NDArray]:
            try:
                j, g = _ml_cost_grad(x, bc, loc)
            except np.linalg.LinAlgError:
                return np.inf, np.zeros_like(x)
            return -j / scale, -g * (np.pi / 180.0) / scale

        return _refine_joint(fg, start, bounds)

    return _local_refine(manifold, theta, 1.5 * coarse, lo, hi, solve)[0]


def _refine_peaks(cost, manifold: Manifold, grid: NDArray, idx, lo: float, hi: float) -> NDArray:
    """Each grid peak refined by ``cost(local manifold, theta)`` between its grid neighbours."""
    idx = np.atleast_1d(np.asarray(idx, dtype=np.intp))
    if idx.size == 0:
        return np.zeros(0)
    step = float(np.max(np.diff(grid))) if grid.size > 1 else 1.0
    loc = _Local(manifold, grid[idx], step * (1 + 1e-9))
    scale = abs(cost(loc, float(grid[idx[0]]))) or 1.0
    return _refine_1d(lambda t: cost(loc, t) / scale, grid, idx, lo, hi)


def _check_order(order: int, m: int) -> int:
    if isinstance(order, bool) or int(order) != order:
        raise ValueError(f"order must be an integer, got {order!r}")
    d = int(order)
    if not 1 <= d <= m - 1:
        raise ValueError(f"order {d} is out of range: the calibrated estimators take 1 to {m - 1}")
    return d


# --------------------------------------------------------------------------- joint angle-delay


class _CfrModel:
    """The CFR model of the joint estimator: per-subcarrier manifold (band centres), delays."""

    def __init__(self, h: NDArray, f: NDArray, manifold: Manifold) -> None:
        self.h = h
        self.f = f
        self.manifold = manifold
        self.m, self.s, self.k = h.shape
        bidx = band_index(manifold.band_edges_hz, f)
        self.bands, self.kband = np.unique(bidx, return_inverse=True)  # used bands, k -> used
        self.hv = h.transpose(0, 2, 1).reshape(self.m * self.k, self.s)  # [MK, S]
        self.energy = float(np.sum(np.abs(h) ** 2))
        self.fc = float(np.mean(f))

    def columns(self, theta: NDArray, tau: NDArray, deriv: bool = False):
        """C [MK, P] (and d C / d theta per rad, d C / d tau)."""
        b = _steer(self.manifold, theta, self.bands)[self.kband]  # [K, M, P]
        ph = np.exp(-2j * np.pi * np.outer(self.f - self.fc, tau))  # [K, P]
        c = (b * ph[:, None, :]).transpose(1, 0, 2).reshape(self.m * self.k, -1)
        if not deriv:
            return c
        d = _deriv(self.manifold, theta, self.bands)[self.kband]
        dth = (d * ph[:, None, :]).transpose(1, 0, 2).reshape(self.m * self.k, -1)
        w = (-2j * np.pi * (self.f - self.fc))[None, :, None]
        dtau = c * np.broadcast_to(w, (self.m, self.k, 1)).reshape(self.m * self.k, 1)
        return c, dth, dtau

    def fit(self, theta: NDArray, tau: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(C, Gamma = C^+ H [P, S], residual E = H - C Gamma)."""
        c = self.columns(theta, tau)
        gamma = np.linalg.lstsq(c, self.hv, rcond=None)[0]
        return c, gamma, self.hv - c @ gamma

    def cost_grad(self, theta: NDArray, tau: NDArray) -> tuple[float, NDArray, NDArray]:
        """J = sum_s h_s^H P_C h_s and its gradient (per rad, per s)."""
        c, dth, dtau = self.columns(theta, tau, deriv=True)
        gamma = np.linalg.solve(c.conj().T @ c, c.conj().T @ self.hv)
        e = self.hv - c @ gamma
        j = self.energy - float(np.sum(np.abs(e) ** 2))
        eh = e.conj().T  # [S, MK]
        g_th = 2.0 * np.real(np.sum(gamma * (eh @ dth).T, axis=1))
        g_tau = 2.0 * np.real(np.sum(gamma * (eh @ dtau).T, axis=1))
        return j, g_th, g_tau


def _delay_window(h: NDArray, kidx: NDArray, df: float, max_bins: int = 160) -> NDArray[np.float64]:
    """Delays (s) of the coarse grid where the power delay profile has energy.

    The PDP sum_{m,s} |sum_k H e^{+j 2 pi k df tau}|^2 on a 4x oversampled FFT grid over the
    unambiguous range 1/df; bins within 30 dB of the peak and their neighbours, the
    ``max_bins`` strongest of them."""
    m, s, k = h.shape
    nfft = int(2 ** np.ceil(np.log2(max(4 * (kidx[-1] + 1), 64))))
    buf = np.zeros((m, s, nfft), dtype=np.complex128)
    buf[:, :, kidx] = h
    z = np.fft.ifft(buf, axis=2)
    pdp = np.sum(np.abs(z) ** 2, axis=(0, 1))
    keep = pdp >= pdp.max() * 1e-3
    keep |= np.roll(keep, 1) | np.roll(keep, -1)
    idx = np.flatnonzero(keep)
    if idx.size > max_bins:
        idx = idx[np.argsort(pdp[idx])[::-1][:max_bins]]
    n = np.sort(idx)
    tau = n / (nfft * df)
    period = 1.0 / df
    return np.where(tau >= period / 2, tau - period, tau)


def _joint_search(
    model: _CfrModel,
    x: NDArray,
    item: dict[str, Any],
    taus: NDArray,
    denom_cols: NDArray | None,
) -> tuple[int, int]:
    """Coarse 2-D search of one path on the columns x [MK, S'] (residual), the denominator
    c^H P_perp c with the fixed columns ``denom_cols`` [MK, q] projected out."""
    m, k = model.m, model.k
    a = item["a"][model.bands]  # [B, M, L]
    e = np.exp(2j * np.pi * np.outer(model.f - model.fc, taus))  # [K, T]
    nb = model.bands.size
    lg = a.shape[2]
    t = taus.size

    def transform(cols: NDArray) -> NDArray:
        """c(theta_l, tau_t)^H cols[:, j] for every grid point: [L, J, T]."""
        xs = cols.reshape(m, k, -1)
        z = np.empty((nb, m, xs.shape[2], t), dtype=np.complex128)
        for bi in range(nb):
            sel = model.kband == bi
            xb = xs[:, sel, :].transpose(0, 2, 1).reshape(-1, int(np.count_nonzero(sel)))
            z[bi] = (xb @ e[sel]).reshape(m, xs.shape[2], t)
        y = a.reshape(nb * m, lg).conj().T @ z.reshape(nb * m, -1)
        return y.reshape(lg, xs.shape[2], t)

    kb = np.bincount(model.kband, minlength=nb).astype(np.float64)
    norm2 = np.einsum("b,bl->l", kb, np.sum(np.abs(a) ** 2, axis=1))[:, None]  # ||c||^2
    num = np.sum(np.abs(transform(x)) ** 2, axis=1)  # [L, T]
    den = np.broadcast_to(norm2, num.shape).copy()
    if denom_cols is not None and denom_cols.shape[1]:
        g = denom_cols.conj().T @ denom_cols
        yc = transform(denom_cols)  # [L, q, T]: c^H C_o
        sol = np.linalg.solve(g, yc.transpose(1, 0, 2).reshape(g.shape[0], -1))
        quad = np.real(np.sum(yc.conj().transpose(1, 0, 2).reshape(g.shape[0], -1) * sol, 0))
        den = den - quad.reshape(lg, t)
    ok = den > 1e-6 * norm2
    cost = np.where(ok, num / np.where(ok, den, 1.0), -np.inf)
    i, j = np.unravel_index(np.argmax(cost), cost.shape)
    return int(i), int(j)


def joint_angle_delay_ml(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    manifold: Manifold,
    order: int,
    fov_deg: tuple[float, float] = (-90.0, 90.0),
    grid_step_deg: float = 0.5,
    sweeps: int = 3,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
    """Joint angle-delay deterministic ML on the CFR -> (aoa_deg, delay_s, power, noise).

    ``power`` is each path's least-squares power mean_s |alpha_ps|^2 ||b||^2 / M averaged
    over the subcarriers (per element and resource element, units of |H|^2); ``noise`` the
    residual power per resource element. Delays lie in [-1/(2 df), 1/(2 df)).
    """
    h = _check_cfr(cfr, manifold)
    f = _check_freqs(subcarrier_hz, h.shape[2])
    p = _check_order(order, h.shape[0])
    if not np.any(h):
        raise ValueError("the CFR is all zeros")
    df = _uniform_step(f)
    if df < 0:
        raise ValueError("subcarrier frequencies must increase")
    lo, hi = search_range(manifold, fov_deg)
    model = _CfrModel(h, f, manifold)
    kidx = np.rint((f - f[0]) / df).astype(np.intp)
    taus = _delay_window(h, kidx, df)
    coarse = _coarse_step(manifold, grid_step_deg)
    item = _CACHE.get(manifold, lo, hi, coarse)
    grid = item["grid"]
    theta = np.zeros(0)
    tau = np.zeros(0)
    for _ in range(p):  # successive: each new path on the residual of the others
        if theta.size:
            c, _, resid = model.fit(theta, tau)
        else:
            c, resid = None, model.hv
        i, j = _joint_search(model, resid, item, taus, c)
        theta, tau = np.append(theta, grid[i]), np.append(tau, taus[j])
    for _ in range(sweeps if p > 1 else 0):  # alternating projection
        old = (theta.copy(), tau.copy())
        for q in range(p):
            rt, rd = np.delete(theta, q), np.delete(tau, q)
            c, _, resid = model.fit(rt, rd)
            i, j = _joint_search(model, resid, item, taus, c)
            theta[q], tau[q] = grid[i], taus[j]
        if np.array_equal(old[0], theta) and np.array_equal(old[1], tau):
            break
    # joint continuous refinement; delays in units of the resolution 1/(K df)
    unit = 1.0 / (model.k * df)
    scale = model.energy
    x0 = np.concatenate([theta, tau / unit])

    def solve(loc: _Local, start: NDArray, bounds: list) -> NDArray:
        model.manifold = loc

        def fg(x: NDArray) -> tuple[float, NDArray]:
            try:
                j, gth, gtau = model.cost_grad(x[:p], x[p:] * unit)
            except np.linalg.LinAlgError:
                return np.inf, np.zeros_like(x)
            return -j / scale, -np.concatenate([gth * np.pi / 180.0, gtau * unit]) / scale

        x0[:p] = start
        res = _refine_joint(fg, x0.copy(), list(bounds) + [(None, None)] * p)
        x0[:] = res
        return res[:p]

    _local_refine(manifold, theta, 1.5 * coarse, lo, hi, solve)
    x = x0
    theta, tau = x[:p], x[p:] * unit
    c, gamma, resid = model.fit(theta, tau)
    m, s, k = h.shape
    colpow = np.sum(np.abs(c) ** 2, axis=0) / (m * k)  # mean ||b||^2 / M over subcarriers
    power = np.mean(np.abs(gamma) ** 2, axis=1) * colpow
    dof = max(m * k * s - p * s, 1)
    noise = float(np.sum(np.abs(resid) ** 2)) / dof
    period = 1.0 / abs(df)
    tau = (tau + period / 2) % period - period / 2
    return theta, tau, power, noise


# --------------------------------------------------------------------------- powers, noise, CRB


def _fit_bands(
    bc: BandCovariances, manifold: Manifold, theta: NDArray
) -> tuple[float, NDArray, NDArray]:
    """Deterministic ML fit at the given angles: (noise power sigma^2 = sum_b tr(P_perp R_b) /
    (N (M - P)), per-path power (mean over the bands of the LS source power times ||b||^2/M:
    per element, units of R), per-band LS source covariances A^+ (R_b/N_b - sigma^2 I) A^+H)."""
    m = bc.num_elements
    p = theta.size
    a = _steer(manifold, theta, bc.bands)
    ah = np.conj(np.transpose(a, (0, 2, 1)))
    apinv = np.linalg.solve(ah @ a, ah)
    fitted = np.real(np.trace(apinv @ bc.r @ a, axis1=1, axis2=2)).sum()
    total = np.real(np.trace(bc.r, axis1=1, axis2=2)).sum()
    noise = max(float(total - fitted), 0.0) / (bc.total * (m - p))
    if noise <= 1e-12 * total / (bc.total * m):
        noise = 0.0  # rounding level of a noise-free CFR
    rb = bc.r / bc.n[:, None, None] - noise * np.eye(m)[None]
    pb = apinv @ rb @ np.conj(np.transpose(apinv, (0, 2, 1)))  # [B, P, P]
    norm2 = np.sum(np.abs(a) ** 2, axis=1) / m  # [B, P]
    power = np.maximum(np.sum(bc.n[:, None] * np.real(np.diagonal(pb, 0, 1, 2)) * norm2, 0), 0)
    return noise, power / bc.total, pb


def crb_calibrated(
    manifold: Manifold,
    aoa_deg: ArrayLike,
    n_snapshots: ArrayLike,
    snr_db: ArrayLike | None = None,
    source_covariance: ArrayLike | None = None,
    kind: str = "stochastic",
    bands: ArrayLike | None = None,
    full: bool = False,
) -> NDArray[np.float64]:
    """Cramer-Rao bound of the angles on the calibrated manifold: sqrt(CRB) per path (deg).

    Snapshots of band b: x = A_b s + n, A_b the manifold at the band centre. The Fisher
    information is summed over the bands (Stoica and Nehorai 1989, 1990, per band):

        FIM = 2 sum_b N_b Re[(D_b^H P_A_b^perp D_b) .* Q_b^T],
        Q_b = P_b (deterministic) or P_b A_b^H R_b^-1 A_b P_b (stochastic),

    R_b = A_b P_b A_b^H + I, source covariance P_b in units of the noise power (``snr_db``
    per path, uncorrelated, or ``source_covariance`` [P, P] or [B, P, P]). ``n_snapshots``:
    per band counts, or a total split equally over the bands. ``bands``: indices of the
    manifold bands those refer to (default all). For the ideal ULA (one band) this is
    ``crb.crb_deterministic`` / ``crb.crb_stochastic``.
    """
    if kind not in ("stochastic", "deterministic"):
        raise ValueError(f"kind must be 'stochastic' or 'deterministic', got {kind!r}")
    theta = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    m = manifold.num_elements
    if theta.ndim != 1 or not 1 <= theta.size <= m - 1:
        raise ValueError(f"need 1 to {m - 1} angles, got {theta.size}")
    bsel = np.arange(_num_bands(manifold)) if bands is None else np.asarray(bands, dtype=np.intp)
    nb = bsel.size
    n = np.asarray(n_snapshots, dtype=np.float64)
    n = np.full(nb, float(n) / nb) if n.ndim == 0 else n.ravel()
    if n.size != nb or not np.all(np.isfinite(n)) or np.any(n < 0) or not n.sum() > 0:
        raise ValueError(f"n_snapshots must be a positive total or {nb} counts >= 0")
    p = theta.size
    if source_covariance is not None:
        pb = np.asarray(source_covariance, dtype=np.complex128)
        pb = np.broadcast_to(pb, (nb, p, p)) if pb.ndim == 2 else pb
        if pb.shape != (nb, p, p):
            raise ValueError(f"source_covariance must be {p} x {p} or {nb} x {p} x {p}")
    else:
        if snr_db is None:
            raise ValueError("give snr_db or source_covariance")
        snr = 10.0 ** (np.broadcast_to(np.asarray(snr_db, dtype=np.float64), theta.shape) / 10)
        pb = np.broadcast_to(np.diag(snr).astype(np.complex128), (nb, p, p))
    if not np.all(np.isfinite(pb)):
        raise ValueError("source powers must be finite")
    a = _steer(manifold, theta, bsel)
    d = _deriv(manifold, theta, bsel)
    fim = np.zeros((p, p))
    eye = np.eye(m)
    for b in range(nb):
        ab, db = a[b], d[b]
        proj = eye - ab @ np.linalg.pinv(ab)
        hm = db.conj().T @ proj @ db
        if kind == "deterministic":
            q = pb[b]
        else:
            rb = ab @ pb[b] @ ab.conj().T + eye
            q = pb[b] @ ab.conj().T @ np.linalg.solve(rb, ab) @ pb[b]
        fim += 2.0 * n[b] * np.real(hm * q.T)
    crb = np.linalg.inv(fim)
    if full:
        return crb
    return np.rad2deg(np.sqrt(np.maximum(np.diag(crb), 0.0)))


def crb_angle_delay_calibrated(
    manifold: Manifold,
    aoa_deg: ArrayLike,
    delay_s: ArrayLike,
    gains: ArrayLike,
    subcarrier_hz: ArrayLike,
    noise_power: float = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """CRB of the CFR model of the joint estimator: (sqrt CRB deg, sqrt CRB s) per path.

    H[:, s, k] = sum_p b(theta_p, f_k) alpha_ps exp(-j 2 pi f_k tau_p) + n, n ~ CN(0,
    noise_power) white, b at the centre of f_k's band; unknowns theta_p, tau_p and every
    alpha_ps (``gains`` [P, S], or [P] for one symbol; their phases refer to the mean
    subcarrier frequency, exp(-j 2 pi (f_k - mean f) tau_p), as the estimator's). With C = [c_1 .. c_P] (the model's
    [MK, P] columns), D = [dc/dtheta, dc/dtau] and a~_s = [alpha_s; alpha_s] (Stoica and
    Nehorai's deterministic bound for y_s = C alpha_s + n):

        FIM = (2 / sigma^2) Re[(D^H P_C^perp D) .* (sum_s a~_s a~_s^H)^T].

    For the ideal ULA this is ``crb.crb_angle_delay`` (one gain shared by the symbols gives
    the same bound).
    """
    theta = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    tau = np.atleast_1d(np.asarray(delay_s, dtype=np.float64))
    g = np.atleast_1d(np.asarray(gains, dtype=np.complex128))
    g = g[:, None] if g.ndim == 1 else g
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    p = theta.size
    if tau.shape != theta.shape or g.ndim != 2 or g.shape[0] != p or theta.ndim != 1:
        raise ValueError("aoa_deg, delay_s and gains need one entry (row) per path")
    if not (noise_power > 0) or f.size < 1 or not np.all(np.isfinite(f)):
        raise ValueError("need noise_power > 0 and finite subcarrier frequencies")
    h = np.zeros((manifold.num_elements, g.shape[1], f.size), dtype=np.complex128)
    model = _CfrModel(h, f, manifold)
    c, dth, dtau = model.columns(theta, tau, deriv=True)
    d = np.concatenate([dth, dtau], axis=1)
    proj = d - c @ np.linalg.lstsq(c, d, rcond=None)[0]
    hm = d.conj().T @ proj
    gg = np.concatenate([g, g], axis=0)
    fim = 2.0 / noise_power * np.real(hm * (gg @ gg.conj().T).T)
    var = np.diag(np.linalg.inv(fim))
    return np.rad2deg(np.sqrt(np.maximum(var[:p], 0))), np.sqrt(np.maximum(var[p:], 0))


# --------------------------------------------------------------------------- dispatcher


def _psd(p: NDArray) -> NDArray:
    """Nearest positive semidefinite Hermitian matrices (eigenvalues clipped at 0)."""
    w, v = np.linalg.eigh(0.5 * (p + np.conj(np.transpose(p, (0, 2, 1)))))
    return (v * np.maximum(w, 0.0)[:, None, :]) @ np.conj(np.transpose(v, (0, 2, 1)))


def resolve_order(
    bc: BandCovariances,
    order: int | None,
    order_method: str,
    channel_noise: ArrayLike | None = None,
) -> int:
    """``order`` if given (>= 0), else AIC/MDL on the full-band covariance, capped at M - 1.

    The full-band covariance is the right one for the criterion: the eigenvalues do not
    depend on the manifold, and summing over the whole band decorrelates coherent paths
    with different delays (frequency smoothing), which a single narrow band would not.
    ``channel_noise`` [M] (noise power per channel, ``los.noise_per_channel``) whitens it
    first: the criterion and its random-matrix guard assume equal noise on every channel,
    and a CFR corrected by a calibration's gains (or from unequal receive chains) does not
    have it: unwhitened, a 1 dB gain spread reads as a second path at 10 dB."""
    m = bc.num_elements
    if order is not None:
        if isinstance(order, bool) or int(order) != order or order < 0:
            raise ValueError(f"order must be an integer >= 0, got {order!r}")
        if order > m - 1:
            raise ValueError(f"order {order} is too large: {m} elements resolve at most {m - 1}")
        return int(order)
    r = _order.whiten(bc.full_band(), channel_noise)
    return min(_order.estimate_order(r, bc.total, order_method), m - 1)


def estimate_calibrated(
    method: str,
    cfr: ArrayLike | None = None,
    subcarrier_hz: ArrayLike | None = None,
    manifold: Manifold | None = None,
    order: int | None = None,
    fov_deg: tuple[float, float] = (-90.0, 90.0),
    grid_step_deg: float = 0.5,
    *,
    order_method: str = "mdl",
    covariance: ArrayLike | None = None,
    n_snapshots: float | None = None,
    spacing_wavelengths: float = 0.5,
) -> Estimate:
    """One calibrated estimate: ``method`` in CALIBRATED_METHODS on a CFR [M, S, K] with its
    subcarrier frequencies (Hz) and the manifold (None: the ideal ULA of
    ``spacing_wavelengths``), paths sorted strongest first.

    ``order`` None estimates the order (``order_method`` AIC/MDL on the full-band
    covariance, see :func:`resolve_order`); 0 gives an estimate without paths. The search
    covers ``fov_deg`` intersected with the manifold's ``angle_range_deg``; the grid step
    only needs to separate the peaks (every peak is refined on the manifold). DBF and MUSIC
    return their spectrum on the grid. ``crb_deg`` is the stochastic CRB (:func:`crb_calibrated`)
    for the estimated per-band source covariances and noise power.

    Instead of a CFR, ``covariance`` (a mean, M x M) with ``n_snapshots`` (1 if unknown, then
    no CRB) works for DBF, MUSIC and ML when the manifold has a single band.
    """
    method = str(method).lower()
    if method not in CALIBRATED_METHODS:
        raise ValueError(f"calibrated method must be one of {CALIBRATED_METHODS}, got {method!r}")
    lo0, hi0 = float(fov_deg[0]), float(fov_deg[1])
    if not (-90.0 <= lo0 < hi0 <= 90.0):
        raise ValueError(f"field of view must satisfy -90 <= min < max <= 90, got {fov_deg}")
    step = float(grid_step_deg)
    if not (np.isfinite(step) and 0 < step <= 10):
        raise ValueError(f"grid_step_deg must be in (0, 10], got {grid_step_deg}")
    if manifold is None:
        if cfr is not None:
            m = np.shape(cfr)[0]
        elif covariance is not None:
            m = np.shape(covariance)[0]
        else:
            raise ValueError("give a CFR or a covariance")
        manifold = IdealManifold(m, spacing_wavelengths)
    know_n = True
    if cfr is not None:
        if subcarrier_hz is None:
            raise ValueError("the calibrated estimators need the subcarrier frequencies")
        h = _check_cfr(cfr, manifold)
        f = _check_freqs(subcarrier_hz, h.shape[2])
        bc = band_covariances(h, f, manifold)
    elif covariance is not None:
        if method == "2d-ml":
            raise ValueError("method '2d-ml' needs the CFR H[m, s, k]; a covariance is not enough")
        know_n = n_snapshots is not None
        bc = covariance_bands(covariance, 1.0 if n_snapshots is None else n_snapshots, manifold)
    else:
        raise ValueError("give a CFR or a covariance")
    if not np.any(bc.r):
        raise ValueError("the CFR is all zeros")
    lo, hi = search_range(manifold, (lo0, hi0))
    noise = _los.noise_per_channel(h) if cfr is not None and order is None else None
    d = resolve_order(bc, order, order_method, noise)
    grid = spec = delay = None
    if method in ("dbf", "music"):
        item = _CACHE.get(manifold, lo, hi, step)
        grid = item["grid"]
        if method == "dbf":
            spec = dbf_spectrum(bc, manifold, item)
        else:
            spec = music_spectrum(bc, manifold, item, max(d, 1))
    if d == 0:
        total = float(np.real(np.trace(bc.full_band())))
        return Estimate(method, 0, np.zeros(0), np.zeros(0), None, total / bc.num_elements,
                        float("-inf"), np.zeros(0), grid, spec)  # fmt: skip
    if method == "dbf":

        def cost(loc: _Local, t: float) -> float:
            a = _steer(loc, [t], bc.bands)
            q = np.real(np.sum(a.conj() * (bc.r @ a), axis=1))
            return -float(np.sum(q / np.sum(np.abs(a) ** 2, axis=1)))

        aoa = _refine_peaks(cost, manifold, grid, _peaks(spec, d), lo, hi)
    elif method == "music":
        en = _noise_subspaces(bc, d)
        w = bc.n / bc.total

        def cost(loc: _Local, t: float) -> float:
            return float(_music_cost(en, w, _steer(loc, [t], bc.bands))[0])

        aoa = _refine_peaks(cost, manifold, grid, _peaks(spec, d), lo, hi)
    elif method == "ml" and (d == 1 or cfr is None):
        aoa = ml(bc, manifold, d, (lo, hi), step)
    elif method == "ml":
        # Several paths: the exact deterministic ML of the SRS channel model, each path's
        # gain constant across the band but for its delay's phase ramp. The per-band
        # covariance ML leaves every subcarrier's gains free and so throws away the frequency
        # structure that separates coherent paths (its own CRB is ~1.7x the CFR model's for
        # a reflection 50-300 ns behind the LOS). For one path the two likelihoods coincide.
        aoa, _, _, _ = joint_angle_delay_ml(h, f, manifold, d, (lo, hi), step)
    else:
        aoa, delay, _, _ = joint_angle_delay_ml(h, f, manifold, d, (lo, hi), step)
    if aoa.size == 0:
        noise = float(np.real(np.trace(bc.full_band()))) / bc.num_elements
        return Estimate(method, d, aoa, np.zeros(0), delay, noise, float("-inf"), np.zeros(0),
                        grid, spec)  # fmt: skip
    fin = _Local(manifold, aoa, 0.5)  # one manifold call for the fit and the CRB
    noise, power, pb = _fit_bands(bc, fin, aoa)
    idx = np.argsort(power)[::-1]
    aoa, power, pb = aoa[idx], power[idx], pb[:, idx][:, :, idx]
    if delay is not None:
        delay = delay[idx]
    total = float(np.sum(power))
    snr_db = 10.0 * np.log10(total / noise) if noise > 0 and total > 0 else float("inf")
    crb = np.zeros(0)
    if know_n and noise > 0:
        try:
            crb = crb_calibrated(fin, aoa, bc.n, source_covariance=_psd(pb) / noise, bands=bc.bands)
        except (np.linalg.LinAlgError, ValueError):
            crb = np.full(aoa.size, np.inf)
    return Estimate(method, d, aoa, power, delay, noise, snr_db, crb, grid, spec)


def calibrated_spectrum(
    method: str,
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    manifold: Manifold,
    grid_deg: ArrayLike,
    order: int | None = None,
    order_method: str = "aic",
) -> NDArray[np.float64]:
    """DBF or MUSIC spectrum of a CFR on the calibrated manifold at the angles ``grid_deg``
    (the spatial_spectrum block's plot grid); 0 outside the manifold's ``angle_range_deg``.
    MUSIC's order: ``order`` if > 0, else AIC/MDL (:func:`resolve_order`), at least 1."""
    method = str(method).lower()
    if method not in ("dbf", "music"):
        raise ValueError(f"calibrated spectrum method must be 'dbf' or 'music', got {method!r}")
    g = np.asarray(grid_deg, dtype=np.float64).ravel()
    bc = band_covariances(cfr, subcarrier_hz, manifold)
    if not np.any(bc.r):
        raise ValueError("the CFR is all zeros")
    lo, hi = manifold.angle_range_deg
    inside = (g >= lo) & (g <= hi) & (np.abs(g) <= _ANGLE_LIMIT)
    out = np.zeros(g.size)
    if not np.any(inside):
        return out
    key = ("spectrum", id(manifold), g[inside].tobytes())
    item = _CACHE.lookup(key)
    if item is None or item["manifold"] is not manifold:
        a = np.transpose(manifold.steering(g[inside]), (2, 0, 1))
        item = {"manifold": manifold, "a": a, "norm2": np.sum(np.abs(a) ** 2, axis=1)}
        _CACHE.put(key, item)
    if method == "dbf":
        out[inside] = dbf_spectrum(bc, manifold, item)
    else:
        d = resolve_order(bc, order if order else None, order_method)
        out[inside] = music_spectrum(bc, manifold, item, min(max(d, 1), bc.num_elements - 1))
    return out


def baseband_frequencies(
    subcarriers: ArrayLike, scs_hz: float, manifold: Manifold | None
) -> NDArray[np.float64]:
    """Baseband frequency of CFR columns from the PDU meta: grid subcarrier k sits at
    (k - 6 N_grid) scs (DESIGN section 4), with N_grid (``n_size_grid``) from the carrier of
    the calibration's radio settings (a sweep calibration records it). Without it, the
    subcarriers are centred on the calibrated band (the sweep used the same SRS band), and
    a manifold without finite band edges (the ideal ULA) needs only differences: k scs."""
    k = np.asarray(subcarriers, dtype=np.float64).ravel()
    scs = float(scs_hz)
    if not (np.all(np.isfinite(k)) and np.isfinite(scs) and scs > 0):
        raise ValueError("CFR meta 'subcarriers' and 'scs_hz' must be finite, scs_hz > 0")
    radio = getattr(manifold, "radio", None) or {}
    carrier = radio.get("carrier") if isinstance(radio, dict) else None
    n_grid = carrier.get("n_size_grid") if isinstance(carrier, dict) else None
    if n_grid is not None:
        return (k - 6.0 * float(n_grid)) * scs
    f = k * scs
    edges = np.asarray(manifold.band_edges_hz if manifold is not None else [], dtype=np.float64)
    if edges.size >= 2 and np.all(np.isfinite(edges[[0, -1]])) and f.size:
        return f - 0.5 * (f.min() + f.max()) + 0.5 * (edges[0] + edges[-1])
    return f
