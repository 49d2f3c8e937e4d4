"""``srsaoa train``: train a MoD-DNN model on simulated or recorded labelled CFRs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from . import add_progress_args, show_progress


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (defaults: the paper's Table 2 and Section 5)")
    g.add_argument(
        "--grid-step",
        type=float,
        default=1.0,
        help="angle grid step, deg (paper: 0.1; the CPU default 1.0 trains ~10x faster)",
    )
    g.add_argument(
        "--subregions",
        type=int,
        default=None,
        help="P subregions over [-60, 60] deg (default: the paper's 4; 1 with a calibrated "
        "dictionary, where 4 elements' subregions leak a reflection into the LOS's spectrum: "
        "docs/calibration.md)",
    )
    g.add_argument("--hidden", type=int, default=16, help="autoencoder hidden units")
    g.add_argument(
        "--shared-encoder",
        action="store_true",
        help="Autoencoder II (one encoder for all subcarriers)",
    )
    g.add_argument("--outer-iterations", type=int, default=3, help="I: CNN/SCG alternations")
    g.add_argument("--cg-iterations", type=int, default=8, help="SCG iterations per alternation")
    g.add_argument("--lam", type=float, default=0.1, help="lambda of eq 21")
    g.add_argument("--eps", type=float, default=0.5, help="epsilon of eq 29")
    g.add_argument("--mu", type=float, default=1e-5, help="initial sparsity weight mu of eq 26")
    g.add_argument(
        "--fixed-lam", action="store_true", help="keep lambda fixed (default: trained, Remark 2)"
    )
    g.add_argument("--no-sparsity", action="store_true", help="plain CG (no zero attractor)")
    g.add_argument(
        "--nonnegative",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="project every SCG output onto eta >= 0 (eta is a power spectrum; default: on "
        "with a calibrated dictionary, where it lowers the error and makes the single-path "
        "error reliable, off otherwise as Algorithm 1 is written: docs/calibration.md)",
    )
    g.add_argument(
        "--sampled-subcarriers",
        action="store_true",
        help="the paper's K single sampled subcarriers instead of K averaged subcarrier bands",
    )
    g.add_argument(
        "--labels",
        choices=("interpolated", "nearest"),
        default="interpolated",
        help="label of an off-grid training angle: split between its two grid neighbours, "
        "or all on the nearest (eq 31's one-hot either way for an on-grid angle)",
    )
    g.add_argument(
        "--dictionary",
        choices=("nominal", "calibrated"),
        default=None,
        help="coarray atoms of eqs 11-14: the ideal array's (the paper) or the sweep's "
        "measured manifold's (default with --data: the network then learns what the "
        "manifold fit misses; docs/calibration.md)",
    )


def _with_manifold(args, cfg, tcfg, train_set, val_set, rng):
    """A sweep's measured CFRs plus ``--synthetic`` CFRs drawn from its manifold: the manifold
    fitted on the training angles only (or read from ``--calibration``), the measured CFRs
    corrected by its angle-independent part (as cfr_extractor does at run time with the
    calibration), the synthetic ones at any angle of the sweep's range inside the model grid,
    SNR jitter, reflections and noise. Writes the manifold beside the model
    (NAME.calibration.json) when fitted here."""
    import os
    import sys

    import numpy as np

    from ..array.manifold import calibrate_sweep, group_by_angle, load_calibration_file
    from ..errors import SrsaoaError
    from ..moddnn import data as D
    from ..moddnn import distributed
    from ..moddnn.modelfile import model_paths

    f = train_set.subcarriers_hz
    info: dict = {}
    if args.calibration:
        const, man = load_calibration_file(args.calibration)
        if man is None:
            raise SrsaoaError(
                f"--calibration {args.calibration} is a single-angle calibration; training "
                "needs a sweep (manifold) calibration from `srsaoa calibrate --sweep`"
            )
        if man.num_elements != cfg.num_elements:
            raise SrsaoaError(
                f"--calibration is for {man.num_elements} elements, the data has {cfg.num_elements}"
            )
        cal_path = str(args.calibration)
    else:
        angles, groups = group_by_angle(train_set.aoa_deg, train_set.cfr)
        print(
            f"  train: fitting the array manifold on {angles.size} training angles",
            file=sys.stderr,
        )
        # the validation angles leave holes on purpose: no gap warnings
        man, warnings = calibrate_sweep(angles, groups, f, cfg.spacing_wavelengths, warn_gaps=False)
        for w in warnings:
            print(f"srsaoa train: warning: {w}", file=sys.stderr)
        _, jpath = model_paths(args.out)
        cal_path = str(jpath)[: -len(".json")] + ".calibration.json"
        if distributed.is_main():  # one writer under torchrun
            man.save(cal_path)
        info["manifold_fit"] = {
            k: man.fit[k] for k in ("model", "bands", "cv_rms_deg", "noise_rms_deg")
        }
    model_dir = os.path.dirname(os.path.abspath(str(model_paths(args.out)[1])))
    # relative to the model's folder when beside it, so the pair can be moved together
    rel = os.path.relpath(os.path.abspath(cal_path), model_dir)
    info["calibration"] = rel if not rel.startswith("..") else os.path.abspath(cal_path)
    c = (
        man.constant.multipliers(f)
        if man.constant is not None
        else np.ones((cfg.num_elements, f.size))
    )
    corr = c[None, :, None, :].astype(np.complex64)
    train_set = train_set.with_cfr(train_set.cfr * corr)
    val_set = val_set.with_cfr(val_set.cfr * corr)
    lo = max(man.angle_range_deg[0], cfg.grid_start_deg)
    hi = min(man.angle_range_deg[1], cfg.grid_stop_deg)
    if not lo < hi:
        raise SrsaoaError(
            f"the sweep covers {man.angle_range_deg[0]:g}..{man.angle_range_deg[1]:g} deg, "
            f"outside the model grid {cfg.grid_start_deg:g}..{cfg.grid_stop_deg:g} deg"
        )
    ang = rng.uniform(lo, hi, args.synthetic)
    snr = rng.uniform(tcfg.snr_db - tcfg.snr_jitter_db, tcfg.snr_db + tcfg.snr_jitter_db, ang.size)
    synth = D.simulate_from_manifold(man, ang, snr, rng, f, num_snapshots=train_set.cfr.shape[2])
    both = D.concat([train_set, synth])
    info["num_measured"] = len(train_set)
    info["num_synthetic"] = len(synth)
    info["domain_deg"] = [float(lo), float(hi)]
    return both, val_set, info, man


def _train(args: argparse.Namespace, device: str | None = None) -> int:
    import numpy as np
    import torch

    from ..errors import SrsaoaError
    from ..moddnn import data as D
    from ..moddnn import distributed
    from ..moddnn.config import ModelConfig, TrainConfig, dictionary_defaults
    from ..moddnn.model import model_subcarriers
    from ..moddnn.modelfile import model_paths, save_model
    from ..moddnn.train import predict, rmse, train

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SrsaoaError("--device cuda: PyTorch sees no CUDA device here")
    if args.threads < 1:
        raise SrsaoaError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    # the model's folder first: the checkpoint and a sweep's calibration are written into it
    # long before the model (save_model would create it only at the end)
    out_dir = model_paths(args.out)[1].parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SrsaoaError(f"--out {args.out}: cannot create its folder {out_dir}: {exc}") from None
    from ..io.safeio import check_output

    for flag, path in (("--onnx", args.onnx), ("--torchscript", args.torchscript)):
        if path:  # checked now, not after minutes of training; never over the model's files
            check_output(path, [*model_paths(args.out), args.calibration], what=flag)
    from_sweep = bool(args.data) and args.synthetic > 0
    dictionary = args.dictionary or ("calibrated" if from_sweep else "nominal")
    if dictionary == "calibrated" and not from_sweep:
        raise SrsaoaError(
            "--dictionary calibrated needs a sweep's manifold: --data SWEEP with --synthetic > 0"
        )
    manifold = None
    recipe = dictionary_defaults(dictionary)
    cfg = ModelConfig(
        dictionary=dictionary,
        grid_step_deg=args.grid_step,
        num_subregions=(
            args.subregions if args.subregions is not None else recipe["num_subregions"]
        ),
        hidden=args.hidden,
        frequency_diverse=not args.shared_encoder,
        outer_iterations=args.outer_iterations,
        cg_iterations=args.cg_iterations,
        lam=args.lam,
        train_lam=not args.fixed_lam,
        eps=args.eps,
        mu=args.mu,
        sparsity=not args.no_sparsity,
        subcarrier_bands=not args.sampled_subcarriers,
        labels=args.labels,
        nonnegative=recipe["nonnegative"] if args.nonnegative is None else args.nonnegative,
    )
    tcfg = TrainConfig(
        epochs=args.epochs,
        autoencoder_epochs=args.ae_epochs,
        batch_size=args.batch,
        lr=args.lr,
        train_step_deg=args.train_step,
        realisations=args.realisations,
        val_angles=args.val_angles,
        snr_db=args.snr_db,
        seed=args.seed,
    )
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    if args.data:
        from .calibrate import sweep_dataset

        # the recordings through the receiver's own C++ front end, as calibrate and run
        full = D.load_dir(args.data, sweep_dataset)
        angles = np.unique(np.round(full.aoa_deg, 6))
        if angles.size < 5:
            raise SrsaoaError(
                f"{args.data}: {angles.size} distinct angle(s); training splits by angle and "
                "needs at least 5 (a sweep)"
            )
        val_ang = rng.choice(angles, size=max(1, int(round(0.2 * angles.size))), replace=False)
        is_val = np.isin(np.round(full.aoa_deg, 6), val_ang)
        train_set, val_set = (
            full.subset(np.flatnonzero(~is_val)),
            full.subset(np.flatnonzero(is_val)),
        )
        source = {"data": str(args.data)}
        if args.synthetic > 0:
            train_set, val_set, cal_info, manifold = _with_manifold(
                args, cfg, tcfg, train_set, val_set, rng
            )
            source.update(cal_info)
    else:
        if args.scenario in (None, "default"):
            ula, profile, f = None, None, D.default_srs_subcarriers_hz()
            source = {
                "scenario": "default",
                "profile": f"ImpairmentProfile.default({args.profile_seed}, rho={args.rho})",
            }
        else:
            ula, profile, f = D.scenario_setup(args.scenario)
            source = {"scenario": str(args.scenario)}
        f = model_subcarriers(f, cfg)
        tr, va = D.split_angles(
            cfg.grid_start_deg, cfg.grid_stop_deg, tcfg.train_step_deg, tcfg.val_angles, rng
        )
        ang = np.repeat(tr, tcfg.realisations)
        snr = rng.uniform(
            tcfg.snr_db - tcfg.snr_jitter_db, tcfg.snr_db + tcfg.snr_jitter_db, ang.size
        )
        kw = dict(
            rho=args.rho, profile_seed=args.profile_seed, ula=ula, subcarriers_hz=f, profile=profile
        )
        train_set = D.simulate(ang, snr, rng, **kw)
        val_set = D.simulate(va, tcfg.snr_db, rng, **kw)
    wpath, _ = model_paths(args.out)
    model, hist = train(
        cfg,
        tcfg,
        train_set,
        val_set,
        device=device or args.device,
        checkpoint=str(wpath) + ".ckpt",
        resume=args.resume,
        progress=show_progress(args),
        manifold=manifold,
    )
    if not distributed.is_main():  # rank 0 validates, writes and prints
        return 0
    from ..moddnn.model import prepare_cfr

    val_rmse = (
        rmse(predict(model, prepare_cfr(val_set.cfr, cfg)), val_set.aoa_deg)
        if len(val_set)
        else float("nan")
    )
    meta = {
        "training": {
            **tcfg.__dict__,
            **source,
            "rho": args.rho,
            "num_train": len(train_set),
            "num_val": len(val_set),
            "processes": distributed.world_size(),
            "val_rmse_deg": val_rmse,
            "seconds": round(time.time() - t0, 1),
            "arguments": {k: v for k, v in vars(args).items() if k != "func"},
            "history": hist,
        },
        "subcarriers_hz": [float(x) for x in train_set.subcarriers_hz],
        "array": {"num_elements": cfg.num_elements, "spacing_wavelengths": cfg.spacing_wavelengths},
    }
    meta["training"].pop("extra", None)
    w, j = save_model(model, args.out, meta)
    if args.torchscript:
        from ..moddnn.modelfile import export_torchscript

        export_torchscript(model, args.torchscript)
    if args.onnx:
        from ..moddnn.modelfile import export_onnx

        export_onnx(model, args.onnx)
    print(
        json.dumps(
            {
                "weights": str(w),
                "metadata": str(j),
                "val_rmse_deg": round(val_rmse, 4),
                "seconds": meta["training"]["seconds"],
            }
        )
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    """One process, or one of ``torchrun --nproc-per-node N`` (RANK, WORLD_SIZE, LOCAL_RANK
    in the environment): every process trains its share of each batch, rank 0 alone writes
    the files and prints (docs/moddnn.md, moddnn.distributed); the others exit with 0.

    A torchrun process that finished cleanly ends with ``os._exit`` after leaving the group
    and flushing its output, as a multiprocessing child does, not through the interpreter's
    shutdown: gloo keeps its worker threads after ``destroy_process_group`` here, and one of
    them may still be releasing the tensors of the last collective, which needs the GIL; in
    a finalising interpreter that thread is unwound and the process aborts ("terminate
    called without an active exception": 1 run in 28 of the torchrun test's command, in a
    core dump ProcessGroupGloo::runLoop -> ~AsyncAllreduceWork -> decref_pyobject). A
    barrier alone only moved the release into the barrier's work (1 in 21).
    """
    from ..moddnn import distributed

    ctx = distributed.setup(args.device)
    if ctx is None:
        return _train(args)
    try:
        if not ctx.is_main:
            args.progress = False
        with distributed.quiet_unless_main():
            rc = _train(args, ctx.device)
    except BaseException:
        distributed.teardown(synchronise=False)
        raise
    distributed.teardown()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(rc)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a MoD-DNN model (docs/moddnn.md)",
        description=(
            "Train MoD-DNN (Liu et al. 2025) for one array: on CFRs simulated for the default "
            "impaired array or a scenario's array (--scenario), or on a directory of labelled "
            "recordings or CFR files (--data, a turntable sweep), whose array manifold is "
            "fitted first and draws --synthetic further CFRs (docs/calibration.md). Writes "
            "NAME.safetensors + NAME.json (+ NAME.calibration.json from a sweep). Runs under "
            "torchrun for several processes."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--scenario", help="simulator scenario YAML, or 'default' (the default impaired array)"
    )
    src.add_argument(
        "--data", help="directory of labelled CFR datasets (*.npz: cfr, aoa_deg, subcarriers_hz)"
    )
    p.add_argument("--out", required=True, help="model NAME (writes NAME.safetensors, NAME.json)")
    p.add_argument(
        "--synthetic",
        type=int,
        default=9600,
        help="--data: CFRs drawn from the sweep's fitted manifold beside the measured ones "
        "(0: measured CFRs only, the old behaviour); docs/calibration.md",
    )
    p.add_argument(
        "--calibration",
        default="",
        help="--data: manifold calibration (srsaoa calibrate --sweep) to draw from instead of "
        "fitting one from the data",
    )
    p.add_argument("--rho", type=float, default=1.0, help="impairment weight rho (eq 34)")
    p.add_argument(
        "--profile-seed", type=int, default=2024, help="seed of ImpairmentProfile.default"
    )
    p.add_argument("--epochs", type=int, default=30, help="MoDL-SSR epochs")
    p.add_argument("--ae-epochs", type=int, default=6, help="autoencoder epochs")
    p.add_argument("--batch", type=int, default=64, help="batch size")
    p.add_argument(
        "--lr", type=float, default=0.01, help="Adam learning rate (halved every 5 epochs)"
    )
    p.add_argument("--train-step", type=float, default=0.2, help="training angle step, deg")
    p.add_argument("--realisations", type=int, default=8, help="CFRs per training angle")
    p.add_argument("--val-angles", type=int, default=200, help="held-out validation angles")
    p.add_argument("--snr-db", type=float, default=10.0, help="training SNR (+-3 dB jitter), dB")
    p.add_argument("--seed", type=int, default=1, help="seed of data, split and weights")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from NAME.safetensors.ckpt")
    p.add_argument(
        "--torchscript",
        help="also export a TorchScript file here (deprecated in PyTorch: prefer --onnx)",
    )
    p.add_argument(
        "--onnx",
        help="also export an ONNX file here, checked in onnxruntime against PyTorch "
        "(docs/moddnn.md, export)",
    )
    add_progress_args(p)
    add_model_args(p)
    p.set_defaults(func=_run)
