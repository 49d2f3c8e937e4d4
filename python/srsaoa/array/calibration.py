"""Per-channel phase/gain/delay calibration of the receive chains (the N310's inter-channel
phase is random after every tune and restart).

Model: the CFR the front end measures on element m is

    H_obs[m, s, k] = g_m * exp(-j 2 pi f_k tau_m) * H[m, s, k],

g_m a complex gain (amplitude and phase) and tau_m a delay (cable, filter group delay), both
relative to element 0 (g_0 = 1, tau_0 = 0; element 0 is the phase reference, DESIGN
section 3). This is the constant part of the gain/phase error model of Spanos et al.
(eqs 9, 13-14) plus a per-channel delay; angle-dependent errors (MoD-DNN eq 7) are
MoD-DNN's business. The correction applied to H is c[m, k] = exp(+j 2 pi f_k tau_m) / g_m.

Estimation: with a known array response a(theta) (the UE at a known angle, far field,
line of sight; or a common reference through a splitter: a = 1), H[:, s, k] = a h(s, k), so

    q[m, k] = sum_{s,occ} H_obs[m] conj(H_obs[0]) / sum_{s,occ} |H_obs[0]|^2 = g_m exp(-j 2 pi
    f_k tau_m) a_m / a_0,

and per element |g_m| from the noise-corrected power ratio (see _gains), and a straight-line fit of the unwrapped phase of
q / a against f_k gives arg g_m (intercept) and tau_m (slope / -2 pi).

Plain numpy; never imports GNU Radio.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import SrsaoaError

FORMAT = "srsaoa-calibration-1"
MAX_GAIN_DB = 40.0
MAX_DELAY_S = 10e-6
MAX_RESIDUAL_DEG = 30.0  # rms phase about the fitted lines: beyond it the fit is noise

__all__ = [
    "FORMAT",
    "Calibration",
    "CalibrationError",
    "calibration_multipliers",
    "estimate_calibration",
    "load_calibration",
    "residual_phase_deg",
]


class CalibrationError(SrsaoaError, ValueError):
    """A calibration file or input that cannot be used (the message says why)."""


@dataclass
class Calibration:
    """Per-channel gain (linear amplitude), phase (deg) and delay (s) relative to element 0,
    with the radio settings they were measured at (a change of those invalidates them)."""

    gain: NDArray[np.float64]
    phase_deg: NDArray[np.float64]
    delay_s: NDArray[np.float64]
    reference_aoa_deg: float | None = None
    radio: dict = field(default_factory=dict)
    residual_phase_deg_rms: float = 0.0
    num_occasions: int = 0
    created_utc: str = ""

    def __post_init__(self) -> None:
        self.gain = np.asarray(self.gain, dtype=np.float64).ravel()
        self.phase_deg = np.asarray(self.phase_deg, dtype=np.float64).ravel()
        self.delay_s = np.asarray(self.delay_s, dtype=np.float64).ravel()
        m = self.gain.size
        if m < 1 or self.phase_deg.size != m or self.delay_s.size != m:
            raise CalibrationError("gain, phase_deg and delay_s must have one value per element")
        if not (np.all(np.isfinite(self.gain)) and np.all(self.gain > 0)):
            raise CalibrationError("calibration gains must be finite and positive")
        if not (np.all(np.isfinite(self.phase_deg)) and np.all(np.isfinite(self.delay_s))):
            raise CalibrationError("calibration phases and delays must be finite")
        # physical ranges: receive chains of one radio differ by tens of dB at most and by
        # cable/filter delays of nanoseconds to a microsecond, not by 1e308
        if np.any(np.abs(20 * np.log10(self.gain)) > MAX_GAIN_DB):
            raise CalibrationError(
                f"calibration gains must lie within +-{MAX_GAIN_DB:g} dB of element 0, got "
                f"{np.round(20 * np.log10(self.gain), 1).tolist()} dB"
            )
        if np.any(np.abs(self.delay_s) > MAX_DELAY_S):
            raise CalibrationError(
                f"calibration delays must lie within +-{MAX_DELAY_S * 1e6:g} us of element 0"
            )
        if self.num_elements > 1024:
            raise CalibrationError("a calibration for more than 1024 elements is not an array")

    @property
    def num_elements(self) -> int:
        return int(self.gain.size)

    def complex_gain(self, freqs_hz: ArrayLike) -> NDArray[np.complex128]:
        """g_m exp(-j 2 pi f tau_m): [M, F], the error the calibration removes."""
        f = np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64))
        g = self.gain * np.exp(1j * np.deg2rad(self.phase_deg))
        return g[:, None] * np.exp(-2j * np.pi * np.outer(self.delay_s, f))

    def multipliers(self, freqs_hz: ArrayLike) -> NDArray[np.complex128]:
        """c[m, k] = 1 / (g_m exp(-j 2 pi f_k tau_m)), [M, K], to multiply the CFR with."""
        return 1.0 / self.complex_gain(freqs_hz)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "num_elements": self.num_elements,
            "gain": self.gain.tolist(),
            "gain_db": (20 * np.log10(self.gain)).tolist(),
            "phase_deg": self.phase_deg.tolist(),
            "delay_s": self.delay_s.tolist(),
            "reference_aoa_deg": self.reference_aoa_deg,
            "radio": self.radio,
            "residual_phase_deg_rms": float(self.residual_phase_deg_rms),
            "num_occasions": int(self.num_occasions),
            "created_utc": self.created_utc,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CalibrationError(f"not a calibration file (format must be {FORMAT!r})")
        try:
            return cls(
                gain=d["gain"],
                phase_deg=d["phase_deg"],
                delay_s=d["delay_s"],
                reference_aoa_deg=d.get("reference_aoa_deg"),
                radio=dict(d.get("radio") or {}),
                residual_phase_deg_rms=float(d.get("residual_phase_deg_rms", 0.0)),
                num_occasions=int(d.get("num_occasions", 0)),
                created_utc=str(d.get("created_utc", "")),
            )
        except KeyError as exc:
            raise CalibrationError(f"calibration file lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"malformed calibration: {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON through a temporary file in the same folder, renamed at the end: a
        failure never leaves a half-written calibration over a good one."""
        from ..io.safeio import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


