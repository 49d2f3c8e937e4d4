"""srs_sync: threshold theory, C++ kernel vs Python twin, detection / timing / CFO performance.

Tolerances come from theory, stated at each check:
- rho under noise ~ Beta(a, b) (docs/frontend.md), so threshold and false-alarm counts are
  binomial with known means;
- the CFO estimate is the phase advance between SRS-symbol correlations: at per-RE SNR
  gamma, each correlation has SNR K*gamma*Mc (K = 288 REs per symbol); the phase of one
  pair has std ~ 1/sqrt(K gamma Mc), averaged over S-1 pairs, converted by fs/(2 pi D).
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio import srsaoa
from gnuradio.srsaoa.nr.receiver import SrsSyncTwin, detection_threshold
from scipy import stats
from test_frontend_support import params, run_kernel, stream


def make_kernel(p, m=4, ref_channel=-1, period=None, pfa=1e-6, w=2, misses=3):
    return srsaoa.srs_sync_kernel(
        p.reference.tolist(),
        list(p.segment_starts),
        list(p.segment_lengths),
        m,
        ref_channel,
        p.period if period is None else period,
        pfa,
        w,
        misses,
        p.sample_rate,
    )


# ------------------------------------------------------------------ threshold theory


@pytest.mark.parametrize("a,b,p", [(4, 4380, 1e-9), (16, 17520, 1e-10), (1, 1000, 1e-3)])
def test_threshold_is_the_beta_quantile(a, b, p):
    """C++ bisection on the closed-form tail == scipy's Beta inverse survival function."""
    eta = srsaoa.srs_sync_kernel.threshold_for(p, a, b)
    assert eta == pytest.approx(stats.beta.isf(p, a, b), rel=1e-6)
    assert srsaoa.srs_sync_kernel.tail_probability(eta, a, b) == pytest.approx(p, rel=1e-5)


def test_noise_metric_follows_beta(rng):
    """Independent noise windows: the fraction of rho above the Beta 5 % point is
    binomial(2000, 0.05): mean 100, std 9.7; accept 4 std."""
    p = params()
    k = make_kernel(p, m=1, ref_channel=0, period=0)
    n_trials = 2000
    a = len(p.segment_starts)
    b = int(sum(p.segment_lengths)) - a
    eta = stats.beta.isf(0.05, a, b)
    span = p.segment_starts[-1] + p.segment_lengths[-1]
    hits = 0
    for _ in range(n_trials):
        x = rng.standard_normal((1, span)) + 1j * rng.standard_normal((1, span))
        k.restart()
        k.process(x.astype(np.complex64))
        rho = k.metric_at(k.fed - span)
        hits += rho > eta
    assert abs(hits - 100) < 4 * 9.7


def test_twin_and_cpp_thresholds_agree():
    p = params()
    k = make_kernel(p)
    tw = SrsSyncTwin(p, 4)
    assert k.acquisition_threshold == pytest.approx(tw.eta_acq, rel=1e-6)
    assert k.tracking_threshold == pytest.approx(tw.eta_trk, rel=1e-6)
    a = 4 * len(p.segment_starts)
    assert tw.eta_acq == pytest.approx(
        detection_threshold(1e-6 / p.slot_length, a, 4 * sum(p.segment_lengths))
    )


# -------------------------------------------------------------- C++ == twin, chunking


def _scenario(rng):
    """12 slots: SRS in slots 0-4, none in 5-9 (tracking misses -> re-acquisition), then
    SRS again at a new timing; per-RE SNR 0 dB, CFO -3.2 kHz, fractional start."""
    p = params()
    t = p.slot_length
    starts = [1234.3 + i * t for i in range(5)] + [777.6 + i * t for i in range(10, 13)]
    x = stream(p, 13 * t + 3000, starts, rng, snr_db=0.0, cfo_hz=-3200.0)
    return p, x, starts


@pytest.mark.parametrize("chunks", [None, [1], [4096, 777, 13], [20000, 1]])
def test_cpp_kernel_matches_twin_for_any_chunking(rng, chunks):
    p, x, _ = _scenario(rng)
    if chunks == [1]:
        x = x[:, : 3 * p.slot_length]  # sample-by-sample feeding is slow in Python
    twin = SrsSyncTwin(p, 4).run(x)
    got = run_kernel(make_kernel(p), x, chunks)
    assert [d.index for d in got] == [d["index"] for d in twin]
    assert [d.occasion for d in got] == [d["occasion"] for d in twin]
    for g, t in zip(got, twin):
        # float32 FFT correlation vs float64 scipy: relative error ~1e-6 on rho
        assert g.metric == pytest.approx(t["metric"], rel=1e-4)
        assert g.frac == pytest.approx(t["frac"], abs=2e-3)
        assert g.cfo_hz == pytest.approx(t["cfo_hz"], abs=1.0)


def test_tracking_misses_then_reacquires(rng):
    p, x, starts = _scenario(rng)
    dets = run_kernel(make_kernel(p), x)
    idx = [d.index for d in dets]
    assert idx == [int(round(s)) for s in starts]  # nothing in the SRS-free slots
    # occasions count SRS periods, also across a re-acquisition in a continuous stream:
    # the five SRS-free slots are five missed occasions
    assert [d.occasion for d in dets] == [0, 1, 2, 3, 4, 10, 11, 12]


# ------------------------------------------------------------------------ performance


