"""doa_estimator and spatial_spectrum with a sweep (manifold) calibration, in running
flowgraphs, against estimation.calibrated on the same data and the same calibration file.

The calibration file is a ManifoldCalibration fitted (least squares, P-spline basis every
2 deg, 6 bands) to the true manifold of an impaired array, with an identity constant part
and the radio carrier (n_size_grid) that maps the PDU's grid subcarriers to baseband Hz.
The blocks only convert and forward: their angles equal the math's up to the complex64
rounding of the PDU vectors (1e-3 deg is far above that and far below the 0.05 deg bound).
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio import srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.array.calibration import Calibration
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.array.manifold import (
    ManifoldCalibration,
    ProfileManifold,
    SplineBasis,
    load_calibration_file,
)
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, make_pdu
from gnuradio.srsaoa.estimation import calibrated as cal
from test_doa_estimator import run_graph
from test_spatial_spectrum import run as run_spectrum

SCS = 30e3
N_GRID = 51
SUB = np.arange(0, 2 * 6 * N_GRID, 2)  # comb-2 grid subcarriers k of 51 RB
FREQS = (SUB - 6 * N_GRID) * SCS  # baseband Hz (DESIGN section 4)
EDGES = np.linspace(FREQS[0] - SCS, FREQS[-1] + SCS, 7)
PROFILE = ImpairmentProfile.random(4, seed=7, rho=1.0)
TRUE = ProfileManifold(PROFILE, ULA(4), EDGES)


@pytest.fixture(scope="module")
def cal_file(tmp_path_factory) -> str:
    """A manifold calibration file of the impaired array (fitted to its true response)."""
    lo, hi = -70.0, 70.0
    basis = SplineBasis.uniform(lo, hi, 2.0)
    th = np.linspace(lo, hi, 561)
    r = TRUE.steering(th) / ULA(4).steering(th)[:, :, None]  # [M, L, B]
    x = basis.matrix(th)  # [L, n]
    coef = np.linalg.lstsq(x, r.transpose(1, 2, 0).reshape(th.size, -1), rcond=None)[0]
    coef = coef.reshape(-1, EDGES.size - 1, 4).transpose(1, 2, 0)  # [B, M, n]
    man = ManifoldCalibration(
        num_elements=4,
        spacing_wavelengths=0.5,
        band_edges_hz=EDGES,
        basis=basis,
        angle_range_deg=(lo, hi),
        coef=coef,
        constant=Calibration(np.ones(4), np.zeros(4), np.zeros(4)),
        radio={"carrier": {"n_size_grid": N_GRID, "subcarrier_spacing": 30}},
    )
    path = tmp_path_factory.mktemp("cal") / "manifold.json"
    man.save(path)
    return str(path)


def synth(rng, paths, snr_db=10.0, s=4):
    h = np.zeros((4, s, SUB.size), complex)
    for theta, tau, pdb in paths:
        b = TRUE.steering([theta], FREQS)[:, 0, :]
        alpha = 10 ** (pdb / 20) * np.exp(2j * np.pi * rng.uniform(size=s))
        h += alpha[None, :, None] * b[:, None, :] * np.exp(-2j * np.pi * FREQS * tau)[None, None]
    sig = np.sqrt(10 ** (-snr_db / 10) / 2)
    h += sig * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    return h.astype(np.complex64)


def gain_corrected_cfrs(rng, count):
    """Single-path CFRs at -12.5 deg, 32 symbols, 10 dB, whose channels carry noise 0, +1.5,
    -1.5 and +0.8 dB apart: what a CFR corrected by a calibration's gains looks like."""
    g = 10 ** (np.array([0.0, 1.5, -1.5, 0.8]) / 20)
    cfrs = []
    for _ in range(count):
        h = synth(rng, [(-12.5, 0.0, 0.0)], snr_db=300.0, s=32).astype(complex)
        n = rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
        cfrs.append((h + g[:, None, None] * np.sqrt(0.05) * n).astype(np.complex64))
    return cfrs


def meta(i):
    return {K.SRS_OCCASION: i, K.SAMPLE_INDEX: 100 + i, K.SUBCARRIERS: SUB.astype(np.int32),
            K.SCS_HZ: SCS}  # fmt: skip


