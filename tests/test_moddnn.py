"""MoD-DNN mechanics: SCG layer (Algorithm 1), coarray layer, autoencoder routing, training,
model files and export. Accuracy is shown by benchmarks/bench_moddnn.py, not here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gnuradio.srsaoa.errors import ModelFileError
from gnuradio.srsaoa.estimation.coarray import coarray_manifold, coarray_spectrum, projection_matrix
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig
from gnuradio.srsaoa.moddnn.model import (
    MoDDNN,
    autoencoder_targets,
    one_hot_targets,
    prepare_cfr,
    prepare_input,
    prepare_input_with_part,
    subcarrier_indices,
    subregion_of,
)
from gnuradio.srsaoa.moddnn.modelfile import export_torchscript, load_model, save_model
from gnuradio.srsaoa.moddnn.scg import scg_solve
from gnuradio.srsaoa.moddnn.train import predict, rmse, train

TINY = ModelConfig(grid_step_deg=1.0, outer_iterations=2, cg_iterations=6)


def _freqs(cfg: ModelConfig) -> np.ndarray:
    f = D.default_srs_subcarriers_hz()
    return f[subcarrier_indices(f.size, cfg.num_subcarriers)]


def _dataset(angles, snr_db, seed, cfg=TINY, rho=1.0):
    rng = np.random.default_rng(seed)
    return D.simulate(np.asarray(angles, float), snr_db, rng, rho=rho, subcarriers_hz=_freqs(cfg))


def _proj(m: int, grid: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(projection_matrix(coarray_manifold(m, 0.5, grid)).real)


# ---------------------------------------------------------------- SCG layer (Algorithm 1)


def test_scg_without_sparsity_solves_eq21(rng):
    # P = A~^H A~ of a 4-element coarray on 40 grid points: PSD with 2M-1 = 7 nonzero
    # eigenvalues, so (P + lam I) has 8 distinct eigenvalues and CG is exact after 8 steps in
    # exact arithmetic; 20 steps in float64 leave only round-off (relative 1e-10 allowed).
    p = _proj(4, np.linspace(-60, 60, 40))
    b = torch.from_numpy(rng.standard_normal((5, 40)))
    eta = scg_solve(p, b, 0.1, iterations=20, sparsity=False)
    want = torch.linalg.solve(p + 0.1 * torch.eye(40, dtype=p.dtype), b.T).T
    assert torch.allclose(eta, want, rtol=0, atol=1e-10 * float(want.abs().max()))
    resid = (eta @ p + 0.1 * eta - b).norm(dim=-1) / b.norm(dim=-1)
    assert float(resid.max()) < 1e-10
    # mu = 0 is the same as switching the step off
    assert torch.equal(scg_solve(p, b, 0.1, mu=0.0, iterations=20), eta)


def test_scg_per_branch_matrices(rng):
    # A batch of branches [B, Pb, L] with one P per branch equals solving each branch alone.
    grids = [np.linspace(-60, -30, 16), np.linspace(-30, 0, 16)]
    p = torch.stack([_proj(4, g) for g in grids])
    b = torch.from_numpy(rng.standard_normal((3, 2, 16)))
    eta = scg_solve(p, b, 0.1, 0.5, 1e-3, iterations=10, sparsity=True)
    for i in range(2):
        alone = scg_solve(p[i], b[:, i], 0.1, 0.5, 1e-3, iterations=10, sparsity=True)
        assert torch.allclose(eta[:, i], alone, atol=1e-12)


def test_scg_zero_attractor_follows_eq29():
    # One step by hand: eta(1) = eta(0) + alpha c - mu sgn(eta(0)) / (1 + eps ||eta(0)||_1)
    # with eta(0) = 0, so the first step is plain CG; the second step subtracts the attractor.
    p = _proj(3, np.linspace(-40, 40, 7))
    b = torch.linspace(-1, 2, 7, dtype=torch.float64)[None]
    lam, eps, mu = 0.1, 0.5, 0.05
    a = p + lam * torch.eye(7, dtype=p.dtype)
    g = -b
    c = b.clone()
    alpha = -(g * c).sum() / (c @ a @ c.T).sum()
    eta1 = alpha * c
    g1 = eta1 @ a - b
    beta = ((g1 - g) * g1).sum() / (g * g).sum()
    c1 = -g1 + beta * c
    alpha1 = -(g1 * c1).sum() / (c1 @ a @ c1.T).sum()
    eta2 = eta1 + alpha1 * c1 - mu * torch.sign(eta1) / (1 + eps * eta1.abs().sum())
    got = scg_solve(p, b, lam, eps, mu, iterations=2, sparsity=True)
    assert torch.allclose(got, eta2, atol=1e-12)


def test_scg_gradcheck(rng):
    # Gradients of the unrolled SCG (eq 32 backpropagates through it) against finite differences,
    # with the zero-attracting step on (sgn is locally constant away from 0) and off.
    p = _proj(3, np.linspace(-50, 50, 6))
    b = torch.from_numpy(rng.standard_normal((2, 6)) + 2.0).requires_grad_()
    mu = torch.tensor(0.02, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda b_, mu_: scg_solve(p, b_, 0.1, 0.5, mu_, iterations=4, sparsity=True), (b, mu)
    )
    assert torch.autograd.gradcheck(
        lambda b_: scg_solve(p, b_, 0.1, iterations=4, sparsity=False), (b,)
    )


# ---------------------------------------------------------------- coarray layer and layout


def test_coarray_layer_matches_eq14(rng):
    # The torch layer's eta_hat_p equals estimation.coarray's A~^H vec(R) on each subregion grid.
    cfg = TINY
    net = MoDDNN(cfg)
    hp = torch.from_numpy(rng.standard_normal((2, cfg.num_subregions, 3, 16, 8)).astype(np.float32))
    got = net.coarray(hp).double().numpy() * 16  # the layer divides by M^2 (unit-norm atoms)
    x = hp.double().numpy()
    h = x[..., :4] + 1j * x[..., 4:]
    for b in range(2):
        for p, (s, e) in enumerate(cfg.subregion_bounds()):
            snaps = h[b, p].reshape(-1, 4)
            r = snaps.T @ snaps.conj() / snaps.shape[0]
            want = coarray_spectrum(r, coarray_manifold(4, 0.5, cfg.grid_deg[s:e])).real
            np.testing.assert_allclose(got[b, p, : e - s], want, rtol=1e-4, atol=1e-4)
            assert np.all(got[b, p, e - s :] == 0)


def test_projection_matrix_normalised():
    # P_p = A~_p^H A~_p / M^2: unit diagonal, and a noise-free single path gives eta_hat = P e.
    net = MoDDNN(TINY)
    for i, (s, e) in enumerate(TINY.subregion_bounds()):
        assert torch.allclose(torch.diagonal(net.coarray.proj[i])[: e - s], torch.ones(e - s))
    ideal = D.simulate([-44.0, 17.0], None, np.random.default_rng(1), rho=0.0,
                       subcarriers_hz=_freqs(TINY), profile=_ideal_profile())  # fmt: skip
    x = prepare_cfr(ideal.cfr, TINY)
    hp = autoencoder_targets(x, ideal.aoa_deg, TINY)
    eta_hat = net.coarray(hp)
    t = one_hot_targets(ideal.aoa_deg, TINY)
    want = torch.einsum("bpl,plm->bpm", t, net.coarray.proj)
    assert torch.allclose(eta_hat, want, atol=1e-5)


def _ideal_profile():
    from gnuradio.srsaoa.array.impairments import ImpairmentProfile

    return ImpairmentProfile.ideal(4)


def test_autoencoder_targets_pass_each_path_to_its_own_subregion(rng):
    """Eq 10 per path: the prepared input is linear in the CFR once its reference phase and
    scale are fixed, so a path's share is exact; with it the targets put that share in its
    own subregion and the rest in the LOS's, and still add up to the input."""
    los = rng.standard_normal((3, 4, 2, 40)) + 1j * rng.standard_normal((3, 4, 2, 40))
    refl = 0.5 * (rng.standard_normal((3, 4, 2, 40)) + 1j * rng.standard_normal((3, 4, 2, 40)))
    x, x_refl = prepare_input_with_part(los + refl, refl, TINY)
    _, x_los = prepare_input_with_part(los + refl, los, TINY)
    np.testing.assert_allclose(x, prepare_input(los + refl, TINY), atol=1e-6)
    np.testing.assert_allclose(x_los + x_refl, x, atol=1e-5)
    aoa, refl_aoa = [-45.0, 10.0, 40.0], [-10.0, 15.0, np.nan]  # other, same, no reflection
    t = autoencoder_targets(torch.from_numpy(x), aoa, TINY, torch.from_numpy(x_refl), refl_aoa)
    xt, xr, xl = torch.from_numpy(x), torch.from_numpy(x_refl), torch.from_numpy(x_los)
    assert torch.allclose(t.sum(1), xt, atol=1e-5)
    assert torch.allclose(t[0, 0], xl[0], atol=1e-5) and torch.allclose(t[0, 1], xr[0])
    assert torch.allclose(t[1, 2], xt[1], atol=1e-6) and torch.allclose(t[2, 3], xt[2])
    for b, p in ((0, (2, 3)), (1, (0, 1, 3)), (2, (0, 1, 2))):
        assert all(float(t[b, q].abs().max()) == 0.0 for q in p)
    with pytest.raises(ValueError):
        prepare_input_with_part(los, refl[..., :20], TINY)


