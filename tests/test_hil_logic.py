"""The hardware-free half of the HIL suite (tests/hil): statistics, the environment
parsing, and the pass/fail checks run on simulated N310 captures through the project's
receiver (srs_sync -> cfr_extractor -> covariance_accumulator -> doa_estimator).

Simulated capture: the srs_source stream of the bench waveform (30 kHz, 51 RB, comb 2,
4 symbols, every slot), per channel times a complex gain g_m, a delay tau_m and the ULA
steering a_m(theta), plus white noise at a chosen per-RE SNR (unitary FFT: an SRS RE has
amplitude 1, so a time-domain noise variance sigma^2 is a per-RE noise variance sigma^2).
"""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa.array.calibration import estimate_calibration
from gnuradio.srsaoa.estimation.crb import crb_deterministic
from hil import checks, stats
from hil.config import HilConfig
from hil.radio import Capture, StreamCapturer, bench_configs, process_capture

M = 4
CARRIER, SRS = bench_configs()
FS = CARRIER.sample_rate
SLOT = CARRIER.samples_per_slot(0)
N_RE = SRS.num_srs_symbols * 288  # 48 RB comb 2: 288 REs per symbol


@pytest.fixture(scope="module")
def srs_stream() -> np.ndarray:
    """41 slots of the UE's stream from the srs_source block."""
    tb = gr.top_block()
    src = srsaoa.srs_source.from_configs(CARRIER, SRS)
    head = blocks.head(gr.sizeof_gr_complex, 41 * SLOT)
    sink = blocks.vector_sink_c()
    tb.connect(src, head, sink)
    tb.run()
    return np.asarray(sink.data(), np.complex64)


def simulate(
    x: np.ndarray,
    rng: np.random.Generator,
    *,
    n_slots: int = 20,
    gains=None,
    delays_s=None,
    aoa_deg: float = 0.0,
    snr_db: float = 10.0,
    offset: int = 1234,
    rx_time_s: float | None = None,
    signal: bool = True,
) -> Capture:
    g = np.ones(M, complex) if gains is None else np.asarray(gains)
    tau = np.zeros(M) if delays_s is None else np.asarray(delays_s)
    a = stats.steering(M, 0.5, aoa_deg)
    n = offset + n_slots * SLOT
    sig = np.zeros(n, np.complex128)
    sig[offset:] = x[: n_slots * SLOT]
    spec = np.fft.fft(sig)
    f = np.fft.fftfreq(n, 1.0 / FS)
    sigma = math.sqrt(10 ** (-snr_db / 10) / 2)
    y = sigma * (rng.standard_normal((M, n)) + 1j * rng.standard_normal((M, n)))
    if signal:
        for m in range(M):
            y[m] += g[m] * a[m] * np.fft.ifft(spec * np.exp(-2j * np.pi * f * tau[m]))
    return Capture(y.astype(np.complex64), FS, rx_time_s)


def random_radio(rng: np.random.Generator):
    """Gains (+-1 dB, any phase) and delays (+-3 ns) of four uncalibrated N310 chains."""
    g = 10 ** (rng.uniform(-1, 1, M) / 20) * np.exp(1j * rng.uniform(-np.pi, np.pi, M))
    return g, np.r_[0.0, rng.uniform(-3e-9, 3e-9, M - 1)]


def cfg(**kw) -> HilConfig:
    return HilConfig(rx_args="addr=192.0.2.1", tx_args="external", **kw)


# ---------------------------------------------------------------- statistics


def test_inter_channel_phase_exact_and_wrapped():
    phi = np.array([0.0, 3.0, -3.0, 1.0])
    h = np.exp(1j * phi)[None, :, None, None] * np.ones((3, M, 2, 5))
    got = stats.inter_channel_phase(h)
    assert np.allclose(got, phi[None, :], atol=1e-12)
    got2 = stats.inter_channel_phase(h, ref=1)
    assert np.allclose(np.exp(1j * got2), np.exp(1j * (phi - 3.0))[None, :])
    with pytest.raises(ValueError):
        stats.inter_channel_phase(h, ref=M)


