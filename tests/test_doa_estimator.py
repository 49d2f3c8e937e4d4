"""doa_estimator and order_estimator in running GNU Radio flowgraphs, against the math.

CFRs are built here from the physics, H[m, s, k] = sum_p g_p a_m(theta_p) exp(-j 2 pi f_k tau_p)
+ noise, with f_k = k * scs (only differences matter). The blocks must give exactly what the
estimation package gives on the same data (the blocks only convert and forward), up to the
complex64 rounding of the PDU vectors: angles agree to 1e-3 deg (a float32 relative error
~1e-7 in R moves an angle by far less than that at these SNRs).
"""

from __future__ import annotations

import threading

import numpy as np
import pmt
import pytest
from gnuradio import srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu, parse_pdu
from gnuradio.srsaoa.estimation import covariance, doa, order
from msg_tools import WatchedLock, run_messages

SCS = 30e3
SUB = np.arange(0, 2 * 96, 2)  # comb-2 grid indices of the SRS columns
FREQS = SUB * SCS


def physics_cfr(rng, m, s, paths, snr_db):
    h = np.zeros((m, s, SUB.size), complex)
    for theta, tau, gain in paths:
        a = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.deg2rad(theta)))
        g = gain * np.exp(2j * np.pi * rng.uniform())
        h += g * a[:, None, None] * np.exp(-2j * np.pi * FREQS * tau)[None, None, :]
    sigma = 10 ** (-snr_db / 20)
    h += sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    return h.astype(np.complex64)


def cfr_meta(i):
    return {
        K.SRS_OCCASION: i,
        K.SAMPLE_INDEX: 829 + 15360 * i,
        K.SUBCARRIERS: SUB.astype(np.int32),
        K.SCS_HZ: SCS,
        K.RX_TIME: pmt.make_tuple(pmt.from_uint64(12), pmt.from_double(0.25 + i)),
    }


def run_graph(entry, port, messages, sink_block, sink_port, expect, extra=()):
    """Post messages to ``entry``'s ``port`` in a running flowgraph (plus the message
    connections ``extra``); the meta of every PDU out of ``sink_block``'s ``sink_port``,
    once ``expect`` have come and the flowgraph has ended."""
    posts = [(entry, port, msg) for msg in messages]
    out = run_messages(posts, (sink_block, sink_port), expect, connections=list(extra))
    return [parse_pdu(m)[0] for m in out]


@pytest.mark.parametrize("method", ["esprit", "music", "root-music", "dbf", "2d-esprit"])
def test_cfr_in_matches_math(rng, method):
    paths = [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)]
    cfrs = [physics_cfr(rng, 4, 2, paths, 15.0) for _ in range(3)]
    blk = srsaoa.doa_estimator(method, 0.5, 2, "aic", -90.0, 90.0, 0.5, True, False, 0)
    msgs = [make_cfr_pdu(h, cfr_meta(i)) for i, h in enumerate(cfrs)]
    out = run_graph(blk, K.PORT_CFR, msgs, blk, K.PORT_ESTIMATE, expect=3)
    assert len(out) == 3
    for i, (meta, h) in enumerate(zip(out, cfrs)):
        if method == "2d-esprit":
            ref = doa.estimate(method, cfr=h, subcarrier_hz=FREQS, order=2)
        else:
            r, n = covariance.covariance_from_cfr(h)
            ref = doa.estimate(method, covariance=r, order=2, n_snapshots=n)
        assert meta[K.METHOD] == method and meta[K.ORDER] == 2
        assert meta[K.AOA_DEG].dtype == np.float32
        np.testing.assert_allclose(meta[K.AOA_DEG], ref.aoa_deg, atol=1e-3)
        np.testing.assert_allclose(meta[K.CRB_DEG], ref.crb_deg, rtol=1e-3)
        assert meta[K.SRS_OCCASION] == i and meta[K.SAMPLE_INDEX] == 829 + 15360 * i
        assert meta[K.RX_TIME] == (12, 0.25 + i)
        if method == "2d-esprit":
            np.testing.assert_allclose(meta[K.DELAY_S], ref.delay_s, atol=1e-12)
        else:
            assert K.DELAY_S not in meta
        if method != "dbf":  # Bartlett is biased for 2 paths on 4 elements
            # the bound is 0.03 deg here: 0.5 deg is > 10 sigma, still a real check
            assert np.allclose(np.sort(meta[K.AOA_DEG]), [-31.0, 8.0], atol=0.5)


