"""Multi-anchor deployment over ZeroMQ: examples/anchor_zmq.grc three times,
as three separate processes, each replaying its own recording of one shared walk and publishing
its estimate PDUs on a ZMQ PUB socket bound to 127.0.0.1; examples/fusion_zmq.grc as a fourth
process subscribing to all three and writing positions.

Ports are chosen free at run time. The fusion process starts first; the anchors' Publish Gates
hello until it has heard them and hold their estimates until then (the file handshake of
``gnuradio.srsaoa.handshake``), so no estimate is lost to ZeroMQ's slow joiner or to an anchor
exiting with estimates still queued; every process ends by itself (handshake timeouts bound
every wait), and the test itself waits with one deadline.

Checks:
- every anchor published every SRS occasion (its own JSON lines);
- the fused positions equal ``srsaoa locate`` on the anchors' JSON-lines files (same epochs,
  same solver; streaming with a ``max_lag_s`` longer than the replay never closes an epoch
  early), to rounding;
- they agree with the truth within the position CRB: for an efficient estimator the error e of
  a fix with covariance C (the WLS covariance at the ESPRIT CRBs, the position CRB) has
  d^2 = e' C^-1 e ~ chi2(2). ESPRIT on a 4-element ULA is close to efficient (we allow
  eta = 1.21, a 10 % larger standard deviation, as tests/test_examples_run.py): each fix must
  have d^2 <= eta * chi2_2(1 - 1e-6) = 33.4 and the mean over the N fixes
  <= eta * chi2_2N(1 - 1e-4) / N.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import cli
from gnuradio.srsaoa.position import write_anchors
from gnuradio.srsaoa.sim import Scenario
from gnuradio.srsaoa.sim.positioning import PositioningScenario, anchor_recordings
from grc_tools import compile_grc
from scipy import stats

ANCHORS = [
    {"name": "gnb1", "position_m": [0.0, 0.0, 3.0], "yaw_deg": 45.0},
    {"name": "gnb2", "position_m": [30.0, 0.0, 3.0], "yaw_deg": 135.0},
    {"name": "gnb3", "position_m": [15.0, 30.0, 3.0], "yaw_deg": -90.0},
]
# 15 kHz SCS, 24 RB: 7.68 Msps (FFT 512), 1 ms slots, SRS in every slot over 24 RB
BASE = {
    "carrier": {"subcarrier_spacing": 15, "n_size_grid": 24},
    "srs": {"c_srs": 6, "n_srs_id": 3},
    "snr_db": 10.0,
    "start_offset_samples": 0,
}
FS = 7.68e6
EPOCH_S = 1e-3
NUM_SLOTS = 8
UE_HEIGHT_M = 1.5
DEADLINE_S = 150.0  # whole run; each process's own handshake timeout is shorter
HANDSHAKE_TIMEOUT_S = 90.0
ETA = 1.21


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):  # held together so the n ports differ
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return compile_grc(["anchor_zmq", "fusion_zmq"], tmp_path_factory.mktemp("grcc"))


def _run_all(procs: dict[str, subprocess.Popen], logs: dict[str, Path]) -> None:
    """Wait for every process with one deadline; on expiry kill ours and fail with their logs."""
    deadline = time.monotonic() + DEADLINE_S
    try:
        for p in procs.values():
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        tails = {n: logs[n].read_text()[-1500:] for n in procs}
        pytest.fail(f"processes still running after {DEADLINE_S} s: {tails}")
    bad = {n: (p.returncode, logs[n].read_text()[-1500:]) for n, p in procs.items() if p.returncode}
    assert not bad, bad


def test_three_anchor_processes_and_a_fusion_process(compiled, tmp_path, capsys):
    sc = PositioningScenario.from_dict(
        {
            "name": "walk",
            "anchors": ANCHORS,
            "ue": {"waypoints_m": [[8.0, 6.0], [20.0, 14.0]], "speed_m_s": 1.4, "height_m": 1.5},
            "seed": 3,
        }
    )
    recs = anchor_recordings(sc, Scenario(**BASE), tmp_path / "walk", NUM_SLOTS)
    anchors_yaml = tmp_path / "anchors.yaml"
    write_anchors(anchors_yaml, sc.anchors)
    handshake = tmp_path / "handshake"
    handshake.mkdir()
    ports = dict(zip(recs, _free_ports(len(recs)), strict=True))
    env = dict(os.environ, GR_CONF_LOG_LOG_LEVEL="warn", GR_CONF_LOG_LOG_FILE="stderr")
    logs = {n: tmp_path / f"{n}.log" for n in ["fusion", *recs]}
    fused = tmp_path / "fused.jsonl"
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, argv: list[str]) -> None:
        with open(logs[name], "w") as log:
            procs[name] = subprocess.Popen(
                [sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=tmp_path,
            )  # fmt: skip

    try:
        # the fusion first: it connects its SUB sockets and serves the handshake
        start(
            "fusion",
            [
                str(compiled["fusion_zmq"]),
                "--anchors", str(anchors_yaml),
                *[f"--address{i + 1}={f'tcp://127.0.0.1:{p}'}" for i, p in enumerate(ports.values())],
                "--out", str(fused),
                "--sample-rate", repr(FS),
                "--epoch-s", repr(EPOCH_S),
                "--ue-height-m", repr(UE_HEIGHT_M),
                "--max-lag-s", "1000",  # longer than the replay: no epoch closes early
                "--handshake-dir", str(handshake),
                "--timeout-s", repr(HANDSHAKE_TIMEOUT_S),
            ],
        )  # fmt: skip
        for name, rec in recs.items():
            start(
                name,
                [
                    str(compiled["anchor_zmq"]),
                    "--recording", str(rec),
                    "--anchor", name,
                    "--address", f"tcp://127.0.0.1:{ports[name]}",
                    "--out", str(tmp_path / f"{name}.jsonl"),
                    "--handshake-dir", str(handshake),
                    "--timeout-s", repr(HANDSHAKE_TIMEOUT_S),
                ],
            )  # fmt: skip
        _run_all(procs, logs)
    finally:
        for p in procs.values():  # only if the test failed half-way
            if p.poll() is None:
                p.kill()
                p.wait()

    # every anchor estimated every occasion and the fusion acknowledged all of them
    for name in recs:
        est = _lines(tmp_path / f"{name}.jsonl")
        assert [e["sample_index"] for e in est] == [k * 7680 for k in range(NUM_SLOTS)], name
        done = json.loads((handshake / f"{name}.done").read_text())
        assert done["published"] == NUM_SLOTS
        assert json.loads((handshake / f"{name}.ack").read_text())["received"] == NUM_SLOTS

    got = _lines(fused)
    assert len(got) == NUM_SLOTS
    for g in got:
        assert g["anchors"] == ["gnb1", "gnb2", "gnb3"] and g["method"] == "aoa", g

    # the same positions as srsaoa locate on the anchors' own JSON lines
    located = tmp_path / "located.jsonl"
    argv = ["locate", "--anchors", str(anchors_yaml), "--out", str(located)]
    argv += ["--estimates", *[f"{n}={tmp_path / f'{n}.jsonl'}" for n in recs]]
    assert cli.main([*argv, "--ue-height-m", str(UE_HEIGHT_M)]) == 0, capsys.readouterr().err
    want = _lines(located)
    assert len(want) == len(got)
    for g, w in zip(got, want, strict=True):
        assert g["anchors"] == w["anchors"] and g["method"] == w["method"]
        np.testing.assert_allclose(
            [g["t_s"], g["x_m"], g["y_m"]], [w["t_s"], w["x_m"], w["y_m"]], rtol=1e-9, atol=1e-9
        )
        np.testing.assert_allclose(g["cov_m2"], w["cov_m2"], rtol=1e-6)

    # against the truth, within the position CRB
    t = np.array([g["t_s"] for g in got])
    np.testing.assert_allclose(t, np.arange(NUM_SLOTS) * EPOCH_S, atol=1e-12)
    truth = sc.position(t)
    d2 = []
    for g, p in zip(got, truth, strict=True):
        e = np.array([g["x_m"], g["y_m"]]) - p
        d2.append(float(e @ np.linalg.solve(np.array(g["cov_m2"]), e)))
    d2 = np.array(d2)
    n = d2.size
    assert np.all(d2 <= ETA * stats.chi2.ppf(1 - 1e-6, 2)), d2
    assert d2.mean() <= ETA * stats.chi2.ppf(1 - 1e-4, 2 * n) / n, d2
    # and the CRB is a few centimetres here, so this is a real check of the geometry
    assert max(np.sqrt(np.trace(np.array(g["cov_m2"]))) for g in got) < 0.1


# ---------------------------------------------------------------- the handshake's pieces alone


def _estimates_into_gate(gate, n: int):
    """A flowgraph: n estimate PDUs (from a source block that then ends) -> PDU Set (anchor)
    -> gate -> message_debug."""
    import pmt
    from gnuradio import blocks, gr, pdu
    from gnuradio.srsaoa.blocks import pdu as P

    class source(gr.sync_block):
        def __init__(self):
            gr.sync_block.__init__(self, "estimates", None, [np.uint8])
            self.message_port_register_out(pmt.intern("estimate"))
            self.k = 0

        def work(self, input_items, output_items):
            if self.k == n:
                return -1  # WORK_DONE
            meta = {"sample_index": self.k * 7680, "method": "esprit", "order": 1}
            meta |= {
                "aoa_deg": np.array([10.0], np.float32),
                "crb_deg": np.array([0.1], np.float32),
            }
            self.message_port_pub(pmt.intern("estimate"), P.make_pdu(meta, None))
            self.k += 1
            output_items[0][:1] = 0
            return 1

    tb = gr.top_block()
    src = source()
    name = pdu.pdu_set(pmt.intern("anchor"), pmt.intern(gate.anchor))
    dbg = blocks.message_debug()
    tb.connect(src, blocks.null_sink(1))
    tb.msg_connect((src, "estimate"), (name, "pdus"))
    tb.msg_connect((name, "pdus"), (gate, "in"))
    tb.msg_connect((gate, "out"), (dbg, "store"))
    tb.keep = (src, name, gate)  # a Python block must outlive its flowgraph's run
    return tb, dbg


def test_publish_gate_pass_through_and_timeout(tmp_path):
    from gnuradio import srsaoa
    from gnuradio.srsaoa.blocks import pdu as P

    gate = srsaoa.publish_gate("gnb1")  # no folder: a plain pass-through
    tb, dbg = _estimates_into_gate(gate, 5)
    tb.run()
    assert gate.num_passed() == dbg.num_messages() == 5 and not gate.failed()
    # with a folder but no fusion: hellos until the timeout, then the PDUs go out anyway
    (tmp_path / "gnb1.ack").write_text("stale")  # an earlier run's file is removed
    gate = srsaoa.publish_gate("gnb1", str(tmp_path), 0.02, 0.3)
    assert not (tmp_path / "gnb1.ack").exists()
    tb, dbg = _estimates_into_gate(gate, 5)
    tb.run()  # ends by itself: every wait of the gate is bounded
    assert gate.failed() and gate.num_passed() == 5 and gate.num_hellos() >= 2
    msgs = [P.parse_pdu(dbg.get_message(i))[0] for i in range(dbg.num_messages())]
    hellos = [m for m in msgs if m.get("hello") is True]
    assert len(hellos) == gate.num_hellos() and {m["anchor"] for m in hellos} == {"gnb1"}
    assert len(msgs) - len(hellos) == 5
    assert not (tmp_path / "gnb1.done").exists()  # never heard: no done file
    with pytest.raises(ValueError, match="does not exist"):
        srsaoa.publish_gate("gnb1", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="cannot name handshake files"):
        srsaoa.publish_gate("../x", str(tmp_path))
    with pytest.raises(ValueError, match="timeout_s"):
        srsaoa.publish_gate("gnb1", "", 0.1, 0.0)


def test_gate_and_position_estimator_handshake_in_process(tmp_path):
    """Gate -> ZMQ PUB -> SUB -> position_estimator in one process; the fusion side acks only
    what it received, and reports an anchor it never heard."""
    import threading

    from gnuradio import gr, srsaoa, zeromq

    anchors = tmp_path / "anchors.yaml"
    write_anchors(anchors, PositioningScenario.from_dict({"anchors": ANCHORS}).anchors)
    (port,) = _free_ports(1)
    addr = f"tcp://127.0.0.1:{port}"
    fusion = gr.top_block()
    sub = zeromq.sub_msg_source(addr, 100, False)
    pe = srsaoa.position_estimator(str(anchors), "", "", FS, EPOCH_S, 1.5, False, "", 1.0, 10.0)
    fusion.msg_connect((sub, "out"), (pe, "estimate"))
    fusion.start()
    result: dict[str, bool] = {}

    def serve() -> None:  # gnb1 only: gnb2/gnb3 are never heard in this test
        from gnuradio.srsaoa import handshake

        result["gnb1"] = handshake.serve(
            tmp_path, ["gnb1"], lambda a: pe.num_hellos()[a] + pe.num_received()[a] > 0,
            lambda a: pe.num_received()[a], 20.0,
        )  # fmt: skip
        result["all"] = pe.serve_handshake(str(tmp_path), 0.3)

    server = threading.Thread(target=serve)
    server.start()
    try:
        gate = srsaoa.publish_gate("gnb1", str(tmp_path), 0.02, 20.0)
        tb, _ = _estimates_into_gate(gate, 40)
        pub = zeromq.pub_msg_sink(addr, 100, True)
        tb.msg_connect((gate, "out"), (pub, "in"))
        tb.run()  # returns after the fusion acknowledged all 40
    finally:
        server.join(timeout=30)
        fusion.stop()
        fusion.wait()
    assert not gate.failed() and gate.num_passed() == 40
    assert pe.num_received()["gnb1"] == 40 and pe.num_hellos()["gnb1"] >= 1
    # one anchor without ranges solves nothing, but every estimate was taken in
    assert pe.num_estimates()["gnb1"] == 40 and pe.num_dropped() == 0 and pe.num_positions() == 0
    assert result == {"gnb1": True, "all": False}
    assert json.loads((tmp_path / "gnb1.done").read_text()) == {"anchor": "gnb1", "published": 40}
