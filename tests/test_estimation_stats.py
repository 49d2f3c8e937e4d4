"""Seeded Monte Carlo: MUSIC, root-MUSIC and ESPRIT against the Cramer-Rao bound.

Single source at 20 deg, ideal 4-element half-wavelength ULA, N = 16 snapshots, stochastic
(Gaussian) source and noise, SNR per element 0, 10, 20 dB. The data are drawn here from the
model x(t) = a(theta) s(t) + n(t) written out independently of the code under test.

Tolerances, from theory:
- For one source, MUSIC (and root-MUSIC, the same estimator without a grid) is asymptotically
  efficient with respect to the stochastic CRB (Stoica and Nehorai 1989/1990); 1.15 x sqrt(CRB)
  is the issue's margin for its finite-sample loss at N = 16.
- ESPRIT is not efficient: a first-order perturbation of the signal eigenvector
  (delta e = P_n (R^ - R) e / (M p), circular Gaussian data) gives, for one source,
  var(omega) = sigma^2 ||v||^2 (M p + sigma^2) / (2 N M^2 p^2), v = P_n (J_2 - z J_1)^H e_1 z /
  ||e_1||^2, omega = 2 pi (d/lambda) sin theta; for M = 4 and 20 deg that is 1.054^2 times the CRB, derived
  below in ``esprit_asymptotic_var``. At 10 and 20 dB ESPRIT meets 1.15 x sqrt(CRB); at 0 dB
  with 16 snapshots its finite-sample loss adds to that and the bound we test is
  1.15 x sqrt(asymptotic ESPRIT variance) (docs/estimation.md says why).
- Lower limit 0.93 x sqrt(CRB): no unbiased estimator beats the bound; 0.93 leaves 4 standard
  errors of a 2000-trial RMSE (relative standard error ~ 1/sqrt(2T) = 1.6 %), and catches a
  simulation with the wrong noise level.
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.estimation import crb, doa

M, N, THETA, TRIALS = 4, 16, 20.0, 2000


def steer(theta_deg: float) -> np.ndarray:
    return np.exp(2j * np.pi * 0.5 * np.arange(M) * np.sin(np.deg2rad(theta_deg)))


def esprit_asymptotic_var(snr: float) -> float:
    """First-order variance of LS/TLS ESPRIT (rad^2 of theta), one source, noise power 1."""
    a = steer(THETA)
    z = a[1]
    e = a / np.sqrt(M)
    j1, j2 = np.eye(M)[:-1], np.eye(M)[1:]
    e1 = j1 @ e
    w = (j2 - z * j1).conj().T @ e1 * z / np.vdot(e1, e1).real
    v = (np.eye(M) - np.outer(e, e.conj())) @ w
    var_omega = np.vdot(v, v).real * (M * snr + 1) / (2 * N * M**2 * snr**2)
    domega = 2 * np.pi * 0.5 * np.cos(np.deg2rad(THETA))
    return var_omega / domega**2


@pytest.fixture(scope="module")
def monte_carlo():
    rng = np.random.default_rng(6006)
    a = steer(THETA)
    grid = np.arange(-89.0, 89.01, 1.0)
    out = {}
    for snr_db in (0.0, 10.0, 20.0):
        amp = 10 ** (snr_db / 20)
        err = {"music": [], "root-music": [], "esprit": []}
        for _ in range(TRIALS):
            s = amp * (rng.standard_normal(N) + 1j * rng.standard_normal(N)) / np.sqrt(2)
            n = (rng.standard_normal((M, N)) + 1j * rng.standard_normal((M, N))) / np.sqrt(2)
            x = np.outer(a, s) + n
            r = x @ x.conj().T / N
            err["music"].append(doa.music(r, 1, 0.5, grid)[0] - THETA)
            err["root-music"].append(doa.root_music(r, 1, 0.5)[0] - THETA)
            err["esprit"].append(doa.esprit(r, 1, 0.5, tls=True)[0] - THETA)
        out[snr_db] = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
    return out


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
@pytest.mark.parametrize("method", ["music", "root-music", "esprit"])
def test_rmse_against_stochastic_crb(monte_carlo, snr_db, method):
    bound = crb.crb_stochastic(THETA, N, snr_db, M)[0]  # deg
    rmse = monte_carlo[snr_db][method]
    assert rmse >= 0.93 * bound
    if method == "esprit" and snr_db == 0.0:
        limit = 1.15 * np.rad2deg(np.sqrt(esprit_asymptotic_var(10 ** (snr_db / 10))))
    else:
        limit = 1.15 * bound
    assert rmse <= limit, f"{method} at {snr_db} dB: RMSE {rmse:.4f} deg, limit {limit:.4f} deg"


def test_esprit_asymptotic_variance_is_reached():
    # at high SNR and many snapshots the first-order ESPRIT variance must be attained:
    # 1000 trials give the RMSE to ~2.2 % (1/sqrt(2T)); +-8 % is 3.5 standard errors
    rng = np.random.default_rng(66)
    n_snap, snr_db, trials = 200, 20.0, 1000
    a = steer(THETA)
    errs = []
    for _ in range(trials):
        s = 10 ** (snr_db / 20) * (rng.standard_normal(n_snap) + 1j * rng.standard_normal(n_snap))
        n = rng.standard_normal((M, n_snap)) + 1j * rng.standard_normal((M, n_snap))
        x = (np.outer(a, s) + n) / np.sqrt(2)
        errs.append(doa.esprit(x @ x.conj().T / n_snap, 1, 0.5)[0] - THETA)
    rmse = np.sqrt(np.mean(np.square(errs)))
    predicted = np.rad2deg(np.sqrt(esprit_asymptotic_var(10 ** (snr_db / 10)) * N / n_snap))
    assert rmse == pytest.approx(predicted, rel=0.08)
    # and ESPRIT's efficiency loss for M = 4 is real: the prediction exceeds the CRB
    assert predicted > 1.05 * crb.crb_stochastic(THETA, n_snap, snr_db, M)[0]
