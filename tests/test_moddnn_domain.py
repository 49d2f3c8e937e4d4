"""MoD-DNN knows its domain: CFRs from another band are refused, angles outside the trained
range are flagged (moddnn.domain, moddnn_doa, result_sink)."""

from __future__ import annotations

import numpy as np
from gnuradio import srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu
from gnuradio.srsaoa.blocks.result_sink import estimate_record
from gnuradio.srsaoa.moddnn import data as D
from gnuradio.srsaoa.moddnn.config import ModelConfig
from gnuradio.srsaoa.moddnn.domain import EDGE, OUTSIDE, ModelDomain
from gnuradio.srsaoa.moddnn.modelfile import load_model
from msg_tools import run_until_done

F = D.default_srs_subcarriers_hz()


def _domain(lo=-60.0, hi=60.0):
    return ModelDomain((lo, hi), 4, 0.5, F.copy())


def test_band_check():
    dom = _domain()
    assert dom.check_band(F + 123.0) is None  # a common offset (grid k vs baseband) is fine
    assert dom.check_band(F[:288]) is None  # a narrower SRS on the same comb (48 RB)
    wide = D.default_srs_subcarriers_hz(num_rb=106)
    assert "wide" in dom.check_band(wide)
    other = D.default_srs_subcarriers_hz(num_rb=25, scs_hz=60e3, comb=2)
    assert "trained" in dom.check_band(other)
    assert "spacing" in dom.check_band(F[::1] * 2.0)


def test_flags_from_an_independent_angle():
    """A UE 15 deg beyond the trained range is flagged whatever the network answers; one
    well inside is not; an answer at the end of the range is marked as such."""
    rng = np.random.default_rng(1)
    dom = _domain()
    ideal = ImpairmentProfile.ideal(4)
    h_out = D.simulate([75.0], 20.0, rng, profile=ideal).cfr[0]
    h_in = D.simulate([10.0], 20.0, rng, profile=ideal).cfr[0]
    assert OUTSIDE in dom.flags(h_out, 30.5)  # the network's confident wrong answer
    assert dom.flags(h_in, 10.0) == []
    assert dom.flags(h_in, 59.0) == [EDGE]


def test_domain_from_metadata_uses_the_sweep_range():
    cfg = ModelConfig()
    dom = ModelDomain.from_metadata(cfg, {"training": {"domain_deg": [-40.0, 70.0]}})
    assert dom.angle_deg == (-40.0, 60.0)  # never wider than the grid
    assert ModelDomain.from_metadata(cfg, {}).angle_deg == (-60.0, 60.0)


def test_block_refuses_other_bands_and_flags_outside_angles():
    """The shipped model (trained on the default impaired array over -60..60 deg, 51 RB at
    30 kHz): a UE at 75 deg gets an estimate flagged outside_domain (in the JSON line too),
    a CFR with another subcarrier spacing is refused, an in-range one passes unflagged."""
    net, meta = load_model("default")
    rng = np.random.default_rng(2)
    prof = ImpairmentProfile.default()
    h = D.simulate([75.0, 5.0], 15.0, rng, profile=prof, ula=ULA(4)).cfr
    k = np.arange(0, 612, 2)
    good = {K.SUBCARRIERS: k.astype(np.int32), K.SCS_HZ: 30e3}
    bad = {K.SUBCARRIERS: k.astype(np.int32), K.SCS_HZ: 60e3}
    msgs = [
        make_cfr_pdu(h[0], {K.SRS_OCCASION: 0, **good}),
        make_cfr_pdu(h[1], {K.SRS_OCCASION: 1, **bad}),
        make_cfr_pdu(h[1], {K.SRS_OCCASION: 2, **good}),
    ]
    out = run_until_done(srsaoa.moddnn_doa("default", 1), msgs)
    assert [m[K.SRS_OCCASION] for m in out] == [0, 2]
    assert OUTSIDE in list(out[0][K.FLAGS])
    assert K.FLAGS not in out[1]
    assert abs(float(out[1][K.AOA_DEG][0]) - 5.0) < 1.0
    rec = estimate_record(out[0], 30.72e6)
    assert OUTSIDE in rec["flags"]
    assert "flags" not in estimate_record(out[1], 30.72e6)


