"""spatial_spectrum block in real flowgraphs: PDUs in, dB spectrum vectors out, against the math.

The expected spectra are written out here from their definitions (DESIGN section 3 steering
vector a_m = exp(+j 2 pi m (d/lambda) sin theta); Bartlett a^H R a / M; MUSIC
1 / (a^H E_n E_n^H a), Spanos eq 5), not taken from estimation.doa. The block's output is
float32 dB, so outputs agree to float32 rounding of numbers of order 40 dB: 1e-3 dB.
"""

from __future__ import annotations

import threading

import numpy as np
import pmt
import pytest
from gnuradio import gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu
from msg_tools import VectorCollector, WatchedLock, await_outputs, post, post_done

M = 4
GRID = np.arange(-60.0, 60.0 + 1e-9, 0.5)  # the block's default grid
FLOOR = -40.0
TOL_DB = 1e-3  # float32 output of values |x| <= 40 dB (float32 resolution ~ 4e-6 dB) + LAPACK


def steer(theta_deg, spacing=0.5, m=M):
    th = np.deg2rad(np.atleast_1d(theta_deg))
    return np.exp(2j * np.pi * spacing * np.arange(m)[:, None] * np.sin(th)[None, :])


def to_db(p):
    return np.maximum(10 * np.log10(p / p.max()), FLOOR)


def covariance(angles, powers, noise, spacing=0.5):
    a = steer(angles, spacing)
    return a @ np.diag(powers) @ a.conj().T + noise * np.eye(M)


def expected_dbf(r, spacing=0.5):
    a = steer(GRID, spacing)
    r = np.asarray(r, np.complex128)
    return to_db(np.real(np.einsum("ml,mn,nl->l", a.conj(), r, a)) / M)


def expected_music(r, d, spacing=0.5):
    w, v = np.linalg.eigh(np.asarray(r, np.complex128))
    en = v[:, : M - d]  # eigenvalues ascending: the M - d smallest span the noise subspace
    a = steer(GRID, spacing)
    return to_db(1.0 / np.sum(np.abs(en.conj().T @ a) ** 2, axis=0))


def run(blk, posts, expect, max_items=0):
    """Queue (port, msg) pairs and the system "done" message, then run the flowgraph: it
    ends by itself once the block has turned every PDU into its vector; (vectors, tags)."""
    tb = gr.top_block()
    snk = VectorCollector(blk.grid_deg().size)
    tb.connect(blk, snk)
    if max_items:
        blk.set_max_noutput_items(max_items)
    for port, msg in posts:
        post(blk, port, msg)
    post_done(blk)  # queued before the start: handled after everything above
    tb.run()
    assert snk.count() == expect
    return snk.data(), snk.tags("srs_occasion")


def test_dbf_several_covariance_pdus_in_a_row():
    rng = np.random.default_rng(1)
    angles = rng.uniform(-50, 50, 12)
    rs = [covariance([t], [1.0], 0.05) for t in angles]
    posts = [
        (K.PORT_COVARIANCE, make_pdu({K.SRS_OCCASION: i, K.NUM_SNAPSHOTS: 100.0}, r))
        for i, r in enumerate(rs)
    ]
    # max_noutput_items 1: every vector goes out in its own work() call, order must hold
    for max_items in (0, 1):
        out, tags = run(srsaoa.spatial_spectrum("dbf", 0.5), posts, len(rs), max_items)
        assert out.shape == (len(rs), GRID.size)
        for row, r in zip(out, rs):
            np.testing.assert_allclose(row, expected_dbf(r.astype(np.complex64)), atol=TOL_DB)
        assert tags == [(i, i) for i in range(len(rs))]
        # one source: the Bartlett peak is at the grid point nearest the angle
        np.testing.assert_array_less(np.abs(GRID[out.argmax(1)] - angles), 0.25 + 1e-9)


