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


def test_separate_cyclic_shift_math():
    from gnuradio.srsaoa.nr.resources import separate_cyclic_shift

    rng = np.random.default_rng(5)
    m, s, k, n_cs_max = 4, 4, 288, 8
    kk = np.arange(k)
    a1 = rng.standard_normal((m, 1, 1)) + 1j * rng.standard_normal((m, 1, 1))
    a2 = rng.standard_normal((m, 1, 1)) + 1j * rng.standard_normal((m, 1, 1))
    tau = 3.0 / k  # a delay of 3 bins (inside the window)
    h1 = a1 * np.exp(-2j * np.pi * kk * tau)
    h2 = a2 * np.exp(2j * np.pi * 4 * kk / n_cs_max)  # shift 4 relative to this UE
    sigma2 = 0.05
    noise = np.sqrt(sigma2 / 2) * (
        rng.standard_normal((m, s, k)) + 1j * rng.standard_normal((m, s, k))
    )
    h, snr = separate_cyclic_shift(h1 + h2 + noise, 0, n_cs_max, (4,), True, True)
    assert h.shape == (m, s, k // n_cs_max)
    # the other UE is gone: what is left is this UE plus 1/n_cs_max of the noise
    err = h - h1[..., ::n_cs_max]
    assert np.mean(np.abs(err) ** 2) == pytest.approx(sigma2 / n_cs_max, rel=0.2)
    # the SNR per RE of this UE alone (the other UE's window is not noise)
    truth = 10 * np.log10(np.mean(np.abs(a1) ** 2) / sigma2)
    assert snr == pytest.approx(truth, abs=0.5)
    # not told the other UE is orthogonal: its window counts as interference
    _, snr_int = separate_cyclic_shift(h1 + h2 + noise, 0, n_cs_max, (), True)
    assert snr_int < truth - 3


@pytest.mark.parametrize(
    "strong_srs",
    [{"c_srs": 12, "cyclic_shift": 4}, {"c_srs": 12, "n_srs_id": 7}],
    ids=["cyclic-shift", "sequence-only"],
)
def test_run_weak_ue_next_to_a_strong_one(tmp_path, strong_srs):
    """A UE 10 dB below another on the same comb, separated by cyclic shift (0 and 4: the
    weak UE's own correlator peaks on the strong UE's shifted copy; one timing for the group
    keeps every estimate with its own UE) or by sequence ID only (0 and 7: the strong UE is
    fitted and subtracted from the weak one's CFR, which leaves rho ~ 1 - 8/288 of its SNR,
    -0.1 dB). Either way every estimate is its own UE's (within 5 CRB) and each SNR is its
    own within 1 dB."""
    from gnuradio.srsaoa.io import write_recording

    sc = two_ue_scenario(num_slots=10)
    sc["ues"][0].update(srs={"c_srs": 12}, snr_db=4.0, timing_offset_samples=3)
    sc["ues"][1].update(srs=strong_srs, snr_db=14.0, timing_offset_samples=0)
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "weak"), rec)
    res = _resources_yaml(tmp_path / "R.yaml", sc["ues"])
    out = tmp_path / "out.jsonl"
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(res), "-m", "esprit", "-o", str(out))
    assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in out.read_text().splitlines()]
    _check_per_ue(records, rec.truth["ues"])
    for uid, snr in (("ue1", 4.0), ("ue2", 14.0)):
        got = [x["snr_db"] for x in records if x["resource"] == uid]
        assert np.mean(got) == pytest.approx(snr, abs=1.0)


def test_run_ues_by_sequence_without_timing_advance(tmp_path):
    """Two UEs by sequence ID 45 samples (25 delay bins) apart, each timed by its own
    srs_sync: each separator looks for the other over the CP, finds it outside its own
    cyclic-shift window and removes it (the window search left it in: -0.5 dB)."""
    from gnuradio.srsaoa.io import write_recording

    sc = two_ue_scenario(num_slots=10)
    sc["ues"][0].update(srs={"c_srs": 12}, snr_db=10.0, timing_offset_samples=0)
    sc["ues"][1].update(srs={"c_srs": 12, "n_srs_id": 7}, snr_db=10.0, timing_offset_samples=45)
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "late"), rec)
    res = _resources_yaml(tmp_path / "R.yaml", sc["ues"])
    out = tmp_path / "out.jsonl"
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(res), "-m", "esprit", "-o", str(out))
    assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in out.read_text().splitlines()]
    _check_per_ue(records, rec.truth["ues"])
    # 45 of the 72 CP samples apart the earlier UE's next symbol reaches into the later
    # UE's FFT window (not a pure delay): some of it stays, counted in the SNR
    for uid in ("ue1", "ue2"):
        assert np.mean([x["snr_db"] for x in records if x["resource"] == uid]) > 8.5


