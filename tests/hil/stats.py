"""Hardware-free statistics of the HIL suite (unit-tested on synthetic data in
tests/test_hil_logic.py): inter-channel phase coherence, calibration residuals,
detection counts and AoA error percentiles.

CFR arrays follow DESIGN section 6: one occasion is H[m, s, k] (element, SRS symbol,
SRS subcarrier); a series of occasions is H[n, m, s, k].
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _st


def _as_series(cfr: ArrayLike) -> NDArray[np.complex128]:
    """[N, M, S, K] (or [N, M, K], or one [M, S, K] occasion with ndim == 3 given as a list)."""
    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 3:
        h = h[:, :, None, :]
    if h.ndim != 4 or h.shape[0] < 1 or h.shape[1] < 1:
        raise ValueError(f"CFR series must be [N, M, S, K] or [N, M, K], got shape {h.shape}")
    return h


def inter_channel_phase(cfr: ArrayLike, ref: int = 0) -> NDArray[np.float64]:
    """Phase of channel m against channel ``ref`` per occasion, radians, shape [N, M].

    phi_m(n) = arg sum_{s,k} H[n, m, s, k] conj(H[n, ref, s, k]), the maximum-likelihood
    phase difference of two noisy copies of the same signal (the cross-correlation).
    """
    h = _as_series(cfr)
    if not 0 <= ref < h.shape[1]:
        raise ValueError(f"ref must be a channel index 0..{h.shape[1] - 1}, got {ref}")
    x = np.einsum("nmsk,nsk->nm", h, np.conj(h[:, ref]))
    return np.angle(x)


def amplitude_ratio_db(cfr: ArrayLike, ref: int = 0) -> NDArray[np.float64]:
    """Power of channel m over channel ``ref`` per occasion, dB, shape [N, M]."""
    h = _as_series(cfr)
    p = np.sum(np.abs(h) ** 2, axis=(2, 3))
    return 10.0 * np.log10(p / p[:, ref : ref + 1])


def wrap_rad(x: ArrayLike) -> NDArray[np.float64]:
    """Angles wrapped to (-pi, pi]."""
    return -np.angle(np.exp(-1j * np.asarray(x, dtype=np.float64)))


def circular_mean(phases: ArrayLike, axis: int = 0) -> NDArray[np.float64]:
    """Mean direction of angles (radians)."""
    return np.angle(np.mean(np.exp(1j * np.asarray(phases, dtype=np.float64)), axis=axis))


def circular_std_deg(phases: ArrayLike, axis: int = 0) -> NDArray[np.float64]:
    """Circular standard deviation sqrt(-2 ln R) of angles given in radians, in degrees.

    Equal to the ordinary standard deviation for small spreads (R ~ 1 - sigma^2 / 2).
    """
    r = np.abs(np.mean(np.exp(1j * np.asarray(phases, dtype=np.float64)), axis=axis))
    r = np.clip(r, 1e-300, 1.0)
    return np.degrees(np.sqrt(-2.0 * np.log(r)))


def phase_std_floor_deg(snr_db: float, n_re: int) -> float:
    """Standard deviation (degrees) of inter_channel_phase caused by noise alone.

    Two channels see the same unit-modulus reference x_k through gains g_0, g_m with
    independent circular noise of variance sigma^2 per resource element (per-RE SNR
    gamma = |g|^2 / sigma^2, DESIGN section 3). The cross-correlation over N REs is
    N g_m g_0^* plus an error whose component orthogonal to it has variance
    N (|g|^2 sigma^2 + sigma^4 / 2), so for small errors
    var(phi) = (1 / gamma + 1 / (2 gamma^2)) / N   (rad^2).
    """
    if n_re < 1:
        raise ValueError(f"n_re must be >= 1, got {n_re}")
    g = 10.0 ** (snr_db / 10.0)
    return math.degrees(math.sqrt((1.0 / g + 1.0 / (2.0 * g * g)) / n_re))


def phase_drift_deg_per_s(t_s: ArrayLike, phases: ArrayLike) -> NDArray[np.float64]:
    """Least-squares slope of the unwrapped phase against time, degrees per second.

    phases: [N, M] radians (one column per channel); returns [M].
    """
    t = np.asarray(t_s, dtype=np.float64)
    ph = np.unwrap(np.asarray(phases, dtype=np.float64), axis=0)
    if ph.ndim == 1:
        ph = ph[:, None]
    if t.shape[0] != ph.shape[0] or t.shape[0] < 2:
        raise ValueError("need >= 2 occasions with one time each")
    tc = t - t.mean()
    den = float(np.sum(tc**2))
    if den <= 0:
        raise ValueError("occasion times are all equal")
    return np.degrees(tc @ (ph - ph.mean(axis=0)) / den)


def coherence_tolerance_deg(floor_deg: float, hw_tol_deg: float, k_sigma: float = 4.0) -> float:
    """Allowed circular standard deviation of the inter-channel phase over a run.

    The noise part is ``k_sigma`` times its theoretical standard deviation (the sample
    standard deviation of many occasions essentially never exceeds 4 sigma of the true
    one); ``hw_tol_deg`` is the allowance for real hardware drift (LO / temperature).
    """
    return k_sigma * floor_deg + hw_tol_deg


def steering(num_elements: int, spacing_wavelengths: float, aoa_deg: float) -> NDArray:
    """ULA steering vector a_m = exp(+j 2 pi m d/lambda sin(theta)) (DESIGN section 3)."""
    m = np.arange(num_elements)
    return np.exp(2j * np.pi * m * spacing_wavelengths * np.sin(np.radians(aoa_deg)))


def estimate_channel_gains(cfr: ArrayLike, aoa_deg: float, spacing_wavelengths: float):
    """Per-channel complex gains g_m (g_0 = 1) of the radio, from occasions with a single
    source at a known angle (or a splitter: aoa_deg = 0, every channel the same input).

    Model H[n, m, s, k] = g_m a_m(theta) h[n, s, k] + noise: the ML estimate of
    g_m / g_0 is sum H_m conj(H_0) / sum |H_0|^2 divided by a_m(theta) / a_0(theta).
    The multipliers that calibrate the array are then c_m = 1 / g_m.
    """
    h = _as_series(cfr)
    x = np.einsum("nmsk,nsk->m", h, np.conj(h[:, 0]))
    p0 = float(np.sum(np.abs(h[:, 0]) ** 2))
    if p0 <= 0:
        raise ValueError("reference channel is empty")
    a = steering(h.shape[1], spacing_wavelengths, aoa_deg)
    return (x / p0) / a


def residual_phase_deg(cfr: ArrayLike, aoa_deg: float, spacing_wavelengths: float):
    """Per occasion and channel, the phase (degrees) of the measured inter-channel phase
    minus the one of the ideal array at ``aoa_deg``: zero for a calibrated array, [N, M]."""
    h = _as_series(cfr)
    a = steering(h.shape[1], spacing_wavelengths, aoa_deg)
    return np.degrees(wrap_rad(inter_channel_phase(h) - np.angle(a)[None, :]))


def expected_occasions(n_samples: int, period_samples: int, slot_samples: int) -> int:
    """Whole SRS slots that fit in a capture of n_samples when one starts every
    period_samples (the first one anywhere in the first period): the worst case count."""
    if period_samples < 1 or slot_samples < 1:
        raise ValueError("period and slot length must be >= 1 sample")
    if n_samples < period_samples + slot_samples:
        return 0
    return (n_samples - period_samples - slot_samples) // period_samples + 1


def min_detections(n_expected: int, pd: float = 0.999, alpha: float = 1e-3) -> int:
    """Smallest number of detections not rejected at level alpha when the detection
    probability is pd per occasion: the alpha-quantile of Binomial(n_expected, pd)."""
    if not 0.0 < pd <= 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError("pd in (0, 1], alpha in (0, 1)")
    if n_expected <= 0:
        return 0
    return int(_st.binom.ppf(alpha, n_expected, pd))


def period_deviation(sample_indices: ArrayLike, period_samples: float) -> NDArray[np.float64]:
    """Deviation (samples) of each detected slot start from the best-fitting grid
    start0 + j * period (j from rounding), to check that detections are the periodic SRS
    and not false alarms. Returns one value per detection."""
    s = np.asarray(sample_indices, dtype=np.float64)
    if s.size == 0:
        return s
    j = np.round((s - s[0]) / period_samples)
    start0 = np.mean(s - j * period_samples)
    return s - (start0 + j * period_samples)


def aoa_error_stats(aoa_deg: ArrayLike, truth_deg: float) -> dict[str, float]:
    """Bias, standard deviation, median and 90th percentile of |error| (Spanos Table I
    reports the 90 % CDF point) of AoA estimates against the true angle, degrees."""
    a = np.asarray(aoa_deg, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ValueError("no finite AoA estimate")
    e = a - truth_deg
    return {
        "n": float(a.size),
        "bias": float(np.mean(e)),
        "std": float(np.std(e)),
        "median_abs": float(np.median(np.abs(e))),
        "p90_abs": float(np.percentile(np.abs(e), 90)),
    }
