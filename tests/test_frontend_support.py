"""Shared signal generators for the front-end tests (test_srs_sync*, test_cfr*, test_frontend*).

Written from the definitions in DESIGN section 3, not from the simulator: the UE's slot
waveform (from nr), a flat complex gain per element, an optional fractional delay, a CFO
and white noise at a per-RE SNR (unitary DFT, |SRS| = 1, so the noise variance per sample
is 1 / SNR). No tests in here.
"""

from __future__ import annotations

import numpy as np
from gnuradio.srsaoa.nr.receiver import FrontendParams, frontend_params

CARRIER = {"subcarrier_spacing": 30, "n_size_grid": 51}  # 30.72 Msps, fft 1024
SRS = {"c_srs": 12, "n_srs_id": 7, "k_tc": 2, "num_srs_symbols": 4, "symbol_start": 8}


def params(carrier: dict | None = None, srs: dict | None = None) -> FrontendParams:
    return frontend_params(carrier or CARRIER, srs or SRS)


def delayed_slot(ref: np.ndarray, frac: float) -> np.ndarray:
    """ref delayed by ``frac`` samples (band-limited: a linear phase over a 2T FFT)."""
    t = ref.size
    n = 2 * t
    f = np.fft.fftfreq(n)
    spec = np.fft.fft(np.concatenate([ref, np.zeros(t)]))
    return np.fft.ifft(spec * np.exp(-2j * np.pi * f * frac))


def stream(
    p: FrontendParams,
    total: int,
    starts: list[float],
    rng: np.random.Generator,
    num_channels: int = 4,
    snr_db: float | None = 10.0,
    cfo_hz: float = 0.0,
    gains: np.ndarray | None = None,
) -> np.ndarray:
    """[M, total] complex64: the slot at every (possibly fractional) start, times gains[m]."""
    m = num_channels
    g = np.exp(1j * np.pi * 0.37 * np.arange(m)) if gains is None else np.asarray(gains)
    x = np.zeros(total, np.complex128)
    t = p.slot_length
    for s in starts:
        i = int(np.floor(s))
        d = delayed_slot(p.reference.astype(np.complex128), s - i)
        end = min(total, i + 2 * t)
        if i < total:
            x[i:end] += d[: end - i]
    x = x * np.exp(2j * np.pi * cfo_hz * np.arange(total) / p.sample_rate)
    y = g[:, None] * x[None, :]
    if snr_db is not None:
        sigma = np.sqrt(0.5 / 10 ** (snr_db / 10))
        y = y + sigma * (
            rng.standard_normal((m, total), dtype=np.float32)
            + 1j * rng.standard_normal((m, total), dtype=np.float32)
        )
    return np.ascontiguousarray(y, dtype=np.complex64)


def run_kernel(kernel, x: np.ndarray, chunks: list[int] | None = None) -> list:
    """Feed x [M, n] to a C++ srs_sync_kernel in the given chunk sizes (cycled)."""
    n = x.shape[1]
    pos, i = 0, 0
    while pos < n:
        c = n - pos if not chunks else chunks[i % len(chunks)]
        kernel.process(x[:, pos : pos + c])
        pos += c
        i += 1
    kernel.finish()
    return kernel.take_detections()
