"""The streaming multichannel propagation model shared by the simulator and ``array_channel``.

One transmitted (UE) stream x[n] becomes M received streams

    y_m[n] = exp(j 2 pi cfo n / fs) * sum_l alpha_l * (b_l,m filtered x)[n] + w_m[n]

where path l has complex amplitude alpha_l = 10^(power_db/20) exp(j phase_rad), delay tau_l
and AoA theta_l, b_l = profile.manifold(ula, theta_l, f) is the (possibly impaired) array
response, and w_m is white complex Gaussian noise of variance sigma^2 per sample.

Noise follows DESIGN section 3: with a unitary FFT the noise per resource element has the
variance sigma^2 of one time sample, so sigma^2 = P_x * sum_l |alpha_l|^2 / 10^(snr_db/10),
P_x the mean power of the transmitted SRS resource elements (1 for nr.srs_slot_waveform) and
sum |alpha_l|^2 the per-RE channel power of the ideal array (before impairments).

Every response in the model has a phase linear in frequency (delays, the wideband steering
phase and the frequency term of psi), so b_l,m(f) exp(-j 2 pi f tau_l) is exactly a sum over
the coupled elements n of complex gains times delays:

    H_m(f) = sum_l sum_n alpha_l C[m, n] g_n gamma_n(theta_l, 0) a_n(theta_l, fc)
             exp(-j 2 pi f (tau_l + delta_l,n)),

delta_l,n = -(x_n sin(theta_l) / c if wideband) - rho psi_n(theta_l, 0) eps_n / (360 f_ref).
Each delay is realised with a Kaiser-windowed sinc fractional-delay filter of half length W
(exact for integer delays). The filter is non-causal by D = W + 1 samples; the model hides that
latency: ``process`` withholds the first D outputs and ``flush`` releases the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..array.geometry import SPEED_OF_LIGHT, ULA
from ..array.impairments import ImpairmentProfile

DEFAULT_HALF_LENGTH = 16
DEFAULT_KAISER_BETA = 8.0
NOISE_KEY = 1  # SeedSequence spawn keys of the simulator's independent random streams
PHASE_KEY = 2
OFFSET_KEY = 3
SCATTER_KEY = 4


def child_rng(seed: int, key: int) -> np.random.Generator:
    """The independent random stream ``key`` of ``seed`` (same in simulator and block)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(key),)))


@dataclass
class Path:
    """One propagation path: AoA (deg), delay (s, >= 0, relative to the LOS slot start),
    power (dB, relative), phase (rad)."""

    aoa_deg: float
    delay_s: float = 0.0
    power_db: float = 0.0
    phase_rad: float = 0.0

    def __post_init__(self) -> None:
        for name in ("aoa_deg", "delay_s", "power_db", "phase_rad"):
            v = float(getattr(self, name))
            if not np.isfinite(v):
                raise ValueError(f"path {name} must be finite, got {v}")
            setattr(self, name, v)
        if not -90.0 < self.aoa_deg < 90.0:
            raise ValueError(f"path aoa_deg must be in (-90, 90), got {self.aoa_deg}")
        if self.delay_s < 0:
            raise ValueError(f"path delay_s must be >= 0, got {self.delay_s}")

    @property
    def amplitude(self) -> complex:
        return 10 ** (self.power_db / 20) * np.exp(1j * self.phase_rad)

    def to_dict(self) -> dict:
        return {
            "aoa_deg": self.aoa_deg,
            "delay_s": self.delay_s,
            "power_db": self.power_db,
            "phase_rad": self.phase_rad,
        }


def kaiser_sinc(t: ArrayLike, half_length: int, beta: float) -> NDArray[np.float64]:
    """sinc(t) * Kaiser(t / W): the fractional-delay kernel, zero for |t| >= W."""
    t = np.asarray(t, dtype=np.float64)
    u = np.clip(1.0 - (t / half_length) ** 2, 0.0, None)
    w = np.i0(beta * np.sqrt(u)) / np.i0(beta)
    return np.where(np.abs(t) < half_length, np.sinc(t) * w, 0.0)


