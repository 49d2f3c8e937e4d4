"""Flow control between the message blocks (docs/performance.md).

- From a recording nothing is dropped: cfr_extractor holds the source back while its CFRs
  are unacknowledged by the branches' result sinks (credits), whatever the estimators' speed.
- Live, every queue is bounded: a stage that falls behind drops its oldest inputs, counts
  them, and the estimates (and JSON lines) carry the count.
- The PDUs worked through together give what one at a time gives.
- stop() returns while the source is held back or the estimators are behind.
Waits are bounded polls for an expected count (never sleeps that decide a result).
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa import io, sim
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu, parse_pdu
from gnuradio.srsaoa.estimation import doa
from gnuradio.srsaoa.flowgraph import rx_flowgraph
from msg_tools import wait_until


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    sc = sim.Scenario(paths=[{"aoa_deg": 17.0}], num_slots=40, snr_db=15, seed=5)
    path = io.write_recording(tmp_path_factory.mktemp("rec") / "r", sim.simulate(sc), "ci16_le")
    return str(path)


def _lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f]


def test_recording_source_held_back_and_nothing_lost(recording, tmp_path):
    """An estimator branch that stops consuming stops the source after the credit window;
    when it resumes, every occasion gets its estimate from every branch."""
    src = srsaoa.sigmf_source(recording, False, False, 4)
    rec = src.recording
    out = tmp_path / "out.jsonl"
    tb = rx_flowgraph(
        src,
        4,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=("esprit", "2d-esprit"),
        out=str(out),
        flow_window=2,
    )
    # the 2d-esprit estimator stops consuming until the gate opens (it has fallen behind)
    gate = threading.Event()
    est = tb.branches["2d-esprit"]
    handle = est._handle_cfr

    def held(msg):
        while not gate.wait(0.05):
            pass
        handle(msg)

    est._handle_cfr = held
    tb.start()
    wait_until(lambda: tb.cfr.num_held() > 0, "the extractor to hold the stream back")
    held_cfrs = tb.cfr.num_cfrs()
    assert held_cfrs <= 2 + 8  # the window plus at most one work call's occasions
    assert src.core.num_streamed() < rec.num_samples  # the source is held back too
    gate.set()
    tb.wait()
    assert tb.cfr.num_cfrs() == 40 > held_cfrs
    lines = _lines(out)
    for method in ("esprit", "2d-esprit"):
        occ = sorted(r["srs_occasion"] for r in lines if r["method"] == method)
        assert occ == list(range(40)), method
    assert not any("dropped" in r for r in lines)
    assert tb.cfr.max_in_flight() <= 2 + 8
    assert tb.dropped() == {"esprit": 0, "2d-esprit": 0}


def test_recording_run_bounded_without_a_gate(recording, tmp_path):
    """The plain `srsaoa run` flowgraph with every method kind: all estimates, the credit
    window respected."""
    src = srsaoa.sigmf_source(recording, False, True, 4)
    rec = src.recording
    out = tmp_path / "out.jsonl"
    methods = ("esprit", "music", "2d-esprit")
    tb = rx_flowgraph(
        src,
        4,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=methods,
        out=str(out),
        flow_window=4,
    )
    tb.run()
    src.wait_checks()
    lines = _lines(out)
    assert len(lines) == 3 * 40
    assert tb.cfr.max_in_flight() <= 4 + 8


def _cov_msgs(n, rng, m=4):
    msgs = []
    for i in range(n):
        a = np.exp(1j * np.pi * np.sin(np.deg2rad(rng.uniform(-50, 50))) * np.arange(m))
        x = a[:, None] * (rng.standard_normal(64) + 1j * rng.standard_normal(64))[None, :]
        x = x + 0.1 * (rng.standard_normal((m, 64)) + 1j * rng.standard_normal((m, 64)))
        r = (x @ x.conj().T / 64).astype(np.complex64)
        meta = {K.SRS_OCCASION: i, K.SAMPLE_INDEX: 1000 * i, K.NUM_SNAPSHOTS: 64.0}
        msgs.append(make_pdu(meta, r.ravel()))
    return msgs


@pytest.mark.parametrize("kind", ["cpp", "python"])
def test_live_queue_bound_drops_the_oldest_and_counts(rng, kind, tmp_path):
    """100 covariance PDUs queued before the estimator runs, bound 4: the oldest 97 are
    dropped (counted), the 3 newest estimated, and their JSON lines say so."""
    if kind == "cpp":
        est = srsaoa.esprit_estimator(0.5, 1, "aic", 0, True, -90.0, 90.0, 4)
    else:
        est = srsaoa.doa_estimator("esprit", 0.5, 1, max_queue=4)
    out = tmp_path / "live.jsonl"
    sink = srsaoa.result_sink(str(out), 30.72e6, "off")
    tb = gr.top_block()
    tb.msg_connect((est, K.PORT_ESTIMATE), (sink, K.PORT_ESTIMATE))
    for msg in _cov_msgs(100, rng):
        est.to_basic_block()._post(pmt.intern(K.PORT_COVARIANCE), msg)
    tb.start()
    wait_until(lambda: sink.num_written() == 3, "3 estimates")
    tb.stop()
    tb.wait()
    assert est.num_dropped() == 97
    lines = _lines(out)
    assert [r["srs_occasion"] for r in lines] == [97, 98, 99]  # the newest survive
    assert all(r["dropped"] == 97 for r in lines)


def test_live_bound_on_cfr_branches_and_the_count_down_the_branch(rng):
    """The covariance accumulator's drops reach the estimates of its branch."""
    cov = srsaoa.covariance_accumulator(4, 1, True, 0.0)
    cov.set_max_queue(5)
    est = srsaoa.esprit_estimator(0.5, 1, "aic", 0, True, -90.0, 90.0, 0)
    store = blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect((cov, K.PORT_COVARIANCE), (est, K.PORT_COVARIANCE))
    tb.msg_connect((est, K.PORT_ESTIMATE), (store, "store"))
    h = (rng.standard_normal((4, 2, 24)) + 1j * rng.standard_normal((4, 2, 24))).astype(
        np.complex64
    )
    for i in range(50):
        meta = {K.SRS_OCCASION: i, K.SAMPLE_INDEX: 100 * i}
        cov.to_basic_block()._post(pmt.intern(K.PORT_CFR), make_cfr_pdu(h, meta))
    tb.start()
    wait_until(lambda: store.num_messages() == 4, "4 estimates")
    tb.stop()
    tb.wait()
    assert cov.num_dropped() == 46
    metas = [parse_pdu(store.get_message(i))[0] for i in range(4)]
    assert [m[K.SRS_OCCASION] for m in metas] == [46, 47, 48, 49]
    assert all(m[K.DROPPED] == 46 for m in metas)