def test_detection_probability_at_minus_5_db(rng):
    """Per-RE SNR -5 dB, 51 RB comb 2, 4 SRS symbols, 4 channels, CFO 4 kHz: 1000 SRS slots,
    acquisition only (period unknown), every one detected at the right sample (zero misses
    in 1000 gives Pd >= 99.7 % at 95 % confidence; the theory, a detection SNR of 25 dB
    against a threshold at rho ~ 3e-3, predicts misses below 1e-12)."""
    p = params()
    t = p.slot_length
    k = make_kernel(p, period=0)
    found = 0
    n_slots, batch = 1000, 50
    for _ in range(n_slots // batch):
        starts = [321.0 + i * t for i in range(batch)]
        x = stream(p, batch * t, starts, rng, snr_db=-5.0, cfo_hz=4000.0)
        k.process(x)
        for d in k.take_detections():
            assert (d.index - 321) % t == 0, d
            found += 1
    k.finish()
    found += len(k.take_detections())
    assert found == n_slots


@pytest.mark.slow
def test_no_false_detection_in_1e4_noise_slots():
    """10^4 slots of noise on the detection channel, pfa = 1e-6 per slot: the expected count
    is at most 0.01 (union bound over T candidate starts per slot), so zero is required."""
    p = params()
    t = p.slot_length
    k = make_kernel(p, m=1, ref_channel=0, period=p.period)
    rng = np.random.default_rng(99)
    batch = 200
    for _ in range(10_000 // batch):
        re = rng.standard_normal((1, batch * t), dtype=np.float32)
        im = rng.standard_normal((1, batch * t), dtype=np.float32)
        k.process((re + 1j * im).astype(np.complex64))
        assert k.take_detections() == []
    k.finish()
    assert k.take_detections() == []
    assert k.fed == 10_000 * t


@pytest.mark.parametrize("snr_db,cfo_hz", [(0.0, 5000.0), (0.0, -5000.0), (10.0, 1500.0)])
def test_timing_and_cfo(rng, snr_db, cfo_hz):
    """Fractional starts: |(index + frac) - true start| < 1 sample at SNR >= 0 dB; CFO within
    5 sigma, sigma = fs / (2 pi D) / sqrt(K gamma Mc (S-1)), K = 288, Mc = 4, S = 4."""
    p = params()
    t = p.slot_length
    true = [500.0 + i * t + f for i, f in enumerate(rng.uniform(-0.5, 0.5, 12))]
    x = stream(p, 12 * t + 2000, true, rng, snr_db=snr_db, cfo_hz=cfo_hz)
    dets = run_kernel(make_kernel(p), x, [8192])
    assert len(dets) == len(true)
    gamma = 10 ** (snr_db / 10)
    d = p.segment_starts[1] - p.segment_starts[0]
    sigma_f = p.sample_rate / (2 * np.pi * d) / np.sqrt(288 * gamma * 4 * 3)
    for det, s in zip(dets, true):
        assert abs(det.index + det.frac - s) < 1.0
        assert abs(det.cfo_hz - cfo_hz) < 5 * sigma_f


def test_single_channel_and_single_symbol_config(rng):
    """One SRS symbol (CFO from the two halves of the symbol), detection on channel 2."""
    srs = {"c_srs": 12, "n_srs_id": 3, "num_srs_symbols": 1, "symbol_start": 13}
    p = params(srs=srs)
    t = p.slot_length
    x = stream(p, 6 * t, [100.0 + i * t for i in range(5)], rng, snr_db=10.0, cfo_hz=2000.0)
    twin = SrsSyncTwin(p, 4, ref_channel=2).run(x)
    got = run_kernel(make_kernel(p, ref_channel=2), x, [5000])
    assert [d.index for d in got] == [100 + i * t for i in range(5)]
    assert [d.index for d in got] == [d["index"] for d in twin]
    for g, tw in zip(got, twin):
        assert g.cfo_hz == pytest.approx(tw["cfo_hz"], abs=1.0)
        # one channel, half a symbol each side: sigma ~ fs/(2 pi 548)/sqrt(144*10) = 235 Hz
        assert abs(g.cfo_hz - 2000.0) < 5 * 235


def test_non_finite_samples_do_not_poison(rng):
    p = params()
    t = p.slot_length
    starts = [900.0 + i * t for i in range(8)]
    x = stream(p, 8 * t + 1000, starts, rng, snr_db=5.0)
    x[:, 2 * t + 9000 : 2 * t + 14000] = np.nan  # a burst over the SRS of slot 2
    x[1, 5 * t + 9000] = np.inf
    k = make_kernel(p)
    dets = run_kernel(k, x, [3000])
    idx = [d.index for d in dets]
    # the burst lies in acquisition or a tracking window; tracking skips other samples
    assert 0 < k.nonfinite_count <= 4 * 5000 + 1
    # every slot after the burst is found at the right sample
    assert [i for i in idx if i > 3 * t] == [int(s) for s in starts[3:]]
    assert all(np.isfinite(d.metric) and np.isfinite(d.cfo_hz) for d in dets)


def test_rejects_bad_parameters():
    p = params()
    ok = dict(
        reference=p.reference.tolist(),
        segment_starts=list(p.segment_starts),
        segment_lengths=list(p.segment_lengths),
        num_channels=4,
        ref_channel=-1,
        period=p.period,
        pfa=1e-6,
        track_window=4,
        max_misses=3,
        sample_rate=p.sample_rate,
    )
    for key, bad in [
        ("num_channels", 0),
        ("ref_channel", 4),
        ("period", 100),
        ("pfa", 0.0),
        ("pfa", 0.7),
        ("track_window", -1),
        ("max_misses", 0),
        ("sample_rate", 0.0),
        ("segment_starts", [0, 1, 2, 3]),
        ("segment_lengths", [1096, 1096]),
        ("reference", [0j] * p.slot_length),
    ]:
        with pytest.raises(ValueError):
            srsaoa.srs_sync_kernel(**{**ok, key: bad})