MAX_CALIBRATION_BYTES = 64 << 20


def read_calibration_json(path: str | os.PathLike) -> Any:
    """The parsed JSON of a calibration file: a regular file of at most 64 MiB (a FIFO or a
    device would hang or exhaust memory), CalibrationError naming the file otherwise."""
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise CalibrationError(f"calibration file {name!r} not found") from None
    except OSError as exc:
        raise CalibrationError(f"calibration file {name!r}: {exc.strerror}") from None
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        raise CalibrationError(f"calibration file {name!r} is not a regular file")
    if st.st_size > MAX_CALIBRATION_BYTES:
        raise CalibrationError(
            f"calibration file {name!r} is {st.st_size} bytes, more than a calibration can be"
        )
    try:
        with open(name, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"calibration file {name!r}: bad JSON ({exc.msg})") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise CalibrationError(f"calibration file {name!r}: not JSON ({exc})") from None
    except OSError as exc:
        raise CalibrationError(f"calibration file {name!r}: {exc.strerror}") from None


def load_calibration(path: str | os.PathLike) -> Calibration:
    """The angle-independent calibration of a JSON file (CalibrationError with the reason if
    unusable): a single-angle / splitter calibration, or the constant part of a sweep
    (manifold) calibration (``array.manifold.load_calibration_file`` gives both parts)."""
    from .manifold import load_calibration_file

    const, man = load_calibration_file(path)
    if const is None:
        raise CalibrationError(f"calibration file {os.fspath(path)!r} has no constant part")
    return const


