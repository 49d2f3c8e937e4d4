"""Phase calibration: the estimator against its model, the JSON file, ``srsaoa calibrate``
(estimate, check, errors) and the calibration applied by cfr_extractor in a flowgraph.

Noise theory for the tolerances: with N snapshots per element at per-RE SNR gamma, the
phase of sum H_m conj(H_0) has std ~ 1/sqrt(N gamma) rad and the relative power error of
an element ~ 1/sqrt(N gamma) as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import cli, io, sim
from gnuradio.srsaoa.array.calibration import (
    Calibration,
    CalibrationError,
    calibration_multipliers,
    estimate_calibration,
    load_calibration,
    residual_phase_deg,
)
from gnuradio.srsaoa.array.geometry import steering_vector
from gnuradio.srsaoa.estimation.doa import esprit
from test_frontend import run

SCENARIOS = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
GAIN_DB = np.array([0.0, 0.5, -0.7, 0.3])
PHASE_DEG = np.array([0.0, 40.0, -75.0, 120.0])
DELAY_S = np.array([0.0, 1.5e-9, -2.0e-9, 0.7e-9])


def _cfrs(rng, aoa, snr_db=None, n_occ=5, gains=GAIN_DB, phases=PHASE_DEG, delays=DELAY_S):
    m, s, k = 4, 4, 288
    f = (np.arange(k) * 2 - 288) * 30e3
    truth = Calibration(10 ** (gains / 20), phases, delays)
    a = steering_vector(m, 0.5, aoa)
    h0 = np.exp(-2j * np.pi * f * 37e-9)  # the LOS channel, a 37 ns delay
    occ_phase = np.exp(1j * rng.uniform(0, 2 * np.pi, n_occ))  # CFO / start per occasion
    h = (
        occ_phase[:, None, None, None]
        * (truth.complex_gain(f) * a[:, None])[None, :, None, :]
        * h0[None, None, None, :]
        * np.ones((n_occ, m, s, k))
    )
    if snr_db is not None:
        sig = np.sqrt(0.5 / 10 ** (snr_db / 10))
        h = h + sig * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    return h, f, a, truth


def test_noiseless_estimate_is_exact(rng):
    h, f, a, truth = _cfrs(rng, 17.0)
    cal = estimate_calibration(h, f, a)
    np.testing.assert_allclose(cal.gain, truth.gain, rtol=1e-9)
    np.testing.assert_allclose(cal.phase_deg, truth.phase_deg, atol=1e-7)
    np.testing.assert_allclose(cal.delay_s, truth.delay_s, atol=1e-15)
    np.testing.assert_allclose(residual_phase_deg(cal, h, f, a), 0, atol=1e-7)
    # applying the multipliers leaves a(theta) h0 on every element
    fixed = h * cal.multipliers(f)[None, :, None, :]
    ratio = fixed[:, :, 0, :] / fixed[:, :1, 0, :]
    np.testing.assert_allclose(ratio, np.broadcast_to(a[None, :, None], ratio.shape), atol=1e-9)


def test_noisy_estimate_within_theory(rng):
    """SNR 10 dB, N = 5 x 4 x 288 = 5760 snapshots: phase std ~ 1/sqrt(57600) rad = 0.24 deg
    at the band edge of the fit; gain std ~ 0.02 dB. Accept 5 std."""
    h, f, a, truth = _cfrs(rng, -33.0, snr_db=10.0)
    cal = estimate_calibration(h, f, a)
    assert np.all(np.abs(cal.phase_deg - truth.phase_deg) < 5 * 0.24)
    assert np.all(np.abs(20 * np.log10(cal.gain / truth.gain)) < 5 * 0.02)
    # delay: phase slope over the band (+-8.6 MHz): std ~ 0.24 deg / (360 * 8.6e6 / sqrt(3))
    assert np.all(np.abs(cal.delay_s - truth.delay_s) < 5 * 0.24 / (360 * 8.6e6 / np.sqrt(3)))


def test_drift_is_reported(rng):
    h, f, a, truth = _cfrs(rng, 5.0)
    cal = estimate_calibration(h, f, a)
    new_phase = PHASE_DEG + np.array([0.0, 12.0, -30.0, 7.0])  # a retune
    h2, _, _, _ = _cfrs(rng, 5.0, phases=new_phase)
    np.testing.assert_allclose(residual_phase_deg(cal, h2, f, a), [0, 12, -30, 7], atol=1e-6)


def test_json_round_trip_and_errors(tmp_path, rng):
    h, f, a, _ = _cfrs(rng, 0.0)
    cal = estimate_calibration(h, f, a, reference_aoa_deg=0.0, radio={"sample_rate": 30.72e6})
    path = tmp_path / "c.json"
    cal.save(path)
    back = load_calibration(path)
    np.testing.assert_allclose(back.multipliers(f), cal.multipliers(f))
    assert back.radio == {"sample_rate": 30.72e6}
    np.testing.assert_allclose(calibration_multipliers(str(path), 4, f), cal.multipliers(f))
    assert calibration_multipliers("", 4, f) is None
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CalibrationError, match="bad JSON"):
        load_calibration(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(CalibrationError, match="format"):
        load_calibration(tmp_path / "other.json")
    with pytest.raises(CalibrationError, match="for 4 elements"):
        calibration_multipliers(str(path), 3, f)
    with pytest.raises(CalibrationError):
        calibration_multipliers([1, 2], 4, f)


def _recording(tmp_path, name, aoa, phases, seed):
    sc = sim.Scenario.from_yaml(SCENARIOS / "n310_los.yaml")
    imp = {"gain_db": GAIN_DB.tolist(), "phase_deg": list(phases)}
    rec = sim.simulate(sc.copy(num_slots=5, impairments=imp, paths=[{"aoa_deg": aoa}], seed=seed))
    io.write_recording(tmp_path / name, rec, datatype="cf32_le")
    return rec, str(tmp_path / f"{name}.sigmf-collection")


def test_calibrate_command_and_cfr_extractor(tmp_path, capsys):
    """srsaoa calibrate on a recording with the UE at +10 deg recovers the simulated channel
    phases; cfr_extractor with that file turns a biased AoA into the true one (-27 deg,
    within 0.5 deg: the single-LOS CRB here is ~0.02 deg, the fit residual adds < 0.2 deg);
    --check passes on the same radio and flags a re-randomised one (exit 3)."""
    _, cal_path = _recording(tmp_path, "cal", 10.0, PHASE_DEG, 5)
    out = tmp_path / "c.json"
    assert cli.main(["calibrate", "--input", cal_path, "--aoa-deg", "10", "--out", str(out)]) == 0
    cal = load_calibration(out)
    np.testing.assert_allclose(cal.phase_deg, PHASE_DEG, atol=1.0)
    np.testing.assert_allclose(20 * np.log10(cal.gain), GAIN_DB, atol=0.1)
    assert cal.radio["center_frequency_hz"] == 3.5e9

    rec, meas_path = _recording(tmp_path, "meas", -27.0, PHASE_DEG, 6)
    carrier, srs = rec.carrier.to_dict(), rec.srs.to_dict()
    n = len(rec.truth["srs_slot_sample_starts"])
    est = {}
    for label, c in (("raw", ""), ("cal", str(out))):
        r = run(rec.samples, carrier, srs, calibration=c, cov_occasions=n)
        est[label] = esprit(r["covs"][0][1], 1, 0.5)[0]
    assert abs(est["cal"] - (-27.0)) < 0.5
    assert abs(est["raw"] - (-27.0)) > 5.0

    capsys.readouterr()
    assert (
        cli.main(["calibrate", "--input", meas_path, "--aoa-deg", "-27", "--check", str(out)]) == 0
    )
    _, moved = _recording(tmp_path, "moved", -27.0, PHASE_DEG + [0, 25, -10, 40], 7)
    assert cli.main(["calibrate", "--input", moved, "--aoa-deg", "-27", "--check", str(out)]) == 3
    err = capsys.readouterr().err
    assert "warning" in err and "recalibrate" in err


def test_calibrate_command_errors(tmp_path, capsys):
    assert (
        cli.main(
            [
                "calibrate",
                "--input",
                str(tmp_path / "none.sigmf-collection"),
                "--aoa-deg",
                "0",
                "--out",
                "x.json",
            ]
        )
        == 1
    )
    assert cli.main(["calibrate", "--input", "x", "--out", "x.json"]) == 1
    assert cli.main(["calibrate", "--input", "x", "--splitter", "--aoa-deg", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("srsaoa calibrate: error:") for e in err)


def test_calibration_values_outside_physical_ranges_are_refused(tmp_path):
    import json

    from gnuradio.srsaoa.array.calibration import CalibrationError, load_calibration

    base = {
        "format": "srsaoa-calibration-1",
        "gain": [1.0, 1.0],
        "phase_deg": [0.0, 10.0],
        "delay_s": [0.0, 1e-9],
    }
    for key, value, words in (
        ("gain", [1.0, 1e308], "dB"),
        ("gain", [1.0, "x"], "malformed"),
        ("delay_s", [0.0, 1.0], "us"),
        ("phase_deg", [0.0, float("nan")], "finite"),
    ):
        p = tmp_path / "c.json"
        p.write_text(json.dumps({**base, key: value}))
        with pytest.raises(CalibrationError, match=words):
            load_calibration(p)