def test_eight_ues_on_comb_8_are_found(tmp_path):
    """Each UE's share of the energy falls with the number of UEs: the synchronizer's
    floor against other sequences follows (srs_sync num_resources)."""
    from gnuradio.srsaoa.io import write_recording

    angles = np.linspace(-50, 50, 8)
    ues = [
        {"id": f"ue{i}", "srs": {"c_srs": 12, "k_tc": 8, "k_bar_tc": i}, "paths": [{"aoa_deg": a}]}
        for i, a in enumerate(angles)
    ]
    sc = {"snr_db": 10.0, "num_slots": 3, "seed": 1, "ues": ues}
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "eight"), rec)
    res = _resources_yaml(tmp_path / "R.yaml", ues)
    out = tmp_path / "out.jsonl"
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(res), "-m", "esprit", "-o", str(out))
    assert r.returncode == 0, r.stderr
    _check_per_ue([json.loads(x) for x in out.read_text().splitlines()], rec.truth["ues"])


def test_comb_plan_and_clash():
    from gnuradio.srsaoa.nr.resources import comb_plan, parse_resources

    res = parse_resources(
        {
            "resources": [
                {"id": "a", "srs": {"c_srs": 12}},
                {"id": "b", "srs": {"c_srs": 12, "cyclic_shift": 4}},
                {"id": "c", "srs": {"c_srs": 12, "n_srs_id": 7}},
                {"id": "d", "srs": {"c_srs": 12, "k_bar_tc": 1}},
            ]
        }
    )
    plan = comb_plan(res)
    assert plan["a"]["share"] == ["b", "c"] and plan["a"]["orthogonal"] == (4,)
    assert plan["c"]["orthogonal"] == () and plan["d"]["share"] == []
    assert plan["a"]["clash"] == [] and plan["a"]["n_cs_max"] == 8
    assert plan["a"]["group"] == ["b"] and plan["c"]["group"] == []
    assert plan["a"]["taper"] == 0.0  # shift 4 of 8 away: no neighbouring window taken
    near = comb_plan(
        parse_resources([{"id": "a", "srs": {}}, {"id": "b", "srs": {"cyclic_shift": 7}}])
    )
    assert near["a"]["taper"] > 0 and near["b"]["taper"] > 0  # 7 and 0 are neighbours
    clash = comb_plan(parse_resources([{"id": "a", "srs": {}}, {"id": "b", "srs": {}}]))
    assert clash["a"]["clash"] == ["b"]


