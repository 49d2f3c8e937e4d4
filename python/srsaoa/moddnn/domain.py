"""What a MoD-DNN model was trained for, and the checks that keep it from answering outside
that: a network only knows the angles, the array and the band it saw.

- Refused (no estimate, one logged reason): a CFR from another element count, subcarrier
  spacing or SRS band (number of subcarriers or span) than the model's training data.
- Flagged (estimate PDU meta ``flags``, JSON ``flags``): ``outside_domain`` when an
  independent angle (ESPRIT on the CFR's covariance, which needs no training) lies beyond
  the trained angle range by more than ``margin_deg``; ``at_domain_edge`` when the network's
  own answer sits within ``margin_deg`` of an end of the range, where a UE beyond the range
  also lands.

Plain numpy; never imports GNU Radio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

OUTSIDE = "outside_domain"
EDGE = "at_domain_edge"


@dataclass
class ModelDomain:
    angle_deg: tuple[float, float]
    num_elements: int
    spacing_wavelengths: float
    subcarriers_hz: NDArray[np.float64] | None = None
    calibration: str | None = None
    margin_deg: float = 3.0

    @classmethod
    def from_metadata(cls, cfg: Any, meta: dict) -> ModelDomain:
        """The domain recorded at training (``srsaoa train``): the sweep's angle range when
        trained from a sweep, else the model grid."""
        training = meta.get("training") or {}
        dom = training.get("domain_deg")
        lo, hi = (float(cfg.grid_start_deg), float(cfg.grid_stop_deg))
        if isinstance(dom, (list, tuple)) and len(dom) == 2:
            lo, hi = max(lo, float(dom[0])), min(hi, float(dom[1]))
        f = meta.get("subcarriers_hz")
        return cls(
            (lo, hi),
            int(cfg.num_elements),
            float(cfg.spacing_wavelengths),
            None if not f else np.asarray(f, dtype=np.float64),
            training.get("calibration"),
        )

    def resolve_calibration(self, model: str) -> None:
        """Make ``calibration`` (stored relative to the model's folder when it lies beside
        the model) a path usable from here."""
        if self.calibration:
            from pathlib import Path

            from .modelfile import model_paths

            self.calibration = str(Path(model_paths(model)[1]).parent / self.calibration)

    def check_calibration(self, given: str | None) -> str | None:
        """Why CFRs calibrated with ``given`` ('' / None: none) do not fit the model (None:
        they do). A model trained from a sweep learnt CFRs corrected by that sweep's
        angle-independent part: another correction (more than 1 deg apart on any element)
        moves every angle it sees. (A missing correction is reported by the caller, which
        knows whether it can apply the model's own.)"""
        if not given or not self.calibration:
            return None
        from ..array.calibration import load_calibration

        mine, theirs = load_calibration(given), load_calibration(self.calibration)
        if mine.num_elements != theirs.num_elements:
            return (
                f"the model was trained on CFRs calibrated with {self.calibration} "
                f"({theirs.num_elements} elements); {given} is for {mine.num_elements}"
            )
        dph = np.abs(np.angle(np.exp(1j * np.deg2rad(mine.phase_deg - theirs.phase_deg))))
        worst = float(np.rad2deg(dph.max()))
        if worst > 1.0:
            return (
                f"the model was trained on CFRs calibrated with {self.calibration}; "
                f"{given} differs by {worst:.1f} deg: use the model's calibration or retrain "
                "with this one"
            )
        return None

    def check_band(self, subcarrier_hz: NDArray[np.float64]) -> str | None:
        """Why a CFR on these subcarrier frequencies is outside the model's band (None: ok).
        Frequencies are compared up to a common offset (grid k or baseband Hz). The network
        averages its input over a fixed number of subcarrier bands, so a narrower SRS on the
        same comb spacing is accepted; another spacing (numerology or comb) or a band more
        than 10 % wider than the trained one is not."""
        if self.subcarriers_hz is None or self.subcarriers_hz.size < 2:
            return None
        f = np.sort(np.asarray(subcarrier_hz, dtype=np.float64))
        g = np.sort(self.subcarriers_hz)
        if f.size < 2:
            return f"{f.size} SRS subcarrier(s): too few for the model"
        df, dg = np.median(np.diff(f)), np.median(np.diff(g))
        if not np.isclose(df, dg, rtol=1e-6):
            return (
                f"SRS subcarrier spacing {df / 1e3:g} kHz, the model was trained at "
                f"{dg / 1e3:g} kHz (another numerology or comb)"
            )
        if np.ptp(f) > 1.1 * np.ptp(g):
            return (
                f"SRS band {np.ptp(f) / 1e6:.2f} MHz wide, the model was trained on "
                f"{np.ptp(g) / 1e6:.2f} MHz"
            )
        return None

    def flags(self, h: NDArray, aoa_deg: float) -> list[str]:
        """Flags of one estimate from the CFR H [M, S, K] and the network's angle."""
        from ..estimation.doa import esprit

        out = []
        lo, hi = self.angle_deg
        x = np.asarray(h).reshape(h.shape[0], -1)
        r = x @ x.conj().T / x.shape[1]
        try:
            ref = float(esprit(r, 1, self.spacing_wavelengths)[0])
        except (ValueError, np.linalg.LinAlgError, IndexError):
            ref = float("nan")
        if np.isfinite(ref) and (ref < lo - self.margin_deg or ref > hi + self.margin_deg):
            out.append(OUTSIDE)
        if aoa_deg <= lo + self.margin_deg or aoa_deg >= hi - self.margin_deg:
            out.append(EDGE)
        return out
