"""position_estimator and range_source in flowgraphs."""

from __future__ import annotations

import importlib
import json
import socket

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa.blocks import pdu as P
from gnuradio.srsaoa.position import Locator, anchor_map, assemble, read_ranges
from gnuradio.srsaoa.position.epochs import estimate_measurement
from gnuradio.srsaoa.sim.positioning import (
    PositioningScenario,
    simulate_positioning,
    write_positioning,
)
from msg_tools import wait_until

ANCHORS = [
    {"name": "gnb1", "position_m": [0.0, 0.0, 3.0], "yaw_deg": 45.0},
    {"name": "gnb2", "position_m": [30.0, 0.0, 3.0], "yaw_deg": 135.0},
    {"name": "gnb3", "position_m": [15.0, 30.0, 3.0], "yaw_deg": -90.0},
]
FS = 30.72e6


@pytest.fixture
def sim(tmp_path):
    sc = PositioningScenario.from_dict(
        {
            "anchors": ANCHORS,
            "ue": {"waypoints_m": [[8, 6], [20, 12]], "speed_m_s": 1.4, "height_m": 1.5},
            "period_s": 0.05,
            "duration_s": 2.0,
            "aoa_model": "crb",
            "ranges": {"anchors": ["gnb1"], "sigma_m": 0.1},
            "seed": 11,
        }
    )
    s = simulate_positioning(sc)
    return s, write_positioning(s, tmp_path / "sim")


def _estimate_pdu(rec: dict, anchor: str | None):
    meta = {
        "sample_index": np.int64(rec["sample_index"]),
        "srs_occasion": rec["srs_occasion"],
        "method": rec["method"],
        "order": 1,
        "aoa_deg": np.asarray(rec["aoa_deg"], np.float32),
        "crb_deg": np.asarray(rec["crb_deg"], np.float32),
    }
    if anchor is not None:
        meta["anchor"] = anchor
    return P.make_pdu(meta, None)


def _offline(sim_, files, track=False):
    s, _ = sim_, None
    amap = anchor_map(s.scenario.anchors)
    est = []
    for name, recs in s.estimates.items():
        for r in recs:
            # the block sees f32 angles and sample_index / fs
            r2 = dict(r, t_s=r["sample_index"] / FS)
            r2["aoa_deg"] = [float(np.float32(r["aoa_deg"][0]))]
            r2["crb_deg"] = [float(np.float32(r["crb_deg"][0]))]
            est.append(estimate_measurement(r2, amap[name], name))
    epochs = assemble(est, read_ranges(files["ranges"], amap), 0.05)
    loc = Locator(1.5, track=track)
    return [f.to_record() for f in (loc.process(e) for e in epochs) if f is not None]


@pytest.mark.parametrize("track", [False, True])
def test_position_estimator_matches_locate(sim, tmp_path, track, monkeypatch):
    s, files = sim
    out = tmp_path / "pos.jsonl"
    # records() keeps only the latest (bounded: a live flowgraph runs for days)
    module = importlib.import_module("gnuradio.srsaoa.blocks.position_estimator")
    monkeypatch.setattr(module, "RECORDS_KEPT", 3)
    tb = gr.top_block()
    pe = srsaoa.position_estimator(
        str(files["anchors"]), str(files["ranges"]), str(out), FS, 0.05, 1.5, track, "", 1.0, 0.2
    )
    dbg = blocks.message_debug()
    tb.msg_connect((pe, "position"), (dbg, "store"))
    tb.start()
    n = 0
    # anchors interleaved, gnb3 a few epochs behind (as from separate processes)
    order = []
    for name, recs in s.estimates.items():
        for r in recs:
            order.append((r["t_s"] + (0.12 if name == "gnb3" else 0.0), name, r))
    for _, name, r in sorted(order, key=lambda x: x[0]):
        pe.to_basic_block()._post(pmt.intern("estimate"), _estimate_pdu(r, name))
        n += 1
    wait_until(lambda: sum(pe.num_estimates().values()) == n)
    pe.flush()
    wait_until(lambda: dbg.num_messages() == pe.num_positions())
    tb.stop()
    tb.wait()
    want = _offline(s, files, track)
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(got) == len(want) == len(s.truth)
    assert [json.loads(json.dumps(r)) for r in pe.records()] == got[-3:]
    for g, w in zip(got, want, strict=True):
        assert g["anchors"] == w["anchors"] and g["method"] == w["method"]
        np.testing.assert_allclose([g["t_s"], g["x_m"], g["y_m"]], [w["t_s"], w["x_m"], w["y_m"]])
        np.testing.assert_allclose(g["cov_m2"], w["cov_m2"], rtol=1e-9)
    assert dbg.num_messages() == len(want)
    meta, _ = P.parse_pdu(dbg.get_message(0))
    assert set(meta) == {"t_s", "x_m", "y_m", "cov_m2", "anchors", "method"}
    assert meta["cov_m2"].shape == (4,) and list(meta["anchors"]) == got[0]["anchors"]


