"""``srsaoa simulate`` and the ready scenarios in examples/scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from gnuradio.srsaoa import cli, io, sim

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


def test_ready_scenarios_exist_and_validate():
    names = {p.stem for p in SCENARIOS}
    assert {"n310_los", "los_multipath", "impaired_gnb", "chamber_sweep", "moving_ue"} <= names
    for p in SCENARIOS:
        sc = sim.Scenario.from_yaml(p)
        assert sc.carrier_config().sample_rate == 30.72e6  # N310-like 30.72 Msps
        assert sc.ula().num_elements == 4


def _small(tmp_path: Path, name: str, **changes) -> Path:
    d = yaml.safe_load((ROOT / "examples" / "scenarios" / f"{name}.yaml").read_text())
    d.update(changes)
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def test_simulate_writes_a_readable_collection(tmp_path, capsys):
    scen = _small(tmp_path, "impaired_gnb", num_slots=2)
    rc = cli.main(
        [
            "simulate",
            "--scenario",
            str(scen),
            "--out",
            str(tmp_path / "out" / "rec"),
            "--snr-db",
            "12",
            "--no-progress",
            "--save-profile",
            str(tmp_path / "p.json"),
        ]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    rec = io.read_recording(tmp_path / "out" / "rec.sigmf-collection")
    assert rec.samples.shape[0] == 4 and rec.datatype == "ci16_le"
    assert rec.truth["snr_db"] == 12.0 and rec.truth["impairments"]["rho"] == 1.0
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved == rec.truth["impairments"]
    # the same scenario simulated in Python gives the same samples (same seed)
    sc = sim.Scenario.from_yaml(scen).copy(snr_db=12.0)
    assert np.array_equal(sim.simulate(sc).samples, rec.samples)


def test_simulate_sweep_writes_one_recording_per_angle(tmp_path, capsys):
    scen = _small(tmp_path, "chamber_sweep", num_slots=1, sweep={"aoa_deg": [-50.0, 0.0, 25.5]})
    rc = cli.main(
        ["simulate", "--scenario", str(scen), "--out", str(tmp_path / "sw"), "--no-progress"]
    )
    assert rc == 0
    index = json.loads((tmp_path / "sw_sweep.json").read_text())
    assert [r["aoa_deg"] for r in index["recordings"]] == [-50.0, 0.0, 25.5]
    for r in index["recordings"]:
        rec = io.read_recording(tmp_path / r["path"])
        assert rec.truth["los_aoa_deg"] == r["aoa_deg"]


@pytest.mark.parametrize(
    "content, match",
    [
        ("paths: [{aoa_deg: 120}]\n", "aoa_deg must be in"),
        ("bogus: 1\n", "unknown key"),
        ("snr_db: [1\n", "not valid YAML"),
        ("impairments: {generator: magic}\n", "unknown impairment generator"),
    ],
)
def test_bad_scenarios_give_one_error_line(tmp_path, capsys, content, match):
    p = tmp_path / "bad.yaml"
    p.write_text(content)
    rc = cli.main(["simulate", "--scenario", str(p), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("srsaoa simulate: error:") and match in err
    assert len(err.strip().splitlines()) == 1
