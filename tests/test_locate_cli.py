"""``srsaoa locate`` and positioning simulation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa.cli import main
from gnuradio.srsaoa.position import position_crb
from gnuradio.srsaoa.sim.positioning import (
    PositioningScenario,
    simulate_positioning,
    write_positioning,
)

ROOT = Path(__file__).resolve().parent.parent

ANCHORS = [
    {"name": "gnb1", "position_m": [0.0, 0.0, 3.0], "yaw_deg": 45.0},
    {"name": "gnb2", "position_m": [30.0, 0.0, 3.0], "yaw_deg": 135.0},
    {"name": "gnb3", "position_m": [15.0, 30.0, 3.0], "yaw_deg": -90.0},
]


def _scenario(**kw) -> PositioningScenario:
    d = {
        "anchors": ANCHORS,
        "ue": {"waypoints_m": [[8, 6], [22, 6], [22, 18]], "speed_m_s": 1.4, "height_m": 1.5},
        "period_s": 0.2,
        "aoa_model": "crb",
        "n_snapshots": 64,
        "snr_db": 10.0,
        "ranges": {"anchors": ["gnb1"], "sigma_m": 0.1},
        "seed": 3,
    }
    d.update(kw)
    return PositioningScenario.from_dict(d)


def _files(tmp_path: Path, **kw) -> tuple[dict, PositioningScenario]:
    sc = _scenario(**kw)
    return write_positioning(simulate_positioning(sc), tmp_path / "sim"), sc


def _locate(files: dict, out: Path, *extra: str, names=("gnb1", "gnb2", "gnb3")) -> int:
    est = [f"{n}={files[n]}" for n in names]
    return main(
        ["locate", "--anchors", str(files["anchors"]), "--estimates", *est, "--out", str(out)]
        + list(extra)
    )


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_three_anchors_with_range_efficient(tmp_path, capsys):
    files, sc = _files(tmp_path)
    out = tmp_path / "p.jsonl"
    rc = _locate(files, out, "--ranges", str(files["ranges"]), "--ue-height-m", "1.5")
    assert rc == 0, capsys.readouterr().err
    recs = _read(out)
    truth = np.array(
        [[r["t_s"], r["x_m"], r["y_m"]] for r in map(json.loads, open(files["truth"]))]
    )
    assert len(recs) == len(truth)
    assert set(recs[0]) == {"t_s", "x_m", "y_m", "cov_m2", "anchors", "method"}
    assert recs[0]["anchors"] == ["gnb1", "gnb2", "gnb3"] and recs[0]["method"] == "aoa+range"
    maha = []
    for r, (t, x, y) in zip(recs, truth, strict=True):
        assert r["t_s"] == pytest.approx(t)
        e = np.array([r["x_m"] - x, r["y_m"] - y])
        cov = np.array(r["cov_m2"])
        assert cov[0, 1] == cov[1, 0]
        maha.append(e @ np.linalg.solve(cov, e))
    # AoA drawn at the CRB: the reported covariance is the position CRB, so the mean
    # Mahalanobis error is 2 (chi-square, 2 dof); 5 standard deviations of the mean
    assert abs(np.mean(maha) - 2.0) < 5 * 2 / math.sqrt(len(maha))


def test_reported_covariance_is_the_crb(tmp_path):
    files, sc = _files(tmp_path)
    out = tmp_path / "p.jsonl"
    assert _locate(files, out, "--ue-height-m", "1.5") == 0
    recs = _read(out)
    est = {n: [json.loads(x) for x in open(files[n])] for n in ("gnb1", "gnb2", "gnb3")}
    anchors = sc.anchors
    r0 = recs[5]
    p = sc.position(np.array([r0["t_s"]]))[0]
    sig = {n: est[n][5]["crb_deg"][0] for n in est}
    crb = position_crb(anchors, p, sig, None, ue_height_m=1.5)
    np.testing.assert_allclose(np.array(r0["cov_m2"]), crb, rtol=0.05)
    assert r0["method"] == "aoa"


def test_single_anchor_needs_a_range(tmp_path, capsys):
    files, _ = _files(tmp_path)
    out = tmp_path / "p.jsonl"
    assert _locate(files, out, "--ranges", str(files["ranges"]), names=["gnb1"]) == 0
    assert all(r["method"] == "aoa+range" and r["anchors"] == ["gnb1"] for r in _read(out))
    capsys.readouterr()
    assert _locate(files, out, names=["gnb1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no position could be solved" in err[0]


def test_track_plot_and_truth(tmp_path, capsys):
    files, _ = _files(tmp_path)
    out = tmp_path / "p.jsonl"
    png = tmp_path / "map.png"
    rc = _locate(
        files,
        out,
        "--track",
        "--truth",
        str(files["truth"]),
        "--plot",
        str(png),
        "--ue-height-m",
        "1.5",
    )
    assert rc == 0
    assert "error vs truth" in capsys.readouterr().out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert all(r["method"] == "ekf" for r in _read(out))


def _expect_error(capsys, argv: list[str], needle: str) -> None:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert needle in err[0], err[0]


def test_bad_input_is_one_line(tmp_path, capsys):
    files, _ = _files(tmp_path)
    out = str(tmp_path / "p.jsonl")
    base = ["locate", "--anchors", str(files["anchors"]), "--out", out]
    _expect_error(capsys, [*base, "--estimates", f"nope={files['gnb1']}"], "unknown anchor 'nope'")
    _expect_error(capsys, [*base, "--estimates", str(files["gnb1"])], "NAME=FILE")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t_s": 0.0, "aoa_deg": [1.0]}\n{"t_s": 0.1, "aoa_deg": [\n')
    _expect_error(capsys, [*base, "--estimates", f"gnb1={bad}"], "bad.jsonl:2")
    bad.write_text('{"t_s": 0.0, "aoa_deg": [NaN], "method": "x"}\n')
    _expect_error(capsys, [*base, "--estimates", f"gnb1={bad}"], "not finite")
    rng_bad = tmp_path / "r.jsonl"
    rng_bad.write_text('{"t_s": 0.0, "anchor": "ghost", "range_m": 3.0, "sigma_m": 0.1}\n')
    est = ["--estimates", f"gnb1={files['gnb1']}"]
    _expect_error(capsys, [*base, *est, "--ranges", str(rng_bad)], "unknown anchor 'ghost'")
    rng_bad.write_text('{"t_s": 0.0, "anchor": "gnb1", "range_m": NaN, "sigma_m": 0.1}\n')
    _expect_error(capsys, [*base, *est, "--ranges", str(rng_bad)], "range_m is not finite")
    yml = tmp_path / "a.yaml"
    yml.write_text("anchors: [{name: gnb1, position_m: [0, 0], yaw_deg: 0}]\n")
    _expect_error(
        capsys,
        ["locate", "--anchors", str(yml), "--out", out, *est],
        "position_m",
    )
    _expect_error(capsys, [*base, "--estimates", f"gnb1={tmp_path / 'none.jsonl'}"], "cannot read")


def test_simulate_command_writes_positioning_set(tmp_path, capsys):
    scen = ROOT / "examples" / "positioning" / "walk_three_anchors.yaml"
    rc = main(["simulate", "--scenario", str(scen), "--out", str(tmp_path / "walk")])
    assert rc == 0, capsys.readouterr().err
    for suffix in ("anchors.yaml", "gnb1.jsonl", "gnb2.jsonl", "gnb3.jsonl", "ranges.jsonl"):
        assert (tmp_path / f"walk_{suffix}").is_file()
    truth = (tmp_path / "walk_truth.jsonl").read_text().splitlines()
    rec = json.loads((tmp_path / "walk_gnb1.jsonl").read_text().splitlines()[0])
    assert rec["method"] == "root-music" and len(rec["crb_deg"]) == 1
    assert len(truth) == len((tmp_path / "walk_gnb2.jsonl").read_text().splitlines())
