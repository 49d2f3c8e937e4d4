"""The C++ AIC/MDL + ESPRIT kernel and block against their Python twins:
estimation.order.estimate_order and estimation.doa.estimate("esprit") (the oracle), and
the esprit_estimator block against order_estimator -> doa_estimator in a flowgraph."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio import srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.array.geometry import steering_vector
from gnuradio.srsaoa.blocks.pdu import make_pdu, parse_pdu
from gnuradio.srsaoa.estimation import doa, order
from gnuradio.srsaoa.estimation.covariance import covariance_from_cfr
from msg_tools import run_messages


def _covariance(rng, m, angles, snr_db, n, powers_db=None, spacing=0.5):
    """Sample covariance of n snapshots of independent sources in white noise."""
    a = steering_vector(m, spacing, np.asarray(angles, float))
    p = 10 ** (np.asarray(powers_db if powers_db is not None else [0.0] * len(angles)) / 10)
    s = rng.standard_normal((len(angles), n)) + 1j * rng.standard_normal((len(angles), n))
    s *= np.sqrt(p[:, None] / 2)
    sigma = 10 ** (-snr_db / 20)
    w = sigma * (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / np.sqrt(2)
    x = a @ s + w
    return (x @ x.conj().T / n).astype(np.complex64), float(n)


def _cases(rng):
    cases = []
    for m in (3, 4, 6):
        for angles, pw in (
            ([23.4], None),
            ([-40.0, 10.0], [0.0, -6.0]),
            ([5.0, 6.0], None),  # closer than the array resolves: pruning
            ([-60.0, 0.0, 35.0], [0.0, -3.0, -9.0]),
        ):
            if len(angles) >= m:
                continue
            for snr in (-5.0, 10.0, 30.0):
                for n in (16, 1000):
                    cases.append((m, angles, pw, snr, n, rng.integers(1 << 30)))
    return cases


CASES = _cases(np.random.default_rng(13))


@pytest.mark.parametrize(("m", "angles", "pw", "snr", "n", "seed"), CASES)
def test_kernel_equals_the_python_twin(m, angles, pw, snr, n, seed):
    rng = np.random.default_rng(seed)
    r, ns = _covariance(rng, m, angles, snr, n, pw)
    r128 = r.astype(np.complex128)
    for method in ("aic", "mdl"):
        want = order.estimate_order(r128, ns, method)
        assert srsaoa.esprit_kernel.estimate_order(r128, ns, method == "mdl") == want
    k = srsaoa.esprit_kernel(0.5, True, -90.0, 90.0)
    for d in range(0, m):
        for tls in (True, False):
            ref = doa.estimate("esprit", covariance=r128, order=d, n_snapshots=ns, tls=tls)
            got = srsaoa.esprit_kernel(0.5, tls).estimate(r128, d, ns)
            assert got.order == ref.order
            np.testing.assert_allclose(got.aoa_deg, ref.aoa_deg, rtol=0, atol=1e-7)
            np.testing.assert_allclose(got.power, ref.power, rtol=1e-7, atol=1e-12)
            np.testing.assert_allclose(got.crb_deg, ref.crb_deg, rtol=1e-6)
            assert got.noise_power == pytest.approx(ref.noise_power, rel=1e-9, abs=1e-15)
            if np.isfinite(ref.snr_db):
                assert got.snr_db == pytest.approx(ref.snr_db, rel=1e-9)
            else:
                assert np.isnan(got.snr_db) == np.isnan(ref.snr_db)
    assert k.estimate(r128, 0, ns).aoa_deg == []


def test_kernel_field_of_view_and_unknown_snapshots():
    rng = np.random.default_rng(7)
    r, ns = _covariance(rng, 4, [-50.0, 20.0], 20.0, 500)
    ref = doa.estimate("esprit", covariance=r, order=2, fov_deg=(-30.0, 60.0))
    got = srsaoa.esprit_kernel(0.5, True, -30.0, 60.0).estimate(r.astype(complex), 2)
    np.testing.assert_allclose(got.aoa_deg, ref.aoa_deg, atol=1e-7)
    assert got.crb_deg == [] and ref.crb_deg.size == 0  # no snapshot count: no bound


@pytest.mark.parametrize(
    ("r", "match"),
    [
        (np.zeros((4, 4)), "all zeros"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.eye(4)[:3], "square"),
    ],
)
def test_kernel_refuses_what_the_twin_refuses(r, match):
    k = srsaoa.esprit_kernel(0.5)
    with pytest.raises(ValueError, match=match):
        k.estimate(r, 1, 100.0)
    with pytest.raises(ValueError):
        doa.estimate("esprit", covariance=r, order=1, n_snapshots=100.0)
    with pytest.raises(ValueError, match="too large"):
        k.estimate(np.eye(4), 4, 100.0)
    with pytest.raises(ValueError):
        srsaoa.esprit_kernel(0.0)
    with pytest.raises(ValueError):
        srsaoa.esprit_kernel(0.5, True, 10.0, -10.0)


def _run(chain, msgs):
    """Post msgs into the first block's covariance port of a running flowgraph; the metas of
    the last block's estimates and of its skip notices, once there is one per input and the
    flowgraph has ended."""
    connections = [
        ((a, K.PORT_COVARIANCE), (b, K.PORT_COVARIANCE)) for a, b in zip(chain[:-1], chain[1:])
    ]
    out = run_messages(
        [(chain[0], K.PORT_COVARIANCE, m) for m in msgs],
        [(chain[-1], K.PORT_ESTIMATE), (chain[-1], K.PORT_SKIPPED)],
        len(msgs),
        connections,
    )
    metas = [parse_pdu(m)[0] for m in out]
    return [m for m in metas if K.SKIPPED not in m], [m for m in metas if K.SKIPPED in m]


def test_block_equals_order_and_doa_estimator_blocks():
    """Covariance PDUs through esprit_estimator (C++) give the same estimate PDUs as
    order_estimator -> doa_estimator (Python) with method esprit."""
    rng = np.random.default_rng(3)
    msgs = []
    for i in range(40):
        angles = [rng.uniform(-60, 60)] + ([rng.uniform(-60, 60)] if i % 3 == 0 else [])
        r, n = _covariance(rng, 4, angles, rng.uniform(0, 25), 200)
        meta = {
            K.SRS_OCCASION: i,
            K.SAMPLE_INDEX: 1000 * i,
            K.NUM_SNAPSHOTS: n,
            K.SNR_DB: 12.5,
            K.RX_TIME: (5, 0.25),
            K.OCCASIONS: 1 + i % 4,  # as covariance_accumulator: passed on when > 1
        }
        msgs.append(make_pdu(meta, r.ravel()))
    cpp, _ = _run([srsaoa.esprit_estimator(0.5, 0, "aic", 0, True, -90.0, 90.0, 0)], msgs)
    py, _ = _run([srsaoa.order_estimator("aic"), srsaoa.doa_estimator("esprit", 0.5)], msgs)
    assert len(cpp) == len(py) == 40
    cpp.sort(key=lambda d: d[K.SRS_OCCASION])
    py.sort(key=lambda d: d[K.SRS_OCCASION])
    for c, p in zip(cpp, py):
        assert set(c) == set(p)
        assert (K.OCCASIONS in c) == (c[K.SRS_OCCASION] % 4 > 0)
        for key in (K.METHOD, K.ORDER, K.SRS_OCCASION, K.SAMPLE_INDEX, K.SNR_DB):
            assert c[key] == p[key]
        if K.OCCASIONS in c:
            assert int(c[K.OCCASIONS]) == int(p[K.OCCASIONS]) == 1 + c[K.SRS_OCCASION] % 4
        assert tuple(c[K.RX_TIME]) == tuple(p[K.RX_TIME])
        for key in (K.AOA_DEG, K.POWER, K.CRB_DEG):
            assert c[key].dtype == p[key].dtype == np.float32
            np.testing.assert_allclose(c[key], p[key], rtol=1e-5, atol=1e-5)


def test_block_announces_inputs_without_an_estimate():
    bad = make_pdu({K.SRS_OCCASION: 1, K.SAMPLE_INDEX: 10}, np.zeros(16, np.complex64))
    short = make_pdu({K.SRS_OCCASION: 2, K.SAMPLE_INDEX: 20}, np.ones(5, np.complex64))
    est, skipped = _run([srsaoa.esprit_estimator()], [bad, short])
    assert est == [] and len(skipped) == 2
    assert [m[K.SAMPLE_INDEX] for m in skipped] == [10, 20]
    assert all(m[K.METHOD] == "esprit" and m[K.SKIPPED] for m in skipped)
    with pytest.raises(ValueError):
        srsaoa.esprit_estimator(0.5, -1)
    with pytest.raises(ValueError):
        srsaoa.esprit_estimator(0.5, 0, "bic")
    with pytest.raises(ValueError):
        srsaoa.esprit_estimator(0.5, 0, "aic", 0, True, -90.0, 90.0, -1)


# --------------------------------------------------------------------------- 2D-ESPRIT


def _cfr(rng, m, s, k, paths, snr_db, step=60e3):
    f = np.arange(k) * step
    h = np.zeros((m, s, k), complex)
    for th, tau, g in paths:
        a = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.deg2rad(th)))
        ph = np.exp(2j * np.pi * rng.uniform(size=s))
        h += g * a[:, None, None] * ph[None, :, None] * np.exp(-2j * np.pi * f * tau)[None, None]
    sigma = 10 ** (-snr_db / 20)
    h += sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    return h.astype(np.complex64), f


CASES_2D = [
    (4, 4, 96, [(23.4, 0.0, 1.0)], 10.0, 1, True, 0, (-90.0, 90.0)),
    (4, 2, 288, [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)], 15.0, 2, True, 0, (-90.0, 90.0)),
    (4, 1, 64, [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)], 20.0, 2, False, 0, (-90.0, 90.0)),
    (3, 4, 48, [(40.0, 50e-9, 1.0)], 0.0, 1, True, 6, (-90.0, 90.0)),
    (
        6,
        2,
        120,
        [(-50.0, 0.0, 1.0), (10.0, 200e-9, 0.5), (45.0, 80e-9, 0.4)],
        25.0,
        3,
        True,
        0,
        (-90.0, 90.0),
    ),
    (4, 4, 96, [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)], 15.0, 2, True, 0, (-20.0, 90.0)),
    (4, 4, 96, [(23.4, 0.0, 1.0)], 10.0, 0, True, 0, (-90.0, 90.0)),
]


@pytest.mark.parametrize(("m", "s", "k", "paths", "snr", "order", "tls", "p", "fov"), CASES_2D)
def test_2d_kernel_equals_the_python_twin(rng, m, s, k, paths, snr, order, tls, p, fov):
    h, f = _cfr(rng, m, s, k, paths, snr)
    ref = doa.estimate(
        "2d-esprit",
        cfr=h,
        subcarrier_hz=f,
        order=order,
        n_snapshots=s * k,
        tls=tls,
        smoothing=p or None,
        fov_deg=fov,
    )
    got = srsaoa.esprit2d_kernel(0.5, tls, fov[0], fov[1], p).estimate(h, f.tolist(), order)
    assert got.order == ref.order
    np.testing.assert_allclose(got.aoa_deg, ref.aoa_deg, rtol=0, atol=1e-6)
    if order:
        np.testing.assert_allclose(got.delay_s, ref.delay_s, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got.power, ref.power, rtol=1e-6)
    np.testing.assert_allclose(got.crb_deg, ref.crb_deg, rtol=1e-5)
    assert got.noise_power == pytest.approx(ref.noise_power, rel=1e-9)
    if np.isnan(ref.snr_db):
        assert np.isnan(got.snr_db)
    else:
        assert got.snr_db == pytest.approx(ref.snr_db, rel=1e-9)


def test_2d_kernel_automatic_order_and_refusals(rng):
    h, f = _cfr(rng, 4, 2, 96, [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)], 20.0)
    r, n = covariance_from_cfr(h)
    for mdl in (False, True):
        want = order.estimate_order(r, n, "mdl" if mdl else "aic")
        assert srsaoa.esprit2d_kernel(0.5).estimate(h, f.tolist(), -1, mdl).order == want
    k = srsaoa.esprit2d_kernel(0.5)
    bad = h.copy()
    bad[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        k.estimate(bad, f.tolist(), 1)
    f2 = f.copy()
    f2[10] += 7e3
    with pytest.raises(ValueError, match="uniformly spaced"):
        k.estimate(h, f2.tolist(), 1)
    with pytest.raises(ValueError, match="subcarrier frequencies"):
        k.estimate(h, f[:-1].tolist(), 1)
    with pytest.raises(ValueError, match="too large"):
        k.estimate(h, f.tolist(), 100)
    with pytest.raises(ValueError):
        srsaoa.esprit2d_kernel(0.5, True, -90.0, 90.0, 1)