def test_queued_cfrs_worked_through_together_equal_one_at_a_time(rng):
    """2D-ESPRIT on 20 CFRs taken off the queue in one handler call gives exactly what the
    C++ kernel gives on each CFR alone, and the Python oracle's estimate to 1e-6 deg."""
    sub = np.arange(0, 192, 2)
    hs, msgs = [], []
    for i in range(20):
        th = np.deg2rad(rng.uniform(-40, 40))
        a = np.exp(1j * np.pi * np.sin(th) * np.arange(4))
        g = np.exp(-2j * np.pi * sub * 30e3 * rng.uniform(0, 200e-9))
        h = a[:, None, None] * g[None, None, :] + 0.05 * (
            rng.standard_normal((4, 2, sub.size)) + 1j * rng.standard_normal((4, 2, sub.size))
        )
        h = h.astype(np.complex64)
        hs.append(h)
        meta = {
            K.SRS_OCCASION: i,
            K.SAMPLE_INDEX: 10 * i,
            K.SUBCARRIERS: sub.astype(np.int32),
            K.SCS_HZ: 30e3,
        }
        msgs.append(make_cfr_pdu(h, meta))
    est = srsaoa.doa_estimator("2d-esprit", 0.5, 1)
    store = blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect((est, K.PORT_ESTIMATE), (store, "store"))
    for msg in msgs:  # all queued before the block runs: one batch
        est.to_basic_block()._post(pmt.intern(K.PORT_CFR), msg)
    tb.start()
    wait_until(lambda: store.num_messages() == 20, "20 estimates")
    tb.stop()
    tb.wait()
    got = sorted(
        (parse_pdu(store.get_message(i))[0] for i in range(20)), key=lambda d: d[K.SRS_OCCASION]
    )
    kernel = srsaoa.esprit2d_kernel(0.5)
    for h, g in zip(hs, got):
        one = kernel.estimate(h, (sub * 30e3).tolist(), 1, False)
        np.testing.assert_array_equal(g[K.AOA_DEG], np.float32(one.aoa_deg))
        np.testing.assert_array_equal(g[K.DELAY_S], one.delay_s)
        ref = doa.estimate(
            "2d-esprit", cfr=h, subcarrier_hz=sub * 30e3, order=1, n_snapshots=h[0].size
        )
        np.testing.assert_allclose(one.aoa_deg, ref.aoa_deg, atol=1e-6)
        np.testing.assert_allclose(one.delay_s, ref.delay_s, atol=1e-15)