def test_music_order_from_aic_and_from_meta():
    # two sources at -20.2 and 35.3 deg (off the grid: at a grid point the MUSIC null of an
    # exact R is rounding noise), noise 0.01: with N = 1000 snapshots the exact R has
    # eigenvalue gaps of >20 dB, AIC picks 2 without doubt
    r = covariance([-20.2, 35.3], [1.0, 0.5], 0.01)
    r32 = r.astype(np.complex64)
    posts = [
        (K.PORT_COVARIANCE, make_pdu({K.NUM_SNAPSHOTS: 1000.0}, r32)),  # AIC -> 2
        (K.PORT_COVARIANCE, make_pdu({K.ORDER: 1}, r32)),  # order_estimator's meta
        (K.PORT_COVARIANCE, make_pdu({K.ORDER: 0, K.NUM_SNAPSHOTS: 10.0}, r32)),  # 0 -> 1
    ]
    out, tags = run(srsaoa.spatial_spectrum("music", 0.5, -60, 60, 0.5, 0), posts, 3)
    assert tags == []  # no srs_occasion in these PDUs
    np.testing.assert_allclose(out[0], expected_music(r32, 2), atol=TOL_DB)
    np.testing.assert_allclose(out[1], expected_music(r32, 1), atol=TOL_DB)
    np.testing.assert_allclose(out[2], expected_music(r32, 1), atol=TOL_DB)
    peaks = np.sort(GRID[np.argsort(out[0])[-2:]])
    np.testing.assert_allclose(peaks, [-20.0, 35.5])  # nearest grid points
    # a fixed order overrides the PDU's
    out, _ = run(
        srsaoa.spatial_spectrum("music", 0.5, -60, 60, 0.5, 2),
        [(K.PORT_COVARIANCE, make_pdu({K.ORDER: 1}, r32))],
        1,
    )
    np.testing.assert_allclose(out[0], expected_music(r32, 2), atol=TOL_DB)


def test_cfr_port_until_covariance_arrives_and_other_grid():
    rng = np.random.default_rng(2)
    spacing, grid = 0.4, np.arange(-80.0, 80.0 + 1e-9, 2.0)
    a = steer([12.0], spacing)[:, 0]
    g = rng.standard_normal((3, 40)) + 1j * rng.standard_normal((3, 40))
    h = a[:, None, None] * g[None] + 0.1 * (
        rng.standard_normal((M, 3, 40)) + 1j * rng.standard_normal((M, 3, 40))
    )
    h = h.astype(np.complex64)
    blk = srsaoa.spatial_spectrum("dbf", spacing, -80.0, 80.0, 2.0, 0, "default", FLOOR)
    np.testing.assert_allclose(blk.grid_deg(), grid)
    r_cov = covariance([-30.0], [1.0], 0.1, spacing).astype(np.complex64)
    # each port has its own queue, so the PDUs go in one at a time, as occasions would
    tb = gr.top_block()
    snk = VectorCollector(grid.size)
    tb.connect(blk, snk)
    tb.start()
    for port, msg, total in [
        (K.PORT_CFR, make_cfr_pdu(h, {K.SRS_OCCASION: 5}), 1),
        (K.PORT_COVARIANCE, make_pdu({K.SRS_OCCASION: 6}, r_cov), 2),
        (K.PORT_CFR, make_cfr_pdu(h, {K.SRS_OCCASION: 7}), 2),  # ignored from now on
    ]:
        post(blk, port, msg)
        if not snk.wait_for(total):
            break  # await_outputs fails the test
    await_outputs(tb, snk, 2, [blk])  # "done" after the ignored CFR: nothing more comes
    out = snk.data()
    assert out.shape[0] == 2 and snk.tags() == [(0, 5), (1, 6)]
    x = h.reshape(M, -1).astype(np.complex128)
    r_cfr = x @ x.conj().T / x.shape[1]  # every column a snapshot
    ag = steer(grid, spacing)
    for row, r in zip(out, (r_cfr, r_cov)):
        want = np.maximum(
            10 * np.log10(np.real(np.einsum("ml,mn,nl->l", ag.conj(), r, ag)) / M), -np.inf
        )
        np.testing.assert_allclose(row, np.maximum(want - want.max(), FLOOR), atol=TOL_DB)
    assert grid[out[0].argmax()] == 12.0 and grid[out[1].argmax()] == -30.0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A small MoD-DNN trained for one epoch on a 1-degree grid (the block only has to show
    the model's spectrum, whatever its accuracy)."""
    import torch
    from gnuradio.srsaoa.moddnn import data as D
    from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig
    from gnuradio.srsaoa.moddnn.model import subcarrier_indices
    from gnuradio.srsaoa.moddnn.modelfile import save_model
    from gnuradio.srsaoa.moddnn.train import train

    torch.set_num_threads(1)
    cfg = ModelConfig(grid_step_deg=1.0, outer_iterations=2, cg_iterations=6)
    f = D.default_srs_subcarriers_hz()
    fk = f[subcarrier_indices(f.size, cfg.num_subcarriers)]
    ds = D.simulate(np.arange(-60, 60.01, 2.0), 10.0, np.random.default_rng(5), subcarriers_hz=fk)
    model, _ = train(
        cfg, TrainConfig(epochs=1, autoencoder_epochs=1, seed=2), ds, None, progress=False
    )
    path = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, path)
    return str(path)