def _ratios(
    cfrs: NDArray, steering: NDArray | None
) -> tuple[NDArray[np.complex128], NDArray[np.float64]]:
    """q[m, k] / a_m and the weight sum |H_obs[0]|^2 per k."""
    h = np.asarray(cfrs, dtype=np.complex128)
    if h.ndim == 3:
        h = h[None]
    if h.ndim != 4:
        raise CalibrationError(f"CFRs must be [occasions, M, S, K], got shape {h.shape}")
    ref = h[:, 0]  # [occ, S, K]
    num = np.einsum("omsk,osk->mk", h, np.conj(ref))
    den = np.sum(np.abs(ref) ** 2, axis=(0, 1))
    if np.any(den <= 0):
        raise CalibrationError("element 0 has no signal on some subcarrier: cannot calibrate")
    q = num / den[None, :]
    if steering is not None:
        a = np.asarray(steering, dtype=np.complex128).ravel()
        if a.size != h.shape[1]:
            raise CalibrationError(f"steering has {a.size} elements, the CFR {h.shape[1]}")
        q = q / (a / a[0])[:, None]
    return q, den


def _gains(cfrs: NDArray) -> NDArray[np.float64]:
    """|g_m| = sqrt((P_m - s2_m) / (P_0 - s2_0)): the signal power of each element relative to
    element 0, with the noise power s2_m removed (|H|^2 alone is biased by 1 + 1/SNR). s2_m is
    estimated from the second difference across subcarriers, H[k+1] - 2 H[k] + H[k-1], whose
    variance is 6 s2 for a channel that is smooth in frequency (a delay tau adds only
    (2 pi df tau)^4 |H|^2, 2e-6 |H|^2 for 100 ns at 60 kHz spacing)."""
    h = np.asarray(cfrs, dtype=np.complex128)
    if h.ndim == 3:
        h = h[None]
    p = np.mean(np.abs(h) ** 2, axis=(0, 2, 3))
    if h.shape[3] >= 3:
        d2 = h[..., 2:] - 2 * h[..., 1:-1] + h[..., :-2]
        s2 = np.mean(np.abs(d2) ** 2, axis=(0, 2, 3)) / 6.0
    else:
        s2 = np.zeros_like(p)
    sig = np.maximum(p - s2, 1e-30 * np.max(p))
    return np.sqrt(sig / sig[0])


def estimate_calibration(
    cfrs: ArrayLike,
    freqs_hz: ArrayLike,
    steering: ArrayLike | None = None,
    *,
    reference_aoa_deg: float | None = None,
    radio: dict | None = None,
    fit_delay: bool = True,
) -> Calibration:
    """Calibration from CFRs [occasions, M, S, K] measured with a known array response
    ``steering`` a[M] (None = a common reference on all channels, a = 1); ``freqs_hz`` [K]
    the baseband frequency of each CFR column."""
    f = np.asarray(freqs_hz, dtype=np.float64).ravel()
    h = np.asarray(cfrs)
    q, w = _ratios(h, None if steering is None else np.asarray(steering))
    if q.shape[1] != f.size:
        raise CalibrationError(f"freqs_hz has {f.size} values, the CFR {q.shape[1]} columns")
    gain = _gains(h)
    phase, delay, rms = fit_phase_lines(q, w, f, fit_delay)
    return Calibration(
        gain=gain,
        phase_deg=phase,
        delay_s=delay,
        reference_aoa_deg=reference_aoa_deg,
        radio=dict(radio or {}),
        residual_phase_deg_rms=rms,
        num_occasions=int(h.shape[0]) if h.ndim == 4 else 1,
        created_utc=utc_now(),
    )


