"""moddnn_doa block in real flowgraphs against the math (MoDDNN.estimate, through moddnn.lowered)."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
import torch
from gnuradio import gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu, parse_pdu
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig
from gnuradio.srsaoa.moddnn.modelfile import load_model, save_model
from gnuradio.srsaoa.moddnn.train import train
from msg_tools import MessageCollector, await_outputs, post, run_messages

CFG = ModelConfig(grid_step_deg=1.0, outer_iterations=2, cg_iterations=6)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    f = D.default_srs_subcarriers_hz()  # full comb: the block picks 16 of the 306 columns
    from gnuradio.srsaoa.moddnn.model import subcarrier_indices

    fk = f[subcarrier_indices(f.size, 16)]
    ds = D.simulate(np.arange(-60, 60.01, 2.0), 10.0, rng, subcarriers_hz=fk)
    model, _ = train(
        CFG, TrainConfig(epochs=1, autoencoder_epochs=1, seed=2), ds, None, progress=False
    )
    path = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, path)
    return str(path)


def cfrs(n, seed):
    rng = np.random.default_rng(seed)
    ang = rng.uniform(-60, 60, n)
    return D.simulate(ang, 10.0, rng).cfr  # [n, 4, 4, 306]: a full SRS comb per PDU


def run_graph(blk, messages, expect):
    """Post CFR PDUs in a running flowgraph; the meta of every estimate once ``expect``
    have come and the flowgraph has ended."""
    posts = [(blk, K.PORT_CFR, m) for m in messages]
    return [parse_pdu(m)[0] for m in run_messages(posts, (blk, K.PORT_ESTIMATE), expect)]


def meta(i):
    return {
        K.SRS_OCCASION: i,
        K.SAMPLE_INDEX: 829 + 15360 * i,
        K.SNR_DB: 10.0,
        K.RX_TIME: pmt.make_tuple(pmt.from_uint64(12), pmt.from_double(0.25 + i)),
    }


@pytest.mark.parametrize("max_batch", [1, 7, 32])
def test_block_matches_math_for_any_batching(model_path, max_batch):
    # Batching is an optimisation only: each estimate equals the model run on its CFR alone
    # (float32 batch-size effects on the spectrum are ~1e-6; the AoA is a centroid on it).
    h = cfrs(12, 1)
    net, _ = load_model(model_path)
    want = np.array([net.estimate(x)[0] for x in h])
    blk = srsaoa.moddnn_doa(model_path, max_batch)
    out = run_graph(blk, [make_cfr_pdu(x, meta(i)) for i, x in enumerate(h)], expect=12)
    assert len(out) == 12
    for i, m in enumerate(out):
        assert m[K.METHOD] == "moddnn" and m[K.ORDER] == 1
        assert m[K.SRS_OCCASION] == i and m[K.SAMPLE_INDEX] == 829 + 15360 * i
        assert m[K.RX_TIME] == (12, 0.25 + i) and m[K.SNR_DB] == 10.0
        assert m[K.AOA_DEG].dtype == np.float32 and m[K.AOA_DEG].shape == (1,)
        np.testing.assert_allclose(m[K.AOA_DEG][0], want[i], atol=1e-3)


def test_queued_pdus_run_as_batches(model_path):
    # PDUs that are already queued when the block starts are taken off the queue together:
    # 10 PDUs with max_batch 4 give batches 4, 4, 2, and the same estimates as max_batch 1.
    h = cfrs(10, 4)
    blk = srsaoa.moddnn_doa(model_path, 4)
    tb = gr.top_block()
    col = MessageCollector()
    tb.msg_connect((blk, K.PORT_ESTIMATE), (col, "in"))
    for i, x in enumerate(h):
        post(blk, K.PORT_CFR, make_cfr_pdu(x, meta(i)))
    tb.start()
    await_outputs(tb, col, 10, [blk])
    assert list(blk._batch_sizes) == [4, 4, 2]
    got = col.metas()
    single = run_graph(srsaoa.moddnn_doa(model_path, 1),
                       [make_cfr_pdu(x, meta(i)) for i, x in enumerate(h)], 10)  # fmt: skip
    assert [m[K.SRS_OCCASION] for m in got] == list(range(10))
    np.testing.assert_allclose([m[K.AOA_DEG][0] for m in got],
                               [m[K.AOA_DEG][0] for m in single], atol=1e-3)  # fmt: skip


def test_block_drops_bad_pdus_and_keeps_going(model_path):
    h = cfrs(2, 2)
    bad_shape = make_cfr_pdu(h[0][:3], meta(0))  # 3 elements for a 4-element model
    nonfinite = h[1].copy()
    nonfinite[0, 0, 0] = np.nan
    not_cfr = make_pdu({K.SRS_OCCASION: 5}, np.zeros(4, np.complex64))  # no shape
    msgs = [
        bad_shape,
        make_cfr_pdu(nonfinite, meta(1)),
        not_cfr,
        pmt.intern("junk"),
        make_cfr_pdu(np.zeros_like(h[0]), meta(2)),  # no signal: no estimate of nothing
        make_cfr_pdu(h[0][:, :0, :], meta(3)),  # no SRS symbol
        make_cfr_pdu(h[0], meta(7)),
    ]
    out = run_graph(srsaoa.moddnn_doa(model_path, 4), msgs, expect=1)
    assert [m[K.SRS_OCCASION] for m in out] == [7]


def test_block_with_the_shipped_default_model():
    h = cfrs(3, 3)
    out = run_graph(
        srsaoa.moddnn_doa("default", 32), [make_cfr_pdu(x, meta(i)) for i, x in enumerate(h)], 3
    )
    net, _ = load_model("default")
    assert len(out) == 3
    for m, x in zip(out, h):
        np.testing.assert_allclose(m[K.AOA_DEG][0], net.estimate(x)[0], atol=1e-3)


def test_constructor_validates(tmp_path):
    with pytest.raises(ValueError):
        srsaoa.moddnn_doa(str(tmp_path / "missing"), 8)
    with pytest.raises(ValueError):
        srsaoa.moddnn_doa("default", 0)
    with pytest.raises(ValueError):
        srsaoa.moddnn_doa("default", 1.5)
    with pytest.raises(ValueError):
        srsaoa.moddnn_doa(3, 8)
    blk = srsaoa.moddnn_doa("default", 8)
    with pytest.raises(ValueError):
        blk.set_max_batch(0)


@pytest.mark.parametrize("max_batch", [1, 32])
def test_stacked_occasions_equal_the_model_on_the_stacked_cfr(model_path, max_batch):
    """occasions=3 on 7 CFRs (one path at one angle, independent noise and phases): two
    estimates, each the model run on the three CFRs concatenated along the symbol axis,
    carrying the last occasion's index and ``occasions`` 3, for any batching; the held CFRs
    are announced as "accumulated" (the seventh too, held for a stack that never fills)."""
    rng = np.random.default_rng(31)
    h = D.simulate(np.full(7, 21.3), 10.0, rng).cfr
    net, _ = load_model(model_path)
    blk = srsaoa.moddnn_doa(model_path, max_batch, 0, "", 3)
    msgs = [make_cfr_pdu(x, {**meta(i), K.SCS_HZ: 30e3}) for i, x in enumerate(h)]
    posts = [(blk, K.PORT_CFR, m) for m in msgs]
    out = [
        parse_pdu(m)[0]
        for m in run_messages(posts, [(blk, K.PORT_ESTIMATE), (blk, K.PORT_SKIPPED)], 7)
    ]
    est = [m for m in out if K.SKIPPED not in m]
    held = [m for m in out if K.SKIPPED in m]
    assert [int(m[K.SRS_OCCASION]) for m in est] == [2, 5]
    assert [int(m[K.SRS_OCCASION]) for m in held] == [0, 1, 3, 4, 6]
    assert all(str(m[K.SKIPPED]) == "accumulated" for m in held)
    for j, m in enumerate(est):
        want = net.estimate(np.concatenate(list(h[3 * j : 3 * j + 3]), axis=1))[0]
        assert int(m[K.OCCASIONS]) == 3
        np.testing.assert_allclose(m[K.AOA_DEG][0], want, atol=1e-3)


@pytest.mark.parametrize("bad", [0, 257, 1.5, True])
def test_occasions_are_validated(model_path, bad):
    with pytest.raises(ValueError, match="occasions"):
        srsaoa.moddnn_doa(model_path, 32, 0, "", bad)
