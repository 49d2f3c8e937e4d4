"""Spatial covariance from CFR snapshots.

``CovarianceAccumulator`` is the Python twin (and test oracle) of the C++
``covariance_kernel`` behind the ``covariance_accumulator`` block: every column
``H[:, s, k]`` of a CFR ``H[m, s, k]`` is one snapshot, and

    A <- lambda * A + sum h h^H,    W <- lambda * W + S*K,    R = A / W

with lambda = 0 meaning block averaging (restart after every read-out).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def forward_backward(r: NDArray[np.complexfloating]) -> NDArray[np.complexfloating]:
    """Forward-backward average (R + J R* J) / 2, J the exchange matrix."""
    r = np.asarray(r)
    return 0.5 * (r + np.conj(r[::-1, ::-1]))


def sample_covariance(cfr: ArrayLike, fb: bool = False) -> NDArray[np.complex128]:
    """R = (1/N) sum h h^H over all snapshots of one CFR [M, S, K] (or [M, N])."""
    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim < 2:
        raise ValueError(f"CFR must have at least 2 dimensions [M, ...], got shape {h.shape}")
    x = h.reshape(h.shape[0], -1)
    if x.shape[1] == 0:
        raise ValueError("CFR has no snapshots")
    r = x @ x.conj().T / x.shape[1]
    return forward_backward(r) if fb else r


class CovarianceAccumulator:
    """Block or exponentially weighted covariance over CFR occasions.

    Its state reads as read-only properties (``num_elements``, ``num_snapshots``,
    ``num_occasions``, ``forward_backward``, ``forgetting``), as on the C++ kernel.
    """

    def __init__(self, num_elements: int, forward_backward: bool = False, forgetting: float = 0.0):
        if int(num_elements) != num_elements or num_elements < 1:
            raise ValueError(f"num_elements must be an integer >= 1, got {num_elements}")
        if not (0.0 <= forgetting < 1.0):
            raise ValueError(f"forgetting must be in [0, 1), got {forgetting}")
        self._m = int(num_elements)
        self._fb = bool(forward_backward)
        self._lambda = float(forgetting)
        self.reset()

    @property
    def num_elements(self) -> int:
        """M, the number of array elements."""
        return self._m

    @property
    def forward_backward(self) -> bool:
        return self._fb

    @property
    def forgetting(self) -> float:
        """lambda: 0 = block averaging, else exponential."""
        return self._lambda

    @property
    def num_snapshots(self) -> float:
        """Effective snapshot count W behind the current sums."""
        return self._weight

    @property
    def num_occasions(self) -> int:
        """Occasions accumulated since the last restart."""
        return self._occasions

    def reset(self) -> None:
        m = self._m
        self._acc = np.zeros((m, m), dtype=np.complex128)
        self._weight = 0.0
        self._occasions = 0

    def add(self, cfr: ArrayLike) -> bool:
        """Accumulate one CFR [M, S, K]; False (state unchanged) if it is rejected."""
        h = np.asarray(cfr)
        if h.ndim != 3 or h.shape[0] != self.num_elements or h.shape[1] * h.shape[2] == 0:
            return False
        if not np.all(np.isfinite(h)):
            return False
        x = h.reshape(self.num_elements, -1).astype(np.complex128)
        lam = self.forgetting
        if lam > 0.0:
            self._acc *= lam
            self._weight *= lam
        self._acc += x @ x.conj().T
        self._weight += x.shape[1]
        self._occasions += 1
        return True

    def read_out(self) -> NDArray[np.complex64]:
        """R (M x M, complex64); restarts the sums in block mode."""
        if self.num_snapshots > 0:
            r = self._acc / self.num_snapshots
            if self.forward_backward:
                r = forward_backward(r)
        else:
            r = np.zeros_like(self._acc)
        if self.forgetting == 0.0:
            self.reset()
        return r.astype(np.complex64)


def spatial_smoothing(r: ArrayLike, subarray_size: int, fb: bool = False) -> NDArray[np.complex128]:
    """Spatially smoothed covariance (Shan, Wax and Kailath 1985).

    The M-element ULA is split into L = M - M_s + 1 overlapping subarrays of M_s elements;
    R_s = (1/L) sum_l R[l:l+M_s, l:l+M_s]. Each subarray sees the same steering vectors up to a
    phase factor per source, so averaging decorrelates coherent paths: up to L coherent paths
    (2L with ``fb``, forward-backward averaging of R_s) become resolvable, at the price of an
    M_s-element aperture.
    """
    r = np.asarray(r, dtype=np.complex128)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"covariance must be square M x M, got shape {r.shape}")
    m = r.shape[0]
    ms = int(subarray_size)
    if ms != subarray_size or not (1 <= ms <= m):
        raise ValueError(f"subarray_size must be an integer in [1, {m}], got {subarray_size}")
    n_sub = m - ms + 1
    rs = sum(r[i : i + ms, i : i + ms] for i in range(n_sub)) / n_sub
    return forward_backward(rs) if fb else rs


def effective_snapshots(
    n_snapshots: float, num_elements: int, subarray_size: int | None = None, fb: bool = False
) -> float:
    """Number of snapshot vectors averaged into a (smoothed, forward-backward) covariance.

    N snapshots of an M-element array smoothed over L = M - M_s + 1 subarrays give N*L
    subarray snapshots, doubled by forward-backward averaging. These vectors are not
    independent, so this is an upper bound of the statistically independent count; it is
    the N that AIC/MDL (``estimation.order``) use for a smoothed covariance.
    """
    n = float(n_snapshots)
    ms = num_elements if subarray_size is None else int(subarray_size)
    if not (1 <= ms <= num_elements):
        raise ValueError(f"subarray_size must be in [1, {num_elements}], got {subarray_size}")
    return n * (num_elements - ms + 1) * (2.0 if fb else 1.0)


def covariance_from_cfr(
    cfr: ArrayLike, fb: bool = False, subarray_size: int | None = None
) -> tuple[NDArray[np.complex128], float]:
    """(R, N_eff) from one CFR H [M, S, K] (or [M, N]): every column is one snapshot.

    ``subarray_size`` M_s < M applies spatial smoothing (R is then M_s x M_s); ``fb`` applies
    forward-backward averaging. N_eff follows ``effective_snapshots``. Non-finite CFR values
    raise ValueError.
    """
    h = np.asarray(cfr)
    if h.ndim < 2:
        raise ValueError(f"CFR must have at least 2 dimensions [M, ...], got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("CFR contains NaN or Inf")
    m = h.shape[0]
    n = int(np.prod(h.shape[1:]))
    r = sample_covariance(h, fb=False)
    if subarray_size is not None and int(subarray_size) < m:
        r = spatial_smoothing(r, int(subarray_size), fb=fb)
    elif fb:
        r = forward_backward(r)
    return r, effective_snapshots(n, m, subarray_size, fb)
