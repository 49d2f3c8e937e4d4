"""``srsaoa evaluate``: MoD-DNN against the baselines; CSV and PNG per figure."""

from __future__ import annotations

import argparse
import json


def _floats(s: str) -> list[float]:
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from None


def _run(args: argparse.Namespace) -> int:
    import torch

    from ..moddnn.evaluate import METHODS, evaluate
    from ..moddnn.modelfile import load_model

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ValueError("--methods names no method")
    bad = sorted(set(methods) - set(METHODS))
    if bad:
        raise ValueError(f"unknown methods {bad}; choose from {', '.join(METHODS)}")
    model, meta = load_model(args.model)
    res = evaluate(
        model,
        meta,
        args.out,
        snrs_db=args.snr_db,
        rhos=args.rho,
        num_angles=args.angles,
        seed=args.seed,
        methods=methods,
        baseline_epochs=args.baseline_epochs,
        plots=not args.no_plots,
    )
    print(f"{'method':<10} {'RMSE deg':>9} {'P80 deg':>8}   (SNR 10 dB, rho 1, held-out angles)")
    for m, s in res["summary"].items():
        print(f"{m:<10} {s['rmse_deg']:9.3f} {s['p80_deg']:8.3f}")
    if args.json:
        print(json.dumps(res["summary"]))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="compare MoD-DNN with MUSIC, ESPRIT, DBF, CNN, DeepMUSIC",
        description=(
            "Evaluate a MoD-DNN model against the baselines on held-out angles of its training "
            "array: RMSE against SNR and rho, error CDF and per-subregion boxplots (CSV + PNG "
            "in --out; docs/moddnn.md)."
        ),
    )
    p.add_argument("--model", default="default", help="model NAME ('default': the shipped model)")
    p.add_argument("--out", required=True, help="directory for the CSV and PNG files")
    p.add_argument(
        "--methods",
        default=",".join(("moddnn", "music", "esprit", "dbf", "cnn", "deepmusic")),
        help="comma-separated methods to compare",
    )
    p.add_argument("--snr-db", type=_floats, default=[0, 5, 10, 15, 20], help="SNR list, dB")
    p.add_argument("--rho", type=_floats, default=[0, 0.25, 0.5, 0.75, 1.0], help="rho list")
    p.add_argument("--angles", type=int, default=300, help="held-out test angles per point")
    p.add_argument(
        "--baseline-epochs", type=int, default=15, help="training epochs of the CNN baselines"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the test data")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for PyTorch")
    p.add_argument("--no-plots", action="store_true", help="CSV only")
    p.add_argument("--json", action="store_true", help="also print the summary as JSON")
    p.set_defaults(func=_run)
