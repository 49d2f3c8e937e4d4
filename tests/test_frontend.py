"""srs_sync -> cfr_extractor (-> covariance_accumulator) in real GNU Radio flowgraphs.

Checked against the math: the outputs are the inputs, the tags are the C++ kernel's /
Python twin's detections for any scheduling, each CFR PDU is cfr_twin of the tagged slot,
and the recorded reference captures give their true AoA. Bad input: gaps (rx_time),
NaN bursts, no SRS, a wrong rx_rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa import io
from gnuradio.srsaoa.blocks.pdu import cfr_from_pdu, covariance_from_pdu
from gnuradio.srsaoa.estimation.crb import crb_deterministic
from gnuradio.srsaoa.estimation.doa import esprit
from gnuradio.srsaoa.nr.receiver import SrsSyncTwin, cfr_twin, cfr_windows
from test_frontend_support import CARRIER, SRS, params, stream

DATA = Path(__file__).resolve().parent / "data" / "recordings"


def _tag(offset: int, key: str, value) -> gr.tag_t:
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    t.srcid = pmt.intern("test")
    return t


def run(
    x,
    carrier=CARRIER,
    srs=SRS,
    tags=(),
    max_noutput=None,
    calibration="",
    cov_occasions=0,
    ref_channel=-1,
):
    m = x.shape[0]
    tb = gr.top_block()
    sync = srsaoa.srs_sync(m, carrier, srs, ref_channel)
    cfr = srsaoa.cfr_extractor(m, carrier, srs, True, -1, calibration)
    sinks, dbg, dbg_cov = [], blocks.message_debug(), blocks.message_debug()
    for i in range(m):
        src = blocks.vector_source_c(x[i].tolist(), False, 1, list(tags))
        snk = blocks.vector_sink_c()
        tb.connect(src, (sync, i))
        tb.connect((sync, i), (cfr, i))
        tb.connect((sync, i), snk)
        sinks.append(snk)
    tb.msg_connect(cfr, K.PORT_CFR, dbg, "store")
    if cov_occasions:
        acc = srsaoa.covariance_accumulator(m, cov_occasions, True, 0.0)
        tb.msg_connect(cfr, K.PORT_CFR, acc, K.PORT_CFR)
        tb.msg_connect(acc, K.PORT_COVARIANCE, dbg_cov, "store")
    if max_noutput:
        tb.run(max_noutput)
    else:
        tb.run()
    out = np.array([s.data() for s in sinks], dtype=np.complex64)
    srs_tags = [
        [t for t in s.tags() if pmt.symbol_to_string(t.key) == K.TAG_SRS_START] for s in sinks
    ]
    pdus = [cfr_from_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    covs = [covariance_from_pdu(dbg_cov.get_message(i)) for i in range(dbg_cov.num_messages())]
    return {"out": out, "tags": srs_tags, "pdus": pdus, "covs": covs, "sync": sync, "cfr": cfr}


def _tag_dict(t) -> dict:
    return pmt.to_python(t.value)


def _scenario(rng):
    p = params()
    t = p.slot_length
    starts = [1234.3 + i * t for i in range(5)] + [777.6 + i * t for i in range(10, 13)]
    x = stream(p, 13 * t + 3000, starts, rng, snr_db=3.0, cfo_hz=-2200.0)
    return p, x, starts


def test_flowgraph_matches_twin_for_any_scheduling(rng):
    p, x, _ = _scenario(rng)
    twin = SrsSyncTwin(p, 4).run(x)
    backoff = min(p.cp_lengths) // 4
    # an upstream srs_start (e.g. from srs_source) must not pass through
    fake = [_tag(5, K.TAG_SRS_START, pmt.PMT_NIL)]
    results = [run(x, tags=fake, max_noutput=n) for n in (None, 997, 64)]
    for r in results:
        np.testing.assert_array_equal(r["out"], x)  # pass-through, item for item
        for ch in r["tags"]:
            assert [t.offset for t in ch] == [d["index"] for d in twin]
        for t, d in zip(r["tags"][0], twin):
            v = _tag_dict(t)
            assert v["occasion"] == d["occasion"]
            assert v["metric"] == pytest.approx(d["metric"], rel=1e-4)
            assert v["cfo_hz"] == pytest.approx(d["cfo_hz"], abs=1.0)
            assert v["fractional_offset"] == pytest.approx(d["frac"], abs=2e-3)
        assert len(r["pdus"]) == len(twin)
        for (meta, h), d in zip(r["pdus"], twin):
            assert meta[K.SAMPLE_INDEX] == d["index"]
            assert meta[K.SRS_OCCASION] == d["occasion"]
            assert list(meta[K.SHAPE]) == [4, 4, 288]
            np.testing.assert_array_equal(meta[K.SUBCARRIERS], p.subcarriers)
            assert meta[K.SCS_HZ] == 30e3
            assert K.RX_TIME not in meta  # no rx_time tags in this stream
            win = cfr_windows(x, d["index"], p, backoff)
            h2, snr2 = cfr_twin(win, p, meta[K.CFO_HZ], backoff)
            np.testing.assert_allclose(h, h2, atol=1e-4 * np.max(np.abs(h2)))
            assert meta[K.SNR_DB] == pytest.approx(snr2, abs=1e-3)
    # identical PDUs whatever the scheduling
    for r in results[1:]:
        for (_m1, h1), (_m2, h2) in zip(results[0]["pdus"], r["pdus"]):
            np.testing.assert_array_equal(h1, h2)


def _ula_truth(rec):
    return float(rec.array.spacing_wavelengths)


@pytest.mark.parametrize("name,order", [("los_23deg_10db", 1), ("two_paths_period2", 2)])
def test_recorded_scenarios_give_the_true_aoa(name, order):
    """Independent reference captures (tests/data/recordings): srs_sync finds every SRS slot
    at its true start, and ESPRIT on the accumulated covariance recovers the true AoAs within
    5 x the deterministic CRB (+ 0.02 deg for float32 rounding)."""
    rec = io.read_recording(DATA / f"{name}.sigmf-collection")
    truth = rec.truth
    carrier, srs = rec.carrier.to_dict(), rec.srs.to_dict()
    n_occ = len(truth["srs_slot_sample_starts"])
    r = run(rec.samples, carrier, srs, cov_occasions=n_occ)
    assert [t.offset for t in r["tags"][0]] == truth["srs_slot_sample_starts"]
    assert len(r["pdus"]) == n_occ
    for meta, _ in r["pdus"]:
        assert meta[K.CFO_HZ] == pytest.approx(truth["cfo_hz"], abs=100)
        assert meta[K.SNR_DB] == pytest.approx(truth["snr_db"], abs=0.5)
    assert len(r["covs"]) == 1
    _, cov = r["covs"][0]
    d = _ula_truth(rec)
    est = np.sort(esprit(cov, order, d))
    paths = sorted(truth["paths"], key=lambda q: q["aoa_deg"])
    aoa = np.array([q["aoa_deg"] for q in paths])
    # CRB: N = occasions x S x K snapshots; source covariance from the path powers and the
    # frequency decorrelation of their delays; noise variance from the truth
    meta, h = r["pdus"][0]
    f = (meta[K.SUBCARRIERS] - 6 * carrier["n_size_grid"]) * meta[K.SCS_HZ]
    amp = np.array(
        [10 ** (q["power_db"] / 20) * np.exp(-2j * np.pi * f * q["delay_s"]) for q in paths]
    )
    p_src = amp @ amp.conj().T / f.size / truth["noise_variance"]
    n_snap = n_occ * h.shape[1] * h.shape[2]
    crb = crb_deterministic(
        aoa, n_snap, num_elements=4, spacing_wavelengths=d, source_covariance=p_src
    )
    assert np.all(np.abs(est - aoa) < 5 * crb + 0.02), (est, aoa, crb)


# ------------------------------------------------------------------------ bad input


def test_rx_time_gap_resynchronises(rng):
    """An overflow drops 5000 samples; rx_time says so. The synchroniser restarts at once:
    every slot after the gap is found at its shifted position, rx_time in the PDUs follows
    the tags. Without the rx_time jump the tracker would miss max_misses slots first."""
    p = params()
    t, fs = p.slot_length, p.sample_rate
    starts = [600.0 + i * t for i in range(10)]
    full = stream(p, 10 * t + 2000, starts, rng, snr_db=5.0)
    g, drop = 4 * t + 200, 5000
    x = np.concatenate([full[:, :g], full[:, g + drop :]], axis=1)
    t0_full, t0_frac = 1700000000, 0.25

    def at(samples: int) -> pmt.pmt_t:  # rx_time of a sample, full and fractional apart
        frac = t0_frac + samples / fs
        return pmt.make_tuple(pmt.from_uint64(t0_full + int(frac)), pmt.from_double(frac % 1))

    tags = [_tag(0, K.RX_TIME, at(0)), _tag(g, K.RX_TIME, at(g + drop))]
    r = run(x, tags=tags)
    b_max = p.segment_starts[-1] + p.segment_lengths[-1]
    # slots whose SRS ends before the gap, then those starting after the dropped samples
    expect = [int(s) for s in starts if s + b_max <= g]
    expect += [int(s) - drop for s in starts if s >= g + drop]
    assert [tg.offset for tg in r["tags"][0]] == expect
    assert r["sync"].num_resyncs() == 1
    assert len(r["pdus"]) == len(expect)
    for meta, _ in r["pdus"]:
        idx = meta[K.SAMPLE_INDEX]
        full_s, frac = meta[K.RX_TIME]
        true_frac = t0_frac + (idx + (drop if idx > g else 0)) / fs
        assert (full_s - t0_full) + frac == pytest.approx(true_frac, abs=1e-9)


def test_nan_burst_drops_only_its_occasion(rng):
    p = params()
    t = p.slot_length
    starts = [900.0 + i * t for i in range(8)]
    x = stream(p, 8 * t + 1000, starts, rng, snr_db=5.0)
    x[:, 3 * t + 9500 : 3 * t + 10500] = np.nan  # inside the SRS symbols of slot 3
    r = run(x)
    got = [meta[K.SAMPLE_INDEX] for meta, _ in r["pdus"]]
    assert got == [int(s) for i, s in enumerate(starts) if i != 3]
    assert r["cfr"].num_dropped() == 1
    assert all(np.all(np.isfinite(h)) for _, h in r["pdus"])


def test_no_srs_no_tags(rng):
    """20 slots of noise (per-sample variance 1): no tag and no PDU (pfa 1e-6 per slot)."""
    p = params()
    x = stream(p, 20 * p.slot_length, [], rng, snr_db=0.0)
    r = run(x)
    assert all(len(ch) == 0 for ch in r["tags"])
    assert r["pdus"] == []
    np.testing.assert_array_equal(r["out"], x)


def test_wrong_rx_rate_pauses_detection(rng):
    """rx_rate = 2 fs at sample 0: nothing is detected (error logged); the right rate from
    sample 5 T on: detection resumes with the next whole slot."""
    p = params()
    t, fs = p.slot_length, p.sample_rate
    starts = [300.0 + i * t for i in range(9)]
    x = stream(p, 9 * t + 500, starts, rng, snr_db=10.0)
    tags = [
        _tag(0, K.TAG_RX_RATE, pmt.from_double(2 * fs)),
        _tag(5 * t, K.TAG_RX_RATE, pmt.from_double(fs)),
    ]
    r = run(x, tags=tags)
    assert [tg.offset for tg in r["tags"][0]] == [int(s) for s in starts if s > 5 * t]
    assert len(r["pdus"]) == 4


def test_python_wrappers_validate():
    with pytest.raises(ValueError):
        srsaoa.srs_sync(0, CARRIER, SRS)
    with pytest.raises(ValueError):
        srsaoa.srs_sync(4, CARRIER, SRS, ref_channel=4)
    with pytest.raises(ValueError):
        srsaoa.srs_sync(4, CARRIER, {**SRS, "group_seq_hopping": "groupHopping"})
    with pytest.raises(ValueError):
        srsaoa.srs_sync(4, {"subcarrier_spacing": 31}, SRS)
    with pytest.raises(ValueError):
        srsaoa.cfr_extractor(4, CARRIER, SRS, True, 1000)
    with pytest.raises(ValueError):
        srsaoa.cfr_extractor(4, CARRIER, SRS, True, -1, [1, 2])


def test_cfr_error_through_the_whole_chain(rng):
    """srs_sync's own timing and CFO, then cfr_extractor: per-RE SNR 10 dB, CFO 3 kHz,
    fractional start +0.3 sample. Truth: H[m, s, k] = g_m exp(j 2 pi cfo n0 / fs)
    exp(-j 2 pi f_k 0.3 / N) relative to the tagged sample n0. NMSE within 1 dB of -10 dB
    (LS floor 1/SNR; the CFO estimate's error, ~24 Hz std here, adds ~0.1 dB)."""
    p = params()
    t, fs, n = p.slot_length, p.sample_rate, p.fft_size
    snr_db, cfo, frac = 10.0, 3000.0, 0.3
    starts = [400.0 + frac + i * t for i in range(12)]
    x = stream(p, 12 * t + 2000, starts, rng, snr_db=snr_db, cfo_hz=cfo)
    r = run(x)
    assert len(r["pdus"]) == 12
    g = np.exp(1j * np.pi * 0.37 * np.arange(4))
    b = p.subcarrier_bins.astype(np.int64)
    f = np.where(b < n // 2, b, b - n)
    err = []
    for meta, h in r["pdus"]:
        n0 = meta[K.SAMPLE_INDEX]
        i = round((n0 - 400) / t)
        assert n0 == 400 + i * t  # the nearest sample to the true start
        delta = starts[i] - n0  # the fractional delay the CFR must show
        truth = (
            g[:, None, None]
            * np.exp(2j * np.pi * cfo * n0 / fs)
            * np.exp(-2j * np.pi * f * delta / n)
        )
        err.append(np.mean(np.abs(h - truth) ** 2))
    assert abs(10 * np.log10(np.mean(err)) + snr_db) < 1.0


def test_calibration_multipliers_and_retune_warning(rng, capfd):
    """M complex multipliers scale each channel's CFR exactly; an rx_freq change (a retune:
    the N310's phases are new) is counted and, with a calibration set, warned about."""
    p = params()
    t = p.slot_length
    x = stream(p, 6 * t, [500.0 + i * t for i in range(6)], rng, snr_db=10.0)
    cal = np.array([1.0, 1j, -0.5, 2 - 1j])
    tags = [
        _tag(0, K.TAG_RX_FREQ, pmt.from_double(3.5e9)),
        _tag(3 * t, K.TAG_RX_FREQ, pmt.from_double(3.6e9)),
    ]
    plain = run(x, tags=tags)
    fixed = run(x, tags=tags, calibration=cal.tolist())
    # the source hands over everything at once (tags make it): the tail must still come out
    np.testing.assert_array_equal(plain["out"], x)
    np.testing.assert_array_equal(fixed["out"], x)
    assert len(plain["pdus"]) == len(fixed["pdus"]) == 6
    for (_, h0), (_, h1) in zip(plain["pdus"], fixed["pdus"]):
        np.testing.assert_allclose(h1, h0 * cal[:, None, None], rtol=1e-5, atol=1e-6)
    assert plain["cfr"].num_retunes() == 1 and fixed["cfr"].num_retunes() == 1
    out = capfd.readouterr()
    assert (out.out + out.err).count("calibration no longer holds") == 1