def test_subregions_and_labels():
    cfg = ModelConfig()  # paper: L = 1201 points, P = 4, floor(L p / P) boundaries
    assert cfg.subregion_bounds() == [(0, 300), (300, 600), (600, 900), (900, 1201)]
    assert list(subregion_of([-60, -30.1, -30, 0, 29.9, 30, 60], cfg)) == [0, 0, 1, 2, 2, 3, 3]
    t = one_hot_targets([-45.0, 12.3], cfg)
    assert t.shape == (2, 4, 301) and float(t.sum()) == 2.0
    assert t[0, 0, 150] == 1 and t[1, 2, 123] == 1


def test_prepare_cfr_invariances(rng):
    # The input is referred to element 0's phase and normalised: a common complex gain per
    # subcarrier does not change it.
    h = rng.standard_normal((4, 2, 40)) + 1j * rng.standard_normal((4, 2, 40))
    g = 3.0 * np.exp(1j * rng.uniform(0, 2 * np.pi, 40))
    a, b = prepare_cfr(h, TINY), prepare_cfr(h * g, TINY)
    assert a.shape == (1, 2, 16, 8)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose((a**2).sum(-1), torch.full((1, 2, 16), 4.0), atol=1e-5)
    with pytest.raises(ValueError):
        prepare_cfr(h[:3], TINY)
    with pytest.raises(ValueError):
        prepare_cfr(h[..., :10], TINY)