def test_position_estimator_drops_bad_pdus(sim, tmp_path):
    _, files = sim
    tb = gr.top_block()
    pe = srsaoa.position_estimator(
        str(files["anchors"]), "", "", FS, 0.05, 0.0, False, "", 1.0, 0.2
    )
    dbg = blocks.message_debug()  # a block runs only when it is connected
    tb.msg_connect((pe, "position"), (dbg, "store"))
    tb.start()
    base = {"sample_index": 0, "method": "x", "aoa_deg": np.array([5.0], np.float32)}
    pe.to_basic_block()._post(pmt.intern("estimate"), P.make_pdu(base, None))  # no anchor
    pe.to_basic_block()._post(pmt.intern("estimate"), P.make_pdu(dict(base, anchor="ghost"), None))
    pe.to_basic_block()._post(pmt.intern("estimate"), pmt.intern("not a pdu"))
    pe.to_basic_block()._post(
        pmt.intern("range"),
        P.make_pdu({"t_s": 0.0, "anchor": "gnb1", "range_m": float("nan"), "sigma_m": 0.1}, None),
    )
    wait_until(lambda: pe.num_dropped() == 4)
    tb.stop()
    tb.wait()
    with pytest.raises(ValueError, match="not valid YAML"):
        srsaoa.position_estimator(str(files["truth"]))
    with pytest.raises(ValueError, match="epoch_s"):
        srsaoa.position_estimator("", "", "", FS, 0.0)


def test_range_source_file(sim, tmp_path):
    s, files = sim
    path = tmp_path / "ranges.jsonl"
    lines = files["ranges"].read_text().splitlines()
    path.write_text("\n".join(lines[:10]) + "\n{bad json\n")
    tb = gr.top_block()
    src = srsaoa.range_source(str(path), False, 10)
    pe = srsaoa.position_estimator(str(files["anchors"]), "", "", FS, 0.05, 1.5)
    tb.msg_connect((src, "range"), (pe, "range"))
    tb.start()
    wait_until(lambda: pe.num_ranges() == 10 and src.num_bad() == 1)
    with open(path, "a") as f:  # followed like tail -f
        f.write("\n".join(lines[10:]) + "\n")
    wait_until(lambda: pe.num_ranges() == len(lines))
    tb.stop()
    tb.wait()
    with pytest.raises(ValueError, match="does not exist"):
        srsaoa.range_source(str(tmp_path / "missing.jsonl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_range_source_zmq(sim):
    import zmq

    s, files = sim
    port = _free_port()
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{port}")
    try:
        tb = gr.top_block()
        src = srsaoa.range_source(f"tcp://127.0.0.1:{port}", False, 10)
        pe = srsaoa.position_estimator(str(files["anchors"]), "", "", FS, 0.05, 1.5)
        tb.msg_connect((src, "range"), (pe, "range"))
        tb.start()
        lines = files["ranges"].read_text().splitlines()

        # the SUB joins asynchronously: repeat the first line until one arrives
        def first_arrived() -> bool:
            if pe.num_ranges():
                return True
            pub.send(lines[0].encode())
            return False

        wait_until(first_arrived, "the subscriber to join", 20.0)
        before = pe.num_ranges()
        pub.send("\n".join(lines[1:20]).encode())  # several lines in one message
        pub.send(b'{"t_s": 1.0, "anchor": "gnb1"}')  # missing keys: skipped
        wait_until(lambda: pe.num_ranges() == before + 19 and src.num_bad() == 1)
        tb.stop()
        tb.wait()
    finally:
        pub.close()
