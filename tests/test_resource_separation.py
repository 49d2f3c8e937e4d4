"""Joint separation of UEs sharing SRS REs (nr.separation, resource_separator; docs/multi_ue.md)."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.srsaoa.nr import CarrierConfig
from gnuradio.srsaoa.nr.receiver import frontend_params
from gnuradio.srsaoa.nr.separation import delay_band, separate_joint

M = 4
CARRIER = CarrierConfig()  # 51 RB at 30 kHz; c_srs 12 on comb 2: K = 288 subcarriers


def _ues(cfgs, delays, seed):
    """Sequences [S, K] and noise-free channels [M, S, K] (one path per UE: a steering vector
    with a random phase, a fractional delay in bins)."""
    rng = np.random.default_rng(seed)
    xs = [frontend_params(CARRIER, c).sequence.astype(complex) for c in cfgs]
    s, k = xs[0].shape
    kk = np.arange(k)
    hs = []
    for d in delays:
        th = np.deg2rad(rng.uniform(-50, 50))
        a = np.exp(1j * np.pi * np.arange(M) * np.sin(th) + 2j * np.pi * rng.random())
        hs.append(a[:, None, None] * np.exp(-2j * np.pi * kk * d / k) * np.ones((1, s, 1)))
    return xs, hs, rng


def test_sequence_only_ues_are_removed_noise_free():
    """Eight UEs on the same comb and cyclic shift, sequence IDs 0..7, fractional delays:
    without noise the others are removed down to the Slepian models' representation error
    (about -40 dB), where the cyclic-shift window alone leaves 1 / n_cs_max of each."""
    cfgs = [{"c_srs": 12, "n_srs_id": i} for i in range(8)]
    xs, hs, _ = _ues(cfgs, np.linspace(0.3, 4.7, 8), seed=1)
    y = sum(x * h for x, h in zip(xs, hs))
    r = separate_joint(y / xs[0], xs[0], xs[1:], 8)
    err = np.mean(np.abs(r.h - hs[0]) ** 2) / np.mean(np.abs(hs[0]) ** 2)
    assert 10 * np.log10(err) < -30
    assert all(r.found)


def test_multipath_bands_grow_on_the_residual():
    """Three paths per UE (0, -6, -10 dB at +0, +3.4, +7.7 bins), eight UEs by sequence:
    the weaker paths do not stand out of the seven others' spread at first (a band around
    the first path only leaves them as interference); the bands grow on the residual until
    every path is modelled (noise-free: down to the models' representation error)."""
    cfgs = [{"c_srs": 12, "n_srs_id": i} for i in range(8)]
    xs, _, rng = _ues(cfgs, [0.0], seed=8)
    s, k = xs[0].shape
    kk = np.arange(k)
    hs = []
    for d in np.linspace(0.3, 4.7, 8):
        h = 0
        for g, dd in ((1.0, 0.0), (0.5, 3.4), (0.3, 7.7)):
            th = np.deg2rad(rng.uniform(-50, 50))
            a = g * np.exp(1j * np.pi * np.arange(M) * np.sin(th) + 2j * np.pi * rng.random())
            h = h + a[:, None, None] * np.exp(-2j * np.pi * kk * (d + dd) / k) * np.ones((1, s, 1))
        hs.append(h)
    y = sum(x * h for x, h in zip(xs, hs))
    p = np.mean(np.abs(hs[0]) ** 2)

    def err_db(it):
        r = separate_joint(y / xs[0], xs[0], xs[1:], 8, iterations=it)
        return 10 * np.log10(np.mean(np.abs(r.h - hs[0]) ** 2) / p)

    assert err_db(0) > -10
    assert err_db(3) < -30


def test_sequence_only_snr_counts_the_separation_cost():
    """With noise sigma^2 = 0.1 (10 dB per UE): the noise is measured on the residual, and
    the reported SNR is rho * 10 dB with rho the share of this UE's signal off the others'
    columns: for pseudo-random sequences about 1 - B_others / K (B_others = the others'
    basis vectors, 7 to 9 per UE here), i.e. 0.7 to 1.3 dB below 10 dB for 8 UEs. Before
    separation the SINR is 10 / (1 + 7 * 10) = -8.5 dB."""
    cfgs = [{"c_srs": 12, "n_srs_id": i} for i in range(8)]
    xs, hs, rng = _ues(cfgs, np.linspace(0.3, 4.7, 8), seed=2)
    sigma2 = 0.1
    n = np.sqrt(sigma2 / 2) * (
        rng.standard_normal(hs[0].shape) + 1j * rng.standard_normal(hs[0].shape)
    )
    y = sum(x * h for x, h in zip(xs, hs)) + n
    r = separate_joint(y / xs[0], xs[0], xs[1:], 8)
    k = y.shape[-1]
    # the residual's sigma^2 from M S (K - N) = 4 * 4 * ~220 samples: within 10 % (3 sigma)
    assert r.noise_var == pytest.approx(sigma2, rel=0.1)
    n_others = sum(int(np.ceil(2 * b[1])) + 3 for b in r.bands[1:])
    assert r.rho == pytest.approx(1 - n_others / k, abs=0.05)
    assert r.snr_db == pytest.approx(10 + 10 * np.log10(r.rho), abs=0.5)
    assert r.sinr_before_db == pytest.approx(10 * np.log10(1 / (0.1 + 7)), abs=0.5)
    # what is left of the others and the noise in this UE's CFR: spatially white
    e = (r.h - hs[0]).reshape(M, -1)
    c = e @ e.conj().T / e.shape[1]
    off = np.abs(c - np.diag(np.diag(c))).max()
    assert off < 0.2 * np.real(np.diag(c)).mean()  # 4-sigma of a 1152-sample estimate


def test_cyclic_shift_sidelobes_are_modelled():
    """All 8 shifts of comb 2, UEs timed fractions of a bin apart: the window alone lets
    their Dirichlet sidelobes into this UE's window (about -21 dB in total); the joint fit
    removes them."""
    from gnuradio.srsaoa.nr.resources import separate_cyclic_shift

    cfgs = [{"c_srs": 12, "cyclic_shift": i} for i in range(8)]
    xs, hs, _ = _ues(cfgs, np.linspace(0.5, 4.5, 8) + 0.37, seed=3)
    y = sum(x * h for x, h in zip(xs, hs))
    r = separate_joint(y / xs[0], xs[0], xs[1:], 8)
    win, _ = separate_cyclic_shift(r.h, 0, 8, (), True, True)
    ref, _ = separate_cyclic_shift(hs[0], 0, 8, (), True, True)
    alone, _ = separate_cyclic_shift(y / xs[0], 0, 8, tuple(range(1, 8)), True, True)
    p = np.mean(np.abs(ref) ** 2)
    joint_db = 10 * np.log10(np.mean(np.abs(win - ref) ** 2) / p)
    window_db = 10 * np.log10(np.mean(np.abs(alone - ref) ** 2) / p)
    assert window_db > -30  # the leak the window alone leaves
    assert joint_db < -40


def test_absent_ue_is_left_out():
    cfgs = [{"c_srs": 12}, {"c_srs": 12, "n_srs_id": 5}]
    xs, hs, rng = _ues(cfgs, [1.0, 2.0], seed=4)
    n = 0.3 * (rng.standard_normal(hs[0].shape) + 1j * rng.standard_normal(hs[0].shape))
    y = xs[0] * hs[0] + n  # the second UE does not transmit in this slot
    assert delay_band(y, xs[1], 8) is None
    assert delay_band(y, xs[0], 8) is not None
    r = separate_joint(y / xs[0], xs[0], xs[1:], 8)
    # still modelled (around its strongest tap): it costs its few dimensions of the K
    assert r.found == [True, False]
    assert r.rho == pytest.approx(1 - (2 * 2 + 3) / 288, abs=0.02)
    # what it takes away is the noise in its dimensions (about 7 / 288 of it), no signal
    err = np.mean(np.abs(r.h - hs[0] - n / xs[0]) ** 2) / np.mean(np.abs(n) ** 2)
    assert err < 0.05


def test_too_many_ues_refused():
    # 32 UEs of at least 7 basis vectors each: 224 of K = 288 > 3 / 4 of it
    cfgs = [{"c_srs": 12, "n_srs_id": i % 30, "cyclic_shift": 4 * (i // 30)} for i in range(32)]
    xs, hs, _ = _ues(cfgs, np.linspace(0.3, 4.7, 32), seed=5)
    y = sum(x * h for x, h in zip(xs, hs))
    with pytest.raises(ValueError, match="too many UEs"):
        separate_joint(y / xs[0], xs[0], xs[1:], 8)


def _cfr_pdu(h, subcarriers, snr=float("nan")):
    from gnuradio.srsaoa import constants as K
    from gnuradio.srsaoa.blocks import pdu

    meta = pmt.make_dict()
    meta = pmt.dict_add(meta, pmt.intern(K.SRS_OCCASION), pmt.from_long(0))
    meta = pmt.dict_add(meta, pmt.intern(K.SHAPE), pdu.to_pmt_value(np.asarray(h.shape, np.int32)))
    meta = pmt.dict_add(meta, pmt.intern(K.SUBCARRIERS), pdu.to_pmt_value(subcarriers))
    meta = pmt.dict_add(meta, pmt.intern(K.SNR_DB), pmt.from_double(snr))
    v = np.ascontiguousarray(h, np.complex64).ravel()
    return pmt.cons(meta, pmt.init_c32vector(v.size, v))


def test_block_joint_separation():
    """resource_separator with the sequences: the CFR decimated to every n_cs_max-th
    subcarrier, the SNR of the joint model, the SINR before separation kept."""
    import sys
    from pathlib import Path

    from gnuradio.srsaoa import constants as K
    from gnuradio.srsaoa.blocks.resource_separator import resource_separator

    sys.path.insert(0, str(Path(__file__).parent))
    from msg_tools import run_until_done

    cfgs = [{"c_srs": 12}, {"c_srs": 12, "n_srs_id": 9}]
    xs, hs, rng = _ues(cfgs, [1.3, 2.6], seed=6)
    sigma2 = 0.1
    n = np.sqrt(sigma2 / 2) * (
        rng.standard_normal(hs[0].shape) + 1j * rng.standard_normal(hs[0].shape)
    )
    y = xs[0] * hs[0] + xs[1] * hs[1] + n
    sub = frontend_params(CARRIER, cfgs[0]).subcarriers
    blk = resource_separator(0, 8, [], True, 0.0, CARRIER.to_dict(), cfgs[0], [cfgs[1]])
    assert blk.joint
    out = run_until_done(blk, [_cfr_pdu(y / xs[0], sub)], K.PORT_CFR, K.PORT_CFR)
    assert len(out) == 1
    assert list(out[0][K.SHAPE]) == [M, 4, 288 // 8]
    assert np.array_equal(out[0][K.SUBCARRIERS], sub[::8])
    # one other UE of 7 to 9 basis vectors: rho about 1 - 9 / 288, SNR within 0.5 dB of 10
    assert out[0][K.SNR_DB] == pytest.approx(10.0, abs=0.5)
    assert blk.sinr_before_db() == pytest.approx(10 * np.log10(1 / 1.1), abs=0.5)


def test_block_refuses_sharers_on_other_res():
    from gnuradio.srsaoa.blocks.resource_separator import resource_separator

    with pytest.raises(ValueError, match="sharers\\[0\\]"):
        resource_separator(0, 8, [], True, 0.0, CARRIER.to_dict(), {"c_srs": 12}, [{"c_srs": 8}])
    with pytest.raises(ValueError, match="carrier"):
        resource_separator(0, 8, [], True, 0.0, None, None, [{"c_srs": 12}])


def test_block_falls_back_to_the_window():
    """More UEs on the REs than the joint fit can take: the block windows only (and counts
    it) instead of stopping the receiver."""
    import sys
    from pathlib import Path

    from gnuradio.srsaoa import constants as K
    from gnuradio.srsaoa.blocks.resource_separator import resource_separator

    sys.path.insert(0, str(Path(__file__).parent))
    from msg_tools import run_until_done

    cfgs = [{"c_srs": 12, "n_srs_id": i % 30, "cyclic_shift": 4 * (i // 30)} for i in range(32)]
    xs, hs, _ = _ues(cfgs, np.linspace(0.3, 4.7, 32), seed=7)
    y = sum(x * h for x, h in zip(xs, hs))
    sub = frontend_params(CARRIER, cfgs[0]).subcarriers
    blk = resource_separator(0, 8, [], True, 0.0, CARRIER.to_dict(), cfgs[0], cfgs[1:])
    out = run_until_done(blk, [_cfr_pdu(y / xs[0], sub)], K.PORT_CFR, K.PORT_CFR)
    assert blk.num_unseparated() == 1 and len(out) == 1
    assert list(out[0][K.SHAPE]) == [M, 4, 288 // 8]
    # noise-free, the window's SNR is the others' leftovers: 31 equal UEs against this one,
    # 10 log10(1 / 31) = -14.9 dB per RE give or take how their spread falls on 36 of 288
    # delay bins
    assert -18 < out[0][K.SNR_DB] < -11


def test_model_cache_gives_the_same_result():
    """The factorised model kept across occasions (the same delays): the same CFR and SNR as
    without the cache, and one model for occasions whose bands agree."""
    cfgs = [{"c_srs": 12, "n_srs_id": i} for i in range(4)]
    xs, hs, rng = _ues(cfgs, [0.5, 1.5, 2.5, 3.5], seed=9)
    cache: dict = {}
    for _ in range(3):
        shape = hs[0].shape
        n = 0.3 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        y = sum(x * h for x, h in zip(xs, hs)) + n
        a = separate_joint(y / xs[0], xs[0], xs[1:], 8)
        b = separate_joint(y / xs[0], xs[0], xs[1:], 8, cache=cache)
        np.testing.assert_allclose(b.h, a.h, rtol=0, atol=1e-9)
        assert b.snr_db == pytest.approx(a.snr_db, abs=1e-9)
    assert 1 <= len(cache) <= 3


def test_angle_error_reaches_the_crb_at_the_reported_snr():
    """Monte Carlo, 100 noise draws: eight UEs by sequence ID, the angle of UE 0 (10 deg) by
    ML (the beamformer's peak, efficient for one path) on its separated CFR. Its RMSE is the
    deterministic CRB at the SNR the separator reports (rho x 10 dB, K S = 1152 snapshots):
    the RMSE of 100 draws is within 7 % (1 / sqrt(2 x 100)) of the truth, so 0.79-1.21 is a
    3-sigma band. Unbiased: the mean error within 3 RMSE / sqrt(100)."""
    from gnuradio.srsaoa.estimation.crb import crb_deterministic
    from scipy.optimize import minimize_scalar

    cfgs = [{"c_srs": 12, "n_srs_id": i} for i in range(8)]
    xs = [frontend_params(CARRIER, c).sequence.astype(complex) for c in cfgs]
    s, k = xs[0].shape
    kk = np.arange(k)
    rng = np.random.default_rng(11)
    angles = [10.0, -50, -35, -20, -5, 25, 40, 55]

    def steer(th):
        return np.exp(1j * np.pi * np.arange(M) * np.sin(np.deg2rad(th)))

    hs = [
        steer(a)[:, None, None]
        * np.exp(2j * np.pi * rng.random() - 2j * np.pi * kk * d / k)
        * np.ones((1, s, 1))
        for a, d in zip(angles, np.linspace(0.3, 4.7, 8))
    ]

    def ml(h):
        hh = h.reshape(M, -1)
        res = minimize_scalar(
            lambda t: -np.sum(np.abs(steer(t).conj() @ hh) ** 2),
            bounds=(5, 15),
            method="bounded",
            options={"xatol": 1e-6},
        )
        return res.x

    sigma2 = 0.1
    err, snr = [], []
    cache: dict = {}
    for _ in range(100):
        n = np.sqrt(sigma2 / 2) * (
            rng.standard_normal((M, s, k)) + 1j * rng.standard_normal((M, s, k))
        )
        y = sum(x * h for x, h in zip(xs, hs)) + n
        r = separate_joint(y / xs[0], xs[0], xs[1:], 8, cache=cache)
        err.append(ml(r.h) - 10.0)
        snr.append(r.snr_db)
    rmse = float(np.sqrt(np.mean(np.square(err))))
    crb = float(crb_deterministic([10.0], s * k, [float(np.mean(snr))])[0])
    assert 0.79 < rmse / crb < 1.21
    assert abs(np.mean(err)) < 3 * rmse / 10
    assert np.mean(snr) < 10.0 - 0.3  # the fit's cost shows (rho ~ 0.8)


def test_same_base_sequence_modulo_30():
    """Without hopping the base sequence group is n_srs_id mod 30 (TS 38.211 6.4.1.4.2):
    n_srs_id 0 and 30 are one sequence. comb_plan groups them like cyclic shifts of one
    sequence (a clash on the same shift), and the separator refuses such a sharer."""
    from gnuradio.srsaoa.blocks.resource_separator import resource_separator
    from gnuradio.srsaoa.nr.resources import comb_plan, parse_resources

    a = frontend_params(CARRIER, {"c_srs": 12}).sequence
    b = frontend_params(CARRIER, {"c_srs": 12, "n_srs_id": 30}).sequence
    np.testing.assert_allclose(a, b, atol=1e-6)
    plan = comb_plan(
        parse_resources(
            [
                {"id": "a", "srs": {"c_srs": 12}},
                {"id": "b", "srs": {"c_srs": 12, "n_srs_id": 30, "cyclic_shift": 4}},
                {"id": "c", "srs": {"c_srs": 12, "n_srs_id": 31}},
            ]
        )
    )
    assert plan["a"]["group"] == ["b"] and plan["a"]["orthogonal"] == (4,)
    assert plan["c"]["group"] == [] and plan["a"]["clash"] == []
    clash = comb_plan(
        parse_resources([{"id": "a", "srs": {}}, {"id": "b", "srs": {"n_srs_id": 60}}])
    )
    assert clash["a"]["clash"] == ["b"]
    with pytest.raises(ValueError, match="cannot tell the UEs apart"):
        resource_separator(
            0, 8, [], True, 0.0, CARRIER.to_dict(), {"c_srs": 12}, [{"c_srs": 12, "n_srs_id": 30}]
        )


def test_wider_search_for_a_ue_with_its_own_timing():
    """A UE by sequence ID timed 30 delay bins (53 samples) after this one, outside this
    UE's cyclic-shift window (-9..26): the window search misses it (modelled at a wrong
    delay, it stays in the CFR); a search over the CP (search_bins) finds and removes it."""
    from gnuradio.srsaoa.nr.separation import search_bins

    cfgs = [{"c_srs": 12}, {"c_srs": 12, "n_srs_id": 5}]
    xs, hs, rng = _ues(cfgs, [1.2, 30.4], seed=10)
    n = np.sqrt(0.05) * (rng.standard_normal(hs[0].shape) + 1j * rng.standard_normal(hs[0].shape))
    y = xs[0] * hs[0] + xs[1] * hs[1] + n
    p = np.mean(np.abs(hs[0]) ** 2)
    narrow = separate_joint(y / xs[0], xs[0], xs[1:], 8)
    wide = separate_joint(y / xs[0], xs[0], xs[1:], 8, search=[None, search_bins(288, 8, 40)])
    assert narrow.bands[1][0] < 27 and abs(wide.bands[1][0] - 30.4) < 2
    # what is left besides this UE and its own noise: the other UE (about 0 dB) against
    # the noise in the other UE's dimensions (10 dB below, a few % of them)
    left = [np.mean(np.abs(r.h - hs[0] - n / xs[0]) ** 2) / p for r in (narrow, wide)]
    assert 10 * np.log10(left[0]) > -5
    assert 10 * np.log10(left[1]) < -20
    b = search_bins(288, 8, 40)
    assert b[0] == -49 and b[-1] == 66
    assert search_bins(72, 6, 40)[0] == -35 and search_bins(72, 6, 40)[-1] == 36
