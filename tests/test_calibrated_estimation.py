"""Calibrated estimators (estimation.calibrated) against theory.

CFRs are synthesised from the true manifold of an impaired array (``ProfileManifold``: gain,
phase, coupling and the angle- and frequency-dependent phase error psi of MoD-DNN, rho = 1),
per subcarrier: H[m, s, k] = sum_p alpha_ps b_m(theta_p, f_k) exp(-j 2 pi f_k tau_p) + n,
with n ~ CN(0, sigma^2) per element and resource element (DESIGN section 3) and the target
configuration of the calibration benchmark: 4 elements, 51 RB at 30 kHz, comb 2 -> K = 306, S = 4 symbols,
10 dB per RE. The estimators see the manifold in 6 bands (response at each band centre).

Tolerances come from the Cramer-Rao bound. For n independent trials with error variance v,
n * MSE / v is chi-square with n degrees of freedom (errors ~ Gaussian at this SNR), so
"RMSE <= 1.2 sqrt(CRB)" is asserted as RMSE^2 <= 1.2^2 CRB * chi2_{0.999}(n) / n: a correct
estimator fails it with probability < 1e-3 even at exactly 1.2 sqrt(CRB). With different
variances v_i per trial (the multipath cases) the sum of squares is compared with the same
quantile at Satterthwaite's effective dof n_eff = (sum v)^2 / sum v^2.
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.array.manifold import IdealManifold, ProfileManifold
from gnuradio.srsaoa.estimation import calibrated as cal
from gnuradio.srsaoa.estimation import crb, doa
from scipy.stats import chi2

SCS = 30e3
K = 306
FREQS = (np.arange(0, 2 * K, 2) - K) * SCS  # comb-2 subcarriers of 51 RB, centred
EDGES = np.linspace(FREQS[0] - SCS, FREQS[-1] + SCS, 7)  # 6 bands
SNR_DB = 10.0
SIGMA2 = 10 ** (-SNR_DB / 10)


@pytest.fixture(scope="module")
def man() -> ProfileManifold:
    return ProfileManifold(ImpairmentProfile.random(4, seed=7, rho=1.0), ULA(4), EDGES)


def synth(rng, man, paths, snr_db=SNR_DB, s=4, coherent=False, noise=True):
    """CFR [M, S, K] of paths (aoa_deg, delay_s, power_db); the true per-subcarrier manifold.
    ``coherent``: every path's symbol gains are the first path's times a fixed complex
    factor (fully coherent paths)."""
    h = np.zeros((man.num_elements, s, K), complex)
    base = np.exp(2j * np.pi * rng.uniform(size=s))
    for theta, tau, pdb in paths:
        b = man.steering([theta], FREQS)[:, 0, :]  # [M, K]
        ph = np.exp(2j * np.pi * rng.uniform()) * base if coherent else None
        alpha = 10 ** (pdb / 20) * (ph if coherent else np.exp(2j * np.pi * rng.uniform(size=s)))
        h += alpha[None, :, None] * b[:, None, :] * np.exp(-2j * np.pi * FREQS * tau)[None, None]
    if noise:
        sig = np.sqrt(10 ** (-snr_db / 10) / 2)
        h += sig * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    return h


def chi2_factor(n_eff: float, p: float = 0.999) -> float:
    return float(chi2.ppf(p, n_eff) / n_eff)


# ----------------------------------------------------------------------------- noise-free


@pytest.mark.parametrize("theta", [17.3, -41.2, 3.0])
@pytest.mark.parametrize("method", ["dbf", "music", "ml", "2d-ml"])
def test_noise_free_single_path_exact(rng, man, method, theta):
    h = synth(rng, man, [(theta, 35e-9, 0.0)], noise=False)
    est = cal.estimate_calibrated(method, h, FREQS, man, order=1)
    assert est.method == method and est.order == 1
    # the band-centre approximation of the frequency-dependent psi is the only model error
    assert abs(est.aoa_deg[0] - theta) < 0.01
    if method == "2d-ml":
        assert abs(est.delay_s[0] - 35e-9) < 1e-10
    else:
        assert est.delay_s is None
    # power per element and RE of the impaired array: mean |b|^2 / M (about 1)
    pw = np.mean(np.abs(man.steering([theta], FREQS)) ** 2)
    assert est.power[0] == pytest.approx(pw, rel=1e-3)


@pytest.mark.parametrize("method", ["ml", "2d-ml"])
def test_noise_free_two_coherent_paths(rng, man, method):
    paths = [(-12.0, 0.0, 0.0), (14.0, 120e-9, -6.0)]
    h = synth(rng, man, paths, coherent=True, noise=False)
    est = cal.estimate_calibrated(method, h, FREQS, man, order=2)
    assert np.allclose(est.aoa_deg, [-12.0, 14.0], atol=0.01)  # strongest (LOS) first
    if method == "2d-ml":
        assert np.allclose(est.delay_s, [0.0, 120e-9], atol=1e-9)


def test_ideal_ml_matches_truth_and_doa_dispatch(rng):
    """doa.estimate('ml' / '2d-ml') = the calibrated estimators on the ideal ULA."""
    ideal = IdealManifold(4)
    h = synth(rng, ideal, [(-31.0, 0.0, 0.0), (8.0, 97e-9, -3.0)], noise=False)
    for method in ("ml", "2d-ml"):
        a = doa.estimate(method, cfr=h, order=2, subcarrier_hz=FREQS)
        b = cal.estimate_calibrated(method, h, FREQS, ideal, order=2)
        assert np.allclose(np.sort(a.aoa_deg), [-31.0, 8.0], atol=1e-4), method
        np.testing.assert_allclose(a.aoa_deg, b.aoa_deg, atol=1e-6)
    with pytest.raises(ValueError, match="CFR"):
        doa.estimate("2d-ml", covariance=np.eye(4), order=1)


# ----------------------------------------------------------------------------- CRB


@pytest.mark.parametrize("m,n,snr_db,theta", [(4, 1224, 10.0, 0.0), (3, 100, 5.0, -25.0)])
def test_crb_reduces_to_closed_form(m, n, snr_db, theta):
    ideal = IdealManifold(m)
    snr = 10 ** (snr_db / 10)
    closed = 6.0 / (n * snr * m * (m * m - 1) * np.pi**2 * np.cos(np.deg2rad(theta)) ** 2)
    det = cal.crb_calibrated(ideal, theta, n, snr_db, kind="deterministic")[0]
    sto = cal.crb_calibrated(ideal, theta, n, snr_db)[0]
    assert np.deg2rad(det) ** 2 == pytest.approx(closed, rel=1e-10)
    assert np.deg2rad(sto) ** 2 == pytest.approx(closed * (1 + 1 / (m * snr)), rel=1e-10)
    # several correlated sources: the matrix forms of crb.py
    p = np.array([[2.0, 0.5 + 0.5j], [0.5 - 0.5j, 1.0]])
    for kind, ref in (("deterministic", crb.crb_deterministic), ("stochastic", crb.crb_stochastic)):
        got = cal.crb_calibrated(ideal, [-20.0, 15.0], n, source_covariance=p, kind=kind)
        want = ref([-20.0, 15.0], n, num_elements=m, source_covariance=p)
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # split into bands: the information adds up (same manifold in every band)
    two = ProfileManifold(ImpairmentProfile.ideal(m), ULA(m), [-1.0, 0.0, 1.0])
    got = cal.crb_calibrated(two, theta, [0.3 * n, 0.7 * n], snr_db, kind="deterministic")[0]
    assert np.deg2rad(got) ** 2 == pytest.approx(closed, rel=1e-6)


def test_angle_delay_crb_reduces_to_closed_form():
    f = FREQS - FREQS.mean()  # gains refer to the mean frequency in both
    g = np.array([1.0, 0.5j])
    got = cal.crb_angle_delay_calibrated(IdealManifold(4), [10.0, 30.0], [0, 1e-7], g, f, 0.1)
    want = crb.crb_angle_delay([10.0, 30.0], [0, 1e-7], g, f, 4, 0.5, 0.1, 1)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-8)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-8)


# ----------------------------------------------------------------------------- Monte Carlo


def test_single_path_rmse_at_crb_and_ideal_estimators_biased(man):
    """10 dB per RE, one occasion per estimate: RMSE <= 1.2 sqrt(CRB) (chi-square margin for
    the trial count), no bias; the uncalibrated ESPRIT / MUSIC are off by many sigma."""
    rng = np.random.default_rng(12)
    theta, n = 17.3, 100
    methods = ("dbf", "music", "ml", "2d-ml")
    err = {m: [] for m in (*methods, "esprit", "music-ideal")}
    for _ in range(n):
        h = synth(rng, man, [(theta, 30e-9, 0.0)])
        for m in methods:
            err[m].append(cal.estimate_calibrated(m, h, FREQS, man, order=1).aoa_deg[0] - theta)
        err["esprit"].append(doa.estimate("esprit", cfr=h, order=1).aoa_deg[0] - theta)
        err["music-ideal"].append(doa.estimate("music", cfr=h, order=1).aoa_deg[0] - theta)
    bc = cal.band_covariances(h, FREQS, man)
    bound = cal.crb_calibrated(man, theta, bc.n, SNR_DB, bands=bc.bands)[0]  # stochastic
    assert 0.03 < bound < 0.08  # about 0.05 deg for this configuration
    limit = 1.2 * bound * np.sqrt(chi2_factor(n))
    for m in methods:
        e = np.asarray(err[m])
        rmse = float(np.sqrt(np.mean(e**2)))
        assert rmse <= limit, (m, rmse, bound)
        assert abs(e.mean()) <= 4 * 1.2 * bound / np.sqrt(n), (m, e.mean())  # no grid bias
    for m in ("esprit", "music-ideal"):
        assert abs(np.mean(err[m])) > 10 * bound, m  # the impairments matter


def test_los_plus_coherent_reflection(man):
    """LOS + one reflection (-6 dB, 15-40 deg away, 50-300 ns later), fully coherent: the
    strongest path of ML within 1.2 x its bound (the covariance model's stochastic CRB, whose
    mean here is ~0.1 deg), of the joint angle-delay ML within 1.2 x the CFR model's bound
    and below 0.1 deg RMSE (the target). MUSIC is not efficient for correlated
    sources (within one band the paths stay correlated; Stoica and Nehorai 1989): it is held
    only to finding the LOS as the strongest path (< 1 deg) and to 3 x the bound."""
    rng = np.random.default_rng(3)
    n = 30
    sq = {m: 0.0 for m in ("ml", "music", "2d-ml")}
    v_cov, v_joint = [], []
    for _ in range(n):
        los = rng.uniform(-30, 30)
        refl = los + rng.choice([-1, 1]) * rng.uniform(15, 40)
        tau = rng.uniform(50e-9, 300e-9)
        paths = [(los, 0.0, 0.0), (refl, tau, -6.0)]
        h = synth(rng, man, paths, coherent=True)
        for m in sq:
            est = cal.estimate_calibrated(m, h, FREQS, man, order=2)
            assert abs(est.aoa_deg[0] - los) < 1.0, (m, los, refl, est.aoa_deg)
            sq[m] += (est.aoa_deg[0] - los) ** 2
        # bounds at the true parameters (noise-free fit of the band source covariances)
        h0 = synth(np.random.default_rng(0), man, paths, coherent=True, noise=False)
        bc = cal.band_covariances(h0, FREQS, man)
        _, _, pb = cal._fit_bands(bc, man, np.array([los, refl]))
        v_cov.append(
            cal.crb_calibrated(man, [los, refl], bc.n, source_covariance=pb / SIGMA2,
                               bands=bc.bands)[0] ** 2
        )  # fmt: skip
        g = np.array([[1.0] * 4, [10 ** (-6 / 20)] * 4])
        v_joint.append(
            cal.crb_angle_delay_calibrated(man, [los, refl], [0.0, tau], g, FREQS, SIGMA2)[0][0]
            ** 2
        )
    for m, v, k in (("ml", v_cov, 1.2), ("music", v_cov, 3.0), ("2d-ml", v_joint, 1.2)):
        v = np.asarray(v)
        n_eff = v.sum() ** 2 / np.sum(v**2)
        assert sq[m] <= k**2 * v.sum() * chi2_factor(n_eff), (m, np.sqrt(sq[m] / n), n_eff)
    assert np.sqrt(sq["2d-ml"] / n) <= 0.1


def test_model_order_estimated(rng, man):
    one = synth(rng, man, [(5.0, 0.0, 0.0)])
    two = synth(rng, man, [(5.0, 0.0, 0.0), (30.0, 200e-9, -6.0)], coherent=True)
    assert cal.estimate_calibrated("ml", one, FREQS, man).order == 1
    est = cal.estimate_calibrated("ml", two, FREQS, man)
    assert est.order == 2 and abs(est.aoa_deg[0] - 5.0) < 0.5
    assert cal.estimate_calibrated("music", two, FREQS, man, order=0).aoa_deg.size == 0


def test_order_with_unequal_channel_noise(man):
    """A CFR corrected by a calibration's gains has unequal noise per channel (here +-1.5 dB,
    the noise added before the correction). The white-noise criterion and its guard read
    that spread as a second path at 10 dB and 32 symbols (the full-band noise eigenvalues
    spread by ~+-35 %, far beyond the Marchenko-Pastur edge of 4 %); whitened by the
    per-channel noise from the delay domain (``los.noise_per_channel``) the order is 1 in
    at least 48 of 50 trials, and a -6 dB reflection 200 ns later is still found."""
    rng = np.random.default_rng(1204)
    g = 10 ** (np.array([0.0, 1.5, -1.5, 0.8]) / 20)  # the correction's gain per channel
    ones = 0
    plain = 0
    for _ in range(50):
        # the signal in the corrected domain, the noise scaled by the correction
        sig = synth(rng, man, [(rng.uniform(-50, 50), 0.0, 0.0)], s=32, noise=False)
        w = np.sqrt(SIGMA2 / 2) * (
            rng.standard_normal(sig.shape) + 1j * rng.standard_normal(sig.shape)
        )
        x = sig + g[:, None, None] * w
        ones += cal.estimate_calibrated("ml", x, FREQS, man).order == 1
        bc = cal.band_covariances(x, FREQS, man)
        plain += cal.resolve_order(bc, None, "mdl") == 1
    assert ones >= 48
    assert plain <= 25  # without the whitening the spread reads as a path
    sig = synth(rng, man, [(5.0, 0.0, 0.0), (30.0, 200e-9, -6.0)], s=32, noise=False)
    w = np.sqrt(SIGMA2 / 2) * (rng.standard_normal(sig.shape) + 1j * rng.standard_normal(sig.shape))
    est = cal.estimate_calibrated("ml", sig + g[:, None, None] * w, FREQS, man)
    assert est.order == 2 and abs(est.aoa_deg[0] - 5.0) < 0.2


def test_spectra_and_fov(rng, man):
    h = synth(rng, man, [(-20.0, 0.0, 0.0)])
    est = cal.estimate_calibrated("music", h, FREQS, man, order=1, fov_deg=(-60, 60))
    assert est.grid_deg[0] == -60 and est.grid_deg[-1] == 60
    assert est.spectrum.shape == est.grid_deg.shape
    assert abs(est.grid_deg[np.argmax(est.spectrum)] + 20.0) <= 0.5
    # the search stays inside the field of view and the manifold's calibrated range
    narrow = ProfileManifold(man.profile, man.ula, EDGES, angle_range_deg=(-10.0, 50.0))
    est = cal.estimate_calibrated("dbf", h, FREQS, narrow, order=1, fov_deg=(-60, 60))
    assert est.grid_deg[0] == -10.0
    with pytest.raises(ValueError, match="overlap"):
        cal.estimate_calibrated("ml", h, FREQS, narrow, order=1, fov_deg=(-60, -20))


# ----------------------------------------------------------------------------- bad input


def test_bad_input(rng, man):
    h = synth(rng, man, [(0.0, 0.0, 0.0)])
    with pytest.raises(ValueError, match="elements"):
        cal.estimate_calibrated("ml", h[:3], FREQS, man, order=1)
    bad = h.copy()
    bad[1, 0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cal.estimate_calibrated("music", bad, FREQS, man, order=1)
    with pytest.raises(ValueError, match="zeros"):
        cal.estimate_calibrated("dbf", np.zeros_like(h), FREQS, man, order=1)
    with pytest.raises(ValueError, match="subcarrier"):
        cal.estimate_calibrated("ml", h, FREQS[:-1], man, order=1)
    with pytest.raises(ValueError, match="order"):
        cal.estimate_calibrated("ml", h, FREQS, man, order=4)
    with pytest.raises(ValueError, match="method"):
        cal.estimate_calibrated("esprit", h, FREQS, man, order=1)
    with pytest.raises(ValueError, match="frequency"):
        cal.estimate_calibrated("ml", covariance=np.eye(4), n_snapshots=10, manifold=man, order=1)
    with pytest.raises(ValueError):
        cal.crb_calibrated(man, [0.0, 1.0, 2.0, 3.0], 100, 10.0)
