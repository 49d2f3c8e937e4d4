"""ONNX export of a trained MoD-DNN, checked against PyTorch in onnxruntime.

The exported graph maps the prepared input [B, S, K, 2M] (float32, ``model.prepare_input``)
to the spectrum [B, L] on ``cfg.grid_deg``, the same as ``MoDDNN.full_spectrum(model(x))``;
B and S are dynamic. ONNX has no complex tensors, so the coarray layer is exported through
``RealCoarraySpectrum``, its real-arithmetic equivalent; the SCG layer (``moddnn.scg``) runs
a fixed number of iterations (``cg_tol = 0``) and unrolls into plain tensor operations.

onnx, onnxscript (the exporter) and onnxruntime (the check) are imported only here, when an
export is asked for.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import SrsaoaError
from .model import CoarraySpectrum, MoDDNN, peak_aoa, prepare_cfr

# Opset of the exported graph (onnxruntime 1.32 runs up to 23).
OPSET = 18
# onnxruntime against PyTorch, both float32, relative to the spectrum's peak: the two differ
# by float32 rounding after the coarray layer, which the unrolled SCG iterations amplify
# (P + lambda I has 2M distinct eigenvalues, so past 2M CG steps the residuals are at
# rounding level and alpha, beta are ratios of rounding noise); PyTorch float32 is as far
# from float64. The measured differences and the margin: docs/moddnn.md, export.
RTOL = 5e-3
AOA_TOL_DEG = 0.01


class RealCoarraySpectrum(nn.Module):
    """``CoarraySpectrum`` in real arithmetic (the same numbers, no complex tensors).

    With h = u + j v per snapshot, R = mean h h^H has Re R_ij = mean(u_i u_j + v_i v_j) and
    Im R_ij = mean(v_i u_j - u_i v_j); y = vec(R) stacks R's columns, and
    eta_hat = Re(y^T a_conj) = Re(y)^T Re(a_conj) - Im(y)^T Im(a_conj).
    """

    def __init__(self, coarray: CoarraySpectrum) -> None:
        super().__init__()
        self.num_elements = coarray.num_elements
        a = coarray.a_conj
        self.register_buffer("a_re", a.real.contiguous().clone(), persistent=False)
        self.register_buffer("a_im", a.imag.contiguous().clone(), persistent=False)

    def forward(self, hp: Tensor) -> Tensor:
        """[B, P, S, K, 2M] -> [B, P, L_max]."""
        m = self.num_elements
        u = hp[..., :m].flatten(2, 3)  # [B, P, N, M]
        v = hp[..., m:].flatten(2, 3)
        n = u.shape[2]
        # vec(R) stacks columns, y[j M + i] = R[i, j], so build R^T (row j, column i) and
        # flatten it row-major: (u^T u)[j, i] = sum_n u_j u_i, (u^T v)[j, i] = sum_n u_j v_i.
        rt_re = (u.transpose(-1, -2) @ u + v.transpose(-1, -2) @ v) / n
        rt_im = (u.transpose(-1, -2) @ v - v.transpose(-1, -2) @ u) / n
        y_re = rt_re.flatten(-2)  # [B, P, M^2]
        y_im = rt_im.flatten(-2)
        return torch.einsum("bpq,pql->bpl", y_re, self.a_re) - torch.einsum(
            "bpq,pql->bpl", y_im, self.a_im
        )


class SpectrumGraph(nn.Module):
    """The exported function: prepared input [B, S, K, 2M] -> spectrum [B, L], real only."""

    def __init__(self, model: MoDDNN) -> None:
        super().__init__()
        self.model = model
        self.coarray = RealCoarraySpectrum(model.coarray)

    def forward(self, x: Tensor) -> Tensor:
        m = self.model
        eta_hat = self.coarray(m.autoencoder(x))
        return m.full_spectrum(m.ssr(eta_hat, m.coarray.proj, m.coarray.mask))


def example_input(model: MoDDNN, batch: int = 32, seed: int = 0, snr_db: float = 10.0) -> Tensor:
    """A seeded batch of prepared inputs [batch, 4, K, 2M]: single-path CFRs at angles drawn
    over the model's grid, simulated for the project's default impaired array with the
    model's M and spacing (``data.simulate``) at ``snr_db``, through ``prepare_cfr``."""
    from ..array.geometry import ULA
    from . import data

    cfg = model.cfg
    rng = np.random.default_rng(seed)
    fc = 3.5e9
    ula = ULA(cfg.num_elements, cfg.spacing_wavelengths * ULA(2, None, fc).wavelength_m, fc)
    lo, hi = float(cfg.grid_deg[0]), float(cfg.grid_deg[-1])
    ds = data.simulate(rng.uniform(lo, hi, batch), snr_db, rng, ula=ula)
    return prepare_cfr(ds.cfr, cfg)


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's notes about packages this graph does not use (torchvision) and its
    internal deprecation warnings are not the user's business."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        log.setLevel(level)