def test_moddnn_spectrum(tiny_model):
    import torch
    from gnuradio.srsaoa.moddnn import data as D
    from gnuradio.srsaoa.moddnn.modelfile import load_model

    net, _ = load_model(tiny_model)
    h = D.simulate([-31.0, 8.0], 20.0, np.random.default_rng(3)).cfr.astype(np.complex64)
    grid = np.arange(-60.0, 60.0 + 1e-9, 1.0)  # the model's grid
    blk = srsaoa.spatial_spectrum("moddnn", 0.5, -60.0, 60.0, 1.0, 0, tiny_model, FLOOR)
    r = covariance([0.0], [1.0], 0.1).astype(np.complex64)
    posts = [(K.PORT_COVARIANCE, make_pdu({}, r))]  # MoD-DNN ignores covariance PDUs
    posts += [(K.PORT_CFR, make_cfr_pdu(x, {K.SRS_OCCASION: i})) for i, x in enumerate(h)]
    out, tags = run(blk, posts, 2)
    assert out.shape == (2, grid.size) and tags == [(0, 0), (1, 1)]
    # the block runs the numpy lowering (moddnn.lowered, checked against PyTorch to 1e-6 in
    # test_moddnn_lowered); PyTorch is the oracle here
    torch.set_num_threads(1)
    with torch.no_grad():
        s = np.stack([net.spectrum(x[None]).numpy()[0] for x in h]).astype(np.float64)
    np.testing.assert_allclose(net.cfg.grid_deg, grid)
    # float32 lowering against float32 PyTorch: the SCG solve ((P + lambda I) with lambda ~
    # 0.1 on a unit-diagonal P: condition ~ 1e2) over ~24 iterations amplifies float32's
    # 6e-8 to at most ~2e-4 of the peak, i.e. 10 log10(1 + 2e-4 / x) dB at a level x
    for row, si in zip(out, s):
        lin = np.maximum(si, 0) / si.max()
        with np.errstate(divide="ignore"):
            want = np.maximum(10 * np.log10(lin), FLOOR)
        tol = TOL_DB + 10 * np.log10(1 + 2e-4 / np.maximum(lin, 10 ** (FLOOR / 10)))
        assert np.all(np.abs(row - want) <= tol), np.max(np.abs(row - want) - tol)
    # the spectrum's maximum is where the model's estimate starts (centroid within +-1 deg)
    est = net.estimate(h)
    np.testing.assert_array_less(np.abs(grid[out.argmax(1)] - est), 1.0 + 1e-9)


def test_moddnn_unloadable_model_gives_floor_vectors(tmp_path):
    (tmp_path / "broken.json").write_text("{}")
    blk = srsaoa.spatial_spectrum("moddnn", 0.5, -60.0, 60.0, 1.0, 0, str(tmp_path / "broken"))
    h = np.ones((M, 1, 32), np.complex64)
    out, _ = run(blk, [(K.PORT_CFR, make_cfr_pdu(h, {})) for _ in range(2)], 2)
    assert out.shape[0] == 2 and np.all(out == FLOOR)


def test_moddnn_coarser_grid_keeps_the_peak():
    from gnuradio.srsaoa.blocks.spatial_spectrum import resample_peaks

    src = np.arange(-60.0, 60.01, 0.5)
    s = np.zeros(src.size)
    s[src == 20.5] = 1.0  # a peak between two points of a 2-degree grid
    grid = np.arange(-70.0, 70.01, 2.0)
    out = resample_peaks(src, s, grid)
    assert out[grid == 20.0] == 1.0  # 20.5 falls in the bin of 20 deg
    assert np.all(np.isneginf(out[np.abs(grid) > 60]))  # outside the model's span
    assert np.all(out[(np.abs(grid) <= 60) & (grid != 20.0)] < 1.0)


