"""Multichannel SRS simulator: angle sign, SNR definition, timing, CFO, periods,
moving UE, sweep, and the frequency-domain fast path against the time-domain simulator.

The checks use only nr (OFDM demodulation, SRS symbols) and formulas written out here, not the
simulator's own code paths."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa import nr, sim
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.errors import SrsaoaError

SRS = {"c_srs": 12, "n_srs_id": 100}


def _steering(m: int, d_over_lambda: float, theta_deg: np.ndarray) -> np.ndarray:
    """DESIGN section 3: a_m(theta) = exp(+j 2 pi m (d/lambda) sin(theta))."""
    return np.exp(
        2j * np.pi * d_over_lambda * np.outer(np.arange(m), np.sin(np.radians(theta_deg)))
    )


def _cfr(rec, start: int) -> np.ndarray:
    """LS CFR [M, S, K] of the slot starting at ``start``."""
    c = rec.carrier.advanced(0)
    grid = np.stack(
        [nr.ofdm_demodulate(c, row[start : start + c.samples_per_slot()]) for row in rec.samples]
    )
    idx = nr.srs_indices(c, rec.srs)
    sym = nr.srs_symbols(c, rec.srs)
    s_count = rec.srs.num_srs_symbols
    h = grid[:, idx[:, 0], idx[:, 1]] / sym
    return h.reshape(rec.num_channels, s_count, -1)


def _dbf_aoa(h: np.ndarray, d_over_lambda: float) -> float:
    x = h.reshape(h.shape[0], -1)
    r = x @ x.conj().T / x.shape[1]
    grid = np.arange(-89.0, 89.0, 0.01)
    a = _steering(h.shape[0], d_over_lambda, grid)
    return float(grid[np.argmax(np.real(np.einsum("ml,mn,nl->l", a.conj(), r, a)))])


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_angle_sign_and_per_re_snr(snr_db):
    aoa = 35.0  # positive: towards increasing element index
    sc = sim.Scenario(
        paths=[{"aoa_deg": aoa}],
        snr_db=snr_db,
        num_slots=6,
        start_offset_samples=211,
        srs=SRS,
        seed=int(snr_db) + 1,
    )
    rec = sim.simulate(sc)
    starts = rec.truth["srs_slot_sample_starts"]
    assert starts == [211 + 15360 * i for i in range(6)]
    h = np.concatenate([_cfr(rec, s) for s in starts], axis=2)  # [M, 4, K*slots]
    # single-source CRB of a ULA (Stoica-Nehorai): var(u) = 6 / (N snr M (M^2 - 1)) for the
    # spatial frequency u = 2 pi (d/lambda) sin(theta); DBF is efficient here. Allow 5 sigma.
    n = h.shape[1] * h.shape[2]
    sigma_u = np.sqrt(6 / (n * 10 ** (snr_db / 10) * 4 * 15))
    sigma_deg = np.degrees(sigma_u / (np.pi * np.cos(np.radians(aoa))))
    assert _dbf_aoa(h, rec.array.spacing_wavelengths) == pytest.approx(
        aoa, abs=5 * sigma_deg + 0.01
    )
    # static channel: the 4 SRS symbols carry the same h; symbol differences are pure noise
    d = np.concatenate([h[:, 0] - h[:, 1], h[:, 2] - h[:, 3]], axis=1)
    noise = np.mean(np.abs(d) ** 2) / 2
    signal = np.mean(np.abs(h.mean(axis=1)) ** 2) - noise / 4
    # 4 x 2 x 1728 noise samples: relative std 0.85 % (0.04 dB); 0.3 dB is the limit
    assert 10 * np.log10(signal / noise) == pytest.approx(snr_db, abs=0.3)
    assert rec.truth["noise_variance"] == pytest.approx(10 ** (-snr_db / 10))


def test_slot_start_matches_the_transmitted_waveform():
    sc = sim.Scenario(
        paths=[{"aoa_deg": -20.0}],
        snr_db=0,
        num_slots=2,
        start_offset_samples=None,
        srs=SRS,
        seed=42,
    )
    rec = sim.simulate(sc)
    start = rec.truth["first_slot_sample"]
    assert 0 <= start < 15360 and rec.truth["srs_slot_sample_starts"][0] == start
    ref = nr.srs_slot_waveform(rec.carrier, rec.srs)
    corr = np.abs(np.correlate(rec.samples[0, : 2 * 15360], ref, mode="valid"))
    assert int(np.argmax(corr)) == start


def test_cfo_rotates_the_phase_between_srs_symbols():
    cfo = 1500.0
    sc = sim.Scenario(
        paths=[{"aoa_deg": 5.0}],
        snr_db=30,
        cfo_hz=cfo,
        num_slots=1,
        start_offset_samples=0,
        srs=SRS,
    )
    rec = sim.simulate(sc)
    h = _cfr(rec, 0)
    dphi = np.angle(np.sum(h[:, 1:] * h[:, :-1].conj()))
    t_sym = (1024 + 72) / 30.72e6  # symbols 8..11 of a 30 kHz slot: normal CP
    # std of the phase of a sum of N = 3 x 4 x 288 products at SNR 1000: sqrt(2 / (N SNR))
    # = 7.6e-4 rad; allow 5 sigma
    assert dphi == pytest.approx(2 * np.pi * cfo * t_sym, abs=5 * np.sqrt(2 / (3456 * 1000)))


def test_srs_period_and_noise_only_slots():
    sc = sim.Scenario(
        paths=[{"aoa_deg": 0.0}],
        snr_db=10,
        num_slots=6,
        start_offset_samples=0,
        srs={**SRS, "srs_period": [2, 1]},
        seed=4,
    )
    rec = sim.simulate(sc)
    starts = [15360 * i for i in (1, 3, 5)]
    assert rec.truth["srs_slot_sample_starts"] == starts
    assert [a["srsaoa:n_slot"] for a in rec.annotations] == [1, 3, 5]
    quiet = rec.samples[:, 2 * 15360 : 3 * 15360]
    # 4 x 15360 noise samples: relative std 0.4 %; 3 % is > 5 sigma
    assert np.mean(np.abs(quiet) ** 2) == pytest.approx(rec.truth["noise_variance"], rel=0.03)


def test_moving_ue_annotations_follow_the_trajectory():
    rate = 2000.0  # deg/s: 1 deg per 0.5 ms slot
    sc = sim.Scenario(
        paths=[{"aoa_deg": -10.0}],
        snr_db=30,
        num_slots=5,
        start_offset_samples=0,
        trajectory={"rate_deg_per_s": rate},
        srs=SRS,
    )
    rec = sim.simulate(sc)
    aoas = [a["srsaoa:aoa_deg"] for a in rec.annotations]
    assert aoas == pytest.approx([-10.0 + i for i in range(5)], abs=1e-9)
    for a, ann in zip(aoas, rec.annotations):
        est = _dbf_aoa(_cfr(rec, ann["core:sample_start"]), rec.array.spacing_wavelengths)
        assert est == pytest.approx(a, abs=0.1)


def test_cfr_snapshots_agree_with_the_time_domain():
    """Impaired wideband array, two paths with a fractional delay: the noise-free LS CFR of the
    time-domain recording equals cfr_snapshots. Tolerance: the Kaiser(beta = 8) windowed-sinc
    delay filters have ~-80 dB in-band ripple each; with up to 8 coupled terms per element
    that is <= -62 dB; we allow -55 dB."""
    prof = ImpairmentProfile.default(seed=7)
    prof.steering = "wideband"
    paths = [
        {"aoa_deg": 47.0, "phase_rad": 0.3},
        {"aoa_deg": -20.0, "delay_s": 97.3e-9, "power_db": -3.0, "phase_rad": 1.0},
    ]
    sc = sim.Scenario(
        paths=paths,
        snr_db=None,
        num_slots=1,
        start_offset_samples=100,
        impairments=prof.to_dict(),
        srs=SRS,
    )
    rec = sim.simulate(sc)
    h = _cfr(rec, 100).reshape(4, -1)
    idx = nr.srs_indices(rec.carrier, rec.srs)
    f = (idx[:, 0] - rec.carrier.num_subcarriers // 2) * rec.carrier.scs_hz
    hf = sim.cfr_snapshots(
        rec.array,
        prof,
        47.0,
        None,
        f,
        1,
        np.random.default_rng(0),
        paths=[paths[1]],
        los_phase_rad=0.3,
    )[:, 0, :]
    err_db = 20 * np.log10(np.max(np.abs(hf - h)) / np.sqrt(np.mean(np.abs(h) ** 2)))
    assert err_db < -55


def test_cfr_snapshots_noise_follows_the_snr_definition(rng):
    ula = sim.Scenario().ula()
    f = np.arange(-144, 144) * 60e3
    h = sim.cfr_snapshots(
        ula,
        ImpairmentProfile.ideal(4),
        10.0,
        7.0,
        f,
        50,
        rng,
        paths=[{"aoa_deg": -40, "power_db": -6, "delay_s": 50e-9}],
    )
    clean = sim.cfr_snapshots(
        ula,
        ImpairmentProfile.ideal(4),
        10.0,
        None,
        f,
        1,
        np.random.default_rng(0),
        paths=[{"aoa_deg": -40, "power_db": -6, "delay_s": 50e-9}],
        los_phase_rad=0.0,
    )
    assert h.shape == (4, 50, 288) and h.dtype == np.complex64
    # power of the ideal channel: 1 + 10^-0.6; noise variance = that / 10^0.7
    want = (1 + 10**-0.6) / 10**0.7
    noise = h - h.mean(axis=1, keepdims=True)
    var = np.mean(np.abs(noise) ** 2) * 50 / 49
    assert var == pytest.approx(want, rel=0.03)  # 57600 samples: rel std 0.4 %
    # the noise-free channel is the DESIGN steering vectors with the path gains and delays
    a = _steering(4, ula.spacing_wavelengths, np.array([10.0, -40.0]))
    want_h = a[:, :1] + 10 ** (-6 / 20) * a[:, 1:] * np.exp(-2j * np.pi * f * 50e-9)[None, :]
    assert np.allclose(clean[:, 0, :], want_h, atol=1e-6)


def test_streaming_channel_chunked_equals_one_buffer(rng):
    ula = sim.Scenario().ula()
    prof = ImpairmentProfile.default(seed=1)
    paths = [sim.Path(30.0, 0.0, 0.0, 0.2), sim.Path(-5.0, 130e-9, -4.0, 2.0)]
    x = (rng.standard_normal(20000) + 1j * rng.standard_normal(20000)).astype(np.complex64)

    def run(chunks):
        ch = sim.ArrayChannel(ula, prof, paths, 30.72e6, 12.0, cfo_hz=-800.0, seed=9)
        out, pos = [], 0
        for n in chunks:
            out.append(ch.process(x[pos : pos + n]))
            pos += n
        out.append(ch.flush())
        return np.concatenate(out, axis=1)

    one = run([x.size])
    cuts = np.sort(rng.choice(np.arange(1, x.size), 40, replace=False))
    many = run(np.diff(np.concatenate([[0], cuts, [x.size]])).tolist())
    assert one.shape == (4, x.size)
    assert np.allclose(many, one, rtol=0, atol=1e-6)  # float32 output rounding


def test_rician_channel_power_and_redraw():
    sc = sim.Scenario(
        paths=[{"aoa_deg": 10.0}],
        snr_db=20,
        num_slots=4,
        start_offset_samples=0,
        rician={"k_factor_db": 3.0, "num_scatterers": 8, "redraw": "occasion"},
        srs=SRS,
        seed=3,
    )
    rec = sim.simulate(sc)
    k = 10**0.3
    assert rec.truth["signal_power_per_re"] == pytest.approx(1 + 1 / k)
    assert rec.truth["noise_variance"] == pytest.approx((1 + 1 / k) / 100)
    assert len(rec.truth["scatterers"]) == 4
    powers = [10 ** (p["power_db"] / 10) for p in rec.truth["scatterers"][0]]
    assert sum(powers) == pytest.approx(1 / k)
    h0, h1 = _cfr(rec, 0), _cfr(rec, 15360)
    assert not np.allclose(h0, h1, atol=0.2)  # the diffuse part was redrawn


def test_ci16_quantisation_in_the_simulator():
    sc = sim.Scenario(
        paths=[{"aoa_deg": 10.0}],
        snr_db=20,
        num_slots=1,
        datatype="ci16_le",
        ci16_backoff_db=12,
        srs=SRS,
    )
    rec = sim.simulate(sc)
    scale = rec.truth["ci16_scale"]
    q = rec.samples * scale
    assert np.allclose(q.real, np.round(q.real), atol=1e-2) and rec.truth["ci16_clipped"] == 0
    rms = np.sqrt(np.max(np.mean(np.abs(rec.samples) ** 2, axis=1)))
    assert 20 * np.log10(32767 / (rms * scale)) == pytest.approx(12.0, abs=0.01)


def test_sweep_is_one_recording_per_angle_with_one_array():
    sc = sim.Scenario(
        paths=[{"aoa_deg": 0.0}],
        snr_db=20,
        num_slots=1,
        impairments="default",
        sweep={"aoa_deg": {"start": -60, "stop": 60, "step": 60}},
        srs=SRS,
    )
    out = list(sim.sweep(sc))
    assert [a for a, _ in out] == [-60.0, 0.0, 60.0]
    imps = [r.truth["impairments"] for _, r in out]
    assert imps[0] == imps[1] == imps[2] == ImpairmentProfile.default().to_dict()
    assert [r.annotations[0]["srsaoa:aoa_deg"] for _, r in out] == [-60.0, 0.0, 60.0]
    assert sim.sweep_label(-12.5) == "aoa_m012p5"


def test_scenario_yaml_round_trip_and_errors(tmp_path):
    sc = sim.Scenario(paths=[{"aoa_deg": 3.0, "delay_s": 1e-7}], snr_db=5, name="x")
    sc.to_yaml(tmp_path / "x.yaml")
    back = sim.Scenario.from_yaml(tmp_path / "x.yaml")
    assert back.to_dict() == sc.to_dict()
    with pytest.raises(SrsaoaError, match="unknown key"):
        sim.Scenario.from_dict({"pathz": []})
    with pytest.raises(SrsaoaError, match=r"aoa_deg must be in \(-90, 90\)"):
        sim.Scenario(paths=[{"aoa_deg": 95.0}])
    with pytest.raises(SrsaoaError, match="delay_s must be >= 0"):
        sim.Scenario(paths=[{"aoa_deg": 1.0, "delay_s": -1e-9}])
    with pytest.raises(SrsaoaError, match="does not exist"):
        sim.Scenario.from_yaml(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", ["los_23deg_10db", "two_paths_period2"])
def test_reproduces_the_independent_reference_recordings(name, data_dir):
    """The reference recordings (tests/data/recordings, made by a separate implementation)
    minus our noise-free simulation of their truth must be pure noise of their variance."""
    from gnuradio.srsaoa import io

    ref = io.read_recording(data_dir / "recordings" / f"{name}.sigmf-collection")
    t = ref.truth
    keys = ("aoa_deg", "delay_s", "power_db", "phase_rad")
    sc = sim.Scenario(
        carrier=io.config_to_dict(ref.carrier),
        srs=io.config_to_dict(ref.srs),
        array=ref.array.to_dict(),
        paths=[{k: p[k] for k in keys} for p in t["paths"]],
        snr_db=None,
        cfo_hz=t["cfo_hz"],
        start_offset_samples=t["first_slot_sample"],
        num_slots=t["num_slots"],
    )
    mine = sim.simulate(sc)
    assert mine.truth["srs_slot_sample_starts"] == t["srs_slot_sample_starts"]
    n = mine.num_samples  # the reference keeps ceil(max delay) extra tail samples
    d = ref.samples[:, :n].astype(np.complex128) - mine.samples
    # residual power = noise variance: 4 n samples give a relative std 1/sqrt(4 n) < 0.2 %;
    # 2 % also covers ci16 rounding (1/(6 scale^2) ~ 2e-9)
    assert np.mean(np.abs(d) ** 2) == pytest.approx(t["noise_variance"], rel=0.02)
    # and the residual is uncorrelated with our signal: the normalised projection has std
    # sqrt(noise_variance / energy); 5 sigma
    energy = np.sum(np.abs(mine.samples) ** 2)
    proj = abs(np.vdot(mine.samples.astype(np.complex128), d)) / energy
    assert proj < 5 * np.sqrt(t["noise_variance"] / energy)


def test_scenario_reuses_a_saved_array_by_relative_path(tmp_path):
    prof = ImpairmentProfile.default(seed=77, rho=0.6)
    prof.save(tmp_path / "gnb.json")
    (tmp_path / "s.yaml").write_text("impairments: gnb.json\npaths: [{aoa_deg: 40}]\n")
    sc = sim.Scenario.from_yaml(tmp_path / "s.yaml")
    assert sc.profile().to_dict() == prof.to_dict()
