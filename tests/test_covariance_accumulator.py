"""covariance_accumulator: the C++ block against its Python twin.

Tolerance: the C++ kernel and the twin both accumulate the float32 CFR in double
precision and round R once to complex64, so they differ by at most about one float32
ulp of the largest entry: |dR| <= 4 * eps32 * max|R| leaves room for the double
summation order (N * eps64, negligible) and the final rounding of both.
"""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import covariance_from_pdu, make_cfr_pdu, make_pdu
from gnuradio.srsaoa.estimation.covariance import CovarianceAccumulator, sample_covariance
from msg_tools import MessageCollector, post, post_done, run_messages

EPS32 = np.finfo(np.float32).eps


def _random_cfr(rng, m, s, k):
    return (rng.standard_normal((m, s, k)) + 1j * rng.standard_normal((m, s, k))).astype(
        np.complex64
    )


def _run(block, messages, expect):
    """Post PDUs to the block inside a running flowgraph; every covariance PDU out once
    ``expect`` have come and the flowgraph has ended (nothing more can arrive)."""
    posts = [(block, port, msg) for port, msg in messages]
    return run_messages(posts, (block, K.PORT_COVARIANCE), expect)


def _close(a, b):
    tol = 4 * EPS32 * max(np.max(np.abs(b)), 1e-30)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.mark.parametrize("fb", [False, True])
@pytest.mark.parametrize("n_occ", [1, 3])
def test_block_matches_twin(rng, fb, n_occ):
    m, s, k = 4, 4, 51
    blk = srsaoa.covariance_accumulator(m, n_occ, fb, 0.0)
    twin = CovarianceAccumulator(m, fb, 0.0)
    cfrs = [_random_cfr(rng, m, s, k) for _ in range(2 * n_occ)]
    msgs = [
        ("cfr", make_cfr_pdu(h, {K.SRS_OCCASION: i, K.SAMPLE_INDEX: 15360 * i}))
        for i, h in enumerate(cfrs)
    ]
    out = _run(blk, msgs, expect=2)
    assert len(out) == 2
    for j, msg in enumerate(out):
        for h in cfrs[j * n_occ : (j + 1) * n_occ]:
            assert twin.add(h)
        meta, r = covariance_from_pdu(msg)
        _close(r, twin.read_out())
        assert meta[K.NUM_SNAPSHOTS] == pytest.approx(n_occ * s * k)
        assert meta[K.OCCASIONS] == n_occ
        assert bool(meta[K.FORWARD_BACKWARD]) is fb
        assert list(meta[K.SHAPE]) == [m, m]
        # the last CFR's meta is carried through
        assert meta[K.SRS_OCCASION] == (j + 1) * n_occ - 1


def test_twin_matches_direct_formula(rng):
    """The twin itself against R = (1/N) sum h h^H written out, and FB = (R + J R* J)/2."""
    h = _random_cfr(rng, 4, 2, 7)
    x = h.reshape(4, -1).astype(np.complex128)
    r = sum(np.outer(x[:, n], x[:, n].conj()) for n in range(x.shape[1])) / x.shape[1]
    np.testing.assert_allclose(sample_covariance(h), r, atol=1e-12)
    j = np.eye(4)[::-1]
    np.testing.assert_allclose(
        sample_covariance(h, fb=True), (r + j @ r.conj() @ j) / 2, atol=1e-12
    )


def test_forgetting_matches_twin(rng):
    m, s, k, lam = 3, 1, 24, 0.8
    blk = srsaoa.covariance_accumulator(m, 2, False, lam)
    twin = CovarianceAccumulator(m, False, lam)
    cfrs = [_random_cfr(rng, m, s, k) for _ in range(6)]
    out = _run(blk, [("cfr", make_cfr_pdu(h)) for h in cfrs], expect=3)
    assert len(out) == 3
    for j, msg in enumerate(out):
        for h in cfrs[2 * j : 2 * j + 2]:
            twin.add(h)
        meta, r = covariance_from_pdu(msg)
        _close(r, twin.read_out())
        # W = sum_i lam^(n-1-i) * S*K over the n occasions so far (never restarted)
        n = 2 * (j + 1)
        assert meta[K.NUM_SNAPSHOTS] == pytest.approx(s * k * sum(lam**i for i in range(n)))


def test_kernel_binding_matches_twin(rng):
    kern = srsaoa.covariance_kernel(4, True, 0.0)
    twin = CovarianceAccumulator(4, True, 0.0)
    for _ in range(3):
        h = _random_cfr(rng, 4, 4, 96)
        assert kern.add(h) and twin.add(h)
    _close(kern.read_out(), twin.read_out())


