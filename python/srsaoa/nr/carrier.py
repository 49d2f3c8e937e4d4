"""Carrier configuration and numerology (TS 38.211 4.2, 4.3, 5.3.1)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Subcarrier spacing (kHz) -> numerology mu.
SCS_TO_MU = {15: 0, 30: 1, 60: 2, 120: 3}
SYMBOLS_PER_SLOT = 14
N_SC_RB = 12
MAX_N_SIZE_GRID = 275


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


class CarrierConfig:
    """An NR carrier (resource grid) and its sampling.

    Fields (TS 38.211 / MATLAB nrCarrierConfig names in snake_case):
      subcarrier_spacing: kHz, 15, 30, 60 or 120 (numerology mu = 0..3).
      n_size_grid: resource blocks in the grid, 1..275.
      n_start_grid: first common resource block of the grid, 0..2199.
      n_slot: slot number in the frame n_s,f^mu, 0..slots_per_frame-1; larger values count
          on into the next frames and are wrapped into n_frame (as MATLAB's nrCarrierConfig).
      n_frame: system frame number n_f, 0..1023.
      cyclic_prefix: "normal" (the only one SRS positioning on FR1 uses).
      fft_size: None for the default (smallest power of two >= max(128, 12*n_size_grid/0.85)),
        or a multiple of 128 >= 12*n_size_grid.

    Grid subcarrier k (0 <= k < 12*n_size_grid) sits at baseband (k - 6*n_size_grid)*scs Hz.
    """

    FIELDS = (
        "subcarrier_spacing",
        "n_size_grid",
        "n_start_grid",
        "n_slot",
        "n_frame",
        "cyclic_prefix",
        "fft_size",
    )

    def __init__(
        self,
        subcarrier_spacing: int = 30,
        n_size_grid: int = 51,
        n_start_grid: int = 0,
        n_slot: int = 0,
        n_frame: int = 0,
        cyclic_prefix: str = "normal",
        fft_size: int | None = None,
    ) -> None:
        self.subcarrier_spacing = subcarrier_spacing
        self.n_size_grid = n_size_grid
        self.n_start_grid = n_start_grid
        self.n_slot = n_slot
        self.n_frame = n_frame
        self.cyclic_prefix = cyclic_prefix
        self._fft_size = fft_size
        self.validate()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"CarrierConfig({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CarrierConfig) and self.to_dict() == other.to_dict()

    def copy(self, **changes: Any) -> CarrierConfig:
        """A new carrier with some fields changed (validated)."""
        d = self.to_dict()
        d.update(changes)
        return CarrierConfig.from_dict(d)

    def validate(self) -> None:
        """Raise ValueError naming the first out-of-range field and its allowed range."""
        if self.subcarrier_spacing not in SCS_TO_MU or isinstance(self.subcarrier_spacing, bool):
            raise ValueError(
                f"subcarrier_spacing must be one of 15, 30, 60, 120 (kHz), "
                f"got {self.subcarrier_spacing!r}"
            )
        self.subcarrier_spacing = int(self.subcarrier_spacing)
        self.n_size_grid = _check_int("n_size_grid", self.n_size_grid, 1, MAX_N_SIZE_GRID)
        self.n_start_grid = _check_int("n_start_grid", self.n_start_grid, 0, 2199)
        # As MATLAB's nrCarrierConfig: a slot number beyond one frame counts on into the
        # following frames (n_slot mod slots_per_frame in frame n_frame + n_slot div it), and
        # the frame number wraps at 1024.
        spf = self.slots_per_frame
        n_slot = _check_int("n_slot", self.n_slot, 0, 1024 * spf - 1)
        n_frame = _check_int("n_frame", self.n_frame, 0, 1023)
        self.n_frame = (n_frame + n_slot // spf) % 1024
        self.n_slot = n_slot % spf
        if self.cyclic_prefix != "normal":
            raise ValueError(
                f"cyclic_prefix must be 'normal' (extended CP is not supported), "
                f"got {self.cyclic_prefix!r}"
            )
        f = self._fft_size
        if f is not None:
            k = N_SC_RB * self.n_size_grid
            if (
                isinstance(f, bool)
                or not isinstance(f, (int, np.integer))
                or f < k
                or f % 128
                or f > 65536
            ):
                raise ValueError(
                    f"fft_size must be None or a multiple of 128 in [{k}, 65536] "
                    f"(>= 12*n_size_grid, integer CP lengths), got {f!r}"
                )
            self._fft_size = int(f)

    # numerology -----------------------------------------------------------------------
    @property
    def mu(self) -> int:
        return SCS_TO_MU[self.subcarrier_spacing]

    @property
    def scs_hz(self) -> float:
        return 1e3 * self.subcarrier_spacing

    @property
    def slots_per_subframe(self) -> int:
        return 1 << self.mu

    @property
    def slots_per_frame(self) -> int:
        return 10 << self.mu

    @property
    def symbols_per_slot(self) -> int:
        return SYMBOLS_PER_SLOT

    @property
    def num_subcarriers(self) -> int:
        """K = 12 * n_size_grid."""
        return N_SC_RB * self.n_size_grid

    @property
    def fft_size(self) -> int:
        """The resolved FFT size: the one given, or the default rule when None was given."""
        if self._fft_size is not None:
            return self._fft_size
        need = max(128.0, self.num_subcarriers / 0.85)
        return 1 << int(np.ceil(np.log2(need) - 1e-12))

    @property
    def sample_rate(self) -> float:
        """Hz: fft_size * subcarrier spacing."""
        return float(self.fft_size) * self.scs_hz

    def _slot(self, n_slot: int | None) -> int:
        n = self.n_slot if n_slot is None else int(n_slot)
        return n % self.slots_per_frame

    def cp_lengths(self, n_slot: int | None = None) -> np.ndarray:
        """CP length in samples of each of the 14 symbols of slot n_slot (TS 38.211 5.3.1).

        N_CP = 144*kappa*2^-mu, plus 16*kappa on symbol l = 0 and l = 7*2^mu of each
        subframe (the first symbol of each 0.5 ms); scaled to fft_size samples: 144/2048*N
        and (144 + 16*2^mu)/2048*N.
        """
        n = self.fft_size
        cps = np.full(SYMBOLS_PER_SLOT, 144 * n // 2048, dtype=np.int64)
        slot_in_subframe = self._slot(n_slot) % self.slots_per_subframe
        for l_slot in range(SYMBOLS_PER_SLOT):
            l_sf = slot_in_subframe * SYMBOLS_PER_SLOT + l_slot
            if l_sf == 0 or l_sf == 7 * (1 << self.mu):
                cps[l_slot] = (144 + 16 * (1 << self.mu)) * n // 2048
        return cps

    def symbol_lengths(self, n_slot: int | None = None) -> np.ndarray:
        """Samples of each symbol including its CP."""
        return self.cp_lengths(n_slot) + self.fft_size

    def symbol_start(self, symbol: int, n_slot: int | None = None) -> int:
        """Sample offset, inside the slot, of the first CP sample of symbol ``symbol``."""
        if not 0 <= symbol <= SYMBOLS_PER_SLOT:
            raise ValueError(f"symbol must be in [0, 14], got {symbol}")
        return int(np.sum(self.symbol_lengths(n_slot)[:symbol]))

    def samples_per_slot(self, n_slot: int | None = None) -> int:
        return int(np.sum(self.symbol_lengths(n_slot)))

    def samples_per_subframe(self) -> int:
        return sum(self.samples_per_slot(s) for s in range(self.slots_per_subframe))

    def advanced(self, slots: int) -> CarrierConfig:
        """A copy of this carrier ``slots`` slots later (n_slot and n_frame wrap)."""
        total = self.n_frame * self.slots_per_frame + self.n_slot + int(slots)
        total %= 1024 * self.slots_per_frame
        d = self.to_dict()
        d["n_frame"], d["n_slot"] = divmod(total, self.slots_per_frame)
        return CarrierConfig.from_dict(d)

    # serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict with DESIGN section 4 keys; fft_size stays None if it was defaulted."""
        d = {k: getattr(self, k) for k in self.FIELDS[:-1]}
        d["fft_size"] = self._fft_size
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CarrierConfig:
        names = set(cls.FIELDS)
        unknown = set(d) - names
        if unknown:
            raise ValueError(
                f"unknown CarrierConfig field(s) {sorted(unknown)}; known: {sorted(names)}"
            )
        return cls(**d)