def test_frequencies_from_the_calibration_carrier(cal_file):
    _, man = load_calibration_file(cal_file)
    np.testing.assert_allclose(cal.baseband_frequencies(SUB, SCS, man), FREQS)
    man.radio = {}  # without the carrier: centred on the calibrated band
    np.testing.assert_allclose(cal.baseband_frequencies(SUB, SCS, man), FREQS, atol=1e-6)


@pytest.mark.parametrize("method", ["dbf", "music", "ml", "2d-ml"])
def test_doa_estimator_calibrated_matches_math(rng, cal_file, method):
    _, man = load_calibration_file(cal_file)
    paths = [(23.4, 40e-9, 0.0)]
    cfrs = [synth(rng, paths) for _ in range(3)]
    blk = srsaoa.doa_estimator(method, 0.5, 1, "aic", -90.0, 90.0, 0.5, True, False, 0, 0, cal_file)
    out = run_graph(blk, K.PORT_CFR, [make_cfr_pdu(h, meta(i)) for i, h in enumerate(cfrs)],
                    blk, K.PORT_ESTIMATE, expect=3)  # fmt: skip
    assert len(out) == 3
    for i, (m, h) in enumerate(zip(out, cfrs, strict=True)):
        ref = cal.estimate_calibrated(method, h, FREQS, man, order=1)
        assert m[K.METHOD] == method and m[K.ORDER] == 1 and m[K.SRS_OCCASION] == i
        np.testing.assert_allclose(m[K.AOA_DEG], ref.aoa_deg, atol=1e-3)
        np.testing.assert_allclose(m[K.CRB_DEG], ref.crb_deg, rtol=1e-2)
        assert abs(m[K.AOA_DEG][0] - 23.4) < 6 * ref.crb_deg[0] + 0.05  # fit error < 0.05 deg
        assert (K.DELAY_S in m) == (method == "2d-ml")


def test_doa_estimator_calibrated_order_with_unequal_channel_noise(rng, cal_file):
    """order 0 (AIC/MDL): the block leaves the order to estimate_calibrated, which whitens by
    each channel's noise (a gain-corrected CFR: +-1.5 dB across channels, 32 symbols, 10 dB).
    The block gives the math's order (1) and angles; the unwhitened criterion on the same
    CFRs reads the noise spread as a second path (in at least two of the four here)."""
    _, man = load_calibration_file(cal_file)
    cfrs = gain_corrected_cfrs(rng, 4)
    blk = srsaoa.doa_estimator("ml", 0.5, 0, "mdl", -90.0, 90.0, 0.5, True, False, 0, 0, cal_file)
    out = run_graph(blk, K.PORT_CFR, [make_cfr_pdu(h, meta(i)) for i, h in enumerate(cfrs)],
                    blk, K.PORT_ESTIMATE, expect=4)  # fmt: skip
    assert [m[K.ORDER] for m in out] == [1] * 4
    plain = 0
    for m, h in zip(out, cfrs, strict=True):
        ref = cal.estimate_calibrated("ml", h, FREQS, man)
        np.testing.assert_allclose(m[K.AOA_DEG], ref.aoa_deg, atol=1e-3)
        plain += cal.resolve_order(cal.band_covariances(h, FREQS, man), None, "mdl")
    assert plain >= 6  # unwhitened: order 2 in at least two of the four


@pytest.mark.parametrize("method", ["2d-esprit", "esprit"])
def test_esprit_order_after_a_calibration_is_whitened(rng, cal_file, method):
    """ESPRIT-type methods with a calibration use its angle-independent part, which the CFR
    Extractor applies: the channels' noise is then unequal (+-1.5 dB here, 32 symbols,
    10 dB). With order 0 the block chooses the order on R whitened by each channel's noise:
    one path in each of six CFRs, angles identical to the block with the order fixed at 1;
    the same block without the calibration (white-noise AIC) reads the spread as a second
    path in at least two of them."""
    cfrs = gain_corrected_cfrs(rng, 6)
    msgs = [make_cfr_pdu(h, meta(i)) for i, h in enumerate(cfrs)]

    def run(order, calibration):
        blk = srsaoa.doa_estimator(method, 0.5, order, calibration=calibration)
        return run_graph(blk, K.PORT_CFR, msgs, blk, K.PORT_ESTIMATE, expect=6)

    whitened, fixed, plain = run(0, cal_file), run(1, cal_file), run(0, "")
    assert [int(m[K.ORDER]) for m in whitened] == [1] * 6
    for w, f in zip(whitened, fixed, strict=True):
        np.testing.assert_array_equal(w[K.AOA_DEG], f[K.AOA_DEG])
    assert sum(int(m[K.ORDER]) > 1 for m in plain) >= 2


