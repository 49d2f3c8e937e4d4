"""Cramer-Rao bounds on the angle of arrival for the uniform linear array.

Stoica and Nehorai, "MUSIC, maximum likelihood and Cramer-Rao bound", IEEE Trans. ASSP
37(5), 1989 (deterministic, or conditional, model) and "Performance study of conditional and
unconditional direction-of-arrival estimation", IEEE Trans. ASSP 38(10), 1990 (stochastic, or
unconditional, model). For N snapshots, noise power sigma^2, steering matrix A [M, d],
D = [da(theta_1)/dtheta_1, ...] (theta in radians), P_A^perp = I - A A^+ and the source
covariance P:

    CRB_det = sigma^2 / (2N) * { Re[ (D^H P_A^perp D) .* P^T ] }^-1
    CRB_sto = sigma^2 / (2N) * { Re[ (D^H P_A^perp D) .* (P A^H R^-1 A P)^T ] }^-1,
    R = A P A^H + sigma^2 I.

For one source at half-wavelength spacing, CRB_det = 6 / (N SNR M (M^2-1) pi^2 cos^2 theta)
rad^2, and CRB_sto = CRB_det (1 + 1/(M SNR)).

The public functions return the bound on the standard deviation, sqrt(CRB), in degrees, one
value per source (``full=True`` gives the d x d bound matrix in rad^2). SNR is per element:
source power / sigma^2, as in DESIGN section 3.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..array.geometry import steering_vector


def _inputs(
    aoa_deg: ArrayLike,
    n_snapshots: float,
    snr_db: ArrayLike | None,
    num_elements: int,
    spacing_wavelengths: float,
    source_covariance: ArrayLike | None,
) -> tuple[NDArray, NDArray, NDArray, float]:
    theta = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    if theta.ndim != 1 or theta.size < 1:
        raise ValueError("aoa_deg must hold at least one angle")
    if not np.all(np.abs(theta) < 90.0):
        raise ValueError(f"aoa_deg must lie in (-90, 90), got {theta}")
    m = int(num_elements)
    if m != num_elements or m < 2:
        raise ValueError(f"num_elements must be an integer >= 2, got {num_elements}")
    if theta.size >= m:
        raise ValueError(f"{theta.size} sources need more than {m} elements")
    if not (spacing_wavelengths > 0):
        raise ValueError(f"spacing_wavelengths must be > 0, got {spacing_wavelengths}")
    n = float(n_snapshots)
    if not (np.isfinite(n) and n >= 1):
        raise ValueError(f"n_snapshots must be >= 1, got {n_snapshots}")
    if source_covariance is not None:
        p = np.asarray(source_covariance, dtype=np.complex128)
        if p.shape != (theta.size, theta.size):
            raise ValueError(f"source_covariance must be {theta.size} x {theta.size}")
    else:
        if snr_db is None:
            raise ValueError("give snr_db or source_covariance")
        snr = 10.0 ** (np.broadcast_to(np.asarray(snr_db, dtype=np.float64), theta.shape) / 10)
        p = np.diag(snr).astype(np.complex128)
    if not np.all(np.isfinite(p)):
        raise ValueError("source powers must be finite")
    a = steering_vector(m, spacing_wavelengths, theta)  # [M, d]
    mm = np.arange(m, dtype=np.float64)[:, None]
    d = 1j * 2.0 * np.pi * spacing_wavelengths * mm * np.cos(np.deg2rad(theta))[None, :] * a
    return a, d, p, n


def _h_matrix(a: NDArray, d: NDArray) -> NDArray:
    proj = np.eye(a.shape[0]) - a @ np.linalg.pinv(a)
    return d.conj().T @ proj @ d


def _finish(crb: NDArray, full: bool) -> NDArray[np.float64]:
    if full:
        return crb
    return np.rad2deg(np.sqrt(np.maximum(np.real(np.diag(crb)), 0.0)))


def crb_deterministic(
    aoa_deg: ArrayLike,
    n_snapshots: float,
    snr_db: ArrayLike | None = None,
    num_elements: int = 4,
    spacing_wavelengths: float = 0.5,
    source_covariance: ArrayLike | None = None,
    full: bool = False,
) -> NDArray[np.float64]:
    """Deterministic (conditional) CRB: sqrt(CRB) per source in degrees (noise power 1).

    ``snr_db`` is each source's power over the noise power (uncorrelated sources); or give the
    source sample covariance P (d x d, in units of the noise power) as ``source_covariance``.
    """
    a, d, p, n = _inputs(
        aoa_deg, n_snapshots, snr_db, num_elements, spacing_wavelengths, source_covariance
    )
    fim = np.real(_h_matrix(a, d) * p.T)
    return _finish(np.linalg.inv(fim) / (2.0 * n), full)


def crb_stochastic(
    aoa_deg: ArrayLike,
    n_snapshots: float,
    snr_db: ArrayLike | None = None,
    num_elements: int = 4,
    spacing_wavelengths: float = 0.5,
    source_covariance: ArrayLike | None = None,
    full: bool = False,
) -> NDArray[np.float64]:
    """Stochastic (unconditional) CRB: sqrt(CRB) per source in degrees (noise power 1)."""
    a, d, p, n = _inputs(
        aoa_deg, n_snapshots, snr_db, num_elements, spacing_wavelengths, source_covariance
    )
    r = a @ p @ a.conj().T + np.eye(a.shape[0])
    q = p @ a.conj().T @ np.linalg.solve(r, a) @ p
    fim = np.real(_h_matrix(a, d) * q.T)
    return _finish(np.linalg.inv(fim) / (2.0 * n), full)


def crb_angle_delay(
    aoa_deg: ArrayLike,
    delay_s: ArrayLike,
    gains: ArrayLike,
    subcarrier_hz: ArrayLike,
    num_elements: int = 4,
    spacing_wavelengths: float = 0.5,
    noise_power: float = 1.0,
    num_symbols: int = 1,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """CRB of the space-frequency CFR model that 2D-ESPRIT assumes: (std deg, std s) per path.

    H[m, s, k] = sum_p g_p a_m(theta_p) exp(-j 2 pi f_k tau_p) + n, n ~ CN(0, noise_power)
    white over m, s, k, the same g_p in every one of ``num_symbols`` symbols; unknowns theta_p,
    tau_p, Re g_p, Im g_p. Slepian-Bangs for a Gaussian mean: FIM = (2/sigma^2) Re(J^H J),
    J the Jacobian of vec(H). Unlike crb_deterministic (arbitrary waveform per snapshot), this
    bound credits the delay structure, so it is the reference for 2D-ESPRIT with several paths.
    """
    theta = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    tau = np.atleast_1d(np.asarray(delay_s, dtype=np.float64))
    g = np.atleast_1d(np.asarray(gains, dtype=np.complex128))
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    if not (theta.shape == tau.shape == g.shape) or theta.ndim != 1:
        raise ValueError("aoa_deg, delay_s and gains must have one entry per path")
    if not np.all(np.abs(theta) < 90.0):
        raise ValueError("aoa_deg must lie in (-90, 90)")
    if not (noise_power > 0) or int(num_symbols) < 1 or f.size < 1:
        raise ValueError("need noise_power > 0, num_symbols >= 1 and subcarrier frequencies")
    m = int(num_elements)
    a = steering_vector(m, spacing_wavelengths, theta)  # [M, d]
    mm = np.arange(m, dtype=np.float64)[:, None]
    da = 1j * 2.0 * np.pi * spacing_wavelengths * mm * np.cos(np.deg2rad(theta))[None, :] * a
    b = np.exp(-2j * np.pi * np.outer(f, tau))  # [K, d]
    db = -2j * np.pi * f[:, None] * b
    cols = []
    for p in range(theta.size):
        cols += [
            g[p] * np.outer(da[:, p], b[:, p]).ravel(),  # d/dtheta (rad)
            g[p] * np.outer(a[:, p], db[:, p]).ravel(),  # d/dtau
            np.outer(a[:, p], b[:, p]).ravel(),  # d/dRe g
            1j * np.outer(a[:, p], b[:, p]).ravel(),  # d/dIm g
        ]
    jac = np.stack(cols, axis=1)
    fim = 2.0 * int(num_symbols) / noise_power * np.real(jac.conj().T @ jac)
    cov = np.linalg.inv(fim)
    var = np.diag(cov)
    return np.rad2deg(np.sqrt(var[0::4])), np.sqrt(var[1::4])