def test_reset_message_clears_sums(rng):
    """Exponential mode never restarts by itself, so only a reset can drop occasion a.

    Messages on different ports have no defined order inside GNU Radio, so a, the reset
    and b each go through a flowgraph of their own, one after the other. The reset is
    queued together with "done" before its flowgraph starts: the block's thread handles
    everything already queued before it looks at "done", so the reset is done when that
    flowgraph has ended.
    """
    m = 2
    blk = srsaoa.covariance_accumulator(m, 1, False, 0.9)
    a, b = (_random_cfr(rng, m, 1, 8) for _ in range(2))
    assert len(_run(blk, [("cfr", make_cfr_pdu(a))], expect=1)) == 1
    tb = gr.top_block()
    col = MessageCollector()  # the block needs a flowgraph; nothing comes out of a reset
    tb.msg_connect((blk, K.PORT_COVARIANCE), (col, "in"))
    post(blk, "reset", pmt.PMT_T)
    post_done(blk)
    tb.start()
    tb.wait()
    assert col.count() == 0
    out = _run(blk, [("cfr", make_cfr_pdu(b))], expect=1)
    assert len(out) == 1
    meta, r = covariance_from_pdu(out[0])
    _close(r, sample_covariance(b).astype(np.complex64))
    assert meta[K.OCCASIONS] == 1


def test_bad_pdus_are_dropped_and_stream_recovers(rng):
    """Wrong shape, wrong M, wrong length, NaN, Inf, not a PDU: all dropped, later PDUs still work."""
    m, s, k = 4, 1, 12
    good = _random_cfr(rng, m, s, k)
    nan = good.copy()
    nan[1, 0, 3] = np.nan
    inf = good.copy()
    inf[0, 0, 0] = np.inf + 0j
    bad = [
        ("cfr", make_pdu({K.SHAPE: np.array([m, s * k], np.int32)}, good)),  # 2-D shape
        ("cfr", make_pdu({}, good)),  # no shape
        ("cfr", make_pdu({K.SHAPE: np.array([3, s, k], np.int32)}, good[:3])),  # wrong M
        ("cfr", make_pdu({K.SHAPE: np.array([m, s, k + 1], np.int32)}, good)),  # length mismatch
        ("cfr", make_pdu({K.SHAPE: "4,1,12"}, good)),  # shape not integers
        ("cfr", make_cfr_pdu(nan)),
        ("cfr", make_cfr_pdu(inf)),
        ("cfr", pmt.intern("not a pdu")),
        ("cfr", pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [1.0, 2.0]))),
        # shapes whose product M*S*K wraps int64 to the vector's length (0, or 4 values):
        # they once passed the length check (a crash / a covariance of 9e18 snapshots)
        ("cfr", make_pdu({K.SHAPE: np.array([m, 2**31, 2**31], np.int64)}, None)),
        ("cfr", make_pdu({K.SHAPE: np.array([m, 2**62 + 1, 1], np.int64)}, good[:, 0, :1])),
    ]
    blk = srsaoa.covariance_accumulator(m, 1, False, 0.0)
    out = _run(blk, [*bad, ("cfr", make_cfr_pdu(good))], expect=1)
    assert len(out) == 1  # only the good one produced output
    _close(covariance_from_pdu(out[0])[1], sample_covariance(good).astype(np.complex64))


def test_shape_as_list_or_tuple_is_accepted(rng):
    m, s, k = 2, 1, 4
    h = _random_cfr(rng, m, s, k)
    as_list = make_pdu(
        {K.SHAPE: pmt.list3(pmt.from_long(m), pmt.from_long(s), pmt.from_long(k))}, h
    )
    as_tuple = make_pdu(
        {K.SHAPE: pmt.make_tuple(pmt.from_long(m), pmt.from_long(s), pmt.from_long(k))}, h
    )
    blk = srsaoa.covariance_accumulator(m, 1, False, 0.0)
    out = _run(blk, [("cfr", as_list), ("cfr", as_tuple)], expect=2)
    assert len(out) == 2


@pytest.mark.parametrize(
    "args",
    [(0, 1, False, 0.0), (4, 0, False, 0.0), (4, 1, False, 1.0), (4, 1, False, -0.5)],
)
def test_constructor_rejects_bad_parameters(args):
    with pytest.raises(ValueError):
        srsaoa.covariance_accumulator(*args)


def test_twin_rejects_bad_parameters():
    with pytest.raises(ValueError):
        CovarianceAccumulator(0)
    with pytest.raises(ValueError):
        CovarianceAccumulator(4, forgetting=1.0)
