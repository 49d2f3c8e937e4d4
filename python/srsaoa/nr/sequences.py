"""Pseudo-random and low-PAPR sequences (TS 38.211 5.2.1 and 5.2.2)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .tables import PHI

N_C = 1600


@lru_cache(maxsize=256)
def _gold(c_init: int, length: int) -> np.ndarray:
    total = N_C + length
    x1 = np.zeros(total + 31, dtype=np.uint8)
    x2 = np.zeros(total + 31, dtype=np.uint8)
    x1[0] = 1
    x2[:31] = (int(c_init) >> np.arange(31)) & 1
    # x(n+31) depends on x(n+3) .. x(n): blocks of 28 new values are independent.
    n = 0
    while n < total:
        m = min(28, total - n)
        x1[n + 31 : n + 31 + m] = x1[n + 3 : n + 3 + m] ^ x1[n : n + m]
        x2[n + 31 : n + 31 + m] = (
            x2[n + 3 : n + 3 + m] ^ x2[n + 2 : n + 2 + m] ^ x2[n + 1 : n + 1 + m] ^ x2[n : n + m]
        )
        n += m
    c = x1[N_C : N_C + length] ^ x2[N_C : N_C + length]
    c.setflags(write=False)
    return c


def pseudo_random(c_init: int, length: int) -> np.ndarray:
    """c(0..length-1) of the length-31 Gold sequence, TS 38.211 5.2.1 (uint8 0/1)."""
    if not 0 <= int(c_init) < 2**31:
        raise ValueError(f"c_init must be in [0, 2^31 - 1], got {c_init}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    return _gold(int(c_init), int(length)).copy()


@lru_cache(maxsize=64)
def largest_prime_below(m: int) -> int:
    """N_ZC: the largest prime number strictly smaller than m."""
    for n in range(m - 1, 1, -1):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            return n
    raise ValueError(f"no prime below {m}")


def zadoff_chu_root(u: int, v: int, n_zc: int) -> int:
    """q = floor(q_bar + 1/2) + v*(-1)^floor(2*q_bar), q_bar = N_ZC*(u + 1)/31 (exact)."""
    # Exact rational arithmetic: q_bar = n_zc*(u+1)/31.
    num = n_zc * (u + 1)
    floor_q_half = (2 * num + 31) // 62  # floor(num/31 + 1/2)
    floor_2q = (2 * num) // 31
    return floor_q_half + v * (-1 if floor_2q % 2 else 1)


def base_sequence(u: int, v: int, m_zc: int) -> np.ndarray:
    """r_bar_{u,v}(n), n = 0..M_ZC-1, TS 38.211 5.2.2.1/5.2.2.2 (complex128)."""
    if not 0 <= u < 30 or v not in (0, 1):
        raise ValueError(f"sequence group u must be 0..29 and v 0 or 1, got u={u}, v={v}")
    n = np.arange(m_zc)
    if m_zc in PHI:
        return np.exp(1j * np.pi / 4 * PHI[m_zc][u].astype(np.float64))
    if m_zc == 30:
        return np.exp(-1j * np.pi * (u + 1) * (n + 1) * (n + 2) / 31)
    if m_zc >= 36:
        n_zc = largest_prime_below(m_zc)
        q = zadoff_chu_root(u, v, n_zc)
        m = n % n_zc
        # q*m*(m+1) mod (2*N_ZC) keeps the phase argument small and exact.
        return np.exp(-1j * np.pi * ((q * m * (m + 1)) % (2 * n_zc)) / n_zc)
    raise ValueError(f"no low-PAPR base sequence of length {m_zc} (6, 12, 18, 24, 30 or >= 36)")


def low_papr_sequence(u: int, v: int, alpha: float, m_zc: int) -> np.ndarray:
    """r_{u,v}^{(alpha, delta)}(n) = exp(j*alpha*n) * r_bar_{u,v}(n), TS 38.211 5.2.2."""
    n = np.arange(m_zc)
    return np.exp(1j * alpha * n) * base_sequence(u, v, m_zc)
