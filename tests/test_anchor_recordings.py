"""sim.positioning.anchor_recordings: one SigMF recording per anchor, one shared truth.

The recordings must (1) share one time base (same slot starts in every anchor's file), (2) carry
per slot the AoA of the UE seen from that anchor (annotations equal to the geometry of
``position.aoa_deg`` at the slot's time), (3) actually contain that angle: the numpy twins of
the receiver's front end plus ESPRIT on each occasion's CFR find it within the CRB, and
(4) use independent noise per anchor. ESPRIT on a 4-element ULA with S*K = 4*144 snapshots at
10 dB is close to efficient, so over n occasions RMSE / CRB ~ sqrt(chi2_n / n), whose
99.9 % quantile for n = 6 is 2.1; we allow 2.2 (with ESPRIT's ~10 % loss at M = 4) as
tests/test_examples_run.py does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from gnuradio.srsaoa.errors import SrsaoaError
from gnuradio.srsaoa.estimation import doa
from gnuradio.srsaoa.io import read_recording
from gnuradio.srsaoa.moddnn.recordings import cfr_dataset_from_recording
from gnuradio.srsaoa.position import aoa_deg
from gnuradio.srsaoa.sim import Scenario
from gnuradio.srsaoa.sim.positioning import (
    PositioningScenario,
    anchor_aoa_trajectory,
    anchor_recordings,
)

ANCHORS = [
    {"name": "gnb1", "position_m": [0.0, 0.0, 3.0], "yaw_deg": 45.0},
    {"name": "gnb2", "position_m": [30.0, 0.0, 3.0], "yaw_deg": 135.0},
    {"name": "gnb3", "position_m": [15.0, 30.0, 3.0], "yaw_deg": -90.0},
]
# 15 kHz, 24 RB (7.68 Msps, FFT 512), SRS over 24 RB comb 2: 144 subcarriers x 4 symbols
BASE = {
    "carrier": {"subcarrier_spacing": 15, "n_size_grid": 24},
    "srs": {"c_srs": 6, "n_srs_id": 3},
    "snr_db": 10.0,
    "start_offset_samples": 37,
}
NUM_SLOTS = 6


def _scenario(**ue) -> PositioningScenario:
    # a fast UE (30 m/s) so the AoA visibly changes over the 6 ms of the recordings
    ue = {"waypoints_m": [[8.0, 6.0], [20.0, 14.0]], "speed_m_s": 30.0, "height_m": 1.5} | ue
    return PositioningScenario.from_dict({"name": "walk", "anchors": ANCHORS, "ue": ue, "seed": 5})


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    sc = _scenario()
    out = tmp_path_factory.mktemp("anchors") / "walk"
    return sc, anchor_recordings(sc, Scenario(**BASE), out, NUM_SLOTS)


def test_one_recording_per_anchor_on_a_shared_time_base(recordings):
    sc, paths = recordings
    assert list(paths) == ["gnb1", "gnb2", "gnb3"]
    recs = {name: read_recording(p) for name, p in paths.items()}
    starts = {name: r.truth["srs_slot_sample_starts"] for name, r in recs.items()}
    assert starts["gnb1"] == starts["gnb2"] == starts["gnb3"]
    assert len(starts["gnb1"]) == NUM_SLOTS and starts["gnb1"][0] == 37
    seeds = set()
    for i, r in enumerate(recs.values()):
        assert r.num_channels == 4 and r.sample_rate == 7.68e6
        assert r.truth["first_slot_sample"] == 37
        seeds.add(r.truth["seed"])
        assert r.truth["seed"] == sc.seed * 1000 + i
        # the LOS AoA of every SRS slot is the geometry at the slot's time (t = 0: first slot)
        anchor = sc.anchors[i]
        t = (np.array([a["core:sample_start"] for a in r.annotations]) - 37) / r.sample_rate
        got = np.array([a["srsaoa:aoa_deg"] for a in r.annotations])
        want = [aoa_deg(anchor, p, 1.5) for p in sc.position(t)]
        np.testing.assert_allclose(got, want, atol=1e-9)
        np.testing.assert_allclose(got, anchor_aoa_trajectory(sc, anchor, t), atol=1e-12)
        assert np.ptp(got) > 0.02  # the UE moves: the AoA changes over the recording
    assert len(seeds) == 3
    # independent noise: the anchors' samples are not the same draw
    a, b = recs["gnb1"].samples, recs["gnb2"].samples
    assert not np.allclose(a[:, :1000], b[:, :1000])


def test_recordings_hold_the_geometric_angles(recordings):
    sc, paths = recordings
    for anchor in sc.anchors:
        ds = cfr_dataset_from_recording(paths[anchor.name])
        assert len(ds) == NUM_SLOTS
        errs, crbs = [], []
        for h, label in zip(ds.cfr, ds.aoa_deg, strict=True):
            x = h.reshape(h.shape[0], -1)  # every (symbol, subcarrier) a snapshot
            r = x @ x.conj().T / x.shape[1]
            est = doa.estimate("esprit", covariance=r, order=1, n_snapshots=x.shape[1])
            errs.append(est.aoa_deg[0] - label)
            crbs.append(est.crb_deg[0])
        rms = float(np.sqrt(np.mean(np.square(errs))))
        assert rms <= 2.2 * float(np.mean(crbs)), (anchor.name, errs, crbs)


def test_refuses_a_ue_outside_the_field_of_view(tmp_path):
    # gnb4 looks away from the walk (broadside -y, the UE is at y > 0): behind its array
    behind = ANCHORS + [{"name": "gnb4", "position_m": [10.0, 0.0, 3.0], "yaw_deg": -90.0}]
    sc = PositioningScenario.from_dict(
        {"anchors": behind, "ue": {"waypoints_m": [[8.0, 6.0]], "height_m": 1.5}}
    )
    with pytest.raises(SrsaoaError, match="gnb4: the UE leaves the array's field of view"):
        anchor_recordings(sc, Scenario(**BASE), tmp_path / "x", 2)
    assert not list(tmp_path.iterdir())  # nothing written for the other anchors either
    # on the array axis (AoA = 90 deg)
    axis = [{"name": "a", "position_m": [0.0, 0.0, 1.5], "yaw_deg": 90.0}]
    sc = PositioningScenario.from_dict(
        {"anchors": axis, "ue": {"waypoints_m": [[-10.0, 0.0]], "height_m": 1.5}}
    )
    with pytest.raises(SrsaoaError, match="field of view"):
        anchor_recordings(sc, Scenario(**BASE), tmp_path / "y", 2)


def test_simulate_command_writes_the_recordings(tmp_path, capsys):
    """`srsaoa simulate` with `recordings:` in a positioning scenario (docs/positioning.md)."""
    import yaml
    from gnuradio.srsaoa import cli

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(dict(BASE, num_slots=2)))
    doc = {
        "anchors": ANCHORS,
        "ue": {"waypoints_m": [[8.0, 6.0], [9.0, 6.0]], "height_m": 1.5},
        "period_s": 0.5,
        "recordings": {"scenario": "base.yaml", "num_slots": 3},
    }
    (tmp_path / "pos.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "out" / "walk"
    assert cli.main(["simulate", "--scenario", str(tmp_path / "pos.yaml"), "--out", str(out)]) == 0
    for name in ("gnb1", "gnb2", "gnb3"):
        coll = out.parent / f"walk_{name}.sigmf-collection"
        assert coll.is_file(), capsys.readouterr()
        meta = json.loads((out.parent / f"walk_{name}_ch0.sigmf-meta").read_text())
        assert meta["global"]["srsaoa:truth"]["num_slots"] == 3
    assert (out.parent / "walk_truth.jsonl").is_file()
