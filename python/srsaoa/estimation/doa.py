"""Angle-of-arrival estimators for the uniform linear array (DESIGN section 3 conventions).

- DBF (Bartlett): P(theta) = a^H R a / a^H a, peaks refined off the grid.
- MUSIC (Schmidt 1986; Spanos eq 5): P(theta) = 1 / (a^H E_n E_n^H a), grid search plus a
  bounded Brent refinement of each peak.
- root-MUSIC (Barabell 1983): the roots of a^H(1/z*) E_n E_n^H a(z) closest to the unit circle.
- ESPRIT (Roy and Kailath 1989; Spanos eq 6): the signal subspace of the two overlapping
  (M-1)-element subarrays, E_2 = E_1 Psi solved by least squares or total least squares; the
  eigenvalues of Psi are exp(j 2 pi (d/lambda) sin theta).
- 2D-ESPRIT (van der Veen, Vanderveen and Paulraj 1998): joint angle and delay estimation on
  the CFR H[m, s, k]: space-frequency Hankel stacking with smoothing factor P, selection
  matrices for the antenna and the subcarrier shift, joint diagonalisation to pair each angle
  with its delay.

Angles in degrees at the interface, delays in seconds, powers in the units of R (or |H|^2).
All estimators return their paths sorted by estimated power, strongest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import lapack as _lapack
from scipy.optimize import minimize_scalar

from ..array.geometry import steering_vector
from . import covariance as _cov
from . import crb as _crb

METHODS = ("dbf", "music", "root-music", "esprit", "2d-esprit", "ml", "2d-ml")
CFR_ONLY_METHODS = ("2d-esprit", "2d-ml")


def default_grid(
    fov_min_deg: float = -90.0, fov_max_deg: float = 90.0, step_deg: float = 0.5
) -> NDArray[np.float64]:
    """Search grid from fov_min to fov_max inclusive (limits clipped to +-89.9 deg)."""
    lo, hi = max(float(fov_min_deg), -89.9), min(float(fov_max_deg), 89.9)
    if not (step_deg > 0) or not (hi > lo):
        raise ValueError(f"grid needs fov_min < fov_max and step > 0, got {lo}, {hi}, {step_deg}")
    n = int(np.floor((hi - lo) / step_deg + 1e-9)) + 1
    grid = lo + step_deg * np.arange(n)
    if grid[-1] < hi - 1e-9:
        grid = np.append(grid, hi)
    return grid


# --------------------------------------------------------------------------- helpers


def check_covariance(r: ArrayLike) -> NDArray[np.complex128]:
    """Square, finite, non-zero covariance made exactly Hermitian; ValueError otherwise."""
    r = np.asarray(r, dtype=np.complex128)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 2:
        raise ValueError(f"covariance must be a square M x M matrix, M >= 2, got {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("covariance contains NaN or Inf")
    r = 0.5 * (r + r.conj().T)
    if not r.any():
        raise ValueError("covariance is all zeros")
    return r


# Small dense linear algebra goes straight to LAPACK: numpy.linalg's per-call overhead
# dominates for 2 x 2 to 8 x 8 matrices (ESPRIT on a 4 x 4 covariance is latency-bound).


def _eigh(a: NDArray) -> tuple[NDArray, NDArray]:
    """Eigenvalues ascending and eigenvectors of a Hermitian matrix (LAPACK zheevd)."""
    w, v, info = _lapack.zheevd(np.asarray(a, dtype=np.complex128))
    if info != 0:
        raise np.linalg.LinAlgError(f"zheevd failed (info {info})")
    return w, v


def _eigvals(a: NDArray) -> NDArray[np.complex128]:
    """Eigenvalues of a general complex matrix (LAPACK zgeev)."""
    w, _, _, info = _lapack.zgeev(np.asarray(a, dtype=np.complex128), compute_vl=0, compute_vr=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"zgeev failed (info {info})")
    return w


def _solve(a: NDArray, b: NDArray) -> NDArray[np.complex128]:
    """X with A X = B (LAPACK zgesv)."""
    _, _, x, info = _lapack.zgesv(np.asarray(a, dtype=np.complex128), b)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular matrix in ESPRIT (zgesv info {info})")
    return x


def _check_order(order: int, limit: int, what: str) -> int:
    if int(order) != order:
        raise ValueError(f"order must be an integer, got {order}")
    d = int(order)
    if d < 1:
        raise ValueError(f"order must be >= 1 (order {d}: no path to estimate)")
    if d > limit:
        raise ValueError(f"order {d} is too large: {what} resolves at most {limit} paths")
    return d


def _check_spacing(spacing_wavelengths: float) -> float:
    s = float(spacing_wavelengths)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"spacing_wavelengths must be > 0, got {spacing_wavelengths}")
    return s


def _subspaces(r: NDArray, order: int) -> tuple[NDArray, NDArray, NDArray]:
    """(eigenvalues descending, signal subspace E_s [M, d], noise subspace E_n [M, M-d])."""
    w, v = _eigh(r)
    w, v = w[::-1], v[:, ::-1]
    return w, v[:, :order], v[:, order:]


def _phase_to_deg(phase: NDArray, spacing: float) -> NDArray[np.float64]:
    """theta = arcsin(phase / (2 pi d/lambda)) in degrees (|sin| clipped to 1)."""
    s = np.minimum(np.maximum(phase * (1.0 / (2.0 * np.pi * spacing)), -1.0), 1.0)
    return np.arcsin(s) * (180.0 / np.pi)


def _grid(grid_deg: ArrayLike | None) -> NDArray[np.float64]:
    g = default_grid() if grid_deg is None else np.asarray(grid_deg, dtype=np.float64).ravel()
    if g.size < 3 or not np.all(np.diff(g) > 0) or not np.all(np.abs(g) < 90):
        raise ValueError("grid_deg must be >= 3 increasing angles inside (-90, 90)")
    return g


def _peaks(spectrum: NDArray, count: int) -> NDArray[np.intp]:
    """Indices of the ``count`` highest interior local maxima (fewer if there are fewer)."""
    s = spectrum
    idx = np.flatnonzero((s[1:-1] >= s[:-2]) & (s[1:-1] > s[2:])) + 1
    if idx.size == 0:
        return idx
    return idx[np.argsort(s[idx])[::-1][:count]]


def _refine(cost, grid: NDArray, idx: NDArray) -> NDArray[np.float64]:
    """Minimise cost(theta_deg) between the grid neighbours of each peak (Brent, bounded)."""
    out = np.empty(idx.size)
    for i, j in enumerate(idx):
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        res = minimize_scalar(cost, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
        out[i] = res.x if res.fun <= cost(grid[j]) else grid[j]
    return out


def source_powers(
    r: ArrayLike, aoa_deg: ArrayLike, spacing_wavelengths: float, noise_power: float
) -> NDArray[np.complex128]:
    """Least-squares source covariance P = A^+ (R - sigma^2 I) A^+H for the given angles."""
    r = np.asarray(r, dtype=np.complex128)
    a = steering_vector(r.shape[0], spacing_wavelengths, np.atleast_1d(aoa_deg))
    ap = np.linalg.pinv(a, rcond=1e-10)  # SVD-based least squares
    return ap @ (r - noise_power * np.eye(r.shape[0])) @ ap.conj().T


# Steering matrices with a larger condition number hold paths no estimator separates at any
# realistic SNR (M = 4, d = lambda/2: 1 deg apart gives 33, 10 deg 3.2): duplicated or
# spurious roots, whose least-squares powers blow up (1e23) and CRBs collapse (1e-9 deg).
MAX_STEERING_COND = 30.0
# A path's least-squares power may not exceed this multiple of the received power per element
# (one path of power p gives trace(R)/M = p + sigma^2): beyond it the fit is not a path.
MAX_POWER_RATIO = 4.0


def prune_paths(
    r: NDArray, aoa_deg: NDArray, spacing_wavelengths: float, noise_power: float
) -> NDArray[np.float64]:
    """Drop duplicated / ill-conditioned angles (the weaker of the closest pair, until the
    steering matrix is well conditioned) and angles whose least-squares power is absurd."""
    aoa = np.asarray(aoa_deg, dtype=np.float64)
    m = r.shape[0]
    per_element = float(np.real(np.trace(r))) / m
    while aoa.size > 1:
        a = steering_vector(m, spacing_wavelengths, aoa)
        if np.linalg.cond(a) <= MAX_STEERING_COND:
            break
        u = np.sin(np.deg2rad(aoa))
        d = np.abs(u[:, None] - u[None, :]) + np.eye(aoa.size) * 1e9
        i, j = np.unravel_index(np.argmin(d), d.shape)
        gain = np.real(np.einsum("ml,mn,nl->l", a.conj(), r, a))
        aoa = np.delete(aoa, i if gain[i] < gain[j] else j)
    while aoa.size:
        p = np.real(np.diag(source_powers(r, aoa, spacing_wavelengths, noise_power)))
        bad = ~np.isfinite(p) | (p > MAX_POWER_RATIO * per_element)
        if not bad.any():
            break
        aoa = np.delete(aoa, int(np.argmax(np.where(np.isfinite(p), p, np.inf))))
    return aoa


def noise_power(eigvals_desc: ArrayLike, order: int) -> float:
    """sigma^2 = mean of the M - d smallest eigenvalues (0 if d >= M or at rounding level)."""
    w = np.asarray(eigvals_desc, dtype=np.float64)
    if order >= w.size:
        return 0.0
    sigma2 = float(np.mean(w[order:]))
    # below 1e-12 of the largest eigenvalue is rounding of a noise-free (rank-deficient) R
    return sigma2 if sigma2 > 1e-12 * abs(w[0]) else 0.0


# --------------------------------------------------------------------------- DBF / MUSIC


def dbf_spectrum(
    r: ArrayLike, spacing_wavelengths: float = 0.5, grid_deg: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Bartlett spectrum a^H R a / (a^H a) on the grid (power units of R)."""
    r = check_covariance(r)
    g = _grid(grid_deg)
    a = steering_vector(r.shape[0], _check_spacing(spacing_wavelengths), g)
    return np.real(np.einsum("ml,mn,nl->l", a.conj(), r, a)) / r.shape[0]


