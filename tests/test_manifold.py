"""Manifold calibration from a sweep (array.manifold, srsaoa calibrate --sweep)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from gnuradio.srsaoa.array.calibration import CalibrationError, load_calibration
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.array.manifold import (
    FourierBasis,
    ManifoldCalibration,
    ManifoldError,
    ProfileManifold,
    SplineBasis,
    calibrate_sweep,
    load_calibration_file,
)
from gnuradio.srsaoa.moddnn.data import (
    concat,
    default_srs_subcarriers_hz,
    simulate_from_manifold,
)

F = default_srs_subcarriers_hz()
ULA4 = ULA(4)
TAU = np.array([0.0, 1.5e-9, -2.0e-9, 2.5e-9])  # per-channel delays (cables)


def _sweep(profile, angles, snr_db, occ, rng, tau=TAU):
    out = []
    for a in angles:
        b = profile.manifold(ULA4, a, F) * np.exp(-2j * np.pi * np.outer(tau, F))
        h = np.exp(2j * np.pi * rng.random((occ, 1, 4, 1))) * b[None, :, None, :]
        if snr_db is not None:
            s = np.sqrt(10 ** (-snr_db / 10) / 2)
            h = h + s * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
        out.append(h)
    return out


def _truth(profile, cal, tau=TAU):
    """The true manifold after the calibration's own angle-independent correction."""

    def corr(f):
        return cal.constant.multipliers(f) * np.exp(-2j * np.pi * np.outer(tau, f))

    return ProfileManifold(profile, ULA4, correction=corr)


def _phase_error_deg(a, b):
    return np.rad2deg(np.abs(a - b) / np.abs(b))


def test_noise_free_fit_recovers_the_manifold():
    """Noise-free 1-deg sweep: between the sweep angles and across the band the fitted
    response matches the true one to 0.01 deg (phase-equivalent), i.e. far below the
    0.3 deg that moves a 4-element angle by 0.01 deg."""
    prof = ImpairmentProfile.random(4, 6101, rho=1.0, position_std_m=1e-3)
    rng = np.random.default_rng(1)
    angles = np.arange(-60.0, 60.01, 1.0)
    cal, warnings = calibrate_sweep(angles, _sweep(prof, angles, None, 1, rng), F, 0.5)
    assert warnings == []
    test = np.linspace(-59.7, 59.7, 300)
    freqs = np.array([F[0], 0.0, F[-1]])
    err = _phase_error_deg(cal.steering(test, freqs), _truth(prof, cal).steering(test, freqs))
    assert np.sqrt(np.mean(err[1:] ** 2)) < 0.01
    # the array's response changes across the band (psi's eps and the delays): more than
    # one band is chosen, and the derivative agrees with the true one
    assert cal.fit["bands"] > 1
    d_fit = cal.derivative(test[20:-20], freqs)
    d_true = _truth(prof, cal).derivative(test[20:-20], freqs)
    assert np.max(np.abs(d_fit - d_true)) < 1e-3 * np.max(np.abs(d_true))


def test_cross_validation_picks_the_order_and_bands_from_the_data():
    """A frequency-flat array (no delays, no frequency term) is fitted with one band; noisier
    or sparser sweeps get fewer effective parameters than clean dense ones."""
    flat = ImpairmentProfile.random(4, 6102, rho=1.0, psi_freq_eps=0.0)
    rng = np.random.default_rng(2)
    angles = np.arange(-60.0, 60.01, 2.0)
    zero = np.zeros(4)
    cal, _ = calibrate_sweep(angles, _sweep(flat, angles, 15.0, 4, rng, zero), F, 0.5)
    assert cal.fit["bands"] == 1
    clean, _ = calibrate_sweep(angles, _sweep(flat, angles, 40.0, 4, rng, zero), F, 0.5)

    def params(c):
        return np.mean([e["effective_parameters"] for e in c.fit["elements"]])

    assert params(cal) < params(clean)
    # the held-out error reported is consistent with the measurement noise at 40 dB
    assert clean.fit["cv_rms_deg"] < 3 * clean.fit["noise_rms_deg"] + 0.01


