"""`srsaoa train` / `srsaoa evaluate` end to end at toy sizes, and their error handling."""

from __future__ import annotations

import csv
import json

import numpy as np
from gnuradio.srsaoa import cli
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.modelfile import load_model

TOY = ["--grid-step", "1", "--epochs", "1", "--ae-epochs", "1", "--realisations", "1",
       "--train-step", "2", "--val-angles", "10", "--no-progress", "--threads", "1",
       "--cg-iterations", "4", "--outer-iterations", "1"]  # fmt: skip


def test_train_then_evaluate(tmp_path, capsys):
    model = tmp_path / "new" / "folder" / "m"  # created by train
    assert (
        cli.main(["train", "--scenario", "default", "--out", str(model), "--seed", "4", *TOY]) == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["weights"].endswith("m.safetensors") and np.isfinite(summary["val_rmse_deg"])
    net, meta = load_model(model)
    assert net.cfg.grid_step_deg == 1.0 and net.cfg.outer_iterations == 1
    assert meta["training"]["seed"] == 4 and meta["training"]["arguments"]["grid_step"] == 1.0
    # the full 51-RB comb: the model averages it into 16 subcarrier bands
    assert len(meta["subcarriers_hz"]) == 306 and net.cfg.subcarrier_bands
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(model), "--out", str(out), "--snr-db", "10",
            "--rho", "0,1", "--angles", "12", "--baseline-epochs", "1", "--threads", "1"]  # fmt: skip
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    for m in ("moddnn", "music", "esprit", "dbf", "cnn", "deepmusic"):
        assert m in text
    for f in ("rmse_vs_snr.csv", "rmse_vs_rho.csv", "errors.csv", "rmse_vs_snr.png",
              "rmse_vs_rho.png", "error_cdf.png", "subregion_boxplot.png"):  # fmt: skip
        assert (out / f).stat().st_size > 0, f
    rows = list(csv.DictReader(open(out / "rmse_vs_rho.csv")))
    assert {r["rho"] for r in rows} == {"0.0", "1.0"} and len(rows) == 12


def test_train_from_a_data_directory(tmp_path, capsys):
    # The recorded-sweep workflow: labelled CFR files in a directory, split by angle.
    rng = np.random.default_rng(3)
    for lo in (-60, 0):
        ds = D.simulate(np.arange(lo, lo + 60.1, 2.0), 10.0, rng)
        D.save_npz(ds, tmp_path / f"sweep_{lo + 60}.npz")
    model = tmp_path / "m"
    args = ["train", "--data", str(tmp_path), "--out", str(model), *TOY]
    assert cli.main([*args, "--synthetic", "200"]) == 0
    _, meta = load_model(model)
    tr = meta["training"]
    n_meas, n_val = tr["num_measured"], tr["num_val"]
    # split by angle; the manifold fitted on the training angles adds the synthetic CFRs
    assert n_meas + n_val == 62 and 0 < n_val < n_meas
    assert tr["num_train"] == n_meas + 200 and tr["num_synthetic"] == 200
    assert tr["calibration"] == "m.calibration.json"  # beside the model, moved with it
    assert (tmp_path / "m.calibration.json").is_file()
    lo, hi = tr["domain_deg"]
    assert -60 <= lo < hi <= 60
    # --synthetic 0: the measured CFRs only (no manifold, no calibration)
    assert cli.main([*args, "--synthetic", "0"]) == 0
    _, meta = load_model(model)
    assert meta["training"]["num_train"] + meta["training"]["num_val"] == 62
    assert "calibration" not in meta["training"]


def test_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["evaluate", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and len(err.splitlines()) == 1
    assert cli.main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert cli.main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 1
    assert "not a CFR dataset" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert cli.main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "file" / "m")]) == 1
    assert "cannot create its folder" in capsys.readouterr().err
    # an export over the model's own weights is refused before training
    m = str(tmp_path / "m")
    assert cli.main(["train", "--out", m, "--onnx", m + ".safetensors", *TOY]) == 1
    assert "--onnx" in capsys.readouterr().err