def test_doa_estimator_esprit_with_manifold_and_covariance_port(rng, cal_file):
    """ESPRIT ignores the manifold (angle-independent part only, applied upstream);
    covariance PDUs cannot feed a calibrated method (no frequencies) and are dropped."""
    h = synth(rng, [(-12.0, 0.0, 0.0)])
    esp = srsaoa.doa_estimator("esprit", 0.5, 1, "aic", -90.0, 90.0, 0.5, True, False, 0, 0,
                               cal_file)  # fmt: skip
    plain = srsaoa.doa_estimator("esprit", 0.5, 1)
    a = run_graph(esp, K.PORT_CFR, [make_cfr_pdu(h, meta(0))], esp, K.PORT_ESTIMATE, 1)
    b = run_graph(plain, K.PORT_CFR, [make_cfr_pdu(h, meta(0))], plain, K.PORT_ESTIMATE, 1)
    np.testing.assert_allclose(a[0][K.AOA_DEG], b[0][K.AOA_DEG], atol=1e-6)
    ml = srsaoa.doa_estimator("ml", 0.5, 1, "aic", -90.0, 90.0, 0.5, True, False, 0, 0, cal_file)
    x = h.reshape(4, -1)
    r = (x @ x.conj().T / x.shape[1]).astype(np.complex64)
    cov = make_pdu({K.NUM_SNAPSHOTS: float(x.shape[1]), K.SRS_OCCASION: 0}, r.ravel())
    ml._handle_covariance(cov)  # the handler itself: dropped and counted, no estimate
    assert ml._cov_errors == 1


def test_doa_estimator_ml_without_calibration(rng):
    """ml / 2d-ml without a calibration: the ideal ULA (doa.estimate's dispatch)."""
    from gnuradio.srsaoa.estimation import covariance, doa

    h = synth(rng, [(5.0, 0.0, 0.0)])
    for method in ("ml", "2d-ml"):
        blk = srsaoa.doa_estimator(method, 0.5, 1)
        out = run_graph(blk, K.PORT_CFR, [make_cfr_pdu(h, meta(0))], blk, K.PORT_ESTIMATE, 1)
        if method == "ml":
            r, n = covariance.covariance_from_cfr(h)
            ref = doa.estimate(method, covariance=r, order=1, n_snapshots=n)
        else:
            ref = doa.estimate(method, cfr=h, subcarrier_hz=SUB * SCS, order=1)
        np.testing.assert_allclose(out[0][K.AOA_DEG], ref.aoa_deg, atol=1e-3)


def test_bad_calibration_parameter(tmp_path):
    with pytest.raises(ValueError):
        srsaoa.doa_estimator("ml", 0.5, 0, "aic", -90.0, 90.0, 0.5, True, False, 0, 0,
                             str(tmp_path / "missing.json"))  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "srsaoa-manifold-calibration-1"}')
    with pytest.raises(ValueError):
        srsaoa.spatial_spectrum("music", 0.5, -60.0, 60.0, 0.5, 1, "default", -40.0, str(bad))
    with pytest.raises(ValueError):
        srsaoa.doa_estimator("ml", 0.5, 0, "aic", -90.0, 90.0, 0.5, True, False, 0, 0, 3)


@pytest.mark.parametrize("method", ["dbf", "music"])
def test_spatial_spectrum_calibrated(rng, cal_file, method):
    _, man = load_calibration_file(cal_file)
    h = synth(rng, [(31.0, 0.0, 0.0)])
    blk = srsaoa.spatial_spectrum(method, 0.5, -80.0, 80.0, 0.5, 1, "default", -40.0, cal_file)
    grid = blk.grid_deg()
    out, _ = run_spectrum(blk, [(K.PORT_CFR, make_cfr_pdu(h, meta(0)))], expect=1)
    assert out.shape == (1, grid.size)
    got = out[0]
    want = cal.calibrated_spectrum(method, h, FREQS, man, grid, 1)
    ref_db = np.maximum(10 * np.log10(np.maximum(want, 1e-300) / want.max()), -40.0)
    np.testing.assert_allclose(got, ref_db, atol=1e-3)
    assert abs(grid[np.argmax(got)] - 31.0) <= 0.5
    assert np.all(got[np.abs(grid) > 70] == -40.0)  # outside the calibrated angles: the floor