def test_file_round_trip_and_loader(tmp_path):
    prof = ImpairmentProfile.random(4, 6103, rho=1.0)
    rng = np.random.default_rng(3)
    angles = np.arange(-30.0, 30.01, 3.0)
    cal, _ = calibrate_sweep(angles, _sweep(prof, angles, 20.0, 2, rng), F, 0.5)
    path = tmp_path / "cal.json"
    cal.save(path)
    const, man = load_calibration_file(path)
    assert isinstance(man, ManifoldCalibration)
    th = np.linspace(-30, 30, 41)
    np.testing.assert_allclose(man.steering(th, F[::50]), cal.steering(th, F[::50]), atol=1e-12)
    np.testing.assert_allclose(const.phase_deg, cal.constant.phase_deg)
    # the constant part is what the front end applies: load_calibration gives it
    assert load_calibration(path).num_elements == 4
    assert man.angle_range_deg == (-30.0, 30.0)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d.update(format="x"), "format"),
        (lambda d: d["model"].update(coef_re=[[[float("nan")]]]), "coef"),
        (lambda d: d.update(band_edges_hz=[1.0, 0.0]), "band_edges_hz"),
        (lambda d: d["model"].update(type="wavelet"), "model type"),
        (lambda d: d.pop("model"), "model"),
        (lambda d: d.update(num_elements="four"), "malformed"),
        (lambda d: d.update(angle_range_deg=[10, -10]), "angle range"),
    ],
)
def test_corrupt_manifold_files_give_one_clear_error(tmp_path, mutate, words):
    prof = ImpairmentProfile.random(4, 6104, rho=1.0)
    angles = np.arange(-20.0, 20.01, 4.0)
    cal, _ = calibrate_sweep(
        angles, _sweep(prof, angles, 20.0, 1, np.random.default_rng(4)), F, 0.5
    )
    d = json.loads(json.dumps(cal.to_dict()))
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(CalibrationError) as exc:
        load_calibration_file(path)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    (tmp_path / "trunc.json").write_text(json.dumps(cal.to_dict())[:500])
    with pytest.raises(CalibrationError, match="bad JSON"):
        load_calibration_file(tmp_path / "trunc.json")


def test_sweep_errors_and_warnings():
    prof = ImpairmentProfile.random(4, 6105, rho=1.0)
    rng = np.random.default_rng(5)
    with pytest.raises(ManifoldError, match="at least 5"):
        a = np.array([-10.0, 0.0, 10.0])
        calibrate_sweep(a, _sweep(prof, a, 20.0, 1, rng), F, 0.5)
    a = np.concatenate([np.arange(-40.0, -9.0, 2.0), np.arange(10.0, 41.0, 2.0), [0.0, 0.0]])
    cal, warnings = calibrate_sweep(a, _sweep(prof, a, 20.0, 2, rng), F, 0.5)
    text = " ".join(warnings)
    assert "duplicate" in text and "gap" in text
    with pytest.raises(ManifoldError, match="fewer than 3"):
        calibrate_sweep(a, _sweep(prof, a, 20.0, 2, rng), F, 0.5, min_occasions=3)


def test_bases_evaluate_their_derivative():
    rng = np.random.default_rng(6)
    x = np.linspace(-50, 50, 7)
    for b in (SplineBasis.uniform(-60, 60, 5.0), FourierBasis(0.0, 180.0, 6)):
        c = rng.standard_normal(b.n)
        h = 1e-5
        num = (b.matrix(x + h) @ c - b.matrix(x - h) @ c) / (2 * h)
        np.testing.assert_allclose(b.matrix(x, 1) @ c, num, rtol=1e-5, atol=1e-8)


def test_training_cfrs_drawn_from_a_manifold_follow_it():
    """simulate_from_manifold: noise-free single-path draws equal the manifold's response up
    to one complex factor; the noise has the requested SNR."""
    prof = ImpairmentProfile.random(4, 6106, rho=1.0)
    man = ProfileManifold(prof, ULA4)
    rng = np.random.default_rng(7)
    ds = simulate_from_manifold(man, [12.5], [300.0], rng, F, reflection_probability=0.0)
    h = ds.cfr[0, :, 0, :]
    b = man.steering(12.5, F)[:, 0, :]
    ratio = h / b
    np.testing.assert_allclose(ratio, ratio[0, 0], rtol=1e-5)
    ds = simulate_from_manifold(man, np.zeros(200), 10.0, rng, F, reflection_probability=0.0)
    noise = ds.cfr - np.mean(ds.cfr, axis=2, keepdims=True)
    snr = 1.0 / (np.mean(np.abs(noise) ** 2) * 4 / 3)  # mean over 4 symbols removes 1/4
    assert abs(10 * np.log10(snr) - 10.0) < 0.2