def test_skip_notices_go_down_the_branch_and_are_acknowledged():
    """A stage without an output for an occasion announces it; the next stage passes it on
    in order; the sink writes no line for it and acknowledges its sample index."""
    ordr = srsaoa.order_estimator("aic")
    est = srsaoa.doa_estimator("esprit", 0.5)
    sink = srsaoa.result_sink("-", 30.72e6, "off")
    acks = blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect((ordr, K.PORT_COVARIANCE), (est, K.PORT_COVARIANCE))
    tb.msg_connect((ordr, K.PORT_SKIPPED), (est, K.PORT_COVARIANCE))
    tb.msg_connect((est, K.PORT_ESTIMATE), (sink, K.PORT_ESTIMATE))
    tb.msg_connect((est, K.PORT_SKIPPED), (sink, K.PORT_ESTIMATE))
    tb.msg_connect((sink, K.PORT_ACK), (acks, "store"))
    bad = make_pdu({K.SRS_OCCASION: 3, K.SAMPLE_INDEX: 777}, np.zeros(16, np.complex64))
    ordr.to_basic_block()._post(pmt.intern(K.PORT_COVARIANCE), bad)  # all-zero R
    tb.start()
    wait_until(lambda: acks.num_messages() == 1, "the acknowledgement")
    tb.stop()
    tb.wait()
    ack = acks.get_message(0)
    assert pmt.to_uint64(pmt.dict_ref(ack, pmt.intern(K.SAMPLE_INDEX), pmt.PMT_NIL)) == 777
    who = pmt.dict_ref(ack, pmt.intern(K.CONSUMER), pmt.PMT_NIL)
    assert pmt.symbol_to_string(who) == sink.alias()
    assert sink.num_written() == 0 and sink.num_skipped() == 1


def test_flow_control_parameters_validated(recording):
    src = srsaoa.sigmf_source(recording, False, False, 4)
    rec = src.recording
    args = (src, 4, rec.carrier, rec.srs, 0.5, rec.sample_rate)
    with pytest.raises(ValueError, match="flow_window"):
        rx_flowgraph(*args, flow_window=0)
    with pytest.raises(ValueError, match="max_queue"):
        rx_flowgraph(*args, live=True, max_queue=-3)
    with pytest.raises(ValueError, match="repeat"):
        rx_flowgraph(*args, methods=("esprit", "esprit"))
    with pytest.raises(ValueError):
        srsaoa.cfr_extractor(4, rec.carrier, rec.srs, True, -1, "", 4, 0)
    with pytest.raises(ValueError):
        srsaoa.result_sink("-", 30.72e6, "off", -1)


@pytest.mark.parametrize("live", [False, True])
def test_stop_returns_while_held_back_or_behind(recording, tmp_path, live):
    """A repeating recording through every estimator kind, then stop(): wait() returns
    (a hang guard, not a timing target: that is benchmarks/bench_e2e.py's)."""
    src = srsaoa.sigmf_source(recording, True, False, 4)  # endless
    rec = src.recording
    tb = rx_flowgraph(
        src,
        4,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=("esprit", "music", "2d-esprit"),
        out=str(tmp_path / "o.jsonl"),
        live=live,
        flow_window=2,
        max_queue=4,
    )
    tb.start()
    wait_until(lambda: tb.num_estimates() >= 30, "some estimates")
    done = threading.Event()

    def stop():
        tb.stop()
        tb.wait()
        done.set()

    threading.Thread(target=stop, daemon=True).start()
    assert done.wait(60.0), "stop()/wait() did not return"