def test_phase_std_floor_matches_monte_carlo(rng):
    """2000 occasions of two noisy copies: the sample std has a relative standard error
    1/sqrt(2 * 2000) = 1.6 %, so 6 % is > 3.5 sigma; checked at 0 and 10 dB per-RE SNR."""
    n_occ, n_re = 2000, 64
    for snr_db in (0.0, 10.0):
        sigma = math.sqrt(10 ** (-snr_db / 10) / 2)
        x = np.exp(1j * rng.uniform(-np.pi, np.pi, (n_occ, 1, n_re)))
        noise = sigma * (
            rng.standard_normal((n_occ, 2, n_re)) + 1j * rng.standard_normal((n_occ, 2, n_re))
        )
        h = x * np.array([1.0, np.exp(0.7j)])[None, :, None] + noise
        ph = stats.inter_channel_phase(h[:, :, None, :])[:, 1]
        floor = stats.phase_std_floor_deg(snr_db, n_re)
        got = stats.circular_std_deg(ph)
        assert abs(got / floor - 1) < 0.06, (snr_db, got, floor)
        assert abs(np.degrees(stats.circular_mean(ph)) - np.degrees(0.7)) < 4 * floor / np.sqrt(
            n_occ
        )


def test_circular_std_small_spread_equals_std(rng):
    x = rng.normal(0.3, 0.01, 100000)  # rad
    assert abs(stats.circular_std_deg(x) - np.degrees(np.std(x))) < 1e-3
    assert stats.circular_std_deg(np.full(10, 2.0)) < 1e-6


def test_phase_drift_through_wraps():
    t = np.linspace(0, 10, 101)
    ph = np.stack([np.zeros_like(t), np.radians(72.0) * t], axis=1)  # 720 deg: wraps twice
    ph = stats.wrap_rad(ph)
    assert np.allclose(stats.phase_drift_deg_per_s(t, ph), [0.0, 72.0], atol=1e-9)
    with pytest.raises(ValueError):
        stats.phase_drift_deg_per_s([1.0], ph[:1])


def test_channel_gains_agree_with_calibration_api(rng):
    """Noise-free, delay-free CFRs of a source at 20 deg: the oracle gains equal the
    API's gain and phase, and the residual is zero after dividing by them."""
    g, _ = random_radio(rng)
    a = stats.steering(M, 0.5, 20.0)
    h0 = np.exp(1j * rng.uniform(-np.pi, np.pi, (6, 1, 4, 30)))
    h = (g * a)[None, :, None, None] * h0
    est = stats.estimate_channel_gains(h, 20.0, 0.5)
    assert np.allclose(est, g / g[0], atol=1e-9)
    cal = estimate_calibration(h, np.linspace(-5e6, 5e6, 30), a, fit_delay=False)
    assert np.allclose(cal.gain, np.abs(g / g[0]), atol=1e-9)
    assert np.allclose(np.exp(1j * np.radians(cal.phase_deg)), np.exp(1j * np.angle(g / g[0])))
    resid = stats.residual_phase_deg(h / est[None, :, None, None], 20.0, 0.5)
    assert np.allclose(resid, 0.0, atol=1e-9)


def test_detection_counts():
    assert stats.expected_occasions(10 * 100, 100, 100) == 9
    assert stats.expected_occasions(150, 100, 100) == 0
    n, pd, alpha = 400, 0.999, 1e-3
    k = stats.min_detections(n, pd, alpha)
    from scipy.stats import binom

    assert binom.cdf(k - 1, n, pd) <= alpha < binom.cdf(k, n, pd)
    assert stats.min_detections(0) == 0
    with pytest.raises(ValueError):
        stats.min_detections(10, pd=0.0)


def test_period_deviation_flags_false_alarm():
    s = 1000 + 15360 * np.arange(10)
    assert np.allclose(stats.period_deviation(s, 15360), 0.0)
    s2 = np.sort(np.r_[s, 1000 + 15360 * 4 + 5000])
    dev = stats.period_deviation(s2, 15360)
    assert np.sum(np.abs(dev) > 1000) == 1


def test_aoa_error_stats():
    st = stats.aoa_error_stats([10.0, 11.0, 9.0, np.nan, 12.0], 10.0)
    assert st["n"] == 4 and st["bias"] == 0.5
    assert st["p90_abs"] == pytest.approx(np.percentile([0, 1, 1, 2], 90))
    with pytest.raises(ValueError):
        stats.aoa_error_stats([np.nan], 0.0)


class _TaggedSources(gr.hier_block2):
    """M endless streams, channel m constant m + 1, an rx_time tag (5 s + 0.25 s) at the
    start of every 1000 samples: what the capture sees of a USRP source."""

    def __init__(self, m: int) -> None:
        gr.hier_block2.__init__(
            self, "tagged", gr.io_signature(0, 0, 0), gr.io_signature(m, m, gr.sizeof_gr_complex)
        )
        t = pmt.make_tuple(pmt.from_uint64(5), pmt.from_double(0.25))
        tag = gr.tag_utils.python_to_tag((0, pmt.intern("rx_time"), t))
        self.srcs = [blocks.vector_source_c([m_ + 1.0] * 1000, True, 1, [tag]) for m_ in range(m)]
        for i, src in enumerate(self.srcs):
            self.connect(src, (self, i))


