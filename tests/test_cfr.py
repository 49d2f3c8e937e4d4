"""cfr_kernel: C++ vs the Python twin, exactness without noise, error at the noise floor.

LS CFR theory (DESIGN section 3 SNR, unitary DFT, |X| = 1): H_hat = H + N / X with
E|N|^2 = 1/SNR per RE, so the normalised error E|H_hat - H|^2 / E|H|^2 = 1 / SNR when
|H| = 1. The SNR estimate averages |Y|^2 over the empty comb REs; with n of them the
relative std of the noise power is 1/sqrt(n).
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio import srsaoa
from gnuradio.srsaoa.nr.receiver import cfr_twin, cfr_windows
from test_frontend_support import SRS, params, stream


def make_kernel(p, m=4, backoff=0, calibration=()):
    return srsaoa.cfr_kernel(
        m,
        p.fft_size,
        list(p.window_offsets),
        p.subcarrier_bins.astype(int).tolist(),
        p.sequence.ravel().tolist(),
        p.noise_bins.astype(int).tolist(),
        backoff,
        p.sample_rate,
        list(np.asarray(calibration, np.complex64).ravel()),
    )


@pytest.mark.parametrize(
    "backoff,cfo,cal",
    [(0, 0.0, None), (18, 2500.0, None), (9, -4000.0, "m"), (0, 1000.0, "mk")],
)
def test_cpp_matches_twin(rng, backoff, cfo, cal):
    p = params()
    m, s, n = 4, p.num_symbols, p.fft_size
    win = (rng.standard_normal((m, s, n)) + 1j * rng.standard_normal((m, s, n))).astype(
        np.complex64
    )
    calib = None
    if cal == "m":
        calib = np.exp(1j * rng.uniform(-np.pi, np.pi, m)) * rng.uniform(0.5, 2, m)
    elif cal == "mk":
        calib = np.exp(1j * rng.uniform(-np.pi, np.pi, (m, p.num_subcarriers)))
    k = make_kernel(p, backoff=backoff, calibration=() if calib is None else calib)
    h, snr = k.estimate(win, cfo)
    h2, snr2 = cfr_twin(win, p, cfo, backoff, calib)
    # float32 FFT of unit-variance data: error ~ 1e-6 relative to |Y| ~ 1
    np.testing.assert_allclose(h, h2, atol=2e-5 * np.max(np.abs(h2)))
    assert snr == pytest.approx(snr2, abs=1e-3)


def test_noiseless_cfr_is_the_channel(rng):
    """Flat gains g_m, integer start: H[m, s, k] = g_m exactly (float32 rounding only), for
    any CP back-off; SNR is infinite (no noise in the empty REs)."""
    p = params()
    g = np.array([1.0, 0.5j, -0.8 + 0.1j, 0.3 - 0.7j])
    x = stream(p, 3 * p.slot_length, [1000.0], rng, snr_db=None, gains=g)
    for backoff in (0, 18, 72):
        k = make_kernel(p, backoff=backoff)
        win = cfr_windows(x, 1000, p, backoff)
        h, snr = k.estimate(win, 0.0)
        np.testing.assert_allclose(h, np.broadcast_to(g[:, None, None], h.shape), atol=1e-4)
        assert snr > 60


def test_error_at_the_noise_floor(rng):
    """Known start, per-RE SNR 10 dB, CFO 3 kHz removed: NMSE within 1 dB of -10 dB (the
    estimate over 60 occasions x 4 x 4 x 288 REs has a std of ~0.01 dB), SNR estimate
    within 0.3 dB (noise power from 4 x 4 x 287 empty REs per occasion: 0.06 dB std)."""
    p = params()
    t = p.slot_length
    snr_db, cfo = 10.0, 3000.0
    starts = [700 + i * t for i in range(60)]
    x = stream(p, 61 * t, [float(s) for s in starts], rng, snr_db=snr_db, cfo_hz=cfo)
    g = np.exp(1j * np.pi * 0.37 * np.arange(4))
    k = make_kernel(p, backoff=18)
    err, snrs = [], []
    for s in starts:
        h, snr = k.estimate(cfr_windows(x, s, p, 18), cfo)
        truth = g[:, None, None] * np.exp(2j * np.pi * cfo * s / p.sample_rate)
        err.append(np.mean(np.abs(h - truth) ** 2))
        snrs.append(snr)
    nmse_db = 10 * np.log10(np.mean(err))
    assert abs(nmse_db - (-snr_db)) < 1.0
    assert abs(np.mean(snrs) - snr_db) < 0.3


def test_non_finite_window_gives_none(rng):
    p = params()
    k = make_kernel(p)
    win = np.ones((4, p.num_symbols, p.fft_size), np.complex64)
    win[2, 1, 7] = np.nan
    assert k.estimate(win, 0.0) is None


def test_comb4_two_ports_layout():
    """Comb 4, two ports: port 0's subcarriers step by 4, noise REs exclude both ports."""
    srs = {**SRS, "k_tc": 4, "num_srs_ports": 2, "cyclic_shift": 3}
    p = params(srs=srs)
    assert np.all(np.diff(p.subcarriers) == 4)
    assert p.sequence.shape == (4, p.num_subcarriers)
    assert np.all(np.abs(np.abs(p.sequence) - 1) < 1e-5)
    assert not set(p.noise_bins.tolist()) & set(p.subcarrier_bins.tolist())


def test_rejects_bad_parameters():
    p = params()
    good = dict(
        num_channels=4,
        fft_size=p.fft_size,
        window_offsets=list(p.window_offsets),
        subcarrier_bins=p.subcarrier_bins.astype(int).tolist(),
        sequence=p.sequence.ravel().tolist(),
        noise_bins=[],
        cp_backoff=0,
        sample_rate=p.sample_rate,
        calibration=[],
    )
    for key, bad in [
        ("num_channels", 0),
        ("fft_size", 8),
        ("window_offsets", []),
        ("window_offsets", [9000, 9500]),
        ("subcarrier_bins", [p.fft_size]),
        ("sequence", [1j]),
        ("cp_backoff", -1),
        ("sample_rate", -1.0),
        ("calibration", [1j, 1j]),
    ]:
        with pytest.raises(ValueError):
            srsaoa.cfr_kernel(**{**good, key: bad})