def test_training_reflections_carry_their_own_cfr():
    """simulate_from_manifold with a reflection: ``extra_cfr`` is that path's noise-free CFR
    (the manifold's response at the reflection's angle, one delay ramp), and the CFR minus it
    is the LOS alone."""
    prof = ImpairmentProfile.random(4, 6106, rho=1.0)
    man = ProfileManifold(prof, ULA4)
    rng = np.random.default_rng(8)
    ds = simulate_from_manifold(man, [-20.0, 5.0, 30.0], [300.0] * 3, rng, F,
                                reflection_probability=1.0)  # fmt: skip
    assert ds.extra_cfr is not None and ds.extra_cfr.shape == ds.cfr.shape
    for i, (th, th2) in enumerate(zip(ds.aoa_deg, ds.extra_paths[:, 0])):
        assert 10.0 <= abs(th2 - th) <= 50.0
        los = (ds.cfr[i] - ds.extra_cfr[i])[:, 0, :] / man.steering(th, F)[:, 0, :]
        np.testing.assert_allclose(los, los[0, 0], rtol=1e-4)
        refl = ds.extra_cfr[i][:, 0, :] / man.steering(th2, F)[:, 0, :]
        ramp = refl[0] / refl[0, 0]
        np.testing.assert_allclose(refl, refl[:1] * np.ones((4, 1)), rtol=1e-4)
        np.testing.assert_allclose(np.abs(ramp), 1.0, rtol=1e-4)
        assert abs(np.abs(refl[0, 0]) ** 2 - ds.extra_paths[i, 1]) < 1e-4
    # subsets and joins keep them; a corrected CFR drops them (they no longer add up)
    assert ds.subset([1]).extra_cfr.shape[0] == 1
    assert ds.with_cfr(ds.cfr * 2).extra_cfr is None
    none = simulate_from_manifold(man, [0.0], [300.0], rng, F, reflection_probability=0.0)
    both = concat([none, ds])
    assert not np.any(both.extra_cfr[0]) and np.array_equal(both.extra_cfr[1:], ds.extra_cfr)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A small simulated chamber sweep (5-deg steps) through `srsaoa simulate`."""
    d = tmp_path_factory.mktemp("sweep")
    sc = d / "s.yaml"
    sc.write_text(
        "name: s\nseed: 3\ncarrier: {subcarrier_spacing: 30, n_size_grid: 25, fft_size: 512}\n"
        "srs: {c_srs: 5, n_srs_id: 7}\narray: {num_elements: 4, carrier_frequency_hz: 3.5e9}\n"
        "impairments: {generator: random, seed: 6107, rho: 1.0}\npaths:\n  - {aoa_deg: 0.0}\n"
        "snr_db: 20.0\nnum_slots: 2\ndatatype: cf32_le\n"
        "sweep:\n  aoa_deg: {start: -40.0, stop: 40.0, step: 5.0}\n"
    )
    out = d / "rec"
    r = _cli("simulate", "--scenario", str(sc), "--out", str(out / "s"))
    assert r.returncode == 0, r.stderr
    return out


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gnuradio.srsaoa.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_calibrate_sweep_command(sweep_dir, tmp_path):
    out = tmp_path / "cal.json"
    r = _cli("calibrate", "--sweep", str(sweep_dir), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "17 angles -40..40 deg" in r.stdout
    assert (tmp_path / "cal.png").stat().st_size > 10_000
    const, man = load_calibration_file(out)
    assert man.num_elements == 4 and man.angle_range_deg == (-40.0, 40.0)
    assert const.radio["sample_rate"] == 512 * 30e3
    # the fitted manifold is the simulated array's (after its constant part)
    prof = ImpairmentProfile.random(4, 6107, rho=1.0)
    truth = ProfileManifold(prof, ULA4, correction=const.multipliers)
    th = np.linspace(-37.5, 37.5, 16)
    err = _phase_error_deg(man.steering(th, [0.0]), truth.steering(th, [0.0]))
    assert np.sqrt(np.mean(err[1:] ** 2)) < 1.5  # 5-deg sweep of an 18-90 deg ripple, 2 slots


def test_calibrate_sweep_command_refuses_bad_sweeps(sweep_dir, tmp_path):
    r = _cli("calibrate", "--sweep", str(tmp_path), "--out", str(tmp_path / "c.json"))
    assert r.returncode != 0 and "no SigMF recordings" in r.stderr
    r = _cli(
        "calibrate",
        "--sweep",
        str(sweep_dir),
        "--out",
        str(sweep_dir / "s_aoa_p000p0_ch0.sigmf-meta"),
    )
    assert r.returncode != 0 and "input" in r.stderr
    # a recording made at another radio setting in the same sweep
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sweep_dir.glob("s_aoa_m0[0-2]*"):
        (mixed / p.name).write_bytes(p.read_bytes())
    sc = tmp_path / "other.yaml"
    sc.write_text(
        (sweep_dir.parent / "s.yaml").read_text().replace("3.5e9", "3.6e9").split("sweep:")[0]
    )
    r = _cli("simulate", "--scenario", str(sc), "--out", str(mixed / "zz"))
    assert r.returncode == 0, r.stderr
    r = _cli("calibrate", "--sweep", str(mixed), "--out", str(tmp_path / "c.json"), "--no-progress")
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "one radio setting" in r.stderr, r.stderr


def test_single_angle_calibration_warns_about_angle_dependent_error(sweep_dir, tmp_path):
    rec = sweep_dir / "s_aoa_p000p0.sigmf-collection"
    r = _cli("calibrate", "--input", str(rec), "--aoa-deg", "0", "--out", str(tmp_path / "c.json"))
    assert r.returncode == 0, r.stderr
    assert "angle-independent" in r.stderr and "--sweep" in r.stderr