def test_config_validation():
    with pytest.raises(ValueError):
        ModelConfig(lam=0)
    with pytest.raises(ValueError):
        ModelConfig(cnn_channels=(4, 8, 4, 2))
    with pytest.raises(ValueError):
        ModelConfig(rhs="other")
    with pytest.raises(ValueError):
        ModelConfig.from_dict({**ModelConfig().to_dict(), "bogus": 1})
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()
    on = ModelConfig(nonnegative=True)
    assert ModelConfig.from_dict(on.to_dict()) == on
    # a model file written before the projection existed is Algorithm 1 as written
    old = {k: v for k, v in on.to_dict().items() if k != "nonnegative"}
    assert ModelConfig.from_dict(old).nonnegative is False
    assert load_model("default")[0].cfg.nonnegative is False


# ---------------------------------------------------------------- training


@pytest.fixture(scope="module")
def tiny_run():
    torch.set_num_threads(1)
    train_set = _dataset(np.repeat(np.arange(-60, 60.01, 1.0), 2), 10.0, 1)
    val_set = _dataset(np.arange(-59.5, 60, 4.0), 10.0, 2)
    tcfg = TrainConfig(epochs=3, autoencoder_epochs=8, seed=3)
    model, hist = train(TINY, tcfg, train_set, val_set, progress=False)
    return model, hist, train_set, val_set, tcfg


def test_training_lowers_both_losses(tiny_run):
    _, hist, *_ = tiny_run
    ae = [h["loss"] for h in hist if h["stage"] == "autoencoder"]
    ssr = [h["loss"] for h in hist if h["stage"] == "ssr"]
    assert len(ae) == 8 and len(ssr) == 3
    assert ae[-1] < 0.5 * ae[0]
    assert ssr[-1] < ssr[0]
    assert all(np.isfinite(h["val_rmse_deg"]) for h in hist if h["stage"] == "ssr")


def test_training_keeps_the_best_validated_epoch(tiny_run):
    """With a validation set the returned weights are the epoch of lowest validation RMSE:
    its record is marked, and the model's own validation RMSE is that epoch's."""
    model, hist, _, val_set, _ = tiny_run
    ssr = [h for h in hist if h["stage"] == "ssr"]
    best = min(ssr, key=lambda h: h["val_rmse_deg"])
    assert [h["best"] for h in hist] == [h is best for h in hist]
    got = rmse(predict(model, prepare_cfr(val_set.cfr, model.cfg)), val_set.aoa_deg)
    assert got == pytest.approx(best["val_rmse_deg"], rel=1e-6)


