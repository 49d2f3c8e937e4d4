"""Array impairment models: each impairment changes the array response by exactly
its model, checked per element against formulas written out here from the papers."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile, friis_coupling_amplitude

C0 = 299_792_458.0
ULA4 = ULA(num_elements=4, carrier_frequency_hz=3.5e9)
THETA = np.array([-70.0, -45.0, -30.0, -10.0, 0.0, 12.5, 30.0, 44.0, 68.0])
FREQ = np.array([-9e6, -1e6, 0.0, 4.5e6, 9e6])
ATOL = 1e-12  # double precision: the model is evaluated in closed form


def _a(theta_deg, x=None):
    """Ideal steering vector of DESIGN section 3, [M, L]."""
    x = ULA4.positions_m if x is None else x
    lam = C0 / 3.5e9
    return np.exp(2j * np.pi * np.outer(x, np.sin(np.radians(theta_deg))) / lam)


def _only(**kw) -> ImpairmentProfile:
    base = dict(
        gain_db_max=0.0,
        phase_deg_max=0.0,
        coupling=False,
        position_std_m=0.0,
        psi=False,
    )
    base.update(kw)
    return ImpairmentProfile.random(4, 11, **base)


def test_ideal_profile_is_the_steering_vector():
    p = ImpairmentProfile.ideal(4)
    assert p.is_ideal
    b = p.manifold(ULA4, THETA, FREQ)
    assert np.allclose(b, _a(THETA)[:, :, None], atol=ATOL, rtol=0)
    assert np.allclose(p.response(THETA[3], FREQ, ula=ULA4), 1.0, atol=ATOL, rtol=0)


def test_gain_phase_mismatch_spanos_eqs_13_14():
    p = _only(gain_db_max=0.7, phase_deg_max=15.0)
    g = np.asarray(p.gain_db)
    ph = np.asarray(p.phase_deg)
    assert np.all(np.abs(g) <= 0.7) and np.all(np.abs(ph) <= 15.0)
    assert np.std(g) > 0 and np.std(ph) > 0
    r = p.response(THETA, FREQ, ula=ULA4)  # [M, L, K]
    for m in range(4):
        want = 10 ** (g[m] / 20) * np.exp(1j * np.radians(ph[m]))
        assert np.allclose(r[m], want, atol=ATOL, rtol=0)  # independent of angle and frequency


def test_mutual_coupling_toeplitz_friis_spanos_eqs_10_11_15():
    p = _only(coupling=True, coupling_phase_std_deg=10.0)
    c = np.asarray(p.coupling)
    assert c[0] == 1
    for lag in (1, 2, 3):
        # eq 15 with unit gains: |c| = lambda / (4 pi * lag * d), d = lambda/2
        assert abs(c[lag]) == pytest.approx(1 / (4 * np.pi * lag * 0.5), rel=1e-12)
        assert abs(c[lag]) == pytest.approx(friis_coupling_amplitude(lag, 0.5), rel=1e-12)
    b = p.manifold(ULA4, THETA)  # [M, L] narrowband
    a = _a(THETA)
    for m in range(4):
        want = sum(c[abs(m - n)] * a[n] for n in range(4))
        assert np.allclose(b[m], want, atol=ATOL, rtol=0)
    cm = p.coupling_matrix
    assert np.allclose(cm, cm.T) and np.allclose(np.diag(cm), 1)


def test_coupling_phases_are_gaussian_with_the_given_spread():
    # 400 profiles x 3 lags: the sample std of a N(0, 10 deg) phase is within 10 % at 5 sigma
    # (relative std of a sample std from n = 1200 is 1/sqrt(2n) = 2 %)
    ph = np.concatenate(
        [
            np.degrees(np.angle(ImpairmentProfile.random(4, s, psi=False).coupling[1:]))
            for s in range(400)
        ]
    )
    assert np.std(ph) == pytest.approx(10.0, rel=0.1)
    assert abs(np.mean(ph)) < 5 * 10 / np.sqrt(ph.size)


def test_element_position_errors_moddnn_eq_6():
    p = _only(position_std_m=2e-3)
    dx = np.asarray(p.position_error_m)
    assert dx[0] == 0 and np.all(dx[1:] != 0)
    r = p.response(THETA, ula=ULA4)  # [M, L]
    lam = C0 / 3.5e9
    for m in range(4):
        want = np.exp(2j * np.pi * dx[m] * np.sin(np.radians(THETA)) / lam)
        assert np.allclose(r[m], want, atol=ATOL, rtol=0)


def _psi_formula(e: dict, theta: np.ndarray, f: np.ndarray, knee=30.0, w=3.0, fref=10e6):
    sp = lambda x: np.log1p(np.exp(x))  # noqa: E731 - softplus
    base = (
        e["a1"] * np.sin(2 * np.pi * theta / e["p1"] + e["f1"])
        + e["a2"] * np.sin(2 * np.pi * theta / e["p2"] + e["f2"])
        + e["s_pos"] * w * sp((theta - knee) / w)
        + e["s_neg"] * w * sp((-theta - knee) / w)
    )
    return np.outer(base, 1 + e["eps"] * f / fref)


@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0])
def test_angle_dependent_phase_error_moddnn_eqs_7_34(rho):
    p = _only(psi=True, rho=rho)
    assert p.rho == rho
    r = p.response(THETA, FREQ, ula=ULA4)  # [M, L, K]
    for m in range(4):
        psi = _psi_formula(p.psi.elements[m], THETA, FREQ)
        assert np.allclose(r[m], np.exp(1j * rho * np.radians(psi)), atol=ATOL, rtol=0)
    assert np.allclose(r[0], 1.0)  # element 0 is the reference (Fig. 1b)


def test_default_profile_has_the_fig_1b_shape():
    # Fig. 1b: below about 20 deg inside +-30 deg, growing with a constant slope beyond.
    for seed in range(20):
        p = ImpairmentProfile.default(seed=seed)
        inner = p.psi_deg(np.linspace(-30, 30, 241))[:, :, 0]
        assert np.max(np.abs(inner)) < 20.0
        # slope part: psi minus its two sinusoids is flat inside and linear beyond the knee
        th = np.linspace(-60, 60, 241)
        for m, e in enumerate(p.psi.elements[1:], start=1):
            ripple = e["a1"] * np.sin(2 * np.pi * th / e["p1"] + e["f1"]) + e["a2"] * np.sin(
                2 * np.pi * th / e["p2"] + e["f2"]
            )
            trend = p.psi_deg(th)[m, :, 0] - ripple
            far = th >= 45  # 5 softplus widths past the knee: slope within exp(-5) of s_pos
            slope = np.diff(trend[far]) / np.diff(th[far])
            assert np.allclose(slope, e["s_pos"], rtol=0.01)
            assert 0.4 <= abs(e["s_pos"]) <= 1.0 and 0.4 <= abs(e["s_neg"]) <= 1.0
            # inside +-20 deg the knee terms are at most |s| W softplus(-10/W) per side
            bound = 3.0 * (np.log1p(np.exp(-10 / 3)) + np.log1p(np.exp(-50 / 3)))
            assert np.max(np.abs(trend[np.abs(th) <= 20])) <= bound


def test_combined_manifold_is_c_gamma_a():
    p = ImpairmentProfile.default(seed=5)
    b = p.manifold(ULA4, THETA, FREQ)
    x = ULA4.positions_m + np.asarray(p.position_error_m)
    g = 10 ** (np.asarray(p.gain_db) / 20) * np.exp(1j * np.radians(p.phase_deg))
    c = np.asarray(p.coupling)
    cm = np.array([[c[abs(i - j)] for j in range(4)] for i in range(4)])
    for li, th in enumerate(THETA):
        for ki, f in enumerate(FREQ):
            psi = np.array(
                [_psi_formula(e, np.array([th]), np.array([f]))[0, 0] for e in p.psi.elements]
            )
            inner = g * np.exp(1j * np.radians(psi)) * _a([th], x)[:, 0]
            assert np.allclose(b[:, li, ki], cm @ inner, atol=ATOL, rtol=0)


def test_wideband_steering_uses_the_subcarrier_frequency():
    p = ImpairmentProfile.ideal(4, steering="wideband")
    b = p.manifold(ULA4, 40.0, FREQ)  # [M, K]
    x = ULA4.positions_m
    want = np.exp(2j * np.pi * np.outer(x, 3.5e9 + FREQ) * np.sin(np.radians(40.0)) / C0)
    assert np.allclose(b, want, atol=ATOL, rtol=0)


def test_profiles_are_seeded_saveable_and_switchable(tmp_path):
    a = ImpairmentProfile.default(seed=9)
    b = ImpairmentProfile.default(seed=9)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != ImpairmentProfile.default(seed=10).to_dict()
    path = a.save(tmp_path / "p.json")
    c = ImpairmentProfile.load(path)
    assert np.array_equal(c.manifold(ULA4, THETA, FREQ), a.manifold(ULA4, THETA, FREQ))
    assert c.name == "default-gnb-9" and c.seed == 9
    # switching one component off leaves the others as they were
    full = ImpairmentProfile.random(4, 3)
    no_coupling = ImpairmentProfile.random(4, 3, coupling=False)
    assert full.gain_db == no_coupling.gain_db and full.phase_deg == no_coupling.phase_deg
    assert full.psi.to_dict() == no_coupling.psi.to_dict()
    assert no_coupling.coupling[1:] == [0j, 0j, 0j]
    half = a.with_rho(0.5)
    assert half.rho == 0.5 and half.gain_db == a.gain_db


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(gain_db=[0.0, 1.0]), "gain_db must have 4"),
        (dict(rho=-1.0), "rho must be >= 0"),
        (dict(steering="magic"), "steering must be"),
        (dict(coupling=[1, 0]), "coupling must have 4"),
    ],
)
def test_profile_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        ImpairmentProfile(num_elements=4, **kw)
