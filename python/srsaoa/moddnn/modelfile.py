"""MoD-DNN model files: weights in safetensors, architecture and training metadata in JSON.

A model ``NAME`` is two files side by side: ``NAME.safetensors`` (the tensors) and
``NAME.json``::

    {"format": "srsaoa-moddnn", "version": 1, "config": {ModelConfig fields},
     "subcarriers_hz": [...], "training": {...}, "weights_sha256": "..."}

Loading checks the format name, the version, the config, the SHA-256 of the weights file
and every tensor name and shape; anything wrong raises ``ModelFileError`` with one line
saying which file and what. ``export_onnx`` writes a self-contained ONNX graph (prepared
input [B, S, K, 2M] -> spectrum [B, L]) for deployment without this code and checks it in
onnxruntime against PyTorch (``moddnn.onnx_export``); ``export_torchscript`` writes the same
function as TorchScript, which PyTorch has deprecated (kept for existing deployments).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelFileError
from .config import ModelConfig
from .model import MoDDNN

FORMAT = "srsaoa-moddnn"
VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default"
MAX_WEIGHTS_BYTES = 1 << 30
MAX_GRID_POINTS = 20001


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, metadata) paths of a model given as NAME, NAME.json or NAME.safetensors;
    ``"default"`` or ``""`` is the shipped default model."""
    s = str(path)
    if s in ("", "default"):
        base = DEFAULT_MODEL
    else:
        base = Path(s)
        if base.suffix in (".json", ".safetensors"):
            base = base.with_suffix("")
    return base.with_name(base.name + ".safetensors"), base.with_name(base.name + ".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(
    model: MoDDNN, path: str | Path, metadata: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write NAME.safetensors and NAME.json; returns both paths."""
    from safetensors.torch import save_file

    wpath, jpath = model_paths(path)
    wpath.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(wpath), metadata={"format": FORMAT, "version": str(VERSION)})
    meta = dict(metadata or {})
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.cfg.to_dict(),
        **{k: v for k, v in meta.items() if k not in ("format", "version", "config")},
        "weights_file": wpath.name,
        "weights_sha256": _sha256(wpath),
    }
    jpath.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return wpath, jpath


def load_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a model, checked for format and version."""
    from ..io.safeio import load_document

    _, jpath = model_paths(path)
    # a regular file of bounded size, finite numbers, bounded depth (DESIGN section 9)
    doc = load_document(jpath, "model metadata", "json", error=ModelFileError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{jpath} is not a MoD-DNN model file (format != {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ModelFileError(
            f"{jpath} has model file version {doc.get('version')!r}; this gr-srsaoa reads version {VERSION}"
        )
    return doc


def load_model(path: str | Path, device: str = "cpu") -> tuple[MoDDNN, dict[str, Any]]:
    """(model in eval mode, metadata) from NAME(.json/.safetensors); ModelFileError if bad."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..io import schemas
    from ..io.safeio import regular_file

    wpath, jpath = model_paths(path)
    doc = load_metadata(path)
    schemas.validate(doc.get("config"), schemas.MODEL_CONFIG, str(jpath), ModelFileError, "config")
    try:
        cfg = ModelConfig.from_dict(doc["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{jpath}: bad model config: {exc}") from None
    if cfg.num_grid_points > MAX_GRID_POINTS:
        raise ModelFileError(
            f"{jpath}: config: a grid of {cfg.num_grid_points} points (at most {MAX_GRID_POINTS})"
        )
    if not wpath.exists():
        raise ModelFileError(f"model weights {wpath} do not exist")
    regular_file(wpath, "model weights", ModelFileError)  # /dev/zero would hash forever
    if wpath.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ModelFileError(f"model weights {wpath} exceed {MAX_WEIGHTS_BYTES >> 20} MiB")
    want = doc.get("weights_sha256")
    if want is not None and _sha256(wpath) != want:
        raise ModelFileError(
            f"{wpath} does not match {jpath.name} (SHA-256 differs): corrupt, truncated or from another model"
        )
    try:
        state = load_file(str(wpath), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{wpath} is not a readable safetensors file: {exc}") from None
    model = MoDDNN(cfg)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ModelFileError(
            f"{wpath} does not match its config: missing {missing[:3]}, unexpected {extra[:3]}"
        )
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape) or state[k].dtype != v.dtype:
            raise ModelFileError(
                f"{wpath}: tensor {k} is {tuple(state[k].shape)} {state[k].dtype}, "
                f"the config needs {tuple(v.shape)} {v.dtype}"
            )
        if (v.is_floating_point() or v.is_complex()) and not torch.isfinite(state[k]).all():
            raise ModelFileError(f"{wpath}: tensor {k} has non-finite values")
    weights = [t for k, t in state.items() if t.is_floating_point() and "running" not in k]
    if weights and all(float(t.abs().max()) == 0.0 for t in weights if t.numel()):
        raise ModelFileError(f"{wpath}: every weight is zero: not a trained model")
    try:
        model.load_state_dict(state)
    except ValueError as exc:  # calibrated coarray atoms that are not unit-norm
        raise ModelFileError(f"{wpath}: {exc}") from None
    return model.to(device).eval(), doc


class _SpectrumModule(torch.nn.Module):
    def __init__(self, model: MoDDNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.full_spectrum(self.model(x))


def export_onnx(model: MoDDNN, path: str | Path, check: bool = True) -> Path:
    """Write the model (prepared input [B, S, K, 2M] float32 -> spectrum [B, L]) as an ONNX
    file, B and S dynamic; with ``check``, run it in onnxruntime on seeded simulated CFRs and
    raise ``OnnxMismatchError`` if it differs from PyTorch beyond float32 rounding."""
    from .onnx_export import export_onnx as _export

    return _export(model, path, check=check)


def export_torchscript(model: MoDDNN, path: str | Path, batch: int = 2, snapshots: int = 4) -> Path:
    """Trace the model (prepared input [B, S, K, 2M] -> spectrum [B, L]) to a TorchScript file.

    PyTorch has deprecated TorchScript (torch.jit); ``export_onnx`` is the supported export."""
    cfg = model.cfg
    if cfg.cg_tol > 0:
        raise ValueError("TorchScript export needs cg_tol = 0 (a fixed number of SCG iterations)")
    model = model.eval()
    example = torch.randn(batch, snapshots, cfg.num_subcarriers, 2 * cfg.num_elements)
    with torch.no_grad():
        traced = torch.jit.trace(_SpectrumModule(model), example, check_trace=False)
    p = Path(path)
    traced.save(str(p))
    return p