def test_autoencoder_routes_to_its_subregion(tiny_run):
    # Eq 10: a CFR from mid-subregion p comes out of decoder p and (nearly) not of the others.
    model, *_ = tiny_run
    cfg = model.cfg
    mids = np.array([-45.0, -15.0, 15.0, 45.0])
    ds = _dataset(np.repeat(mids, 5), 20.0, 7)
    x = prepare_cfr(ds.cfr, cfg)
    with torch.no_grad():
        out = model.autoencoder(x)
    energy = (out**2).sum(dim=(2, 3, 4)).numpy()  # [B, P]
    own = subregion_of(ds.aoa_deg, cfg)
    assert np.all(energy.argmax(1) == own)
    tgt = autoencoder_targets(x, ds.aoa_deg, cfg)
    err = float(((out - tgt) ** 2).sum() / (tgt**2).sum())
    assert err < 0.5


def test_training_is_deterministic(tiny_run):
    model, _, train_set, val_set, tcfg = tiny_run
    again, _ = train(TINY, tcfg, train_set, val_set, progress=False)
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(v, w), k


def test_checkpoint_resume_gives_the_same_model(tiny_run, tmp_path):
    model, _, train_set, val_set, tcfg = tiny_run
    ck = tmp_path / "run.ckpt"
    short = TrainConfig(**{**tcfg.__dict__, "epochs": 1})
    train(TINY, short, train_set, val_set, progress=False, checkpoint=ck)
    resumed, hist = train(
        TINY, tcfg, train_set, val_set, progress=False, checkpoint=ck, resume=True
    )
    assert len(hist) == tcfg.epochs + tcfg.autoencoder_epochs
    for (k, v), w in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(v, w), k


# ---------------------------------------------------------------- model files and export


def test_save_load_round_trip(tiny_run, tmp_path):
    model, *_ = tiny_run
    w, j = save_model(model, tmp_path / "m", {"training": {"seed": 3}})
    assert w.name == "m.safetensors" and j.name == "m.json"
    loaded, meta = load_model(tmp_path / "m.json")
    assert meta["training"]["seed"] == 3 and meta["version"] == 1
    ds = _dataset([-40.0, 5.0, 33.3], 10.0, 9)
    assert np.array_equal(model.estimate(ds.cfr), loaded.estimate(ds.cfr))


def test_bad_model_files_rejected(tiny_run, tmp_path):
    model, *_ = tiny_run
    w, j = save_model(model, tmp_path / "m")
    good_w, good_j = w.read_bytes(), j.read_text()

    def expect(match):
        with pytest.raises(ModelFileError, match=match):
            load_model(tmp_path / "m")
        w.write_bytes(good_w)
        j.write_text(good_j)

    w.write_bytes(good_w[: len(good_w) // 2])  # truncated
    expect("SHA-256")
    w.write_bytes(good_w[:-1] + bytes([good_w[-1] ^ 0xFF]))  # one flipped byte
    expect("SHA-256")
    j.write_text("{not json")
    expect("not valid JSON")
    j.write_text(json.dumps({**json.loads(good_j), "version": 99}))
    expect("version 99")
    j.write_text(json.dumps({**json.loads(good_j), "format": "other"}))
    expect("not a MoD-DNN model")
    d = json.loads(good_j)
    d["config"]["hidden"] = 7  # config no longer matches the tensors
    j.write_text(json.dumps(d))
    expect("hidden|enc_w|tensor")
    d = json.loads(good_j)
    d.pop("weights_sha256")
    j.write_text(json.dumps(d))
    w.write_bytes(b"\x00" * 64)  # garbage without a checksum to catch it
    expect("safetensors")
    w.unlink()
    expect("do not exist")
    j.unlink()
    expect("does not exist")


def test_torchscript_export(tiny_run, tmp_path):
    model, *_ = tiny_run
    path = export_torchscript(model, tmp_path / "m.pt")
    ts = torch.jit.load(str(path))
    ds = _dataset([-50.0, -12.0, 7.0, 20.0, 55.0], 10.0, 11)
    x = prepare_cfr(ds.cfr, model.cfg)
    with torch.no_grad():
        want = model.full_spectrum(model(x))
        got = ts(x)
    assert torch.allclose(got, want, atol=1e-5)
