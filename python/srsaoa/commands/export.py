"""``srsaoa export``: a MoD-DNN model file to ONNX, checked in onnxruntime against PyTorch."""

from __future__ import annotations

import argparse
import json


def _run(args: argparse.Namespace) -> int:
    from ..moddnn.modelfile import export_onnx, load_model
    from ..moddnn.onnx_export import check_onnx

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
