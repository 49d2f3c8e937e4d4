"""Channel order (number of paths) from covariance eigenvalues: AIC and MDL.

Wax and Kailath, "Detection of signals by information theoretic criteria", IEEE Trans.
ASSP 33(2), 1985, as used by Spanos et al. Section III-B (eqs 3-4). With the eigenvalues
l_1 >= ... >= l_M of the sample covariance of N snapshots, the log-likelihood of the model
with k signals is

    L(k) = N (M - k) log( g(k) / a(k) ),

where a(k) and g(k) are the arithmetic and geometric means of the M - k smallest
eigenvalues. A complex model with k signals has k (2M - k) free parameters, so

    AIC(k) = -2 L(k) + 2 k (2M - k)
    MDL(k) = -L(k) + (1/2) k (2M - k) log N

and the order is the k in {0, ..., M-1} that minimises the criterion.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

METHODS = ("aic", "mdl")

# Eigenvalues below this fraction of the largest are floored to it: a rank-deficient
# (noise-free) covariance then has equal "noise" eigenvalues, L(k) = 0 above its rank.
_EIG_FLOOR = 1e-12


def _sorted_eigvals(eigvals: ArrayLike) -> NDArray[np.float64]:
    lam = np.asarray(eigvals)
    if lam.ndim != 1 or lam.size < 2:
        raise ValueError(f"need a 1-D array of at least 2 eigenvalues, got shape {lam.shape}")
    if np.iscomplexobj(lam):
        lam = lam.real
    lam = np.sort(lam.astype(np.float64))[::-1]
    if not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be finite")
    if lam[0] <= 0.0:
        raise ValueError("covariance has no positive eigenvalue (all-zero input?)")
    return np.maximum(lam, lam[0] * _EIG_FLOOR)


def _check_snapshots(n_snapshots: float) -> float:
    n = float(n_snapshots)
    if not (np.isfinite(n) and n >= 1.0):
        raise ValueError(f"n_snapshots must be >= 1, got {n_snapshots}")
    return n


def log_likelihood(eigvals: ArrayLike, n_snapshots: float) -> NDArray[np.float64]:
    """L(k) = N (M-k) log(g(k)/a(k)) for k = 0..M-1 (Wax and Kailath 1985, eq 16); <= 0."""
    lam = _sorted_eigvals(eigvals)
    n = _check_snapshots(n_snapshots)
    m = lam.size
    out = np.empty(m)
    for k in range(m):
        tail = lam[k:]
        log_g = np.mean(np.log(tail))
        log_a = np.log(np.mean(tail))
        out[k] = n * (m - k) * min(log_g - log_a, 0.0)
    return out


def _free_parameters(m: int) -> NDArray[np.float64]:
    k = np.arange(m, dtype=np.float64)
    return k * (2 * m - k)


def aic(eigvals: ArrayLike, n_snapshots: float) -> NDArray[np.float64]:
    """AIC(k) = -2 L(k) + 2 k (2M - k) for k = 0..M-1 (Spanos eq 3)."""
    lam = np.asarray(eigvals)
    ll = log_likelihood(lam, n_snapshots)
    return -2.0 * ll + 2.0 * _free_parameters(ll.size)


def mdl(eigvals: ArrayLike, n_snapshots: float) -> NDArray[np.float64]:
    """MDL(k) = -L(k) + (1/2) k (2M - k) log N for k = 0..M-1 (Spanos eq 4)."""
    ll = log_likelihood(eigvals, n_snapshots)
    n = _check_snapshots(n_snapshots)
    return -ll + 0.5 * _free_parameters(ll.size) * np.log(n)


def covariance_eigvals(r: ArrayLike) -> NDArray[np.float64]:
    """Eigenvalues of a Hermitian covariance, descending; ValueError on bad input."""
    r = np.asarray(r)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 1:
        raise ValueError(f"covariance must be a square M x M matrix, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("covariance contains NaN or Inf")
    rh = 0.5 * (r + r.conj().T)
    return np.linalg.eigvalsh(rh.astype(np.complex128))[::-1]


# A signal eigenvalue must stand above the largest noise eigenvalue that chance gives: for p
# noise eigenvalues of a sample covariance of N complex snapshots (relative to sigma^2) that
# is the Marchenko-Pastur edge mu = (1 + sqrt(p/N))^2 with Tracy-Widom (beta = 2)
# fluctuations of scale s = (1 + sqrt(p/N)) (1/sqrt(N) + 1/sqrt(p))^(1/3) / sqrt(N)
# (Johnstone 2001; El Karoui 2007). The guard asks for mu + GUARD_TW s, sigma^2 estimated by
# the mean of the candidate and the eigenvalues below it (unbiased when the candidate is
# noise). AIC alone over-estimates clean single paths on ~10 % of occasions (its penalty is
# too small for large N) and ESPRIT / root-MUSIC then return spurious paths; with the guard
# none in 10 000 trials (M = 3..8, N = 32..3072). At GUARD_TW = 3 (TW2 exceeds 3 with
# probability < 1e-4) the guard costs AIC 4-5 dB of sensitivity to a second path
# (benchmarks/bench_spanos_fig1.py, docs/estimation.md), a fixed margin of 3 dB cost 10 dB.
GUARD_TW = 3.0


def noise_edge(p: int, n_snapshots: float) -> float:
    """mu + GUARD_TW s: the largest of ``p`` noise eigenvalues (relative to sigma^2) that the
    guard still calls noise, for N snapshots."""
    n = _check_snapshots(n_snapshots)
    r = np.sqrt(p / n)
    scale = (1.0 + r) * (1.0 / np.sqrt(n) + 1.0 / np.sqrt(p)) ** (1.0 / 3.0) / np.sqrt(n)
    return float((1.0 + r) ** 2 + GUARD_TW * scale)


def guard_order(lam: ArrayLike, order: int, n_snapshots: float) -> int:
    """Lower ``order`` while its weakest signal eigenvalue could be the largest of the noise
    eigenvalues (``noise_edge`` times the mean of it and the eigenvalues below it)."""
    lam = _sorted_eigvals(lam)
    m = lam.size
    k = int(order)
    while k > 0 and lam[k - 1] < noise_edge(m - k + 1, n_snapshots) * float(np.mean(lam[k - 1 :])):
        k -= 1
    return k


def whiten(r: ArrayLike, channel_noise: ArrayLike | None) -> NDArray[np.complex128]:
    """R (M x M) with each channel's noise power ``channel_noise`` [M] scaled to their mean,
    D^-1/2 R D^-1/2 with D = diag(q / mean(q)): what the white-noise criteria assume. R
    unchanged when the noise powers are missing, not M finite positive numbers. For the
    order only (it changes the array response)."""
    rr = np.asarray(r, dtype=np.complex128)
    if channel_noise is None:
        return rr
    q = np.asarray(channel_noise, dtype=np.float64).ravel()
    if q.shape != (rr.shape[0],) or not (np.all(np.isfinite(q)) and np.all(q > 0)):
        return rr
    d = 1.0 / np.sqrt(q / np.mean(q))
    return rr * np.outer(d, d)


def estimate_order(
    r: ArrayLike, n_snapshots: float, method: str = "aic", guard: bool = True
) -> int:
    """Number of signals in covariance R (M x M) from N snapshots, 0 <= order <= M-1.

    With ``guard`` (default) the AIC/MDL choice is lowered by :func:`guard_order`."""
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"order method must be one of {METHODS}, got {method!r}")
    lam = covariance_eigvals(r)
    if lam.size < 2:
        raise ValueError("order estimation needs at least 2 array elements")
    crit = aic(lam, n_snapshots) if method == "aic" else mdl(lam, n_snapshots)
    k = int(np.argmin(crit))
    return guard_order(lam, k, n_snapshots) if guard and k > 0 else k
