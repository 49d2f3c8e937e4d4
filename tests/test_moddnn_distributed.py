"""`srsaoa train` on two CPU processes under torchrun (docs/moddnn.md).

``python -m torch.distributed.run --standalone --nproc-per-node 2 -m gnuradio.srsaoa.cli train``
on a small configuration (121 training angles x 4 CFRs, 2 + 6 epochs, batch 32, one CNN/SCG
alternation), against one-process runs of the same configuration.

What must hold, and why these tolerances:
- Two processes take the steps of one process with the same batch (moddnn.distributed: each
  process's loss is its half of the batch's, the gradients are summed, batch norm uses the
  whole batch's statistics), so they differ only in the order of floating-point sums
  (float32, relative rounding 6e-8 per operation, ~1e-6 over a batch loss). The
  autoencoder stage has no batch norm and a smooth loss: its recorded epoch losses and
  validation losses must agree with the one-process run of the same seed to 1e-5 relative
  (measured: 5e-9 to 3e-8). The first MoDL-SSR epoch goes through batch norm, the unrolled
  SCG and Adam's first steps (which turn rounding-level gradients of nearly idle weights
  into full-size steps): 5e-3 relative (measured 5e-6 and 3e-4 with seeds 3 and 1), while
  processes normalising with their own half batch are off by 2e-2. Later epochs drift
  apart as training amplifies the rounding, so:
- the validation RMSE of the two-process model must lie below the upper end of the 99 %
  prediction interval of one more one-process run, from n = 5 one-process seeds:
  mean + t_{0.99, n-1} * sd * sqrt(1 + 1/n) ("within the one-process run-to-run spread").
- rank 0 alone prints (one JSON summary) and writes a model that loads, with
  ``training.processes`` = 2; rank 1 exits with 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from gnuradio.srsaoa import cli
from gnuradio.srsaoa.moddnn.modelfile import load_model
from scipy import stats

SMALL = ["--scenario", "default", "--grid-step", "1", "--train-step", "1", "--realisations", "4",
         "--ae-epochs", "2", "--epochs", "6", "--batch", "32", "--outer-iterations", "1",
         "--cg-iterations", "4", "--val-angles", "40", "--no-progress", "--threads", "1"]  # fmt: skip
SEEDS = (1, 2, 3, 4, 5)
TIMEOUT_S = 110


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """{seed: model metadata} of one-process runs (in this process)."""
    out = {}
    d = tmp_path_factory.mktemp("one")
    for seed in SEEDS:
        assert cli.main(["train", *SMALL, "--seed", str(seed), "--out", str(d / f"m{seed}")]) == 0
        out[seed] = json.loads((d / f"m{seed}.json").read_text())
    return out


def test_two_processes_train_like_one(one_process, tmp_path):
    model = tmp_path / "two"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "gnuradio.srsaoa.cli", "train", *SMALL, "--seed", "1", "--out", str(model)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=TIMEOUT_S
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert len(summaries) == 1, proc.stdout  # rank 0 alone prints
    net, meta = load_model(model)
    tr = meta["training"]
    assert tr["processes"] == 2 and net.cfg.outer_iterations == 1
    assert summaries[0]["val_rmse_deg"] == pytest.approx(tr["val_rmse_deg"], abs=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "two.json",
        "two.safetensors",
        "two.safetensors.ckpt",
    ]

    one = one_process[1]["training"]
    assert one["processes"] == 1
    h1, h2 = one["history"], tr["history"]
    assert [h["stage"] for h in h1] == [h["stage"] for h in h2] == ["autoencoder"] * 2 + ["ssr"] * 6
    for a, b in zip(h1[:2], h2[:2], strict=True):  # autoencoder: the same arithmetic
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
    assert h2[2]["loss"] == pytest.approx(h1[2]["loss"], rel=5e-3)  # through batch norm

    rmse1 = np.array([one_process[s]["training"]["val_rmse_deg"] for s in SEEDS])
    n = rmse1.size
    upper = rmse1.mean() + stats.t.ppf(0.99, n - 1) * rmse1.std(ddof=1) * np.sqrt(1 + 1 / n)
    assert tr["val_rmse_deg"] <= upper, (tr["val_rmse_deg"], rmse1)