def _run_case(tmp_path, u2_srs, methods="esprit"):
    from gnuradio.srsaoa.io import write_recording

    sc = two_ue_scenario(num_slots=10, snr_db=10.0)
    sc["ues"][0]["srs"] = {"c_srs": 12, "k_bar_tc": 0}
    sc["ues"][1]["srs"] = {"c_srs": 12, **u2_srs}
    sc["ues"][1]["snr_db"] = 10.0
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "rec"), rec)
    res = _resources_yaml(tmp_path / "R.yaml", sc["ues"])
    out = tmp_path / "out.jsonl"
    r = _srsaoa("run", "-i", str(coll), "--srs-resources", str(res), "-m", methods, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return rec, [json.loads(line) for line in out.read_text().splitlines()]


def test_run_two_ues_by_cyclic_shift(tmp_path):
    rec, records = _run_case(tmp_path, {"k_bar_tc": 0, "cyclic_shift": 4})
    _check_per_ue(records, rec.truth["ues"])
    # orthogonal: each UE's SNR is its own (10 dB); the mean of 10 estimates of an SNR
    # measured over thousands of REs is within a fraction of a dB
    for uid in ("ue1", "ue2"):
        snr = [r["snr_db"] for r in records if r["resource"] == uid]
        assert np.mean(snr) == pytest.approx(10.0, abs=1.0)


def test_run_two_ues_by_sequence_only(tmp_path):
    rec, records = _run_case(tmp_path, {"k_bar_tc": 0, "n_srs_id": 7})
    # the strongest path of every estimate is its own UE's
    _check_per_ue(records, rec.truth["ues"], sigmas=5.0)
    # the other UE is fitted with its sequence and subtracted; its cost shows in the SNR:
    # this UE keeps the share rho ~ 1 - B / K of its signal off the other's B ~ 8 basis
    # vectors (K = 288), 10 dB + 10 log10(rho) ~ 9.9 dB, measured over thousands of REs
    # (before separation it was 10 log10(1 / (0.1 + 1)) = -0.4 dB)
    for uid in ("ue1", "ue2"):
        snr = [r["snr_db"] for r in records if r["resource"] == uid]
        assert 9.0 < np.mean(snr) < 10.3


def test_rx_two_ues_grc_runs_headless(tmp_path):
    """examples/rx_two_ues.grc, compiled with grcc, on a two-UE recording (same comb,
    cyclic shifts 0 and 4): every line names its UE and is that UE's angle."""
    import os

    from gnuradio.srsaoa.io import write_recording

    sys.path.insert(0, str(Path(__file__).parent))
    from grc_tools import compile_grc

    py = compile_grc(["rx_two_ues"], tmp_path)["rx_two_ues"]
    sc = two_ue_scenario(num_slots=6)
    sc["ues"][1]["srs"] = {"c_srs": 12, "k_bar_tc": 0, "cyclic_shift": 4}
    # ue2 3 dB stronger: its cyclically shifted copy would win ue1's own correlator; the
    # group's sync (the sum of both references) gives both the common timing
    rec = sim.simulate(sc)
    coll = write_recording(str(tmp_path / "two"), rec)
    out = tmp_path / "out.jsonl"
    env = dict(os.environ, GR_CONF_LOG_LOG_LEVEL="warn", GR_CONF_LOG_LOG_FILE="stderr")
    proc = subprocess.run(
        [sys.executable, str(py), "--recording", str(coll), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(x) for x in out.read_text().splitlines()]
    _check_per_ue(records, rec.truth["ues"])


def test_live_flowgraph_several_ues_sequence_only(tmp_path):
    """The live receiver (bounded queues, as srsaoa run --usrp --srs-resources) with two UEs
    on the same comb and cyclic shift, different sequence IDs: every estimate is its own
    UE's. A memory source stands in for the radio; 10 occasions per UE stay under the
    queues' bound, so nothing is dropped."""
    from gnuradio import blocks, gr
    from gnuradio.srsaoa.flowgraph import rx_flowgraph
    from gnuradio.srsaoa.nr.resources import parse_resources

    sc = two_ue_scenario(num_slots=10)
    sc["ues"][1]["srs"] = {"c_srs": 12, "k_bar_tc": 0, "n_srs_id": 7}
    sc["ues"][1]["snr_db"] = 10.0
    rec = sim.simulate(sc)
    m = rec.num_channels
    src = gr.hier_block2("mem", gr.io_signature(0, 0, 0), gr.io_signature(m, m, 8))
    vs = [blocks.vector_source_c(rec.samples[i].tolist(), False) for i in range(m)]
    for i in range(m):
        src.connect(vs[i], (src, i))
    res = parse_resources([{"id": u["id"], "srs": u["srs"]} for u in sc["ues"]])
    out = tmp_path / "live.jsonl"
    tb = rx_flowgraph(
        src,
        m,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=("esprit",),
        out=str(out),
        live=True,
        resources=res,
    )
    tb.run()
    assert sum(tb.dropped().values()) == 0
    records = [json.loads(x) for x in out.read_text().splitlines()]
    _check_per_ue(records, rec.truth["ues"])
    assert all(r["snr_db"] > 9.0 for r in records)  # the other UE fitted and subtracted


def test_live_resources_recording_refused(tmp_path):
    r = _srsaoa("run", "--usrp", "type=none", "--srs-resources", "recording")
    assert r.returncode != 0 and "live, give R.yaml" in r.stderr