def test_malformed_and_failing_pdus():
    r = covariance([10.0], [1.0], 0.1).astype(np.complex64)
    bad_h = np.full((M, 1, 8), np.nan, np.complex64)
    blk = srsaoa.spatial_spectrum("dbf")
    tb = gr.top_block()
    snk = VectorCollector(blk.grid_deg().size)
    tb.connect(blk, snk)
    tb.start()
    # GNU Radio gives messages on different ports no order: post one port at a time
    post(blk, K.PORT_COVARIANCE, pmt.intern("not a pdu"))  # dropped, no output
    post(blk, K.PORT_CFR, make_cfr_pdu(bad_h, {K.SRS_OCCASION: 1}))  # floor vector
    if snk.wait_for(1):
        # after "not a pdu" on the same port: its output shows both were handled
        post(blk, K.PORT_COVARIANCE, make_pdu({K.SRS_OCCASION: 2}, r))
    await_outputs(tb, snk, 2, [blk])
    out = snk.data()
    tags = snk.tags("srs_occasion")
    assert out.shape[0] == 2 and tags == [(0, 1), (1, 2)]
    assert np.all(out[0] == FLOOR)
    np.testing.assert_allclose(out[1], expected_dbf(r), atol=TOL_DB)


def test_constructor_and_setters_validate(tmp_path):
    bad = [
        dict(method="esprit"),
        dict(spacing_wavelengths=0.0),
        dict(fov_min_deg=-90.0),
        dict(fov_max_deg=95.0),
        dict(grid_step_deg=0.0),
        dict(grid_step_deg=0.7),  # 120 / 0.7 is not an integer
        dict(fov_min_deg=10.0, fov_max_deg=10.5),  # fewer than 3 points
        dict(order=-1),
        dict(order=1.5),
        dict(method="moddnn", model=str(tmp_path / "missing")),
        dict(model=3),
        dict(floor_db=0.0),
        dict(floor_db=float("nan")),
    ]
    for kw in bad:
        with pytest.raises(ValueError):
            srsaoa.spatial_spectrum(**kw)
    blk = srsaoa.spatial_spectrum("dbf", model=str(tmp_path / "missing"))  # unused: fine
    with pytest.raises(ValueError):
        blk.set_method("moddnn")  # ... until MoD-DNN is switched on
    blk = srsaoa.spatial_spectrum()
    assert blk.grid_deg().size == GRID.size
    for call in (
        lambda: blk.set_method("2d-esprit"),
        lambda: blk.set_order(-2),
        lambda: blk.set_spacing_wavelengths(-1),
        lambda: blk.set_floor_db(3.0),
    ):
        with pytest.raises(ValueError):
            call()
    blk.set_method("MUSIC")
    blk.set_order(2)
    blk.set_floor_db(-60.0)


def test_handler_reads_the_settings_under_the_lock():
    """The setters run in the caller's thread (GRC callbacks), the handler in the block's:
    the handler takes its copy of the settings under the same lock."""
    blk = srsaoa.spatial_spectrum("dbf")
    blk._lock = WatchedLock()
    r = covariance([10.0], [1.0], 0.1).astype(np.complex64)
    out, _ = run(blk, [(K.PORT_COVARIANCE, make_pdu({}, r))], 1)
    np.testing.assert_allclose(out[0], expected_dbf(r), atol=TOL_DB)
    assert blk._lock.threads - {threading.get_ident()}, "the handler never took the lock"


def test_old_grid_keywords_still_work_with_a_deprecation_warning():
    """grid_start_deg / grid_stop_deg, the names before fov_min_deg / fov_max_deg (the DoA
    and ESPRIT estimators' names), give the same grid and a DeprecationWarning."""
    new = srsaoa.spatial_spectrum(fov_min_deg=-30.0, fov_max_deg=40.0, grid_step_deg=1.0)
    with pytest.warns(DeprecationWarning) as caught:
        old = srsaoa.spatial_spectrum(grid_start_deg=-30.0, grid_stop_deg=40.0, grid_step_deg=1.0)
    assert sorted(str(w.message).split("=")[0] for w in caught) == [
        "grid_start_deg",
        "grid_stop_deg",
    ]
    np.testing.assert_array_equal(old.grid_deg(), new.grid_deg())
    assert old.grid_deg()[0] == -30.0 and old.grid_deg()[-1] == 40.0
    with pytest.raises(TypeError, match="not both"):
        srsaoa.spatial_spectrum(fov_min_deg=-30.0, grid_start_deg=-30.0)
