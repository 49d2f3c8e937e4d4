"""Model-based estimators: exactness on noise-free models, degenerate input, CRB.

Noise-free covariances and CFRs are built here from the physics (DESIGN section 3 steering
vector written out, H[m, s, k] = sum_p g_p a_m(theta_p) exp(-j 2 pi f_k tau_p)), never with the
code under test. On exact models every estimator must return the true parameters to numerical
precision; tolerances below say which precision.
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.estimation import coarray, covariance, crb, doa, order


def steer(m: int, spacing: float, theta_deg) -> np.ndarray:
    """a_m(theta) = exp(+j 2 pi m (d/lambda) sin theta), written out independently of geometry.py."""
    th = np.deg2rad(np.atleast_1d(np.asarray(theta_deg, dtype=float)))
    return np.exp(2j * np.pi * spacing * np.arange(m)[:, None] * np.sin(th)[None, :])


def model_covariance(m, spacing, angles, powers, noise=0.0, corr=None):
    a = steer(m, spacing, angles)
    p = np.diag(powers).astype(complex) if corr is None else np.asarray(corr, complex)
    return a @ p @ a.conj().T + noise * np.eye(m)


def physics_cfr(m, s, freqs, paths, snr_db=None, rng=None, spacing=0.5):
    h = np.zeros((m, s, freqs.size), complex)
    for theta, tau, gain in paths:
        ph = np.exp(2j * np.pi * rng.uniform(size=s)) if rng is not None else np.ones(s)
        h += (
            gain
            * steer(m, spacing, theta)[:, 0][:, None, None]
            * ph[None, :, None]
            * np.exp(-2j * np.pi * freqs * tau)[None, None, :]
        )
    if snr_db is not None:
        sigma = 10 ** (-snr_db / 20)
        h += sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    return h


# ----------------------------------------------------------------------------- order


def test_aic_mdl_values_match_wax_kailath_by_hand():
    lam = np.array([4.0, 1.0, 1.0, 1.0])
    n = 100
    # k = 0: a = 7/4, g = 4^(1/4); L = N M log(g/a); free parameters 0
    l0 = n * 4 * np.log(4**0.25 / 1.75)
    assert order.aic(lam, n)[0] == pytest.approx(-2 * l0, rel=1e-12)
    assert order.mdl(lam, n)[0] == pytest.approx(-l0, rel=1e-12)
    # k = 1: the remaining eigenvalues are equal, L = 0; free parameters 1 * (8 - 1) = 7
    assert order.aic(lam, n)[1] == pytest.approx(14.0, abs=1e-9)
    assert order.mdl(lam, n)[1] == pytest.approx(3.5 * np.log(n), abs=1e-9)
    # eigenvalue order does not matter
    assert np.allclose(order.aic(lam[::-1], n), order.aic(lam, n))


@pytest.mark.parametrize("d", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["aic", "mdl"])
def test_order_of_exact_covariance(d, method):
    angles = [-40.0, 5.0, 30.0][:d]
    r = model_covariance(4, 0.5, angles, [2.0, 1.0, 0.5][:d], noise=0.1)
    assert order.estimate_order(r, 1000, method) == d


def test_order_of_rank_deficient_noise_free_covariance():
    # no noise at all: the M - d smallest eigenvalues are rounding noise, floored equal
    r = model_covariance(4, 0.5, [10.0, -20.0], [1.0, 1.0])
    assert order.estimate_order(r, 64, "mdl") == 2
    assert order.estimate_order(r, 64, "aic") == 2


def test_mdl_is_consistent_on_noise_and_one_source(rng):
    # MDL is consistent (Wax and Kailath 1985): with N = 500, M = 4 and 10 dB per element the
    # signal eigenvalue exceeds the noise ones by 16 dB; misdetection is rare enough that 200
    # trials contain none.
    a = steer(4, 0.5, 12.0)[:, 0]
    n = 500
    for d in (0, 1):
        hits = 0
        for _ in range(200):
            x = (rng.standard_normal((4, n)) + 1j * rng.standard_normal((4, n))) / np.sqrt(2)
            if d:
                s = np.sqrt(10.0) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
                x = x + np.outer(a, s / np.sqrt(2))
            r = x @ x.conj().T / n
            hits += order.estimate_order(r, n, "mdl") == d
        assert hits == 200


@pytest.mark.parametrize(
    "bad",
    [np.full((3, 3), np.nan), np.zeros((3, 3)), np.ones((3, 2)), np.array([[np.inf, 0], [0, 1]])],
)
def test_order_rejects_degenerate_covariance(bad):
    with pytest.raises(ValueError):
        order.estimate_order(bad, 10)


def test_order_rejects_bad_arguments():
    r = np.eye(3)
    with pytest.raises(ValueError):
        order.estimate_order(r, 0)
    with pytest.raises(ValueError):
        order.estimate_order(r, 10, "bic")


# ----------------------------------------------------------------------------- covariance


def test_spatial_smoothing_equals_subarray_snapshot_covariance(rng):
    x = rng.standard_normal((5, 40)) + 1j * rng.standard_normal((5, 40))
    r = x @ x.conj().T / 40
    sub = np.hstack([x[i : i + 3] for i in range(3)])  # all 3-element subarray snapshots
    expect = sub @ sub.conj().T / sub.shape[1]
    assert np.allclose(covariance.spatial_smoothing(r, 3), expect, atol=1e-12)
    j = np.eye(3)[::-1]
    assert np.allclose(
        covariance.spatial_smoothing(r, 3, fb=True),
        0.5 * (expect + j @ expect.conj() @ j),
        atol=1e-12,
    )


def test_spatial_smoothing_restores_rank_of_coherent_paths():
    # two fully coherent paths (correlation 1): R has rank 1; smoothing over 2 subarrays of 3
    # elements gives rank 2, so MUSIC on the smoothed R finds both paths exactly
    corr = np.array([[1.0, 0.8], [0.8, 0.64]], complex)
    r = model_covariance(4, 0.5, [-20.0, 25.0], None, corr=corr)
    assert np.sum(np.linalg.eigvalsh(r) > 1e-9) == 1
    rs = covariance.spatial_smoothing(r, 3)
    assert np.sum(np.linalg.eigvalsh(rs) > 1e-9) == 2
    assert np.allclose(np.sort(doa.music(rs, 2, 0.5)), [-20.0, 25.0], atol=1e-4)


def test_estimate_with_spatial_smoothing_on_coherent_paths():
    corr = np.array([[1.0, 0.9j], [-0.9j, 0.81]], complex)  # fully coherent pair
    r = model_covariance(4, 0.5, [-20.0, 25.0], None, corr=corr) + 0.01 * np.eye(4)
    for method in ("music", "root-music", "esprit"):
        est = doa.estimate(method, covariance=r, order=2, n_snapshots=100, subarray_size=3)
        assert np.allclose(np.sort(est.aoa_deg), [-20.0, 25.0], atol=1e-4), method
        assert est.crb_deg.size == 2
    with pytest.raises(ValueError, match="subarray"):
        doa.estimate("esprit", covariance=r, order=1, subarray_size=5)
    with pytest.raises(ValueError, match="order"):
        doa.estimate("esprit", covariance=r, order=3, subarray_size=3)


def test_covariance_from_cfr_and_snapshot_count(rng):
    h = rng.standard_normal((4, 2, 6)) + 1j * rng.standard_normal((4, 2, 6))
    x = h.reshape(4, 12)
    r, n = covariance.covariance_from_cfr(h)
    assert n == 12 and np.allclose(r, x @ x.conj().T / 12)
    rs, ns = covariance.covariance_from_cfr(h, fb=True, subarray_size=3)
    assert ns == 12 * 2 * 2 and rs.shape == (3, 3)
    assert covariance.effective_snapshots(16, 4) == 16
    with pytest.raises(ValueError):
        covariance.covariance_from_cfr(np.full((2, 3), np.nan))
    with pytest.raises(ValueError):
        covariance.spatial_smoothing(np.eye(4), 5)


# ----------------------------------------------------------------------------- exact models

ANGLES_2 = [-23.5, 31.2]


@pytest.mark.parametrize("spacing", [0.5, 0.4])
def test_subspace_methods_exact_on_model_covariance(spacing):
    r = model_covariance(4, spacing, ANGLES_2, [1.0, 0.5], noise=0.01)
    grid = np.arange(-89.0, 89.01, 0.5)
    # MUSIC refines with Brent to 1e-6 deg; the closed-form methods are exact to rounding
    assert np.allclose(np.sort(doa.music(r, 2, spacing, grid)), ANGLES_2, atol=1e-4)
    assert np.allclose(np.sort(doa.root_music(r, 2, spacing)), ANGLES_2, atol=1e-8)
    for tls in (True, False):
        assert np.allclose(np.sort(doa.esprit(r, 2, spacing, tls=tls)), ANGLES_2, atol=1e-8)


def test_dbf_single_source_and_coarray_spectrum():
    r = model_covariance(4, 0.5, [17.0], [2.0], noise=0.5)
    grid = np.arange(-60.0, 60.01, 0.1)
    assert doa.dbf(r, 1, 0.5, grid)[0] == pytest.approx(17.0, abs=1e-4)
    spec = doa.dbf_spectrum(r, 0.5, grid)
    # Bartlett power at the source: (|a^H a|^2 p + sigma^2 M) / M = M p + sigma^2
    assert spec[np.argmin(np.abs(grid - 17.0))] == pytest.approx(4 * 2.0 + 0.5, rel=1e-9)
    # coarray DBF (MoD-DNN eq 14): eta = A~^H vec(R) = a^H R a = M * Bartlett spectrum
    eta = coarray.coarray_spectrum(r, coarray.coarray_manifold(4, 0.5, grid))
    assert np.allclose(eta.real, 4 * spec) and np.allclose(eta.imag, 0, atol=1e-9)


def test_music_spectrum_peaks_at_sources():
    r = model_covariance(4, 0.5, ANGLES_2, [1.0, 1.0], noise=1e-3)
    grid = np.arange(-60.0, 60.01, 0.1)
    spec = doa.music_spectrum(r, 2, 0.5, grid)
    top = grid[np.argsort(spec)[::-1][:1]]
    assert np.min(np.abs(top[0] - np.array(ANGLES_2))) < 0.11


def test_esprit_2d_pairs_angles_with_delays_on_exact_cfr():
    # three paths whose angle order is the reverse of their delay order: pairing must hold
    freqs = 60e3 * np.arange(200)
    paths = [(-30.0, 400e-9, 1.0), (0.0, 150e-9, 0.8), (35.0, 20e-9, 0.6)]
    h = physics_cfr(4, 2, freqs, paths)
    aoa, delay, power = doa.esprit_2d(h, freqs + 1.5e6, 3, 0.5, smoothing=8, return_power=True)
    got = sorted(zip(aoa, delay))
    for (ga, gd), (ta, td, _) in zip(got, sorted(paths)):
        assert ga == pytest.approx(ta, abs=1e-6)
        assert gd == pytest.approx(td, abs=1e-13)
    # powers |g|^2, strongest first
    assert np.allclose(power, [1.0, 0.64, 0.36], rtol=1e-6)
    # [M, K] input (one symbol)
    a1, d1 = doa.esprit_2d(h[:, 0, :], freqs, 3, 0.5)
    assert np.allclose(np.sort(a1), [-30.0, 0.0, 35.0], atol=1e-6)


def test_esprit_2d_rejects_bad_input():
    freqs = 30e3 * np.arange(20)
    h = physics_cfr(4, 1, freqs, [(10.0, 0.0, 1.0)])
    bad_f = freqs.copy()
    bad_f[5] += 1e3
    with pytest.raises(ValueError, match="uniformly"):
        doa.esprit_2d(h, bad_f, 1)
    with pytest.raises(ValueError):
        doa.esprit_2d(h, freqs[:-1], 1)
    with pytest.raises(ValueError):
        doa.esprit_2d(np.full_like(h, np.nan), freqs, 1)
    with pytest.raises(ValueError):
        doa.esprit_2d(h, freqs, 1, smoothing=1)


# ----------------------------------------------------------------------------- degenerate


@pytest.mark.parametrize("fn", [doa.music, doa.root_music, doa.esprit, doa.dbf])
def test_order_out_of_range_is_a_clear_error(fn):
    r = model_covariance(4, 0.5, [10.0], [1.0], noise=0.1)
    with pytest.raises(ValueError, match="order"):
        fn(r, 0, 0.5)
    with pytest.raises(ValueError, match="order"):
        fn(r, 4, 0.5)


@pytest.mark.parametrize("method", ["dbf", "music", "root-music", "esprit"])
def test_non_finite_and_rank_deficient_covariance(method):
    bad = np.eye(4, dtype=complex)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        doa.estimate(method, covariance=bad, order=1)
    with pytest.raises(ValueError, match="zeros"):
        doa.estimate(method, covariance=np.zeros((4, 4)), order=1)
    # rank 1, no noise: still the exact angle, noise power 0 so no finite SNR or CRB
    r = model_covariance(4, 0.5, [-12.0], [1.0])
    est = doa.estimate(method, covariance=r, order=1, n_snapshots=10, grid_step_deg=0.5)
    assert est.aoa_deg[0] == pytest.approx(-12.0, abs=1e-4)
    assert est.crb_deg.size == 0


def test_estimate_dispatcher_contract():
    r = model_covariance(4, 0.5, ANGLES_2, [1.0, 0.25], noise=0.1)
    est = doa.estimate("music", covariance=r, order=2, n_snapshots=100, fov_deg=(-60, 60))
    assert np.allclose(est.aoa_deg, ANGLES_2, atol=1e-4)  # strongest first
    assert np.allclose(est.power, [1.0, 0.25], rtol=1e-6)
    assert est.noise_power == pytest.approx(0.1)
    assert est.snr_db == pytest.approx(10 * np.log10(12.5), abs=1e-6)
    assert est.spectrum.shape == est.grid_deg.shape and est.grid_deg[0] == -60
    assert est.crb_deg.shape == (2,) and np.all(est.crb_deg > 0)
    # order 0: no path, empty result
    zero = doa.estimate("esprit", covariance=r, order=0)
    assert zero.aoa_deg.size == 0 and zero.order == 0
    # field of view drops paths outside it
    fov = doa.estimate("esprit", covariance=r, order=2, fov_deg=(0, 90))
    assert np.allclose(fov.aoa_deg, [31.2])
    with pytest.raises(ValueError, match="CFR"):
        doa.estimate("2d-esprit", covariance=r, order=1)
    with pytest.raises(ValueError, match="method"):
        doa.estimate("capon", covariance=r, order=1)
    with pytest.raises(ValueError, match="order"):
        doa.estimate("esprit", covariance=r, order=4)


def test_estimate_from_cfr_all_methods():
    freqs = 60e3 * np.arange(100)
    h = physics_cfr(4, 2, freqs, [(-31.0, 0.0, 1.0), (8.0, 97e-9, 0.7)])
    for method in doa.METHODS:
        est = doa.estimate(method, cfr=h, order=2, subcarrier_hz=freqs, grid_step_deg=0.2)
        if method == "dbf":
            continue  # Bartlett is biased for two paths 39 deg apart on 4 elements
        assert np.allclose(np.sort(est.aoa_deg), [-31.0, 8.0], atol=1e-4), method
        if method in doa.CFR_ONLY_METHODS:  # 2d-esprit, 2d-ml: angle and delay
            assert np.allclose(np.sort(est.delay_s), [0.0, 97e-9], atol=1e-13), method
        else:
            assert est.delay_s is None


# ----------------------------------------------------------------------------- CRB


@pytest.mark.parametrize(
    "m,n,snr_db,theta",
    [(4, 16, 0.0, 0.0), (4, 16, 20.0, 40.0), (3, 100, 5.0, -25.0), (8, 1, 10.0, 60.0)],
)
def test_crb_single_source_closed_form(m, n, snr_db, theta):
    snr = 10 ** (snr_db / 10)
    det = 6.0 / (n * snr * m * (m * m - 1) * np.pi**2 * np.cos(np.deg2rad(theta)) ** 2)  # rad^2
    got = crb.crb_deterministic(theta, n, snr_db, m)[0]
    assert np.deg2rad(got) ** 2 == pytest.approx(det, rel=1e-10)
    # stochastic, one source: CRB_det (1 + 1/(M SNR)) (Stoica and Nehorai 1990)
    sto = crb.crb_stochastic(theta, n, snr_db, m)[0]
    assert np.deg2rad(sto) ** 2 == pytest.approx(det * (1 + 1 / (m * snr)), rel=1e-10)


def _numeric_fim(mean_or_cov, params, kind, n):
    """Slepian-Bangs FIM by central differences: Gaussian mean model or covariance model."""
    eps = 1e-6
    derivs = []
    for i in range(params.size):
        dp = np.zeros_like(params)
        dp[i] = eps
        derivs.append((mean_or_cov(params + dp) - mean_or_cov(params - dp)) / (2 * eps))
    k = len(derivs)
    fim = np.zeros((k, k))
    if kind == "mean":  # x ~ CN(mu, I): FIM = 2 Re(dmu^H dmu)
        for i in range(k):
            for j in range(k):
                fim[i, j] = 2 * np.real(np.vdot(derivs[i], derivs[j]))
    else:  # N snapshots of CN(0, R): FIM = N tr(R^-1 dR_i R^-1 dR_j)
        r = mean_or_cov(params)
        ri = np.linalg.inv(r)
        for i in range(k):
            for j in range(k):
                fim[i, j] = n * np.real(np.trace(ri @ derivs[i] @ ri @ derivs[j]))
    return fim


def test_crb_stochastic_two_sources_matches_full_fisher_information():
    # unknowns: 2 angles, the Hermitian 2x2 source covariance (4 reals), the noise power
    m, n = 4, 50
    theta = np.array([-10.0, 15.0])
    pmat = np.array([[2.0, 0.6 + 0.3j], [0.6 - 0.3j, 1.0]])

    def cov(x):
        p = np.array([[x[2], x[4] + 1j * x[5]], [x[4] - 1j * x[5], x[3]]])
        a = steer(m, 0.5, np.rad2deg(x[:2]))
        return a @ p @ a.conj().T + x[6] * np.eye(m)

    x0 = np.array([*np.deg2rad(theta), 2.0, 1.0, 0.6, 0.3, 1.0])
    bound = np.linalg.inv(_numeric_fim(cov, x0, "cov", n))[:2, :2]
    got = crb.crb_stochastic(theta, n, num_elements=m, source_covariance=pmat, full=True)
    assert np.allclose(got, bound, rtol=1e-5)


def test_crb_deterministic_two_sources_matches_full_fisher_information(rng):
    # unknowns: 2 angles and the 2 x N complex waveforms; noise power 1 known (decoupled)
    m, n = 4, 6
    theta = np.array([5.0, 25.0])
    s = (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))) * 1.5

    def mean(x):
        a = steer(m, 0.5, np.rad2deg(x[:2]))
        w = x[2 : 2 + 2 * n] + 1j * x[2 + 2 * n :]
        return (a @ w.reshape(2, n)).ravel()

    x0 = np.concatenate([np.deg2rad(theta), s.real.ravel(), s.imag.ravel()])
    bound = np.linalg.inv(_numeric_fim(mean, x0, "mean", n))[:2, :2]
    got = crb.crb_deterministic(
        theta, n, num_elements=m, source_covariance=s @ s.conj().T / n, full=True
    )
    assert np.allclose(got, bound, rtol=1e-5)


def test_crb_angle_delay_single_path_equals_spatial_bound():
    # one path: the Schur complement over (tau, g) removes exactly the component of
    # d(a (x) b)/dtheta along a (x) b, as the per-snapshot amplitudes of the conditional model
    # do, so the bound is crb_deterministic with N = S K and SNR = |g|^2 / sigma^2
    freqs = 60e3 * np.arange(50) + 2e6
    ang, dly = crb.crb_angle_delay([25.0], [80e-9], [1.5j], freqs, 4, 0.5, 0.2, 3)
    det = crb.crb_deterministic(25.0, 150, 10 * np.log10(2.25 / 0.2), 4)
    assert ang[0] == pytest.approx(det[0], rel=1e-9)
    assert dly[0] > 0


def test_crb_angle_delay_matches_numeric_fisher_information():
    m, freqs, sigma2, n_sym = 3, 60e3 * np.arange(40), 0.3, 2
    theta, tau, g = np.array([0.0, 6.0]), np.array([0.0, 120e-9]), np.array([1.0, 0.6 - 0.3j])

    def mean(x):
        a = steer(m, 0.5, np.rad2deg(x[0:2]))
        b = np.exp(-2j * np.pi * np.outer(freqs, x[2:4] * 1e-9))
        gg = x[4:6] + 1j * x[6:8]
        h = np.einsum("mp,kp,p->mk", a, b, gg)
        return np.tile(h.ravel(), n_sym) / np.sqrt(sigma2)  # whitened: noise power 1

    x0 = np.concatenate([np.deg2rad(theta), tau * 1e9, g.real, g.imag])
    cov = np.linalg.inv(_numeric_fim(mean, x0, "mean", 0))
    ang, dly = crb.crb_angle_delay(theta, tau, g, freqs, m, 0.5, sigma2, n_sym)
    assert np.allclose(ang, np.rad2deg(np.sqrt(np.diag(cov)[:2])), rtol=1e-5)
    assert np.allclose(dly, 1e-9 * np.sqrt(np.diag(cov)[2:4]), rtol=1e-5)


def test_crb_rejects_bad_input():
    with pytest.raises(ValueError):
        crb.crb_stochastic([10.0, 20.0, 30.0, 40.0], 10, 0.0, 4)  # d >= M
    with pytest.raises(ValueError):
        crb.crb_stochastic(90.0, 10, 0.0, 4)
    with pytest.raises(ValueError):
        crb.crb_deterministic(10.0, 0, 0.0, 4)
    with pytest.raises(ValueError):
        crb.crb_deterministic(10.0, 10, None, 4)
