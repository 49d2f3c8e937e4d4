"""MoD-DNN's calibrated coarray dictionary (eqs 11-14 with a measured manifold's atoms).

Checked against the math it must reproduce: for the ideal ULA the calibrated atoms are the
paper's nominal vec(a a^H) / M; for an impaired array the coarray spectrum of a noise-free
path peaks at its own grid angle with the calibrated atoms (and not with the nominal ones);
the atoms travel with the model file, and a file whose atoms are not unit-norm is refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.array.manifold import IdealManifold, ProfileManifold
from gnuradio.srsaoa.errors import ModelFileError
from gnuradio.srsaoa.estimation.coarray import coarray_manifold
from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig
from gnuradio.srsaoa.moddnn.data import default_srs_subcarriers_hz, simulate_from_manifold
from gnuradio.srsaoa.moddnn.model import MoDDNN, calibrated_atoms, prepare_cfr
from gnuradio.srsaoa.moddnn.modelfile import load_model, save_model
from gnuradio.srsaoa.moddnn.train import train

F = default_srs_subcarriers_hz()
CFG = ModelConfig(grid_step_deg=1.0, dictionary="calibrated")


def impaired() -> ProfileManifold:
    # rho = 1: the MoD-DNN paper's angle-dependent phase error at full strength
    return ProfileManifold(ImpairmentProfile.random(4, 4242, rho=1.0), ULA(4))


def test_ideal_manifold_gives_the_nominal_atoms():
    atoms = calibrated_atoms(IdealManifold(4, 0.5), F, CFG)
    nominal = coarray_manifold(4, 0.5, CFG.grid_deg) / 4
    # prepare_input is float32: agreement to its rounding
    np.testing.assert_allclose(atoms, nominal, atol=2e-6)
    nominal_model = MoDDNN(ModelConfig(grid_step_deg=1.0))
    cal_model = MoDDNN(CFG)
    cal_model.set_dictionary(IdealManifold(4, 0.5), F)
    for name in ("a_conj", "proj", "mask"):
        a = getattr(nominal_model.coarray, name)
        b = getattr(cal_model.coarray, name)
        assert torch.allclose(a, b, atol=2e-6), name


def _coarray_peak(model: MoDDNN, h: np.ndarray) -> np.ndarray:
    """Grid angle of the coarray spectrum's maximum (eq 14) of CFRs [B, M, S, K], with every
    subregion fed the whole prepared input (the autoencoder bypassed)."""
    x = prepare_cfr(h, model.cfg)
    hp = x[:, None].expand(-1, model.cfg.num_subregions, -1, -1, -1)
    with torch.no_grad():
        eta = model.full_spectrum(model.coarray(hp))
    return model.cfg.grid_deg[eta.argmax(-1).numpy()]


def test_calibrated_atoms_match_the_array_the_nominal_ones_do_not():
    man = impaired()
    th = np.arange(-58.0, 59.0, 3.0)  # on the 1-deg grid
    b = man.steering(th, F)  # [M, L, F]
    h = np.transpose(b, (1, 0, 2))[:, :, None, :] * np.ones((1, 1, 4, 1))
    cal = MoDDNN(CFG)
    cal.set_dictionary(man, F)
    assert np.array_equal(_coarray_peak(cal, h), th)
    nominal = _coarray_peak(MoDDNN(ModelConfig(grid_step_deg=1.0)), h)
    # the impairment moves the nominal peak by whole degrees somewhere in the field of view
    assert np.max(np.abs(nominal - th)) >= 2.0


def test_set_dictionary_needs_a_calibrated_model():
    with pytest.raises(ValueError, match="calibrated"):
        MoDDNN(ModelConfig(grid_step_deg=1.0)).set_dictionary(impaired(), F)
    with pytest.raises(ValueError, match="must be"):
        MoDDNN(CFG).coarray.set_atoms(np.ones((16, 3)))


def test_nominal_model_files_carry_no_atoms():
    assert "coarray.atoms" not in MoDDNN(ModelConfig(grid_step_deg=1.0)).state_dict()
    assert "coarray.atoms" in MoDDNN(CFG).state_dict()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    man = impaired()
    rng = np.random.default_rng(3)
    cfg = ModelConfig(grid_step_deg=4.0, dictionary="calibrated", num_subregions=2)
    ds = simulate_from_manifold(man, rng.uniform(-56, 56, 96), 10.0, rng, F)
    tcfg = TrainConfig(epochs=1, autoencoder_epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="manifold"):
        train(cfg, tcfg, ds, None, progress=False)
    model, _ = train(cfg, tcfg, ds, None, progress=False, manifold=man)
    return model, ds, tmp_path_factory.mktemp("dict")


def test_training_sets_and_keeps_the_calibrated_atoms(trained):
    model, ds, _ = trained
    want = calibrated_atoms(impaired(), F, model.cfg)
    got = torch.cat(
        [model.coarray.atoms[i, :, : e - s] for i, (s, e) in enumerate(model.coarray.bounds)],
        -1,
    )
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_calibrated_model_file_round_trip_and_corrupt_atoms(trained):
    model, ds, d = trained
    save_model(model, d / "m")
    loaded, _ = load_model(d / "m")
    assert loaded.cfg.dictionary == "calibrated"
    assert torch.equal(loaded.coarray.a_conj, model.coarray.a_conj)
    assert np.array_equal(loaded.estimate(ds.cfr[:8]), model.estimate(ds.cfr[:8]))
    # atoms that are not unit-norm (a foreign or tampered file, its hash updated) are refused
    from safetensors.torch import load_file, save_file

    state = load_file(str(d / "m.safetensors"))
    for bad in (state["coarray.atoms"] * 2, state["coarray.atoms"] * float("nan")):
        save_model(model, d / "bad")
        save_file({**state, "coarray.atoms": bad.contiguous()}, str(d / "bad.safetensors"))
        import json

        from gnuradio.srsaoa.moddnn.modelfile import _sha256

        meta = json.loads((d / "bad.json").read_text())
        meta["weights_sha256"] = _sha256(d / "bad.safetensors")
        (d / "bad.json").write_text(json.dumps(meta))
        with pytest.raises(ModelFileError, match="unit-norm|non-finite"):
            load_model(d / "bad")


def test_calibrated_model_exports_to_onnx(trained):
    """The calibrated atoms reach the ONNX graph: export_onnx's own onnxruntime check
    against PyTorch (spectra within RTOL of the peak, angles within 0.01 deg) passes."""
    pytest.importorskip("onnxruntime")
    from gnuradio.srsaoa.moddnn.onnx_export import export_onnx

    model, _, d = trained
    assert export_onnx(model, d / "m.onnx", check=True).is_file()
