"""``srsaoa export``: a MoD-DNN model file to ONNX, checked in onnxruntime against PyTorch."""

from __future__ import annotations

import argparse
import json


def _run(args: argparse.Namespace) -> int:
    from ..io.safeio import check_output
    from ..moddnn.modelfile import export_onnx, load_model, model_paths
    from ..moddnn.onnx_export import check_onnx

    # never over (or through a link to) the model's own files, nor a device
    check_output(args.onnx, model_paths(args.model), what="--onnx")
    model, _ = load_model(args.model)
    path = export_onnx(model, args.onnx, check=False)
    diff = check_onnx(model, path)
    cfg = model.cfg
    print(
        json.dumps(
            {
                "onnx": str(path),
                "input": ["B", "S", cfg.num_subcarriers, 2 * cfg.num_elements],
                "output": ["B", cfg.num_grid_points],
                "max_spectrum_difference": diff["spectrum_rel"],
                "max_aoa_difference_deg": diff["aoa_deg"],
            }
        )
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a MoD-DNN model to ONNX (docs/moddnn.md)",
        description=(
            "Write a MoD-DNN model as an ONNX file: prepared input [B, S, K, 2M] float32 "
            "(moddnn.model.prepare_input) -> spectrum [B, L] on the model's grid, B and S "
            "dynamic. The file is then run in onnxruntime on seeded simulated CFRs and "
            "compared with PyTorch; a difference beyond float32 rounding is an error. "
            "Prints the measured differences as one JSON line."
        ),
    )
    p.add_argument("--model", default="default", help="model NAME ('default': the shipped model)")
    p.add_argument("--onnx", required=True, help="ONNX file to write")
    p.set_defaults(func=_run)