def test_covariance_chain_with_order_estimator(rng):
    """CFR -> covariance_accumulator (C++, 2 occasions) -> order_estimator -> doa_estimator.

    Two occasions accumulated must give what the math gives on the two CFRs as one buffer
    (the S axis concatenated): the chunked and the whole input agree.
    """
    m, paths = 4, [(-20.0, 0.0, 1.0), (25.0, 150e-9, 0.8)]
    cfrs = [physics_cfr(rng, m, 4, paths, 10.0) for _ in range(4)]
    acc = srsaoa.covariance_accumulator(m, 2, False, 0.0)
    ordr = srsaoa.order_estimator("mdl", 0, 0.0)
    est = srsaoa.doa_estimator("esprit", 0.5, 0, "aic", -90.0, 90.0, 0.5, True, False, 0)
    msgs = [make_cfr_pdu(h, cfr_meta(i)) for i, h in enumerate(cfrs)]
    out = run_graph(
        acc,
        K.PORT_CFR,
        msgs,
        est,
        K.PORT_ESTIMATE,
        expect=2,
        extra=[
            ((acc, K.PORT_COVARIANCE), (ordr, K.PORT_COVARIANCE)),
            ((ordr, K.PORT_COVARIANCE), (est, K.PORT_COVARIANCE)),
        ],
    )
    assert len(out) == 2
    for j, meta in enumerate(out):
        whole = np.concatenate(cfrs[2 * j : 2 * j + 2], axis=1)
        r, n = covariance.covariance_from_cfr(whole)
        d = order.estimate_order(r, n, "mdl")
        assert d == 2 and meta[K.ORDER] == d
        ref = doa.esprit(r, d, 0.5)
        np.testing.assert_allclose(np.sort(meta[K.AOA_DEG]), np.sort(ref), atol=1e-3)
        assert meta[K.SRS_OCCASION] == 2 * j + 1


def test_order_estimator_block(rng):
    m = 4
    a = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.deg2rad(10.0)))
    r = (4.0 * np.outer(a, a.conj()) + np.eye(m)).astype(np.complex64)
    blk = srsaoa.order_estimator("aic", 0, 0.0)
    msgs = [
        make_pdu({K.NUM_SNAPSHOTS: 100.0, K.SRS_OCCASION: 0}, r.ravel()),
        make_pdu({K.SRS_OCCASION: 1}, r.ravel()),  # no num_snapshots: dropped
        make_pdu({K.NUM_SNAPSHOTS: 100.0}, np.full(16, np.nan, np.complex64)),  # dropped
        make_pdu({K.NUM_SNAPSHOTS: 100.0}, np.ones(5, np.complex64)),  # not square: dropped
        make_pdu({K.NUM_SNAPSHOTS: 100.0, K.SRS_OCCASION: 4}, np.eye(4, dtype=np.complex64)),
    ]
    out = run_graph(blk, K.PORT_COVARIANCE, msgs, blk, K.PORT_COVARIANCE, expect=2)
    assert [(o[K.SRS_OCCASION], o[K.ORDER]) for o in out] == [(0, 1), (4, 0)]
    assert out[0][K.NUM_SNAPSHOTS] == 100.0
    # max_order caps; a fixed snapshot count replaces the PDU's
    capped = srsaoa.order_estimator("mdl", 1, 50.0)
    r2 = np.eye(m, dtype=np.complex64) * 0.01
    r2[0, 0] = r2[3, 3] = 5.0
    out = run_graph(
        capped, K.PORT_COVARIANCE, [make_pdu({}, r2.ravel())], capped, K.PORT_COVARIANCE, 1
    )
    assert out[0][K.ORDER] == 1


