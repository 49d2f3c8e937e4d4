"""Several UEs, each with its own SRS resource (docs/multi_ue.md)."""

from __future__ import annotations

import numpy as np
import pytest
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
