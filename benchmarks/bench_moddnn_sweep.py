#!/usr/bin/env python3
"""MoD-DNN trained on a chamber sweep of SigMF recordings, tested on other recordings of the
same array at angles not in the sweep ("the same accuracy holds").

The real workflow, simulated end to end: `srsaoa simulate`'s chamber sweep (the impaired
array of examples/scenarios/chamber_sweep.yaml, one recording per angle every ``--step``
degrees, SNR 10 dB per RE), `srsaoa train --data DIR` with its defaults (every recording
through the receiver's front-end twins, labels from the SigMF truth), then ``--test``
further recordings of the same array at random angles off the sweep grid, with their own
noise, estimated through the same front end and the flowgraph's inference path
(moddnn.lowered). Prints RMSE and 80th-percentile error against the targets.

    .venv/bin/python benchmarks/bench_moddnn_sweep.py [--step 0.5] [--slots 16] [--test 60]

About 10 minutes on 2 cores (most of it training); about 1 GB of recordings in a temporary
directory (``--keep DIR`` to keep them).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gnuradio.srsaoa.io import write_recording
from gnuradio.srsaoa.moddnn.lowered import LoweredMoDDNN
from gnuradio.srsaoa.moddnn.modelfile import load_model
from gnuradio.srsaoa.moddnn.recordings import cfr_dataset_from_recording
from gnuradio.srsaoa.sim import Scenario, sweep

ROOT = Path(__file__).resolve().parents[1]


def _write(sc: Scenario, angles: np.ndarray, directory: Path, label: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for i, (_, rec) in enumerate(sweep(sc, angles)):
        write_recording(directory / f"{label}_{i:04d}", rec, datatype="ci16_le")
        if (i + 1) % 50 == 0 or i + 1 == len(angles):
            print(f"  {label}: {i + 1}/{len(angles)} recordings ({time.time() - t0:.0f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--step", type=float, default=0.5, help="sweep step, deg")
    ap.add_argument("--slots", type=int, default=16, help="slots (SRS occasions) per angle")
    ap.add_argument("--test", type=int, default=60, help="test recordings (angles)")
    ap.add_argument("--snr-db", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", help="write the recordings and the model here (kept)")
    args = ap.parse_args()

    base = Scenario.from_yaml(ROOT / "examples" / "scenarios" / "chamber_sweep.yaml")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="srsaoa_sweep_"))
    try:
        n = int(round(120.0 / args.step)) + 1
        sweep_angles = -60.0 + args.step * np.arange(n)
        print(f"sweep: {n} angles every {args.step} deg, {args.slots} slots, {args.snr_db} dB")
        train_sc = base.copy(num_slots=args.slots, snr_db=args.snr_db, seed=args.seed)
        _write(train_sc, sweep_angles, work / "sweep", "sweep")

        print("training: srsaoa train --data (defaults)")
        t0 = time.time()
        model = work / "model"
        subprocess.run(
            [sys.executable, "-m", "gnuradio.srsaoa.cli", "train", "--data",
             str(work / "sweep"), "--out", str(model), "--no-progress", "--seed", "1"],
            check=True,
        )  # fmt: skip
        train_min = (time.time() - t0) / 60

        rng = np.random.default_rng(args.seed + 1)
        test_angles = rng.uniform(-59.5, 59.5, 4 * args.test)
        off = np.abs(test_angles / args.step - np.round(test_angles / args.step)) * args.step
        test_angles = np.sort(test_angles[off >= 0.2 * args.step][: args.test])
        print(f"test: {len(test_angles)} recordings at angles off the sweep grid")
        test_sc = base.copy(num_slots=4, snr_db=args.snr_db, seed=args.seed + 100_000)
        _write(test_sc, test_angles, work / "test", "test")

        net, _ = load_model(model)
        low = LoweredMoDDNN(net)
        err = []
        for p in sorted((work / "test").glob("*.sigmf-collection")):
            ds = cfr_dataset_from_recording(p)
            est = np.array([a for a, _ in low.estimate_batch(list(ds.cfr))])
            err.extend(est - ds.aoa_deg)
        e = np.abs(np.asarray(err))
        rmse, p80, med = float(np.sqrt(np.mean(e**2))), float(np.percentile(e, 80)), float(
            np.median(e)
        )  # fmt: skip
        print(f"\nTrained on the sweep ({train_min:.1f} min), {e.size} test CFRs off the sweep")
        print("| method | RMSE (deg) | 80th pct (deg) | median (deg) |\n|---|---|---|---|")
        print(f"| MoD-DNN (sweep-trained) | {rmse:.3f} | {p80:.3f} | {med:.3f} |")
        print("\n| target | met |\n|---|---|")
        print(f"| RMSE <= 0.5 deg | {'yes' if rmse <= 0.5 else 'NO'} |")
        print(f"| 80th pct <= 0.3 deg | {'yes' if p80 <= 0.3 else 'NO'} |")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