def utc_now() -> str:
    """The creation time stamped into calibration files (ISO 8601, UTC)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fit_phase_lines(
    q: NDArray, w: NDArray, freqs_hz: NDArray, fit_delay: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Per element, a straight line through the unwrapped phase of q[m, k] against f_k
    (weights w[k]): phase (deg, wrapped, element 0 = 0), delay tau_m = -slope / 2 pi (s,
    element 0 = 0) and the rms residual phase (deg) about the lines."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    m = q.shape[0]
    phase = np.zeros(m)
    delay = np.zeros(m)
    resid = []
    for i in range(m):
        ph = np.unwrap(np.angle(q[i]))
        if fit_delay and f.size >= 2:
            slope, icpt = np.polyfit(f, ph, 1, w=np.sqrt(w))
        else:
            slope, icpt = 0.0, float(np.angle(np.sum(q[i] * w)))
        phase[i] = np.rad2deg(np.angle(np.exp(1j * icpt)))
        delay[i] = -slope / (2 * np.pi)
        resid.append(np.angle(np.exp(1j * (ph - (icpt + slope * f)))))
    phase = np.rad2deg(np.angle(np.exp(1j * np.deg2rad(phase - phase[0]))))
    delay = delay - delay[0]
    rms = float(np.rad2deg(np.sqrt(np.mean(np.concatenate(resid) ** 2))))
    return phase, delay, rms


def sweep_constant_part(
    cfrs_per_angle: list[NDArray],
    angles_deg: ArrayLike,
    freqs_hz: ArrayLike,
    spacing_wavelengths: float,
    *,
    radio: dict | None = None,
) -> Calibration:
    """The angle-independent part of an array's error from a sweep: the response ratios q
    (element m over element 0, divided by the nominal steering ratio) averaged over all sweep
    angles with the power of element 0 as weight, then the same gain / phase / delay lines as
    a single-angle calibration. Exact for a purely constant error; with angle-dependent
    error it is the best constant correction in the least-squares sense over the sweep."""
    from .geometry import steering_vector

    f = np.asarray(freqs_hz, dtype=np.float64).ravel()
    angles = np.asarray(angles_deg, dtype=np.float64).ravel()
    if len(cfrs_per_angle) != angles.size or angles.size == 0:
        raise CalibrationError("one CFR stack per sweep angle is needed")
    num = 0.0
    den = 0.0
    for h, ang in zip(cfrs_per_angle, angles):
        a = steering_vector(np.asarray(h).shape[-3], spacing_wavelengths, float(ang))
        q, w = _ratios(np.asarray(h), a)
        num = num + q * w[None, :]
        den = den + w
    q = num / den[None, :]
    gain = np.mean([_gains(np.asarray(h)) for h in cfrs_per_angle], axis=0)
    phase, delay, rms = fit_phase_lines(q, den, f, True)
    return Calibration(
        gain=gain,
        phase_deg=phase,
        delay_s=delay,
        reference_aoa_deg=None,
        radio=dict(radio or {}),
        residual_phase_deg_rms=rms,
        num_occasions=int(sum(np.asarray(h).shape[0] for h in cfrs_per_angle)),
        created_utc=utc_now(),
    )


def residual_phase_deg(
    cal: Calibration, cfrs: ArrayLike, freqs_hz: ArrayLike, steering: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Per-element phase (deg, [M], element 0 = 0) left after applying ``cal`` to CFRs
    measured with a known array response: 0 while the calibration holds; the N310's
    phases drift away from it after a retune or restart."""
    h = np.asarray(cfrs, dtype=np.complex128)
    if h.ndim == 3:
        h = h[None]
    corrected = h * cal.multipliers(freqs_hz)[None, :, None, :]
    q, w = _ratios(corrected, None if steering is None else np.asarray(steering))
    return np.rad2deg(np.angle(np.sum(q * w[None, :], axis=1)))


def calibration_multipliers(
    calibration: Any, num_elements: int, freqs_hz: ArrayLike
) -> NDArray[np.complex128] | None:
    """What cfr_extractor multiplies H with: None for no calibration ('' or None), [M, K]
    for a Calibration or a calibration JSON path, [M] for M complex numbers."""
    if calibration is None or (isinstance(calibration, str) and calibration.strip() == ""):
        return None
    if isinstance(calibration, (str, os.PathLike)):
        calibration = load_calibration(calibration)
    if isinstance(calibration, Calibration):
        if calibration.num_elements != num_elements:
            raise CalibrationError(
                f"calibration is for {calibration.num_elements} elements, the receiver has "
                f"{num_elements}"
            )
        return calibration.multipliers(freqs_hz)
    c = np.asarray(calibration, dtype=np.complex128).ravel()
    if c.size != num_elements or not np.all(np.isfinite(c)):
        raise CalibrationError(
            f"calibration must be '', a JSON file or {num_elements} finite complex values"
        )
    return c
