"""result_sink in a running flowgraph: estimate PDUs -> JSON lines (DESIGN section 7)."""

from __future__ import annotations

import json

import numpy as np
import pmt
import pytest
from gnuradio import gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu
from msg_tools import post, post_done

FS = 30.72e6


def estimate_pdu(i, aoa, delay=None, snr=12.5):
    meta = {
        K.SRS_OCCASION: i,
        K.SAMPLE_INDEX: 829 + 30720 * i,
        K.METHOD: "2d-esprit" if delay is not None else "esprit",
        K.ORDER: len(aoa),
        K.AOA_DEG: np.asarray(aoa, np.float32),
        K.POWER: np.ones(len(aoa), np.float32),
        K.SNR_DB: snr,
        K.CRB_DEG: np.full(len(aoa), 0.1, np.float32),
    }
    if delay is not None:
        meta[K.DELAY_S] = np.asarray(delay, np.float64)
    return make_pdu(meta, None)


def run_to_end(block, msgs):
    """Queue ``msgs`` and the system "done" message before the flowgraph starts: the block
    handles everything queued before "done", then the flowgraph ends by itself."""
    tb = gr.top_block()
    # a message-only graph needs one connection to run the block: feed it from a doa_estimator
    feeder = srsaoa.doa_estimator("esprit", 0.5, 1)
    tb.msg_connect((feeder, K.PORT_ESTIMATE), (block, K.PORT_ESTIMATE))
    for m in msgs:
        post(block, K.PORT_ESTIMATE, m)
    post_done(block)
    post_done(feeder)
    tb.run()


def test_json_lines_to_file(tmp_path):
    path = tmp_path / "res.jsonl"
    sink = srsaoa.result_sink(str(path), FS, "info")
    msgs = [
        estimate_pdu(0, [23.4]),
        estimate_pdu(1, [-31.0, 8.0], delay=[1e-9, 98e-9]),
        estimate_pdu(2, [], snr=float("inf")),
        pmt.intern("not a pdu"),  # logged and dropped
        # PDUs that are not estimates (DESIGN section 6: no method / aoa_deg), e.g. a CFR
        # output wired to the sink: dropped, never written as an estimate of nothing
        make_cfr_pdu(np.ones((4, 1, 3)), {K.SRS_OCCASION: 3, K.SAMPLE_INDEX: 5}),
        make_pdu({K.SRS_OCCASION: 4, K.METHOD: "esprit"}, None),
        make_pdu({K.SRS_OCCASION: 5, K.AOA_DEG: np.zeros(1, np.float32)}, None),
        # a sample_index that is no uint64 (it once became the latest index acknowledged,
        # and no later acknowledgement went out): dropped
        make_pdu(
            {K.METHOD: "esprit", K.AOA_DEG: np.zeros(1, np.float32), K.SAMPLE_INDEX: 1e300}, None
        ),
    ]
    run_to_end(sink, msgs)
    assert sink.num_written() == 3
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    recs = [json.loads(x) for x in lines]
    assert recs[0]["t_s"] == pytest.approx(829 / FS)
    assert recs[0]["sample_index"] == 829 and recs[0]["srs_occasion"] == 0
    assert recs[0]["method"] == "esprit" and recs[0]["order"] == 1
    assert recs[0]["aoa_deg"] == pytest.approx([23.4], abs=1e-5)
    assert recs[0]["delay_s"] is None and recs[0]["snr_db"] == 12.5
    assert recs[1]["delay_s"] == pytest.approx([1e-9, 98e-9])
    assert recs[1]["t_s"] == pytest.approx((829 + 30720) / FS)
    assert recs[2]["aoa_deg"] == [] and recs[2]["snr_db"] is None  # inf -> null
    for key in ("t_s", "sample_index", "srs_occasion", "method", "order", "aoa_deg", "delay_s"):
        assert all(key in r for r in recs)


def test_stdout_and_full_chain(rng, capsys):
    """CFR -> doa_estimator -> result_sink("-"): the line on stdout carries the estimate."""
    sub = np.arange(0, 192, 2, dtype=np.int32)
    a = np.exp(2j * np.pi * 0.5 * np.arange(4) * np.sin(np.deg2rad(23.4)))
    h = a[:, None, None] * np.ones((1, 2, sub.size))
    h = h + 0.05 * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    sink = srsaoa.result_sink("-", FS, "off")
    est = srsaoa.doa_estimator("root-music", 0.5, 1)
    tb = gr.top_block()
    tb.msg_connect((est, K.PORT_ESTIMATE), (sink, K.PORT_ESTIMATE))
    meta = {K.SRS_OCCASION: 7, K.SAMPLE_INDEX: 61440, K.SUBCARRIERS: sub, K.SCS_HZ: 30e3}
    post(est, K.PORT_CFR, make_cfr_pdu(h, meta))
    post_done(est)  # queued before the start: the CFR is handled first, then "done" travels
    tb.run()
    assert sink.num_written() == 1
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["srs_occasion"] == 7 and rec["t_s"] == pytest.approx(61440 / FS)
    # SNR per element 26 dB, 192 snapshots: CRB ~ 0.005 deg; 0.1 deg is ample
    assert rec["aoa_deg"][0] == pytest.approx(23.4, abs=0.1)


def test_constructor_validation(tmp_path):
    with pytest.raises(ValueError):
        srsaoa.result_sink("", FS)
    with pytest.raises(ValueError):
        srsaoa.result_sink(str(tmp_path / "no" / "such" / "dir.jsonl"), FS)
    with pytest.raises(ValueError):
        srsaoa.result_sink("-", 0.0)
    with pytest.raises(ValueError):
        srsaoa.result_sink("-", FS, "loud")