def test_2d_esprit_on_covariance_is_an_error_and_order_zero_is_empty(rng):
    blk = srsaoa.doa_estimator("2d-esprit", 0.5, 1, "aic", -90.0, 90.0, 0.5, True, False, 0)
    r = np.eye(4, dtype=np.complex64)
    msgs = [make_pdu({K.NUM_SNAPSHOTS: 10.0}, r.ravel())]
    out = run_messages(
        [(blk, K.PORT_COVARIANCE, m) for m in msgs],
        [(blk, K.PORT_ESTIMATE), (blk, K.PORT_SKIPPED)],
        expect=1,
    )
    assert len(out) == 1  # no estimate: the covariance PDU is announced as skipped
    assert K.SKIPPED in parse_pdu(out[0])[0]
    # white noise only: AIC/MDL order 0 -> estimate with no path
    est = srsaoa.doa_estimator("music", 0.5, 0, "mdl", -60.0, 60.0, 1.0, True, False, 0)
    h = physics_cfr(rng, 4, 4, [], 0.0)
    out = run_graph(est, K.PORT_CFR, [make_cfr_pdu(h, cfr_meta(0))], est, K.PORT_ESTIMATE, 1)
    assert out[0][K.ORDER] == 0 and out[0][K.AOA_DEG].size == 0


def test_constructor_validation_and_callbacks():
    with pytest.raises(ValueError):
        srsaoa.doa_estimator("capon")
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(spacing_wavelengths=0.0)
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(order=-1)
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(order_method="bic")
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(fov_min_deg=10.0, fov_max_deg=0.0)
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(grid_step_deg=0.0)
    with pytest.raises(ValueError):
        srsaoa.doa_estimator(smoothing=1)
    with pytest.raises(ValueError):
        srsaoa.order_estimator("bic")
    with pytest.raises(ValueError):
        srsaoa.order_estimator("aic", -1)
    with pytest.raises(ValueError):
        srsaoa.order_estimator("aic", 0, 0.5)
    blk = srsaoa.doa_estimator()
    blk.set_method("music")
    blk.set_fov(-30.0, 30.0)
    with pytest.raises(ValueError):
        blk.set_fov(30.0, -30.0)
    with pytest.raises(ValueError):
        blk.set_method("nope")


def test_spatial_smoothing_separates_coherent_paths(rng):
    # two paths with the same delay are coherent on every subcarrier: R has rank 1 (plus
    # noise); smoothing over 2 subarrays of 3 elements restores rank 2. The block must give
    # what the math gives on the smoothed R with N (M - M_s + 1) snapshots, and the paths.
    paths = [(-25.0, 50e-9, 1.0), (20.0, 50e-9, 0.8)]
    cfrs = [physics_cfr(rng, 4, 4, paths, 25.0) for _ in range(2)]
    blk = srsaoa.doa_estimator("music", 0.5, 0, "mdl", -90.0, 90.0, 0.5, True, False, 0, 3)
    msgs = [make_cfr_pdu(h, cfr_meta(i)) for i, h in enumerate(cfrs)]
    out = run_graph(blk, K.PORT_CFR, msgs, blk, K.PORT_ESTIMATE, expect=2)
    assert len(out) == 2
    for meta, h in zip(out, cfrs):
        r, n = covariance.covariance_from_cfr(h, subarray_size=3)
        assert order.estimate_order(r, n, "mdl") == 2 == meta[K.ORDER]
        ref = doa.music(r, 2, 0.5, doa.default_grid(-90, 90, 0.5))
        np.testing.assert_allclose(np.sort(meta[K.AOA_DEG]), np.sort(ref), atol=1e-3)
        # SNR 25 dB per element, 384 snapshots: the bound is ~0.01 deg; 0.5 deg is > 10 sigma
        # even with the smoothing loss
        assert np.allclose(np.sort(meta[K.AOA_DEG]), [-25.0, 20.0], atol=0.5)


def test_handler_reads_the_settings_under_the_lock(rng):
    """The setters run in the caller's thread (GRC callbacks), the handler in the block's:
    the handler takes its copy of the settings under the same lock."""
    blk = srsaoa.doa_estimator("esprit", 0.5, 1)
    blk._lock = WatchedLock()
    h = physics_cfr(rng, 4, 2, [(10.0, 0.0, 1.0)], 20.0)
    out = run_graph(blk, K.PORT_CFR, [make_cfr_pdu(h, cfr_meta(0))], blk, K.PORT_ESTIMATE, 1)
    assert len(out) == 1 and blk.num_estimates() == 1 and blk.num_skipped() == 0
    assert blk._lock.threads - {threading.get_ident()}, "the handler never took the lock"