def path_taps(
    ula: ULA,
    profile: ImpairmentProfile,
    paths: list[Path],
    sample_rate: float,
    half_length: int = DEFAULT_HALF_LENGTH,
    beta: float = DEFAULT_KAISER_BETA,
) -> NDArray[np.complex128]:
    """FIR taps [M, L] realising H_m(f) (module docstring), non-causal by D = W + 1."""
    m_el = ula.num_elements
    d = half_length + 1
    max_delay = max((p.delay_s for p in paths), default=0.0) * sample_rate
    length = 2 * d + int(np.ceil(max_delay)) + 1
    n = np.arange(length, dtype=np.float64)
    taps = np.zeros((m_el, length), dtype=np.complex128)
    cmat = profile.coupling_matrix
    g = profile.channel_gains
    x = ula.positions_m + np.asarray(profile.position_error_m)
    for p in paths:
        theta = np.deg2rad(p.aoa_deg)
        psi0 = profile.psi_deg(p.aoa_deg, [0.0])[:, 0, 0]  # [M] degrees at f = 0
        eps = np.array([e["eps"] for e in profile.psi.elements])
        gamma0 = np.exp(1j * profile.rho * np.deg2rad(psi0))
        a = np.exp(2j * np.pi * x * np.sin(theta) * ula.carrier_frequency_hz / SPEED_OF_LIGHT)
        delta = -profile.rho * psi0 * eps / (360.0 * profile.psi.f_ref_hz)
        if profile.steering == "wideband":
            delta = delta - x * np.sin(theta) / SPEED_OF_LIGHT
        gain_n = p.amplitude * g * gamma0 * a  # [N] per source element n
        for nn in range(m_el):
            kern = kaiser_sinc(n - d - (p.delay_s + delta[nn]) * sample_rate, half_length, beta)
            taps += np.outer(cmat[:, nn] * gain_n[nn], kern)
    return taps


