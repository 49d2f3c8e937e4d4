"""The lowered MoD-DNN (numpy + the C++ SCG kernel) against its oracles: the PyTorch model
for whole spectra, moddnn.scg.scg_solve for the C++ kernel; and the off-grid labels and
subcarrier-band inputs of the model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.config import ModelConfig
from gnuradio.srsaoa.moddnn.lowered import LoweredMoDDNN
from gnuradio.srsaoa.moddnn.model import (
    MoDDNN,
    model_subcarriers,
    one_hot_targets,
    prepare_input,
    subcarrier_bands,
)
from gnuradio.srsaoa.moddnn.modelfile import load_model
from gnuradio.srsaoa.moddnn.scg import scg_solve
from gnuradio.srsaoa.srsaoa_kernels import scg_solve as scg_solve_cpp


def _randomised(cfg: ModelConfig, seed: int) -> MoDDNN:
    """A model with random weights and batch-norm statistics (eval mode): every lowered
    term is exercised without training."""
    torch.manual_seed(seed)
    net = MoDDNN(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.running_mean.normal_(0.0, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _cfrs(n: int, seed: int, cfg: ModelConfig) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = model_subcarriers(D.default_srs_subcarriers_hz(), cfg)
    return D.simulate(rng.uniform(-60, 60, n), 10.0, rng, subcarriers_hz=f).cfr


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(grid_step_deg=1.0),
        ModelConfig(grid_step_deg=2.0, frequency_diverse=False, num_subregions=3),
        ModelConfig(grid_step_deg=1.0, rhs="iterate", sparsity=False, subcarrier_bands=False),
        ModelConfig(grid_step_deg=1.0, num_subregions=1, nonnegative=True),
    ],
    ids=["default", "shared-encoder", "iterate-no-sparsity", "nonnegative"],
)
def test_lowered_spectra_match_the_pytorch_model(cfg):
    net = _randomised(cfg, 3)
    low = LoweredMoDDNN(net)
    h = _cfrs(LoweredMoDDNN.TORCH_BATCH - 1, 4, cfg)  # below the PyTorch hand-over
    x = prepare_input(h, cfg)
    # The oracle is the PyTorch model in float64; the lowering (float32 layers, float64 SCG)
    # must be at least as close to it as the float32 PyTorch model itself is.
    net64 = copy.deepcopy(net).double()
    net64.coarray.a_conj = net64.coarray.a_conj.to(torch.complex128)
    with torch.no_grad():
        want = net64.full_spectrum(net64(torch.from_numpy(x).double())).numpy()
        want32 = net.full_spectrum(net(torch.from_numpy(x))).double().numpy()
    got = low.spectrum(h)
    assert got.shape == want.shape
    # eta >= 0 exactly where the model projects onto it (random weights go negative otherwise)
    assert (got.min() >= 0) == cfg.nonnegative
    err32 = np.abs(want32 - want).max()
    assert 0 < err32 < 1e-3 * np.abs(want).max()  # the float32 model is a fair yardstick
    assert np.abs(got - want).max() <= err32
    # a backlog goes through PyTorch itself: the same numbers
    big = _cfrs(LoweredMoDDNN.TORCH_BATCH, 5, cfg)
    with torch.no_grad():
        want_big = net.full_spectrum(net(torch.from_numpy(prepare_input(big, cfg)))).numpy()
    np.testing.assert_allclose(low.spectrum(big), want_big, rtol=0, atol=1e-6)


def test_lowered_estimates_of_the_shipped_model():
    net, _ = load_model("default")
    low = LoweredMoDDNN(net)
    h = _cfrs(6, 7, net.cfg)
    want = net.estimate(h)
    got = np.array([a for a, _ in low.estimate_batch(list(h))])
    # a spectrum difference of 1e-4 of the peak moves the centroid by far less than 1e-3 deg
    np.testing.assert_allclose(got, want, atol=1e-3)
    np.testing.assert_allclose(low.estimate(h), want, atol=1e-3)


@pytest.mark.parametrize("sparsity", [True, False])
def test_cpp_scg_matches_its_python_twin(rng, sparsity):
    g = rng.standard_normal((3, 25, 25))
    p = g @ g.transpose(0, 2, 1) / 25
    b = rng.standard_normal((5, 3, 25))
    lam, eps, mu = 0.1, 0.5, 0.05  # mu large enough for the zero attractor to matter
    want = scg_solve(p, b, lam, eps, mu, 8, 0.0, sparsity)
    got = scg_solve_cpp(p + lam * np.eye(25), b, eps, mu, 8, 0.0, sparsity)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    # the torch twin on the same data (training path) agrees too
    tw = scg_solve(torch.from_numpy(p), torch.from_numpy(b), lam, eps, mu, 8, 0.0, sparsity)
    np.testing.assert_allclose(tw.numpy(), want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_cpp_scg_stops_on_tolerance_like_the_twin(rng):
    g = rng.standard_normal((2, 12, 12))
    p = g @ g.transpose(0, 2, 1) / 12
    b = rng.standard_normal((4, 2, 12))
    for tol in (1e-3, 1e-6):
        want = scg_solve(p, b, 0.1, 0.5, 1e-4, 50, tol, True)
        got = scg_solve_cpp(p + 0.1 * np.eye(12), b, 0.5, 1e-4, 50, tol, True)
        # same steps, other summation order; 50 steps run CG far past convergence
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * np.abs(want).max())


def test_cpp_scg_rejects_bad_input():
    a, b = np.eye(4)[None], np.zeros((1, 1, 4))
    with pytest.raises(ValueError, match="branches, n, n"):
        scg_solve_cpp(np.zeros((1, 4, 3)), b, 0.5, 0.0, 8, 0.0, True)
    with pytest.raises(ValueError, match="batch, branches, n"):
        scg_solve_cpp(a, np.zeros((1, 2, 4)), 0.5, 0.0, 8, 0.0, True)
    with pytest.raises(ValueError, match="eps"):
        scg_solve_cpp(a, b, 0.0, 0.0, 8, 0.0, True)
    with pytest.raises(ValueError, match="iterations"):
        scg_solve_cpp(a, b, 0.5, 0.0, -1, 0.0, True)


# ------------------------------------------------------------------- labels and inputs


def test_interpolated_labels_put_the_centroid_on_the_angle():
    cfg = ModelConfig(grid_step_deg=1.0)
    grid = cfg.grid_deg
    bounds = cfg.subregion_bounds()
    angles = np.array([-60.0, -44.3, -30.5, -0.25, 0.0, 29.6, 59.9, 60.0])
    t = one_hot_targets(angles, cfg).numpy()
    full = np.concatenate([t[:, i, : e - s] for i, (s, e) in enumerate(bounds)], -1)
    np.testing.assert_allclose(full.sum(-1), 1.0, atol=1e-6)
    assert np.all((full > 0).sum(-1) <= 2)
    np.testing.assert_allclose(full @ grid, angles, atol=1e-5)  # centroid = angle
    # on the grid: the paper's one-hot
    assert np.count_nonzero(full[4]) == 1 and full[4, 60] == 1.0
    # an angle between two subregions is split across them
    s0, e0 = bounds[0]
    assert t[2, 0, e0 - s0 - 1] == pytest.approx(0.5) and t[2, 1, 0] == pytest.approx(0.5)
    # "nearest": all on the nearest grid point
    near = one_hot_targets(angles, ModelConfig(grid_step_deg=1.0, labels="nearest")).numpy()
    nf = np.concatenate([near[:, i, : e - s] for i, (s, e) in enumerate(bounds)], -1)
    np.testing.assert_array_equal(grid[nf.argmax(-1)], np.clip(np.round(angles), -60, 60))
    assert np.all((nf > 0).sum(-1) == 1)


def test_subcarrier_bands_average_the_referred_snapshots(rng):
    cfg = ModelConfig()
    assert list(subcarrier_bands(306, 16)[[0, -1]]) == [0, 306]
    assert np.all(np.diff(subcarrier_bands(306, 16)) >= 19)
    # one noise-free path: every band input equals the referred steering vector
    ideal = D.simulate([20.0], None, rng, rho=0.0, profile=_ideal_profile())
    x = prepare_input(ideal.cfr, cfg)
    a = np.exp(1j * np.pi * np.arange(4) * np.sin(np.radians(20.0)))
    want = np.concatenate([a.real, a.imag])
    # the per-subcarrier steering phase varies by |f| / fc across the band: 1e-3 rad
    np.testing.assert_allclose(x[0], np.broadcast_to(want, x[0].shape), atol=5e-3)
    # with noise, a band of 19 subcarriers has 19x the SNR of one subcarrier: at 20 dB per
    # RE (linear regime) the input error power drops accordingly (12.8 dB; 10 dB asked)
    noisy = D.simulate(np.full(200, 20.0), 20.0, rng, rho=0.0, profile=_ideal_profile())
    err_band = np.mean((prepare_input(noisy.cfr, cfg) - want) ** 2)
    sampled = ModelConfig(subcarrier_bands=False)
    err_one = np.mean((prepare_input(noisy.cfr, sampled) - want) ** 2)
    assert err_band < err_one / 10


def test_old_model_files_keep_sampled_subcarriers_and_nearest_labels():
    d = ModelConfig().to_dict()
    del d["subcarrier_bands"], d["labels"]
    old = ModelConfig.from_dict(d)
    assert old.subcarrier_bands is False and old.labels == "nearest"
    with pytest.raises(ValueError, match="labels"):
        ModelConfig(labels="soft")


def _ideal_profile():
    from gnuradio.srsaoa.array.impairments import ImpairmentProfile

    return ImpairmentProfile.ideal(4)
