"""Degraded input through the front end in real GNU Radio flowgraphs (run to completion,
seeded): unequal occasion intervals (60 kHz, an SRS in every slot), missed occasions
counted, rx_time gaps (a live overflow, a SigMF capture gap) resynchronised and counted,
and never a CFR made of samples from both sides of a gap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa import io, sim
from gnuradio.srsaoa.blocks.pdu import cfr_from_pdu
from gnuradio.srsaoa.blocks.srs_sync import SyncState
from gnuradio.srsaoa.nr.receiver import SrsSyncTwin, cross_sequence_floor, frontend_params

SRSAOA = str(Path(sys.executable).with_name("srsaoa"))

SRS = {"c_srs": 12, "n_srs_id": 100, "k_tc": 2, "num_srs_symbols": 4, "symbol_start": 8}


def _scenario(scs: int, period: int, num_slots: int, seed: int, **extra) -> dict:
    d = {
        "name": f"degraded_{scs}",
        "seed": seed,
        "carrier": {"subcarrier_spacing": scs, "n_size_grid": 51, "fft_size": 1024},
        "srs": dict(SRS, srs_period=[period, 0]),
        "array": {"num_elements": 4, "carrier_frequency_hz": 3.5e9},
        "impairments": "ideal",
        "paths": [{"aoa_deg": 12.0, "delay_s": 0.0, "power_db": 0.0}],
        "snr_db": 10.0,
        "cfo_hz": 300.0,
        "start_offset_samples": 2000,
        "num_slots": num_slots,
        "datatype": "cf32_le",
    }
    d.update(extra)
    return d


def _tag(offset: int, key: str, value) -> gr.tag_t:
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    t.srcid = pmt.intern("test")
    return t


def _run(x, carrier, srs, tags=(), sync=None):
    """x [M, N] through srs_sync -> cfr_extractor; runs to completion (finite sources)."""
    m = x.shape[0]
    tb = gr.top_block()
    sync = sync if sync is not None else srsaoa.srs_sync(m, carrier, srs)
    cfr = srsaoa.cfr_extractor(m, carrier, srs, True, -1, "")
    dbg = blocks.message_debug()
    for i in range(m):
        tb.connect(blocks.vector_source_c(x[i].tolist(), False, 1, list(tags)), (sync, i))
        tb.connect((sync, i), (cfr, i))
    tb.msg_connect(cfr, K.PORT_CFR, dbg, "store")
    tb.run()
    pdus = [cfr_from_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return sync, cfr, pdus


# ------------------------------------------------------------------ unequal intervals


def test_60khz_srs_every_slot_is_tracked_in_every_slot():
    """mu = 2: the long CP every 0.5 ms makes the intervals alternate by 32 samples (FFT
    1024), more than the +-2 sample tracking window. Predicted from the pattern, every
    occasion is found; with the single period of before, half are missed, and counted."""
    rec = sim.simulate(_scenario(60, 1, 24, seed=5))
    starts = rec.truth["srs_slot_sample_starts"]
    assert len(starts) == 24
    p = frontend_params(rec.carrier, rec.srs)
    assert sorted(set(p.period_pattern)) == [15344, 15376]  # 32 samples apart

    sync, cfr, pdus = _run(rec.samples, rec.carrier, rec.srs)
    assert sync.num_detections() == 24
    assert sync.num_missed() == 0
    assert sync.state() is SyncState.TRACKING and sync.state() == 2  # named, int-compatible
    assert [meta[K.SRS_OCCASION] for meta, _ in pdus] == list(range(24))

    # the old configuration: one period (the first slot's length), no pattern
    from gnuradio.srsaoa import srsaoa_python as cpp

    old = cpp.srs_sync_core(
        4,
        p.reference.tolist(),
        list(p.segment_starts),
        list(p.segment_lengths),
        -1,
        int(rec.carrier.samples_per_slot(0)),
        1e-6,
        2,
        3,
        p.sample_rate,
        cross_sequence_floor(p),
    )
    tb = gr.top_block()
    for i in range(4):
        tb.connect(blocks.vector_source_c(rec.samples[i].tolist(), False), (old, i))
        tb.connect((old, i), blocks.null_sink(gr.sizeof_gr_complex))
    tb.run()
    found, missed = int(old.num_detections()), int(old.num_missed())
    assert found < 24 and missed > 0
    # every occasion from the first detection to the end is found or counted missed
    assert found + missed == 24


def test_twin_follows_the_pattern_and_counts_like_the_kernel():
    rec = sim.simulate(_scenario(60, 1, 8, seed=6))
    p = frontend_params(rec.carrier, rec.srs)
    floor = cross_sequence_floor(p)
    twin = SrsSyncTwin(p, 4, min_metric=floor)
    dets = twin.run(rec.samples)
    from gnuradio.srsaoa import srsaoa_python as cpp

    k = cpp.srs_sync_kernel(
        p.reference.tolist(),
        list(p.segment_starts),
        list(p.segment_lengths),
        4,
        -1,
        p.period,
        1e-6,
        2,
        3,
        p.sample_rate,
        floor,
        list(p.period_pattern),
    )
    k.process(rec.samples)
    k.finish()
    got = k.take_detections()
    assert [d.index for d in got] == [d["index"] for d in dets]
    assert [d.occasion for d in got] == [d["occasion"] for d in dets] == list(range(8))
    assert k.missed == twin.missed == 0
    # the SRS symbols are found exactly; the tag sits where the reference slot (n_slot, with
    # the long CP) would start: 32 samples early on the slots without it (limitation)
    err = sorted({d["index"] - s for d, s in zip(dets, rec.truth["srs_slot_sample_starts"])})
    assert err == [-32, 0]


def test_missed_occasions_are_counted_and_numbered():
    """SRS-free stretches in a continuous stream: the occasion numbers keep counting periods
    across the re-acquisition, and the misses are counted."""
    rec = sim.simulate(_scenario(30, 1, 30, seed=7))
    starts = rec.truth["srs_slot_sample_starts"]
    x = rec.samples.copy()
    p = frontend_params(rec.carrier, rec.srs)
    b_max = p.segment_starts[-1] + p.segment_lengths[-1]
    silent = [10, 11, 12, 13, 14, 22]  # 5 in a row: more than max_misses, re-acquisition
    rng = np.random.default_rng(7)
    for k in silent:  # the SRS replaced by noise of the same level
        seg = slice(starts[k], starts[k] + b_max)
        n = x[:, seg].shape[1]
        sigma = np.sqrt(np.mean(np.abs(rec.samples[:, : starts[0]]) ** 2))
        x[:, seg] = (
            sigma * (rng.standard_normal((4, n)) + 1j * rng.standard_normal((4, n))) / np.sqrt(2)
        )
    sync, _, pdus = _run(x, rec.carrier, rec.srs)
    occ = [meta[K.SRS_OCCASION] for meta, _ in pdus]
    assert occ == [k for k in range(30) if k not in silent]
    assert sync.num_missed() == len(silent)


# ---------------------------------------------------------------------------- gaps


def _time(t0: tuple[int, float], samples: int, fs: float) -> pmt.pmt_t:
    frac = t0[1] + samples / fs
    return pmt.make_tuple(pmt.from_uint64(t0[0] + int(frac)), pmt.from_double(frac % 1.0))


def test_overflow_gap_inside_an_occasion():
    """UHD overflow: samples lost in the middle of an occasion's SRS symbols, rx_time says
    how many. The occasion straddling the gap gives no tag and no CFR, the timing is derived
    afresh after it, the gap and the occasions lost in it are counted, and the numbering
    goes on as if nothing had been lost."""
    rec = sim.simulate(_scenario(30, 1, 20, seed=8))
    starts = rec.truth["srs_slot_sample_starts"]
    fs = rec.sample_rate
    p = frontend_params(rec.carrier, rec.srs)
    a0, b_max = p.segment_starts[0], p.segment_lengths[-1] + p.segment_starts[-1]
    g = starts[6] + a0 + 1500  # inside occasion 6's SRS symbols
    drop = 2 * p.slot_length + 3333  # occasions 7 and 8 lost entirely
    x = np.concatenate([rec.samples[:, :g], rec.samples[:, g + drop :]], axis=1)
    t0 = (1_800_000_000, 0.125)
    tags = [_tag(0, K.RX_TIME, _time(t0, 0, fs)), _tag(g, K.RX_TIME, _time(t0, g + drop, fs))]
    sync, cfr, pdus = _run(x, rec.carrier, rec.srs, tags)
    assert sync.num_resyncs() == 1
    assert sync.num_gap_samples() == drop
    got = {meta[K.SRS_OCCASION]: meta[K.SAMPLE_INDEX] for meta, _ in pdus}
    # found: the SRS symbols wholly before the cut, or the slot starting at least one SRS
    # span after the restart point (an occasion closer to it cannot be told from the
    # sidelobes of one cut by the gap); occasion 6 straddles the gap, 7 and 8 lie in it
    span = b_max - a0
    found = [k for k, s in enumerate(starts) if s + b_max <= g or s - drop >= g + span]
    assert sorted(got) == found
    assert {6, 7, 8}.isdisjoint(got) and found[-1] == 19
    for k, idx in got.items():  # at the sample each occasion really has in the cut stream
        true = starts[k] if starts[k] < g else starts[k] - drop
        assert idx == true
        assert not (idx < g < idx + b_max)  # no CFR across the gap
    # every occasion from the first detection to the end is found or counted missed, and
    # the numbering goes on across the gap
    assert sync.num_detections() + sync.num_missed() == 20
    assert cfr.num_gap_dropped() == 0  # srs_sync never tags across a gap


def test_cfr_extractor_never_estimates_across_a_gap():
    """The extractor's own guard: an srs_start tag whose FFT windows hold an rx_time
    discontinuity (a tag from elsewhere, or a gap after the tag was placed) gives no CFR,
    whether the occasion arrives in one work call or in pieces."""
    rec = sim.simulate(_scenario(30, 1, 3, seed=9))
    starts = rec.truth["srs_slot_sample_starts"]
    fs = rec.sample_rate
    t0 = (1_800_000_000, 0.5)

    def one(jump_at: int | None, max_items: int):
        tags = [_tag(0, K.RX_TIME, _time(t0, 0, fs))]
        for k in range(3):
            tags.append(_tag(starts[k], K.TAG_SRS_START, pmt.make_dict()))
        if jump_at is not None:
            tags.append(_tag(jump_at, K.RX_TIME, _time(t0, jump_at + 100, fs)))
        tb = gr.top_block()
        cfr = srsaoa.cfr_extractor(4, rec.carrier, rec.srs, True, -1, "")
        dbg = blocks.message_debug()
        # work calls of at most max_items samples (GNU Radio's vector_source with tags
        # never ends if its own output is limited: it emits its whole vector at once)
        cfr.core.set_max_noutput_items(max_items)
        for i in range(4):
            tb.connect(blocks.vector_source_c(rec.samples[i].tolist(), False, 1, tags), (cfr, i))
        tb.msg_connect(cfr, K.PORT_CFR, dbg, "store")
        tb.run()
        idx = [
            cfr_from_pdu(dbg.get_message(i))[0][K.SAMPLE_INDEX] for i in range(dbg.num_messages())
        ]
        return idx, cfr.num_gap_dropped()

    for max_items in (1 << 20, 4096):  # whole occasions per call, and in pieces
        assert one(None, max_items) == (starts[:3], 0)
        idx, gaps = one(starts[1] + 9000, max_items)  # inside occasion 1's SRS symbols
        assert idx == [starts[0], starts[2]] and gaps == 1


# -------------------------------------------------------------- recordings and the CLI


def _write_with_capture_gap(tmp: Path, drop: int, cut_at_occasion: int) -> tuple[Path, dict]:
    """A SigMF recording with two captures: the samples of a gap are not in the file, the
    second capture's core:datetime says how long it was (what a recorder writes when it
    loses samples)."""
    rec = sim.simulate(_scenario(30, 1, 16, seed=11))
    starts = rec.truth["srs_slot_sample_starts"]
    p = frontend_params(rec.carrier, rec.srs)
    g = starts[cut_at_occasion] + p.segment_starts[1]  # inside that occasion's SRS symbols
    rec.samples = np.ascontiguousarray(
        np.concatenate([rec.samples[:, :g], rec.samples[:, g + drop :]], axis=1)
    )
    # core:datetime with all the digits a sample needs (33 ns at 30.72 Msps)
    frac = (g + drop) / rec.sample_rate
    assert frac < 1.0
    rec.captures = [
        {"core:sample_start": 0, "core:datetime": "2026-12-01T12:00:00.000000000000Z"},
        {"core:sample_start": g, "core:datetime": f"2026-12-01T12:00:{frac:015.12f}Z"},
    ]
    rec.annotations = []
    base = tmp / "gap"
    io.write_recording(str(base), rec, datatype="cf32_le")
    b_max = p.segment_starts[-1] + p.segment_lengths[-1]
    # found: SRS symbols wholly before the cut, or the slot starting at least one SRS span
    # after the restart point
    span = b_max - p.segment_starts[0]
    found = [k for k, s in enumerate(starts) if s + b_max <= g or s - drop >= g + span]
    return Path(str(base) + ".sigmf-collection"), {"g": g, "b_max": b_max, "found": found}


def test_sigmf_capture_gap_resynchronises(tmp_path):
    path, info = _write_with_capture_gap(tmp_path, drop=40_000, cut_at_occasion=5)
    src = srsaoa.sigmf_source(str(path), check_hash=False)
    m = src.num_channels()
    tb = gr.top_block()
    rec = src.recording
    sync = srsaoa.srs_sync(m, rec.carrier, rec.srs)
    cfr = srsaoa.cfr_extractor(m, rec.carrier, rec.srs, True, -1, "")
    dbg = blocks.message_debug()
    for i in range(m):
        tb.connect((src, i), (sync, i))
        tb.connect((sync, i), (cfr, i))
    tb.msg_connect(cfr, K.PORT_CFR, dbg, "store")
    tb.run()
    assert src.core.num_capture_tags() == 1
    assert sync.num_resyncs() == 1 and sync.num_gap_samples() == 40_000
    g, b_max = info["g"], info["b_max"]
    metas = [cfr_from_pdu(dbg.get_message(i))[0] for i in range(dbg.num_messages())]
    assert [mt[K.SRS_OCCASION] for mt in metas] == info["found"]
    assert all(not (mt[K.SAMPLE_INDEX] < g < mt[K.SAMPLE_INDEX] + b_max) for mt in metas)
    assert sync.num_detections() + sync.num_missed() == 16


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run(
        [SRSAOA, *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


def test_run_warns_with_numbers_on_gaps_and_missed_occasions(tmp_path):
    path, info = _write_with_capture_gap(tmp_path, drop=40_000, cut_at_occasion=5)
    out = tmp_path / "r.jsonl"
    r = _cli("run", "--input", str(path), "--method", "esprit", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(v) for v in out.read_text().splitlines()]
    assert [v["srs_occasion"] for v in lines] == info["found"]
    # 40 000 samples = 2.6 slots: occasion 5 straddles the cut, 6 and 7 lie in the gap, 8
    # starts inside it
    missed = 16 - len(info["found"])
    assert missed == 4 and info["found"][5] == 9
    assert "1 time gap(s) in the input (40000 samples missing)" in r.stderr
    assert f"warning: {missed} of 16 expected SRS occasions missed" in r.stderr


def test_run_at_60khz_every_slot_finds_every_occasion(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(json.dumps(_scenario(60, 1, 40, seed=12)))
    base = tmp_path / "mu2"
    r = _cli("simulate", "--scenario", str(scen), "--out", str(base), "--no-progress")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "r.jsonl"
    r = _cli("run", "--input", f"{base}.sigmf-collection", "--method", "esprit", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 40
    assert "missed" not in r.stderr


@pytest.mark.parametrize(
    "starts, secs, fracs",
    [([0], [1], [0.0]), ([10, 10], [1, 2], [0.0, 0.0]), ([10], [1], [1.0]), ([10], [], [])],
)
def test_recording_source_validates_captures(tmp_path, starts, secs, fracs):
    from gnuradio.srsaoa import srsaoa_python as cpp

    f = tmp_path / "x.cf32"
    np.zeros(100, np.complex64).tofile(f)
    with pytest.raises(ValueError, match="capture_"):
        cpp.recording_source(
            [str(f)],
            1,
            "cf32_le",
            1.0,
            0,
            False,
            1e6,
            1e9,
            False,
            0,
            0.0,
            False,
            starts,
            secs,
            fracs,
        )


def test_calibration_front_end_finds_every_occasion_at_60khz():
    """`srsaoa calibrate` and `train --data` run the C++ kernels directly
    (commands.calibrate.extract_cfrs): at 60 kHz with an SRS in every slot they follow the
    alternating occasion intervals too and find every occasion."""
    from gnuradio.srsaoa.commands.calibrate import extract_cfrs

    rec = sim.simulate(sim.Scenario.from_dict(_scenario(60, 1, 24, seed=7)))
    h, f, p, index = extract_cfrs(rec, with_index=True)
    assert len(p.period_pattern) > 1  # the intervals do alternate here
    want = np.asarray(rec.truth["srs_slot_sample_starts"])
    assert h.shape[0] == want.size
    # one index per true occasion; on the slots without the long CP the index is the
    # period grid's (up to the long CP's 32 extra samples early, docs/frontend.md)
    d = index - want
    assert np.all((d <= 0) & (d >= -32)), d
