#!/usr/bin/env python3
"""MoD-DNN accuracy and speed against the baselines (the targets), printed as tables.

    .venv/bin/python benchmarks/bench_moddnn.py                  # the shipped default model
    .venv/bin/python benchmarks/bench_moddnn.py --model M        # another model
    .venv/bin/python benchmarks/bench_moddnn.py --train          # also time `srsaoa train` defaults

Accuracy: the default impaired array (ImpairmentProfile.default, rho = 1), SNR 10 dB, angles
held out from training (midpoints of the training grid), fresh noise; CNN and DeepMUSIC are
trained here on the model's training angles. Speed: one CPU thread, single CFR and batch of
32, for the PyTorch model and its numpy lowering (the flowgraph's inference path).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.evaluate import evaluate
from gnuradio.srsaoa.moddnn.lowered import LoweredMoDDNN
from gnuradio.srsaoa.moddnn.modelfile import load_model


def speed(model, meta) -> dict[str, float]:
    """ms per estimate on one CPU thread, single CFR and batch of 32: the PyTorch model and
    its numpy lowering (moddnn.lowered, what the moddnn_doa block runs)."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    f = np.asarray(meta.get("subcarriers_hz") or D.default_srs_subcarriers_hz())
    ds = D.simulate(rng.uniform(-60, 60, 32), 10.0, rng, subcarriers_hz=f)
    lowered = LoweredMoDDNN(model)
    out = {}
    for name, fn in (("pytorch", model.estimate), ("lowered", lowered.estimate)):
        fn(ds.cfr[:1])
        for b in (1, 32):
            reps = 50 if b == 1 else 5
            t0 = time.perf_counter()
            for _ in range(reps):
                fn(ds.cfr[:b])
            out[f"{name}_batch{b}_ms_per_estimate"] = (time.perf_counter() - t0) * 1e3 / (reps * b)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="default")
    ap.add_argument("--angles", type=int, default=300)
    ap.add_argument("--out", help="also write the evaluate CSV/PNG files here")
    ap.add_argument("--train", action="store_true", help="time a default `srsaoa train` run")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, meta = load_model(args.model)
    res = evaluate(
        model,
        meta,
        args.out,
        snrs_db=(10,),
        rhos=(0.0, 1.0),
        num_angles=args.angles,
        plots=args.out is not None,
    )
    print(f"\nHeld-out angles, default impaired array, rho = 1, SNR 10 dB ({args.angles} CFRs)")
    print("| method | RMSE (deg) | 80th pct (deg) | median (deg) |\n|---|---|---|---|")
    for m, s in res["summary"].items():
        print(f"| {m} | {s['rmse_deg']:.3f} | {s['p80_deg']:.3f} | {s['median_deg']:.3f} |")
    print(
        "\nrho = 0 (no angle-dependent error; channel gain/phase mismatch and coupling remain), SNR 10 dB"
    )
    print("| method | RMSE (deg) | 80th pct (deg) |\n|---|---|---|")
    for r in res["rho"]:
        if r["rho"] == 0.0:
            print(f"| {r['method']} | {r['rmse_deg']:.3f} | {r['p80_deg']:.3f} |")
    s = res["summary"]
    targets = [
        ("MoD-DNN RMSE <= 0.5 deg", s["moddnn"]["rmse_deg"] <= 0.5),
        ("MoD-DNN 80th pct <= 0.3 deg", s["moddnn"]["p80_deg"] <= 0.3),
        (
            "MUSIC and ESPRIT RMSE > 1.5 deg",
            min(s["music"]["rmse_deg"], s["esprit"]["rmse_deg"]) > 1.5,
        ),
        (
            "MoD-DNN beats CNN and DeepMUSIC",
            s["moddnn"]["rmse_deg"] < min(s["cnn"]["rmse_deg"], s["deepmusic"]["rmse_deg"]),
        ),
    ]
    sp = speed(model, meta)
    targets.append(
        (
            "inference < 2 ms per estimate (1 core, single CFR, lowered)",
            sp["lowered_batch1_ms_per_estimate"] < 2.0,
        )
    )
    print("\n| speed (1 CPU thread) | ms per estimate |\n|---|---|")
    for k, v in sp.items():
        print(f"| {k} | {v:.2f} |")
    if args.train:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gnuradio.srsaoa.cli",
                    "train",
                    "--scenario",
                    "default",
                    "--out",
                    f"{tmp}/m",
                    "--no-progress",
                ],
                check=True,
            )
            minutes = (time.time() - t0) / 60
        print(f"\ndefault `srsaoa train`: {minutes:.1f} min")
        targets.append(("default training < 20 min", minutes < 20))
    print("\n| target | met |\n|---|---|")
    for t, ok in targets:
        print(f"| {t} | {'yes' if ok else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
