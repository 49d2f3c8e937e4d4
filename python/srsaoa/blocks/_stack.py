"""CFRs of consecutive SRS occasions stacked into one estimate (``occasions`` of
doa_estimator and moddnn_doa): the CFR-input counterpart of covariance_accumulator."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

MAX_STACKED_OCCASIONS = 256  # CFRs held for one estimate (about 100 MB at 273 RB, 4 elements)


def check_occasions(occasions: Any) -> int:
    """``occasions`` as an int in [1, MAX_STACKED_OCCASIONS]; ValueError otherwise."""
    if (
        isinstance(occasions, bool)
        or int(occasions) != occasions
        or not 1 <= occasions <= MAX_STACKED_OCCASIONS
    ):
        raise ValueError(
            f"occasions must be an integer in [1, {MAX_STACKED_OCCASIONS}], got {occasions!r}"
        )
    return int(occasions)


class OccasionStack:
    """The CFRs [M, S, K] held for the next estimate. ``push`` adds one and, once ``n`` are
    held, returns them stacked along the symbol axis, [M, n S, K] (else None). A CFR of
    another element count, subcarrier count or ``band`` (its subcarriers, in any unit; None
    when unknown) than the held ones starts a new stack; the held ones then give no
    estimate (logged; they were announced when held)."""

    def __init__(self) -> None:
        self._held: list[np.ndarray] = []
        self._key: Any = None
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._held, self._key = [], None

    def push(self, h: np.ndarray, band: Any, n: int, logger: Any) -> np.ndarray | None:
        key = (h.shape[0], h.shape[2], None if band is None else np.asarray(band).tobytes())
        with self._lock:
            if key != self._key:
                if self._held:
                    logger.info(
                        f"CFR of shape {list(h.shape)} after {len(self._held)} held CFR(s) of "
                        "another shape or band: those give no estimate, a new stack starts"
                    )
                self._held, self._key = [], key
            self._held.append(h)
            if len(self._held) < n:
                return None
            full = np.concatenate(self._held, axis=1)
            self._held = []
            return full