class OnnxMismatchError(SrsaoaError):
    """onnxruntime's spectra differ from PyTorch's beyond float32 rounding."""


def _need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SrsaoaError(
            f"ONNX export needs the Python package {module} (requirements.txt; "
            "scripts/bootstrap.sh installs it into .venv)"
        ) from None


def check_onnx(
    model: MoDDNN,
    path: str | Path,
    x: Tensor | None = None,
    rtol: float = RTOL,
    aoa_tol_deg: float = AOA_TOL_DEG,
) -> dict[str, float]:
    """Run the ONNX file in onnxruntime on ``x`` (default: ``example_input``) and compare
    with PyTorch: the spectra to ``rtol`` of PyTorch's largest |value| and the peak angles
    (``peak_aoa``) to ``aoa_tol_deg``. Returns the measured ``spectrum_rel`` and
    ``aoa_deg`` differences; raises ``OnnxMismatchError`` beyond either tolerance.
    """
    ort = _need("onnxruntime")
    model = model.eval()
    if x is None:
        x = example_input(model)
    with torch.no_grad():
        want = model.full_spectrum(model(x.to(model.grid.device))).cpu().numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.cpu().numpy()})
    if got.shape != want.shape:
        raise OnnxMismatchError(f"{path}: onnxruntime gives {got.shape}, PyTorch {want.shape}")
    peak = max(float(np.abs(want).max()), 1e-30)
    rel = float(np.abs(got - want).max()) / peak
    cfg = model.cfg
    grid = cfg.grid_deg
    half = cfg.peak_halfwidth_deg / cfg.grid_step_deg
    daoa = float(np.abs(peak_aoa(got, grid, half) - peak_aoa(want, grid, half)).max())
    if not (np.isfinite(rel) and rel <= rtol):
        raise OnnxMismatchError(
            f"{path}: onnxruntime's spectra differ from PyTorch's by {rel:.3g} of the peak "
            f"(allowed {rtol:g})"
        )
    if not daoa <= aoa_tol_deg:
        raise OnnxMismatchError(
            f"{path}: onnxruntime's peak angles differ from PyTorch's by {daoa:.3g} deg "
            f"(allowed {aoa_tol_deg:g})"
        )
    return {"spectrum_rel": rel, "aoa_deg": daoa}


def export_onnx(model: MoDDNN, path: str | Path, check: bool = True) -> Path:
    """Write ``model`` (prepared input [B, S, K, 2M] float32 -> spectrum [B, L]) as an ONNX
    file, batch B and snapshots S dynamic; with ``check``, run it in onnxruntime on a seeded
    batch and raise ``OnnxMismatchError`` if it differs from PyTorch (``check_onnx``)."""
    cfg = model.cfg
    if cfg.cg_tol > 0:
        raise ValueError("ONNX export needs cg_tol = 0 (a fixed number of SCG iterations)")
    _need("onnx")
    _need("onnxscript")
    model = model.eval()
    device = model.grid.device
    graph = SpectrumGraph(model).eval()
    x = example_input(model, batch=2).to(device)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    snapshots = torch.export.Dim("snapshots", min=1)
    with torch.no_grad(), _quiet_exporter():
        torch.onnx.export(
            graph,
            (x,),
            str(p),
            input_names=["x"],
            output_names=["spectrum"],
            dynamic_shapes={"x": {0: batch, 1: snapshots}},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    if check:
        check_onnx(model, p)
    return p