def test_all_zero_weights_are_not_a_model(tmp_path):
    import torch
    from gnuradio.srsaoa.errors import ModelFileError
    from gnuradio.srsaoa.moddnn.modelfile import model_paths
    from safetensors.torch import load_file, save_file

    w, j = model_paths("default")
    state = {k: torch.zeros_like(v) for k, v in load_file(str(w)).items()}
    import hashlib
    import json

    save_file(state, str(tmp_path / "m.safetensors"))
    doc = json.loads(j.read_text())  # a consistent file pair: only the weights are wrong
    doc["weights_sha256"] = hashlib.sha256((tmp_path / "m.safetensors").read_bytes()).hexdigest()
    (tmp_path / "m.json").write_text(json.dumps(doc))
    try:
        load_model(str(tmp_path / "m"))
    except ModelFileError as exc:
        assert "every weight is zero" in str(exc)
    else:
        raise AssertionError("all-zero weights were accepted")


def test_run_moddnn_on_a_narrower_srs_than_trained(tmp_path):
    """The shipped model (trained on a 51 RB comb) runs on the reference recording's 48 RB SRS
    on the same comb spacing: `srsaoa run --method moddnn` writes its estimates."""
    import subprocess
    import sys
    from pathlib import Path

    rec = Path(__file__).parent / "data" / "recordings" / "los_23deg_10db.sigmf-collection"
    out = tmp_path / "r.jsonl"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gnuradio.srsaoa.cli",
            "run",
            "--input",
            str(rec),
            "--method",
            "moddnn",
            "--out",
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 10


def test_block_checks_the_front_end_calibration_against_the_models(tmp_path):
    """A model trained on CFRs corrected by a sweep's constant part (training.calibration,
    relative to the model's folder): the block estimates when named that calibration and
    refuses every CFR (a skip notice each, no estimate) when named another one; a corrupt
    calibration is refused at construction."""
    import pytest
    from gnuradio.srsaoa.array.calibration import Calibration
    from gnuradio.srsaoa.moddnn.modelfile import save_model

    net, meta = load_model("default")
    ones = np.ones(4)
    Calibration(ones, [0.0, 10.0, 20.0, 30.0], np.zeros(4)).save(tmp_path / "m.calibration.json")
    Calibration(ones, [0.0, 10.0, 25.0, 30.0], np.zeros(4)).save(tmp_path / "other.json")
    training = {**(meta.get("training") or {}), "calibration": "m.calibration.json"}
    save_model(net, tmp_path / "m", {**meta, "training": training})
    h = D.simulate([5.0, -20.0], 15.0, np.random.default_rng(3), ula=ULA(4)).cfr
    msgs = [make_cfr_pdu(x, {K.SRS_OCCASION: i}) for i, x in enumerate(h)]
    same = srsaoa.moddnn_doa(str(tmp_path / "m"), 4, 0, str(tmp_path / "m.calibration.json"))
    assert [m[K.SRS_OCCASION] for m in run_until_done(same, msgs)] == [0, 1]
    other = srsaoa.moddnn_doa(str(tmp_path / "m"), 4, 0, str(tmp_path / "other.json"))
    skipped = run_until_done(other, msgs, out_port=K.PORT_SKIPPED)
    assert len(skipped) == 2
    assert (
        run_until_done(
            srsaoa.moddnn_doa(str(tmp_path / "m"), 4, 0, str(tmp_path / "other.json")), msgs
        )
        == []
    )
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        srsaoa.moddnn_doa("default", 4, 0, str(tmp_path / "bad.json"))


def test_calibration_check_names_another_element_count(tmp_path):
    from gnuradio.srsaoa.array.calibration import Calibration

    Calibration(np.ones(4), np.zeros(4), np.zeros(4)).save(tmp_path / "four.json")
    Calibration(np.ones(3), np.zeros(3), np.zeros(3)).save(tmp_path / "three.json")
    dom = _domain()
    dom.calibration = str(tmp_path / "four.json")
    assert dom.check_calibration(str(tmp_path / "four.json")) is None
    assert "is for 3" in dom.check_calibration(str(tmp_path / "three.json"))
    assert dom.check_calibration("") is None