def dbf(
    r: ArrayLike,
    order: int = 1,
    spacing_wavelengths: float = 0.5,
    grid_deg: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """The ``order`` strongest Bartlett peaks (deg), refined off the grid."""
    r = check_covariance(r)
    m = r.shape[0]
    d = _check_order(order, m - 1, f"DBF on {m} elements")
    s = _check_spacing(spacing_wavelengths)
    g = _grid(grid_deg)
    spec = dbf_spectrum(r, s, g)
    idx = _peaks(spec, d)

    def cost(t: float) -> float:
        a = steering_vector(m, s, t)
        return -float(np.real(a.conj() @ r @ a))

    return _refine(cost, g, idx)


def music_spectrum(
    r: ArrayLike,
    order: int,
    spacing_wavelengths: float = 0.5,
    grid_deg: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """MUSIC pseudo-spectrum 1 / (a^H E_n E_n^H a) on the grid (Spanos eq 5)."""
    _, _, _, denom = _music_setup(r, order, spacing_wavelengths, grid_deg)
    return 1.0 / np.maximum(denom, np.finfo(float).tiny)


def _music_setup(
    r: ArrayLike, order: int, spacing_wavelengths: float, grid_deg: ArrayLike | None
) -> tuple[int, float, NDArray[np.complex128], NDArray[np.float64]]:
    """(order, d/lambda, noise subspace E_n, a^H E_n E_n^H a on the grid), validated."""
    r = check_covariance(r)
    m = r.shape[0]
    d = _check_order(order, m - 1, f"MUSIC on {m} elements")
    s = _check_spacing(spacing_wavelengths)
    _, _, en = _subspaces(r, d)
    a = steering_vector(m, s, _grid(grid_deg))
    return d, s, en, np.sum(np.abs(en.conj().T @ a) ** 2, axis=0)


def music(
    r: ArrayLike,
    order: int,
    spacing_wavelengths: float = 0.5,
    grid_deg: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """MUSIC angles (deg): the ``order`` highest spectrum peaks, refined off the grid."""
    d, s, en, denom = _music_setup(r, order, spacing_wavelengths, grid_deg)
    g = _grid(grid_deg)
    m = en.shape[0]
    idx = _peaks(-denom, d)

    def cost(t: float) -> float:
        return float(np.sum(np.abs(en.conj().T @ steering_vector(m, s, t)) ** 2))

    return _refine(cost, g, idx)


def root_music(
    r: ArrayLike,
    order: int,
    spacing_wavelengths: float = 0.5,
    fov_deg: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """root-MUSIC angles (deg): roots of sum_l c_l z^l, c_l = sum of the l-th diagonal of E_n E_n^H.

    a^H(theta) E_n E_n^H a(theta) = sum_{l=-(M-1)}^{M-1} c_l z^l with z = exp(j 2 pi (d/lambda)
    sin theta). Of the roots inside the unit circle, the ``order`` closest to it give the
    angles; with ``fov_deg`` only roots whose angle falls inside it are considered.
    """
    r = check_covariance(r)
    m = r.shape[0]
    d = _check_order(order, m - 1, f"root-MUSIC on {m} elements")
    s = _check_spacing(spacing_wavelengths)
    _, _, en = _subspaces(r, d)
    c = en @ en.conj().T
    coeffs = np.array([np.trace(c, offset=lag) for lag in range(m - 1, -m, -1)])
    roots = np.roots(coeffs)
    roots = roots[np.abs(roots) <= 1.0 + 1e-12]
    ang = _phase_to_deg(np.angle(roots), s)
    if fov_deg is not None:
        keep = (ang >= fov_deg[0]) & (ang <= fov_deg[1])
        roots, ang = roots[keep], ang[keep]
    best = np.argsort(np.abs(1.0 - np.abs(roots)))[:d]
    return ang[best]


# --------------------------------------------------------------------------- ESPRIT


def _rotation(e1: NDArray, e2: NDArray, tls: bool) -> NDArray[np.complex128]:
    """Psi with E_2 = E_1 Psi, least squares or total least squares (Roy and Kailath 1989).

    LS: Psi = (E_1^H E_1)^-1 E_1^H E_2. TLS: with V the eigenvectors of [E_1 E_2]^H [E_1 E_2]
    (the right singular vectors of [E_1 E_2]) in descending order, partitioned into d x d blocks,
    Psi = -V_12 V_22^-1.
    """
    d = e1.shape[1]
    if not tls:
        e1h = e1.conj().T
        return _solve(e1h @ e1, e1h @ e2)
    e = np.hstack([e1, e2])
    _, v = _eigh(e.conj().T @ e)
    v = v[:, ::-1]
    v12, v22 = v[:d, d : 2 * d], v[d : 2 * d, d : 2 * d]
    # Psi = -V12 V22^-1  <=>  Psi^T = -(V22^T)^-1 V12^T
    return -_solve(v22.T, v12.T).T


def esprit(
    r: ArrayLike,
    order: int,
    spacing_wavelengths: float = 0.5,
    tls: bool = True,
) -> NDArray[np.float64]:
    """ESPRIT angles (deg) from the two (M-1)-element subarrays, TLS (default) or LS."""
    r = check_covariance(r)
    m = r.shape[0]
    d = _check_order(order, m - 1, f"ESPRIT on {m} elements")
    s = _check_spacing(spacing_wavelengths)
    _, es, _ = _subspaces(r, d)
    psi = _rotation(es[:-1], es[1:], tls)
    phi = _eigvals(psi)
    return _phase_to_deg(np.angle(phi), s)


# --------------------------------------------------------------------------- 2D-ESPRIT


def _uniform_step(freqs: NDArray) -> float:
    if freqs.ndim != 1 or freqs.size < 2:
        raise ValueError("need at least 2 subcarrier frequencies")
    df = np.diff(freqs)
    step = float(np.median(df))
    if step == 0 or not np.allclose(df, step, rtol=1e-6, atol=1e-3):
        raise ValueError("2D-ESPRIT needs uniformly spaced subcarriers (one SRS comb)")
    return step


def stacked_covariance(h: NDArray, smoothing: int, fb: bool = True) -> NDArray[np.complex128]:
    """Covariance [M P, M P] of the space-frequency Hankel stack of H [M, S, K].

    Column i (0 <= i <= K-P) of symbol s is x = [h_i; h_{i+1}; ...; h_{i+P-1}], h_k = H[:, s, k];
    the (f1, f2) block sum_i h_{i+f1} h_{i+f2}^H is computed from running sums of
    h_k h_{k+l}^H per lag l, so the cost is O(M^2 P K), not O(M^2 P^2 K).
    """
    m, s_count, k = h.shape
    p = int(smoothing)
    n = k - p + 1
    hs = np.transpose(h, (1, 0, 2))  # [S, M, K]
    c = np.empty((m * p, m * p), dtype=np.complex128)
    for lag in range(p):
        outer = np.einsum("smk,snk->kmn", hs[:, :, : k - lag], hs[:, :, lag:].conj())
        q = np.concatenate([np.zeros((1, m, m), np.complex128), np.cumsum(outer, axis=0)])
        for f1 in range(p - lag):
            blk = q[f1 + n] - q[f1]
            f2 = f1 + lag
            c[f1 * m : (f1 + 1) * m, f2 * m : (f2 + 1) * m] = blk
            if lag:
                c[f2 * m : (f2 + 1) * m, f1 * m : (f1 + 1) * m] = blk.conj().T
    c /= n * s_count
    return _cov.forward_backward(c) if fb else c


def default_smoothing(num_elements: int, num_subcarriers: int) -> int:
    """P such that M P is about 64 (bounded by K/2): a few ms per estimate for M = 4."""
    return int(max(2, min(num_subcarriers // 2, max(2, 64 // num_elements))))


def esprit_2d(
    h: ArrayLike,
    subcarrier_hz: ArrayLike,
    order: int,
    spacing_wavelengths: float = 0.5,
    smoothing: int | None = None,
    tls: bool = True,
    fb: bool = True,
    return_power: bool = False,
):
    """Joint angle-delay ESPRIT on a CFR H [M, S, K] (or [M, K]) -> (aoa_deg, delay_s).

    Model: H[m, s, k] = sum_p g_{p,s} a_m(theta_p) exp(-j 2 pi f_k tau_p) + noise with
    uniformly spaced f_k (Hz; only differences matter, k * scs_hz will do). The stacked vector
    of P consecutive subcarriers has the manifold f_P(tau) (x) a(theta) (Khatri-Rao); the
    antenna-shift selection I_P (x) [I_{M-1} 0] / [0 I_{M-1}] gives Psi_theta, the subcarrier
    shift [I_{P-1} 0] (x) I_M / [0 I_{P-1}] (x) I_M gives Psi_tau; both are T^-1 Phi T with the
    same T, found as the eigenvectors of a generic linear combination, which pairs every angle
    with its delay. Delays are returned in [-1/(2 df), 1/(2 df)), df the subcarrier step.
    ``return_power`` adds the least-squares path powers mean_s |g_{p,s}|^2.
    """
    x = np.asarray(h)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"CFR must be [M, S, K] or [M, K], got shape {np.shape(h)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("CFR contains NaN or Inf")
    x = x.astype(np.complex128)
    m, _, k = x.shape
    if m < 2:
        raise ValueError("2D-ESPRIT needs at least 2 array elements")
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    if f.size != k:
        raise ValueError(f"{f.size} subcarrier frequencies for {k} CFR columns")
    df = _uniform_step(f)
    s = _check_spacing(spacing_wavelengths)
    p = default_smoothing(m, k) if smoothing is None else int(smoothing)
    if not (2 <= p <= k - 1):
        raise ValueError(f"smoothing factor must be in [2, K-1] = [2, {k - 1}], got {smoothing}")
    d = _check_order(order, min(p * (m - 1), (p - 1) * m), f"2D-ESPRIT with M={m}, P={p}")
    c = stacked_covariance(x, p, fb=fb)
    _, us, _ = _subspaces(c, d)
    rows = np.arange(m * p).reshape(p, m)
    a1, a2 = rows[:, :-1].ravel(), rows[:, 1:].ravel()
    t1, t2 = rows[:-1, :].ravel(), rows[1:, :].ravel()
    psi_a = _rotation(us[a1], us[a2], tls)
    psi_t = _rotation(us[t1], us[t2], tls)
    # joint diagonalisation: eigenvectors of a generic combination diagonalise both
    _, t = np.linalg.eig(psi_a + (0.7548776662 + 0.5698402910j) * psi_t)
    tinv = np.linalg.inv(t)
    phi_a = np.diag(tinv @ psi_a @ t)
    phi_t = np.diag(tinv @ psi_t @ t)
    aoa = _phase_to_deg(np.angle(phi_a), s)
    delay = -np.angle(phi_t) / (2.0 * np.pi * df)
    power = path_powers_cfr(x, f, aoa, delay, s)
    order_idx = np.argsort(power)[::-1]
    aoa, delay, power = aoa[order_idx], delay[order_idx], power[order_idx]
    if return_power:
        return aoa, delay, power
    return aoa, delay


def path_powers_cfr(
    h: NDArray, subcarrier_hz: NDArray, aoa_deg: NDArray, delay_s: NDArray, spacing: float
) -> NDArray[np.float64]:
    """Least-squares path powers mean_s |g_{p,s}|^2 of H [M, S, K] for given angles and delays."""
    m, s_count, k = h.shape
    a = steering_vector(m, spacing, aoa_deg)  # [M, d]
    b = np.exp(-2j * np.pi * np.outer(subcarrier_hz - subcarrier_hz[0], delay_s))  # [K, d]
    basis = np.einsum("mp,kp->mkp", a, b).reshape(m * k, -1)
    y = h.transpose(0, 2, 1).reshape(m * k, s_count)
    g = np.linalg.lstsq(basis, y, rcond=None)[0]  # [d, S]
    return np.mean(np.abs(g) ** 2, axis=1)


# --------------------------------------------------------------------------- dispatcher


@dataclass
class Estimate:
    """One estimate: paths sorted by power, strongest first."""

    method: str
    order: int
    aoa_deg: NDArray[np.float64]
    power: NDArray[np.float64]
    delay_s: NDArray[np.float64] | None = None
    noise_power: float = 0.0
    snr_db: float = float("nan")
    crb_deg: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    grid_deg: NDArray[np.float64] | None = None
    spectrum: NDArray[np.float64] | None = None


def estimate(
    method: str,
    *,
    covariance: ArrayLike | None = None,
    cfr: ArrayLike | None = None,
    order: int,
    spacing_wavelengths: float = 0.5,
    subcarrier_hz: ArrayLike | None = None,
    n_snapshots: float | None = None,
    fov_deg: tuple[float, float] = (-90.0, 90.0),
    grid_step_deg: float = 0.5,
    tls: bool = True,
    smoothing: int | None = None,
    fb: bool = False,
    subarray_size: int | None = None,
) -> Estimate:
    """Run one method on a covariance R [M, M] or a CFR H [M, S, K] and attach power, SNR, CRB.

    1-D methods use ``covariance`` if given, else R from ``cfr`` (every column a snapshot,
    forward-backward averaged if ``fb``). 2D-ESPRIT needs ``cfr`` and ``subcarrier_hz``.
    ``order`` 0 returns an estimate without paths. Paths outside ``fov_deg`` are dropped
    (grid methods only search inside it). ``crb_deg`` is the stochastic CRB of the estimated
    angles for the estimated source covariance and noise power, with ``n_snapshots`` (or
    S*K for a CFR) snapshots; empty when the count is unknown. ``subarray_size`` M_s < M
    applies spatial smoothing to R for the 1-D methods (coherent multipath; the aperture and
    the largest order become M_s and M_s - 1, the snapshot count N (M - M_s + 1)).
    """
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    lo, hi = float(fov_deg[0]), float(fov_deg[1])
    if not (-90.0 <= lo < hi <= 90.0):
        raise ValueError(f"field of view must satisfy -90 <= min < max <= 90, got {fov_deg}")
    s = _check_spacing(spacing_wavelengths)
    if method in CFR_ONLY_METHODS:
        if cfr is None or subcarrier_hz is None:
            raise ValueError(
                f"method {method!r} needs the CFR H[m, s, k] and its subcarrier frequencies; "
                "a covariance matrix is not enough"
            )
    x = None
    if cfr is not None:
        x = np.asarray(cfr)
        if x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3:
            raise ValueError(f"CFR must be [M, S, K] or [M, K], got shape {np.shape(cfr)}")
        if not np.all(np.isfinite(x)):
            raise ValueError("CFR contains NaN or Inf")
    if covariance is not None:
        r = check_covariance(covariance)
    elif x is not None:
        r, n_cfr = _cov.covariance_from_cfr(x, fb=fb)
        r = check_covariance(r)
        if n_snapshots is None:
            n_snapshots = n_cfr
    else:
        raise ValueError("give a covariance or a CFR")
    m = r.shape[0]
    if subarray_size is not None and method not in CFR_ONLY_METHODS:
        ms = int(subarray_size)
        if ms != subarray_size or not (2 <= ms <= m):
            raise ValueError(f"subarray_size must be an integer in [2, {m}], got {subarray_size}")
        if ms < m:
            r = _cov.spatial_smoothing(r, ms)
            if n_snapshots is not None:
                n_snapshots = _cov.effective_snapshots(n_snapshots, m, ms)
            m = ms
    if int(order) != order or order < 0:
        raise ValueError(f"order must be an integer >= 0, got {order}")
    order = int(order)
    if method in ("ml", "2d-ml"):  # deterministic ML (estimation.calibrated) on the ideal ULA
        from ..array.manifold import IdealManifold
        from .calibrated import estimate_calibrated

        if order and method == "ml":
            _check_order(order, m - 1, f"ML on {m} elements")
        common = {"order": order, "fov_deg": (lo, hi), "grid_step_deg": grid_step_deg}
        if method == "2d-ml":
            return estimate_calibrated(
                method, x, subcarrier_hz, IdealManifold(x.shape[0], s), **common
            )
        return estimate_calibrated(
            method, manifold=IdealManifold(m, s), covariance=r, n_snapshots=n_snapshots, **common
        )
    w = np.linalg.eigvalsh(r)[::-1]
    grid = spec = delay = None
    if order == 0:
        return Estimate(method, 0, np.zeros(0), np.zeros(0), None, float(np.mean(w)))
    if method == "2d-esprit":
        aoa, delay, pow2d = esprit_2d(
            x, subcarrier_hz, order, s, smoothing=smoothing, tls=tls, return_power=True
        )
    else:
        _check_order(order, m - 1, f"{method} on {m} elements")
        if method in ("dbf", "music"):
            grid = default_grid(lo, hi, grid_step_deg)
            if method == "dbf":
                spec = dbf_spectrum(r, s, grid)
                aoa = dbf(r, order, s, grid)
            else:
                spec = music_spectrum(r, order, s, grid)
                aoa = music(r, order, s, grid)
        elif method == "root-music":
            aoa = root_music(r, order, s, fov_deg=(lo, hi))
        else:
            aoa = esprit(r, order, s, tls=tls)
    keep = (aoa >= lo) & (aoa <= hi)
    aoa = aoa[keep]
    if delay is not None:
        delay = delay[keep]
    sigma2 = noise_power(w, order)
    if delay is None and aoa.size:
        aoa = prune_paths(r, aoa, s, sigma2)  # duplicated roots, absurd powers
    if delay is not None:
        # 2D-ESPRIT: least-squares powers of the CFR fit (R cannot separate close angles)
        pmat = np.diag(pow2d[keep]).astype(np.complex128)
        power = pow2d[keep]
    elif aoa.size:
        pmat = source_powers(r, aoa, s, sigma2)
        power = np.maximum(np.real(np.diag(pmat)), 0.0)
    else:
        pmat, power = np.zeros((0, 0)), np.zeros(0)
    idx = np.argsort(power)[::-1]
    aoa, power = aoa[idx], power[idx]
    pmat = pmat[np.ix_(idx, idx)]
    if delay is not None:
        delay = delay[idx]
    total = float(np.sum(power))
    snr_db = 10.0 * np.log10(total / sigma2) if sigma2 > 0 and total > 0 else float("inf")
    crb = np.zeros(0)
    if n_snapshots is not None and aoa.size and sigma2 > 0 and aoa.size < m:
        if np.all(np.abs(aoa) < 90.0):
            try:
                crb = _crb.crb_stochastic(
                    aoa,
                    n_snapshots,
                    num_elements=m,
                    spacing_wavelengths=s,
                    source_covariance=pmat / sigma2,
                )
            except np.linalg.LinAlgError:
                crb = np.full(aoa.size, np.inf)
            crb = np.where(np.isfinite(crb) & (crb > 0), crb, np.inf)  # never a false certainty
    return Estimate(method, order, aoa, power, delay, sigma2, snr_db, crb, grid, spec)
