"""Coarray signal model and coarray DBF spectrum (MoD-DNN paper, eqs 11-14).

For R = sum_l eta_l a(theta_l) a(theta_l)^H + sigma^2 I (eq 11), stacking the columns of
R gives the coarray signal y = vec(R) = A~ eta + sigma^2 e~ (eqs 12-13), where column l
of the coarray manifold A~ is vec(a(theta_l) a(theta_l)^H). The coarray DBF spectrum is
eta^ = A~^H y and its projection matrix P = A~^H A~ (eq 14).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..array.geometry import steering_vector


def default_grid_deg(
    start: float = -60.0, stop: float = 60.0, step: float = 0.1
) -> NDArray[np.float64]:
    """Angle grid from ``start`` to ``stop`` inclusive (MoD-DNN default: [-60, 60] deg, 0.1 deg)."""
    if step <= 0 or stop <= start:
        raise ValueError(f"grid needs start < stop and step > 0, got {start}, {stop}, {step}")
    n = int(round((stop - start) / step)) + 1
    return start + step * np.arange(n)


def vec(r: ArrayLike) -> NDArray[np.complexfloating]:
    """Column-stacking vectorisation vec(R) = [r_1; ...; r_M] (eq 13); batched over leading axes."""
    r = np.asarray(r)
    return np.swapaxes(r, -1, -2).reshape(*r.shape[:-2], -1)


def coarray_manifold(
    num_elements: int, spacing_wavelengths: float, grid_deg: ArrayLike
) -> NDArray[np.complex128]:
    """A~ [M^2, L]: column l is vec(a(theta_l) a(theta_l)^H)."""
    a = steering_vector(num_elements, spacing_wavelengths, grid_deg)  # [M, L]
    # vec(a a^H)[j*M + i] = a_i conj(a_j)
    outer = np.einsum("il,jl->jil", a, a.conj())
    return outer.reshape(num_elements * num_elements, -1)


def coarray_spectrum(r: ArrayLike, manifold: ArrayLike) -> NDArray[np.complex128]:
    """eta^ = A~^H vec(R) (eq 14); R [..., M, M] -> [..., L]."""
    y = vec(np.asarray(r, dtype=np.complex128))
    return y @ np.asarray(manifold).conj()


def projection_matrix(manifold: ArrayLike) -> NDArray[np.complex128]:
    """P = A~^H A~ (eq 14), [L, L]."""
    a = np.asarray(manifold)
    return a.conj().T @ a
