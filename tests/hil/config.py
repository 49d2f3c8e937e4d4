"""HIL bench description read from environment variables (docs/hil.md).

SRSAOA_USRP_RX        UHD device args of the receiver (N310), e.g. "addr=192.168.10.2".
                      Unset: every hil test is skipped.
SRSAOA_USRP_TX        UHD device args of the transmitter (UE), e.g. "type=b200" when it hangs
                      off this host, or "external" when it streams on its own (an E312
                      running examples/tx_srs_usrp.py on its ARM). Unset: tests that need a
                      transmitting UE are skipped.
SRSAOA_HIL_FREQ_HZ    carrier frequency, Hz (default 2.45e9, the ISM band of the Spanos testbed).
SRSAOA_HIL_AOA_DEG    true angle of the UE, degrees from broadside (default 0).
SRSAOA_HIL_AOA_TOL_DEG  allowed 90th-percentile AoA error, degrees (default 3).
SRSAOA_HIL_SPLITTER   1: all four N310 inputs are fed from one splitter (then the true
                      "angle" is 0 after calibration, and the channels see one signal).
SRSAOA_HIL_SPACING_WL element spacing in wavelengths (default 0.5).
SRSAOA_HIL_SECONDS    length of the coherence run, seconds (default 10).
SRSAOA_HIL_PHASE_TOL_DEG  hardware phase-drift allowance, degrees (default 2).
SRSAOA_HIL_RX_GAIN_DB / SRSAOA_HIL_TX_GAIN_DB  gains, dB (default 30 / 30).
SRSAOA_HIL_LO_SOURCE  N310 RX LO source, "internal" or "external" (default internal).
SRSAOA_HIL_CLOCK_SOURCE / SRSAOA_HIL_TIME_SOURCE  N310 references (default internal).
SRSAOA_HIL_CALIBRATION  a calibration JSON (srsaoa calibrate) valid for this radio state; unset:
                      test_aoa_known_angle calibrates on a first capture at the true angle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

RX_ENV = "SRSAOA_USRP_RX"
TX_ENV = "SRSAOA_USRP_TX"
TX_EXTERNAL = "external"


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        v = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{name}={raw!r} must lie in [{lo:g}, {hi:g}]")
    return v


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    v = env.get(name, "").strip() or default
    if v not in allowed:
        raise ValueError(f"{name}={v!r} must be one of {allowed}")
    return v


@dataclass(frozen=True)
class HilConfig:
    rx_args: str | None
    tx_args: str | None
    freq_hz: float = 2.45e9
    aoa_deg: float = 0.0
    aoa_tol_deg: float = 3.0
    splitter: bool = False
    spacing_wl: float = 0.5
    seconds: float = 10.0
    phase_tol_deg: float = 2.0
    rx_gain_db: float = 30.0
    tx_gain_db: float = 30.0
    lo_source: str = "internal"
    clock_source: str = "internal"
    time_source: str = "internal"
    calibration: str | None = None

    @property
    def has_rx(self) -> bool:
        return self.rx_args is not None

    @property
    def has_tx(self) -> bool:
        return self.tx_args is not None

    @property
    def tx_is_external(self) -> bool:
        return self.tx_args == TX_EXTERNAL

    @property
    def truth_deg(self) -> float:
        """The angle the array should report: 0 with a splitter (identical inputs)."""
        return 0.0 if self.splitter else self.aoa_deg

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HilConfig:
        rx = env.get(RX_ENV, "").strip() or None
        tx = env.get(TX_ENV, "").strip() or None
        split_raw = env.get("SRSAOA_HIL_SPLITTER", "").strip()
        if split_raw not in ("", "0", "1"):
            raise ValueError(f"SRSAOA_HIL_SPLITTER={split_raw!r} must be 0 or 1")
        return cls(
            rx_args=rx,
            tx_args=tx,
            freq_hz=_float(env, "SRSAOA_HIL_FREQ_HZ", 2.45e9, 10e6, 6e9),
            aoa_deg=_float(env, "SRSAOA_HIL_AOA_DEG", 0.0, -89.0, 89.0),
            aoa_tol_deg=_float(env, "SRSAOA_HIL_AOA_TOL_DEG", 3.0, 0.01, 90.0),
            splitter=split_raw == "1",
            spacing_wl=_float(env, "SRSAOA_HIL_SPACING_WL", 0.5, 0.05, 0.5),
            seconds=_float(env, "SRSAOA_HIL_SECONDS", 10.0, 0.5, 3600.0),
            phase_tol_deg=_float(env, "SRSAOA_HIL_PHASE_TOL_DEG", 2.0, 0.0, 180.0),
            rx_gain_db=_float(env, "SRSAOA_HIL_RX_GAIN_DB", 30.0, 0.0, 80.0),
            tx_gain_db=_float(env, "SRSAOA_HIL_TX_GAIN_DB", 30.0, 0.0, 90.0),
            lo_source=_choice(env, "SRSAOA_HIL_LO_SOURCE", "internal", ("internal", "external")),
            clock_source=_choice(
                env, "SRSAOA_HIL_CLOCK_SOURCE", "internal", ("internal", "external", "gpsdo")
            ),
            time_source=_choice(
                env, "SRSAOA_HIL_TIME_SOURCE", "internal", ("internal", "external", "gpsdo")
            ),
            calibration=env.get("SRSAOA_HIL_CALIBRATION", "").strip() or None,
        )
