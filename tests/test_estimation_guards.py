"""estimators never go wild on clean single paths (order guard, duplicated or
ill-conditioned roots, sanity bounds on powers and CRBs)."""

from __future__ import annotations

import numpy as np
from gnuradio.srsaoa.array.geometry import steering_vector
from gnuradio.srsaoa.estimation import doa, order

M, S, K = 4, 4, 64  # elements, SRS symbols, comb subcarriers (N = 256 snapshots)


def _single_path_cov(rng, snr_db=10.0):
    theta = rng.uniform(-60, 60)
    a = steering_vector(M, 0.5, theta)
    s = np.exp(1j * rng.uniform(0, 2 * np.pi, S * K))
    n = (rng.standard_normal((M, S * K)) + 1j * rng.standard_normal((M, S * K))) / np.sqrt(2)
    x = np.sqrt(10 ** (snr_db / 10)) * a[:, None] * s[None, :] + n
    return theta, x @ x.conj().T / (S * K)


def test_guarded_order_never_over_estimates_clean_single_paths():
    rng = np.random.default_rng(14)
    raw = guarded = 0
    for _ in range(600):
        _, r = _single_path_cov(rng)
        lam = order.covariance_eigvals(r)
        raw += int(np.argmin(order.aic(lam, S * K))) != 1
        guarded += order.estimate_order(r, S * K, "aic") != 1
    assert guarded == 0, (raw, guarded)


def test_weak_second_path_still_detected():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(50):
        x = np.zeros((M, S * K), complex)
        for theta, p_db in ((-20.0, 10.0), (30.0, -2.0)):  # 12 dB down at 10 dB SNR
            s = np.exp(1j * rng.uniform(0, 2 * np.pi, S * K))
            x += np.sqrt(10 ** (p_db / 10)) * steering_vector(M, 0.5, theta)[:, None] * s
        x += (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) / np.sqrt(2)
        hits += order.estimate_order(x @ x.conj().T / (S * K), S * K, "aic") == 2
    assert hits >= 45


def test_duplicated_roots_are_pruned_and_powers_bounded():
    rng = np.random.default_rng(5)
    _, r = _single_path_cov(rng)
    for method in ("esprit", "root-music", "music"):
        est = doa.estimate(method, covariance=r, order=3, n_snapshots=S * K)
        per_element = np.real(np.trace(r)) / M
        assert np.all(est.power <= doa.MAX_POWER_RATIO * per_element), (method, est.power)
        if est.aoa_deg.size > 1:
            a = steering_vector(M, 0.5, est.aoa_deg)
            assert np.linalg.cond(a) <= doa.MAX_STEERING_COND
        assert np.all(est.crb_deg > 1e-3), (method, est.crb_deg)


def test_clean_single_paths_never_go_wild():
    """1000 occasions at 10 dB: no estimate more than 1 deg off, no absurd power or CRB."""
    rng = np.random.default_rng(2026)
    worst = 0.0
    for _ in range(1000):
        theta, r = _single_path_cov(rng)
        d = order.estimate_order(r, S * K, "aic")
        for method in ("esprit", "root-music"):
            est = doa.estimate(method, covariance=r, order=d, n_snapshots=S * K)
            worst = max(worst, abs(est.aoa_deg[0] - theta))
            assert est.power[0] <= doa.MAX_POWER_RATIO * np.real(np.trace(r)) / M
            assert np.all(np.isfinite(est.crb_deg)) and np.all(est.crb_deg > 1e-3)
    assert worst < 1.0, worst


def test_guard_threshold_follows_random_matrix_theory():
    """noise_edge(p, N) is the Marchenko-Pastur edge plus 3 Tracy-Widom scales: the largest
    eigenvalue of a noise-only sample covariance, relative to the mean eigenvalue, stays
    below it (TW2 exceeds 3 with probability < 1e-4: 0 of 4000 allowed here), for every
    number of noise eigenvalues the guard tests."""
    rng = np.random.default_rng(21)
    n = S * K
    for p in range(2, M + 1):
        above = 0
        for _ in range(4000 // (M - 1)):
            x = (rng.standard_normal((p, n)) + 1j * rng.standard_normal((p, n))) / np.sqrt(2)
            lam = order.covariance_eigvals(x @ x.conj().T / n)
            above += lam[0] >= order.noise_edge(p, n) * np.mean(lam)
        assert above == 0, (p, above)
