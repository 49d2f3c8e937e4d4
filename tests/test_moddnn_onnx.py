"""MoD-DNN ONNX export (moddnn.onnx_export): the real-arithmetic coarray layer against the
complex one, the exported graph in onnxruntime against PyTorch, and the CLI.

Tolerances. The real-arithmetic rewrite is the same function: in float64 it matches the
complex PyTorch path to 1e-12 of the spectrum's peak (coarray layer and whole network). In
float32 the coarray layers differ by float32 rounding (1e-6 of the peak allowed), and the
unrolled SCG iterations amplify such rounding: P + lambda I has 2M distinct eigenvalues, so
past 2M CG steps the residuals are at rounding level and alpha, beta are ratios of rounding
noise. onnxruntime and PyTorch (both float32) are therefore held to
``onnx_export.RTOL`` = 5e-3 of the spectrum's peak (PyTorch float32 is as far from float64;
docs/moddnn.md, export, gives the measured differences) and their peak angles to 0.01 deg.
A wrong graph (a transposed covariance, a lost imaginary part, other weights) is off by
order one.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn import onnx_export as X
from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig
from gnuradio.srsaoa.moddnn.model import prepare_cfr, subcarrier_indices
from gnuradio.srsaoa.moddnn.modelfile import export_onnx, save_model
from gnuradio.srsaoa.moddnn.train import train

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TINY = ModelConfig(grid_step_deg=1.0, outer_iterations=2, cg_iterations=6)


def _dataset(angles, snr_db, seed, cfg=TINY, num_snapshots=4):
    f = D.default_srs_subcarriers_hz()
    f = f[subcarrier_indices(f.size, cfg.num_subcarriers)]
    rng = np.random.default_rng(seed)
    return D.simulate(
        np.asarray(angles, float), snr_db, rng, subcarriers_hz=f, num_snapshots=num_snapshots
    )


@pytest.fixture(scope="module")
def tiny_model():
    torch.set_num_threads(1)
    train_set = _dataset(np.arange(-60, 60.01, 1.0), 10.0, 1)
    val_set = _dataset(np.arange(-59.5, 60, 8.0), 10.0, 2)
    model, _ = train(
        TINY,
        TrainConfig(epochs=1, autoencoder_epochs=3, seed=3),
        train_set,
        val_set,
        progress=False,
    )
    return model.eval()


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    return export_onnx(tiny_model, path)  # raises if onnxruntime disagrees with PyTorch


def _float64(model):
    m = copy.deepcopy(model).double()
    m.coarray.a_conj = m.coarray.a_conj.to(torch.complex128)
    return m


def _peak_rel(got, want):
    return float((got - want).abs().max() / want.abs().max())


def test_real_coarray_equals_complex(tiny_model):
    x = prepare_cfr(_dataset([-41.0, -3.0, 12.5, 50.0], 10.0, 5).cfr, TINY)
    with torch.no_grad():
        hp = tiny_model.autoencoder(x)
        assert (
            _peak_rel(X.RealCoarraySpectrum(tiny_model.coarray)(hp), tiny_model.coarray(hp)) < 1e-6
        )
        m64 = _float64(tiny_model)
        hp64 = hp.double()
        real64 = X.RealCoarraySpectrum(m64.coarray)(hp64)
        assert real64.dtype == torch.float64
        assert _peak_rel(real64, m64.coarray(hp64)) < 1e-12


def test_real_graph_equals_complex_model_in_float64(tiny_model):
    # The whole exported function (real coarray, calibrators, unrolled SCG) is the network.
    m64 = _float64(tiny_model)
    x = prepare_cfr(_dataset([-55.0, -20.0, 0.0, 33.0, 58.0], 10.0, 6).cfr, TINY).double()
    with torch.no_grad():
        want = m64.full_spectrum(m64(x))
        got = X.SpectrumGraph(m64)(x)
    assert got.shape == (5, TINY.num_grid_points)
    assert _peak_rel(got, want) < 1e-12


def test_onnx_graph_is_real_with_dynamic_batch_and_snapshots(exported):
    g = onnx.load(str(exported))
    onnx.checker.check_model(g)
    (inp,) = g.graph.input
    (out,) = g.graph.output
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[2:]] == [TINY.num_subcarriers, 2 * TINY.num_elements]
    assert dims[0].dim_param and dims[1].dim_param  # B and S symbolic
    assert out.type.tensor_type.shape.dim[1].dim_value == TINY.num_grid_points
    complex_types = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
    assert not any(t.data_type in complex_types for t in g.graph.initializer)
    assert all(n.op_type != "Loop" for n in g.graph.node)  # SCG unrolled


@pytest.mark.parametrize("batch, snapshots, seed", [(1, 1, 7), (3, 2, 8), (40, 4, 9)])
def test_onnxruntime_matches_pytorch(tiny_model, exported, batch, snapshots, seed):
    ds = _dataset(np.random.default_rng(seed).uniform(-60, 60, batch), 10.0, seed, TINY, snapshots)
    x = prepare_cfr(ds.cfr, TINY)
    diff = X.check_onnx(tiny_model, exported, x)
    assert diff["spectrum_rel"] <= X.RTOL
    assert diff["aoa_deg"] <= X.AOA_TOL_DEG


def test_check_fails_loudly_on_another_model(tiny_model, exported):
    other = copy.deepcopy(tiny_model)
    with torch.no_grad():
        other.autoencoder.enc_w.mul_(1.3)
    with pytest.raises(X.OnnxMismatchError, match="differ from PyTorch"):
        X.check_onnx(other, exported)


def test_export_needs_fixed_scg_iterations(tiny_model, tmp_path):
    m = copy.deepcopy(tiny_model)
    m.cfg = dataclasses.replace(TINY, cg_tol=1e-3)
    with pytest.raises(ValueError, match="cg_tol"):
        export_onnx(m, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_cli_export(tiny_model, tmp_path, capsys):
    from gnuradio.srsaoa.cli import main

    save_model(tiny_model, tmp_path / "tiny")
    out = tmp_path / "tiny.onnx"
    assert main(["export", "--model", str(tmp_path / "tiny"), "--onnx", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["onnx"] == str(out) and out.exists()
    assert doc["output"] == ["B", TINY.num_grid_points]
    assert doc["max_spectrum_difference"] <= X.RTOL
    # never over the model's own files: the weights stay as they were
    weights = tmp_path / "tiny.safetensors"
    before = weights.read_bytes()
    assert main(["export", "--model", str(tmp_path / "tiny"), "--onnx", str(weights)]) == 1
    assert "--onnx" in capsys.readouterr().err and weights.read_bytes() == before


def test_nonnegative_model_exports_its_projection(tiny_model, tmp_path):
    # the same weights with eta >= 0 (ModelConfig.nonnegative): the ONNX graph carries the
    # projection, onnxruntime agrees with PyTorch (export_onnx checks) and never goes negative
    m = copy.deepcopy(tiny_model)
    m.cfg = m.ssr.cfg = dataclasses.replace(TINY, nonnegative=True)
    path = export_onnx(m, tmp_path / "nn.onnx")
    x = prepare_cfr(_dataset(np.linspace(-58, 58, 9), 10.0, 11).cfr, TINY)
    diff = X.check_onnx(m, path, x)
    assert diff["spectrum_rel"] <= X.RTOL
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    assert got.min() >= 0.0
    with torch.no_grad():
        plain = tiny_model.full_spectrum(tiny_model(x))
    assert plain.min() < 0.0  # without the projection the same network does go negative