def test_stream_capturer_reruns_one_flowgraph():
    """Snapshots of different lengths from one source, the rx_time of sample 0 read from
    the tag (the RxCapturer path minus the radio)."""
    cap = StreamCapturer(_TaggedSources(3), 3, 1e6)
    a = cap.capture(0.0025)
    b = cap.capture(0.0015)
    assert a.samples.shape == (3, 2500) and b.samples.shape == (3, 1500)
    for c in (a, b):
        assert np.array_equal(c.samples, np.repeat([[1.0], [2.0], [3.0]], c.samples.shape[1], 1))
    assert a.rx_time_s == pytest.approx(5.25)
    snaps = cap.snapshots(2, 0.001, 0.05)
    assert [s.samples.shape for s in snaps] == [(3, 1000)] * 2
    cap.close()


# ---------------------------------------------------------------- environment


def test_config_defaults_and_parsing():
    c = HilConfig.from_env({})
    assert not c.has_rx and not c.has_tx
    assert c.freq_hz == 2.45e9 and c.aoa_deg == 0.0 and not c.splitter
    c = HilConfig.from_env(
        {
            "SRSAOA_USRP_RX": " addr=192.168.10.2 ",
            "SRSAOA_USRP_TX": "external",
            "SRSAOA_HIL_FREQ_HZ": "3.5e9",
            "SRSAOA_HIL_AOA_DEG": "-30",
            "SRSAOA_HIL_AOA_TOL_DEG": "1.5",
            "SRSAOA_HIL_SPLITTER": "1",
            "SRSAOA_HIL_LO_SOURCE": "external",
        }
    )
    assert c.rx_args == "addr=192.168.10.2" and c.tx_is_external
    assert c.freq_hz == 3.5e9 and c.aoa_deg == -30.0 and c.aoa_tol_deg == 1.5
    assert c.splitter and c.truth_deg == 0.0 and c.lo_source == "external"


@pytest.mark.parametrize(
    "env",
    [
        {"SRSAOA_HIL_FREQ_HZ": "2.4G"},
        {"SRSAOA_HIL_AOA_DEG": "95"},
        {"SRSAOA_HIL_AOA_TOL_DEG": "nan"},
        {"SRSAOA_HIL_SPLITTER": "yes"},
        {"SRSAOA_HIL_LO_SOURCE": "companion"},
    ],
)
def test_config_rejects_bad_values(env):
    name = next(iter(env))
    with pytest.raises(ValueError, match=name):
        HilConfig.from_env(env)


# ---------------------------------------------------------------- checks on simulated captures


def test_receiver_on_simulated_capture(srs_stream, rng):
    """The HIL receiver path: every slot found at the right sample, the inter-channel phase
    is g_m a_m within 4 sigma of its noise floor, and the measured SNR is the simulated one
    (within 0.5 dB: 20 occasions x 4 x 288 noise REs give a 0.1 dB standard error)."""
    g, _ = random_radio(rng)
    cap = simulate(srs_stream, rng, gains=g, aoa_deg=20.0, snr_db=10.0, offset=777)
    res = process_capture(cap, CARRIER, SRS)
    assert len(res.cfr) == 20
    assert np.array_equal(res.sample_indices(), 777 + SLOT * np.arange(20))
    want = np.angle(g * stats.steering(M, 0.5, 20.0) / g[0])
    got = stats.circular_mean(stats.inter_channel_phase(res.cfr_series()))
    tol = np.radians(4 * stats.phase_std_floor_deg(10.0, N_RE) / np.sqrt(20))
    assert np.all(np.abs(stats.wrap_rad(got - want)) < tol)
    assert abs(res.snr_db() - 10.0) < 0.5


def test_coherence_check_passes_and_catches_a_phase_jump(srs_stream, rng):
    g, tau = random_radio(rng)
    caps = [
        simulate(srs_stream, rng, n_slots=8, gains=g, delays_s=tau, snr_db=5.0, rx_time_s=t)
        for t in (1.0, 2.0, 3.0, 4.0)
    ]
    rep = checks.check_coherence(caps, CARRIER, SRS, cfg(phase_tol_deg=0.0, splitter=True))
    # 32 occasions: sample std within [0.55, 1.5] x the floor is beyond 3 sigma of chi
    assert np.all(rep["std_deg"][1:] > 0.55 * rep["floor_deg"])
    assert np.all(rep["std_deg"][1:] < 1.5 * rep["floor_deg"])
    assert rep["span_s"] > 3.0
    assert np.allclose(rep["drift_deg_per_s"], 0.0, atol=rep["floor_deg"])
    g2 = g * np.exp(1j * np.radians([0, 0, 30.0, 0]))  # a retune moves channel 2 by 30 deg
    caps[2] = simulate(srs_stream, rng, n_slots=8, gains=g2, delays_s=tau, snr_db=5.0)
    with pytest.raises(AssertionError, match="inter-channel phase std"):
        checks.check_coherence(caps, CARRIER, SRS, cfg(phase_tol_deg=2.0))