class ArrayChannel:
    """Stateful streaming form of the model: ``process`` chunks of x, get the M-channel output.

    Output sample n (counted from the first input sample) is the channel output at time n:
    the first call returns D fewer samples than it was given, ``flush()`` returns the last D.
    Paths, SNR and CFO can change between calls (the new taps apply from the next output
    sample; the CFO phase stays continuous).
    """

    def __init__(
        self,
        ula: ULA,
        profile: ImpairmentProfile,
        paths: list[Path],
        sample_rate: float,
        snr_db: float | None,
        cfo_hz: float = 0.0,
        seed: int = 0,
        signal_power_per_re: float = 1.0,
        half_length: int = DEFAULT_HALF_LENGTH,
        beta: float = DEFAULT_KAISER_BETA,
        reference_power: float | None = None,
    ) -> None:
        if not (sample_rate > 0 and np.isfinite(sample_rate)):
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if int(half_length) != half_length or half_length < 1:
            raise ValueError(f"half_length must be an integer >= 1, got {half_length}")
        if not (signal_power_per_re > 0 and np.isfinite(signal_power_per_re)):
            raise ValueError(f"signal_power_per_re must be > 0, got {signal_power_per_re}")
        if profile.num_elements != ula.num_elements:
            raise ValueError("impairment profile and array have different element counts")
        self.ula = ula
        self.profile = profile
        self.sample_rate = float(sample_rate)
        self.half_length = int(half_length)
        self.beta = float(beta)
        self.delay = self.half_length + 1
        self.signal_power_per_re = float(signal_power_per_re)
        self._noise_rng = child_rng(seed, NOISE_KEY)
        self._n_out = 0  # absolute index of the next output sample
        self._to_drop = self.delay
        self._phase0 = 0.0  # CFO phase at _n_cfo
        self._n_cfo = 0
        self._cfo = 0.0
        self._hist = np.zeros((0,), dtype=np.complex128)
        if reference_power is not None and not (
            reference_power > 0 and np.isfinite(reference_power)
        ):
            raise ValueError(f"reference_power must be > 0, got {reference_power}")
        self.reference_power = reference_power
        self.paths: list[Path] = []
        self.taps = np.zeros((ula.num_elements, 1), dtype=np.complex128)
        self.set_paths(paths)
        self.set_snr_db(snr_db)
        self.set_cfo_hz(cfo_hz)

    # ------------------------------------------------------------------ settings
    @property
    def num_elements(self) -> int:
        return self.ula.num_elements

    def set_paths(self, paths: list[Path]) -> None:
        if not paths:
            raise ValueError("at least one path is needed")
        self.paths = list(paths)
        self.taps = path_taps(
            self.ula, self.profile, self.paths, self.sample_rate, self.half_length, self.beta
        )
        need = self.taps.shape[1] - 1
        if self._hist.size < need:
            self._hist = np.concatenate(
                [np.zeros(need - self._hist.size, np.complex128), self._hist]
            )
        elif self._hist.size > need:
            self._hist = self._hist[self._hist.size - need :]

    def set_aoa_deg(self, aoa_deg: float) -> None:
        """Move the first (LOS) path to ``aoa_deg``."""
        p0 = self.paths[0]
        self.set_paths([Path(aoa_deg, p0.delay_s, p0.power_db, p0.phase_rad), *self.paths[1:]])

    @property
    def channel_power(self) -> float:
        """sum_l |alpha_l|^2 (ideal array): the per-RE channel power of the SNR definition
        (``reference_power`` when given, e.g. the expected power of a Rician channel)."""
        if self.reference_power is not None:
            return float(self.reference_power)
        return float(sum(10 ** (p.power_db / 10) for p in self.paths))

    def set_snr_db(self, snr_db: float | None) -> None:
        """Per-element, per-RE SNR in dB (DESIGN section 3); None = no noise."""
        if snr_db is not None and not np.isfinite(snr_db):
            raise ValueError(f"snr_db must be finite or None, got {snr_db}")
        self.snr_db = None if snr_db is None else float(snr_db)

    @property
    def noise_variance(self) -> float:
        if self.snr_db is None:
            return 0.0
        return self.signal_power_per_re * self.channel_power / 10 ** (self.snr_db / 10)

    def set_cfo_hz(self, cfo_hz: float) -> None:
        if not np.isfinite(cfo_hz):
            raise ValueError(f"cfo_hz must be finite, got {cfo_hz}")
        self._phase0 = self._cfo_phase(self._n_out)
        self._n_cfo = self._n_out
        self._cfo = float(cfo_hz)

    @property
    def cfo_hz(self) -> float:
        return self._cfo

    def _cfo_phase(self, n: int | NDArray) -> NDArray:
        return self._phase0 + 2 * np.pi * self._cfo * (np.asarray(n) - self._n_cfo) / (
            self.sample_rate
        )

    # ------------------------------------------------------------------ streaming
    @property
    def samples_out(self) -> int:
        return self._n_out

    def process(self, x: ArrayLike) -> NDArray[np.complex64]:
        """Feed input samples; returns [M, n_out] complex64 (n_out = len(x), minus the
        withheld D on the first calls)."""
        x = np.asarray(x, dtype=np.complex128).ravel()
        buf = np.concatenate([self._hist, x])
        # one output per input sample: output j uses buf[j : j + L]
        y = np.stack([np.convolve(buf, t, mode="valid") for t in self.taps])
        self._hist = buf[buf.size - self._hist.size :]
        drop = min(self._to_drop, y.shape[1])
        self._to_drop -= drop
        y = y[:, drop:]
        return self._finish(y)

    def flush(self) -> NDArray[np.complex64]:
        """The last D output samples (the input continued with zeros)."""
        pending = self.delay - self._to_drop
        out = self.process(np.zeros(self.delay, np.complex128))
        return out[:, :pending]

    def _finish(self, y: NDArray[np.complex128]) -> NDArray[np.complex64]:
        k = y.shape[1]
        if k == 0:
            return y.astype(np.complex64)
        n = np.arange(self._n_out, self._n_out + k)
        if self._cfo != 0.0 or self._phase0 != 0.0:
            y = y * np.exp(1j * self._cfo_phase(n))[None, :]
        if self.snr_db is not None:
            w = self._noise_rng.standard_normal((k, self.num_elements, 2))
            y = y + np.sqrt(self.noise_variance / 2) * (w[..., 0] + 1j * w[..., 1]).T
        self._n_out += k
        return y.astype(np.complex64)
