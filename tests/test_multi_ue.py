"""Several UEs, each with its own SRS resource (docs/multi_ue.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from gnuradio.srsaoa import sim
from gnuradio.srsaoa.sim.scenario import ScenarioError


def two_ue_scenario(**kw):
    d = {
        "name": "two",
        "snr_db": 10.0,
        "num_slots": 8,
        "seed": 3,
        "ues": [
            {"id": "ue1", "srs": {"c_srs": 12, "k_bar_tc": 0}, "paths": [{"aoa_deg": 20.0}]},
            {
                "id": "ue2",
                "srs": {"c_srs": 12, "k_bar_tc": 1},
                "paths": [{"aoa_deg": -35.0}],
                "snr_db": 13.0,
                "cfo_hz": 200.0,
                "timing_offset_samples": 5,
            },
        ],
    }
    d.update(kw)
    return d


def test_two_ues_truth_and_sum():
    rec = sim.simulate(two_ue_scenario())
    ues = rec.truth["ues"]
    assert [u["id"] for u in ues] == ["ue1", "ue2"]
    assert [u["los_aoa_deg"] for u in ues] == [20.0, -35.0]
    assert ues[1]["snr_db"] == 13.0 and ues[1]["timing_offset_samples"] == 5
    assert ues[1]["srs_slot_sample_starts"][0] == ues[0]["srs_slot_sample_starts"][0] + 5
    labels = {a["srsaoa:resource"] for a in rec.annotations}
    assert labels == {"ue1", "ue2"}
    # noise-free: the recording is the sum of the UEs alone, each scaled to its SNR
    ues_free = [{k: v for k, v in u.items() if k != "snr_db"} for u in two_ue_scenario()["ues"]]
    free = sim.simulate(two_ue_scenario(snr_db=None, ues=ues_free))
    alone = [sim.simulate(two_ue_scenario(snr_db=None, ues=[u])) for u in ues_free]
    assert np.abs(free.samples).max() > 0.1
    assert np.allclose(free.samples, alone[0].samples + alone[1].samples, atol=1e-5)
    # the SNR of each UE: signal power per RE over the noise variance
    for u in ues:
        assert 10 * np.log10(u["signal_power_per_re"] / rec.truth["noise_variance"]) == (
            pytest.approx(u["snr_db"], abs=1e-9)
        )


@pytest.mark.parametrize(
    "ues, match",
    [
        ([{"id": "a"}, {"id": "a"}], "repeats"),
        ([{"id": ""}], "id"),
        ([{"id": "a", "bogus": 1}], "unknown"),
        ([{"id": "a", "snr_db": 3, "power_db": 1}], "not both"),
        ([{"id": "a", "srs": {"k_tc": 3}}], "ues\\[0\\]"),
        ([{"id": "a", "timing_offset_samples": -1}], "timing_offset"),
    ],
)
def test_bad_ues(ues, match):
    with pytest.raises(ScenarioError, match=match):
        sim.Scenario.from_dict({"ues": ues})


def test_multi_ue_recording_roundtrip(tmp_path):
    from gnuradio.srsaoa.io import read_recording, write_recording

    rec = sim.simulate(two_ue_scenario(num_slots=2))
    path = write_recording(str(tmp_path / "two"), rec)
    back = read_recording(str(path))
    assert back.truth["ues"][1]["id"] == "ue2"
    assert back.annotations[1]["srsaoa:resource"] == "ue2"


SRSAOA = Path(sys.executable).parent / "srsaoa"


def _srsaoa(*args):
    return subprocess.run([str(SRSAOA), *args], capture_output=True, text=True, timeout=600)


def _resources_yaml(path, ues):
    doc = {"resources": [{"id": u["id"], "srs": u["srs"]} for u in ues]}
    path.write_text(yaml.safe_dump(doc))
    return path


def _check_per_ue(records, truth_ues, sigmas=5.0):
    """Every estimate is of its own UE: within ``sigmas`` CRBs of that UE's truth."""
    truth = {u["id"]: u["los_aoa_deg"] for u in truth_ues}
    assert {r["resource"] for r in records} == set(truth)
    for uid, aoa in truth.items():
        mine = [r for r in records if r["resource"] == uid]
        assert len(mine) == next(u for u in truth_ues if u["id"] == uid)["num_srs_occasions"]
        for r in mine:
            assert abs(r["aoa_deg"][0] - aoa) <= sigmas * r["crb_deg"][0], (uid, r)


def test_run_two_ues_on_two_combs(tmp_path):
    from gnuradio.srsaoa.io import write_recording

    sc = two_ue_scenario(num_slots=10)
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "two"), rec)
    res = _resources_yaml(tmp_path / "R.yaml", sc["ues"])
    out = tmp_path / "out.jsonl"
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(res), "-m", "esprit", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "UE ue1:" in r.stdout and "UE ue2:" in r.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    _check_per_ue(records, rec.truth["ues"])
    # the resources of the recording's metadata give the same
    out2 = tmp_path / "out2.jsonl"
    r = _srsaoa(
        "run", "-i", str(coll), "--srs-resources", "recording", "-m", "esprit", "-o", str(out2)
    )
    assert r.returncode == 0, r.stderr
    # (the sinks of the branches share the file: lines of different UEs interleave freely)
    assert sorted(out2.read_text().splitlines()) == sorted(out.read_text().splitlines())


def test_run_resource_errors(tmp_path):
    from gnuradio.srsaoa.io import write_recording

    coll = write_recording(str(tmp_path / "one"), sim.simulate({"num_slots": 2}))
    srs = tmp_path / "srs.yaml"
    srs.write_text("c_srs: 12\n")
    r = _srsaoa("run", "-i", str(coll), "--srs", str(srs))
    assert r.returncode != 0 and "--srs applies to raw input" in r.stderr
    bad = tmp_path / "R.yaml"
    bad.write_text("resources: [{id: a, srs: {c_srs: 12}}, {id: a, srs: {c_srs: 12}}]\n")
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(bad))
    assert r.returncode != 0 and "repeats" in r.stderr
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", "recording")
    assert r.returncode != 0 and "lists no SRS resources" in r.stderr