def test_coherence_check_catches_splitter_imbalance(srs_stream, rng):
    g = np.array([1.0, 1.0, 10 ** (-6 / 20), 1.0])  # 6 dB down on channel 2
    caps = [simulate(srs_stream, rng, n_slots=6, gains=g, rx_time_s=t) for t in (1.0, 2.0)]
    with pytest.raises(AssertionError, match="splitter"):
        checks.check_coherence(caps, CARRIER, SRS, cfg(splitter=True))
    checks.check_coherence(caps, CARRIER, SRS, cfg(splitter=False))


def test_calibration_check(srs_stream, rng):
    """Same radio state in both captures: the residual is noise; a 5 deg move of channel 3
    between them (tolerance here: noise + 1 deg) is caught."""
    g, tau = random_radio(rng)
    c = cfg(aoa_deg=-25.0, phase_tol_deg=1.0)
    cap_a = simulate(srs_stream, rng, gains=g, delays_s=tau, aoa_deg=-25.0, n_slots=10)
    cap_b = simulate(srs_stream, rng, gains=g, delays_s=tau, aoa_deg=-25.0, n_slots=10)
    rep = checks.check_calibration(cap_a, cap_b, CARRIER, SRS, c)
    noise = rep["tolerance_deg"] - 1.0
    assert np.all(np.abs(rep["residual_deg"]) <= noise)
    g2 = g * np.exp(1j * np.radians([0, 0, 0, 5.0]))
    cap_c = simulate(srs_stream, rng, gains=g2, delays_s=tau, aoa_deg=-25.0, n_slots=10)
    with pytest.raises(AssertionError, match="residual phase"):
        checks.check_calibration(cap_a, cap_c, CARRIER, SRS, c)


def test_detection_check(srs_stream, rng):
    """At 0 dB per-RE SNR (Pd >= 99.9 % down to -5 dB) all 40 slots are found;
    noise alone fails the check with the diagnosis."""
    cap = simulate(srs_stream, rng, n_slots=40, snr_db=0.0, offset=5000)
    rep = checks.check_detection(cap, CARRIER, SRS)
    assert rep["detected"] >= rep["expected"] - 1 and rep["max_period_deviation"] <= 1.0
    noise = simulate(srs_stream, rng, n_slots=40, signal=False)
    with pytest.raises(AssertionError, match="detected"):
        checks.check_detection(noise, CARRIER, SRS)


def test_aoa_check(srs_stream, rng):
    """Calibrated at the true 20 deg on one capture, ESPRIT on another: p90 |error| within
    5 sigma, sigma^2 = 2 CRB (1 + 1/n_cal) (ESPRIT within a factor 2 of the deterministic
    CRB for one source on 4 elements; the calibration adds its own estimate's noise).
    A wrong truth angle (25 deg) and a missing calibration both fail."""
    g, tau = random_radio(rng)
    c = cfg(aoa_deg=20.0)
    cal = checks.calibrate(
        simulate(srs_stream, rng, gains=g, delays_s=tau, aoa_deg=20.0), CARRIER, SRS, c
    )
    cap = simulate(srs_stream, rng, gains=g, delays_s=tau, aoa_deg=20.0)
    crb = float(crb_deterministic(20.0, N_RE, 10.0, M, 0.5)[0])
    tol = 5 * math.sqrt(2 * crb**2 * (1 + 1 / 20))
    st = checks.check_aoa(cap, cal, CARRIER, SRS, cfg(aoa_deg=20.0, aoa_tol_deg=tol))
    assert st["n"] == 20
    with pytest.raises(AssertionError, match="AoA 90th-percentile"):
        checks.check_aoa(cap, cal, CARRIER, SRS, cfg(aoa_deg=25.0, aoa_tol_deg=1.0))
    with pytest.raises(AssertionError, match="AoA 90th-percentile"):
        checks.check_aoa(cap, "", CARRIER, SRS, cfg(aoa_deg=20.0, aoa_tol_deg=1.0))
