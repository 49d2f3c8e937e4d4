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
    """Block or exponentially weighted covariance over CFR occasions."""

    def __init__(self, num_elements: int, forward_backward: bool = False, forgetting: float = 0.0):
        if int(num_elements) != num_elements or num_elements < 1:
            raise ValueError(f"num_elements must be an integer >= 1, got {num_elements}")
        if not (0.0 <= forgetting < 1.0):
            raise ValueError(f"forgetting must be in [0, 1), got {forgetting}")
        self.num_elements = int(num_elements)
        self.forward_backward = bool(forward_backward)
        self.forgetting = float(forgetting)
        self.reset()

    def reset(self) -> None:
        m = self.num_elements
        self._acc = np.zeros((m, m), dtype=np.complex128)
        self.num_snapshots = 0.0
        self.num_occasions = 0

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
            self.num_snapshots *= lam
        self._acc += x @ x.conj().T
        self.num_snapshots += x.shape[1]
        self.num_occasions += 1
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
