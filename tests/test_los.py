"""The LOS path in rich multipath: estimation.los (earliest significant path, order
from the frequency-smoothed covariance, duplicate pruning, first-arrival refinement) and the
``los_index`` of the JSON lines."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.estimation import crb, los
from gnuradio.srsaoa.estimation.doa import Estimate

F = (np.arange(0, 612, 2) - 306) * 30e3  # 51 RB comb 2, 17.3 MHz


def _est(aoa, delay, power_db):
    p = 10 ** (np.asarray(power_db, float) / 10)
    return Estimate("2d-esprit", len(aoa), np.asarray(aoa, float), p, np.asarray(delay, float))


def _cfr(paths, snr_db, s, rng, m=4):
    """Paths (aoa_deg, delay_s, power_db, phase); noise CN(0, sum P / SNR) per RE."""
    h = np.zeros((m, F.size), complex)
    for a, d, p, ph in paths:
        steer = np.exp(1j * np.pi * np.arange(m) * np.sin(np.radians(a)))
        h += 10 ** (p / 20) * np.exp(1j * ph) * np.outer(steer, np.exp(-2j * np.pi * F * d))
    hs = np.repeat(h[:, None, :], s, axis=1)
    if snr_db is None:
        return hs
    var = sum(10 ** (p / 10) for _, _, p, _ in paths) / 10 ** (snr_db / 10)
    return hs + np.sqrt(var / 2) * (
        rng.standard_normal(hs.shape) + 1j * rng.standard_normal(hs.shape)
    )


def test_earliest_path_rules():
    # strongest first: a reflection at 0 dB, the LOS 6 dB down but 150 ns earlier, a weak
    # (-14 dB) spurious component earlier still
    e = _est([-30.0, 10.0, 40.0], [150e-9, 0.0, -50e-9], [0.0, -6.0, -14.0])
    assert los.earliest_path(e) == 1
    assert los.earliest_path(e, threshold_db=20.0) == 2
    assert los.earliest_path(e, threshold_db=3.0) == 0
    # delays modulo the comb period 1/df: -8 us is just after +8.6 us
    period = 1 / 60e3
    e = _est([0.0, 20.0], [8.0e-6, -8.4e-6], [0.0, -3.0])
    assert los.earliest_path(e) == 1
    assert los.earliest_path(e, delay_period_s=period) == 0
    # two components within the delay resolution are one arrival: the stronger one counts
    e = _est([12.0, 9.0, -40.0], [2e-9, 0.0, 300e-9], [0.0, -4.0, -1.0])
    assert los.earliest_path(e) == 1
    assert los.earliest_path(e, resolution_s=1 / (2 * 17.3e6)) == 0
    assert los.earliest_path(Estimate("esprit", 0, np.zeros(0), np.zeros(0))) is None
    assert los.earliest_path(Estimate("esprit", 2, np.ones(2), np.ones(2))) == 0
    with pytest.raises(ValueError):
        los.earliest_path(e, threshold_db=-1.0)


def test_order_from_frequency_smoothing():
    """Three paths, two of them from the same angle (coherent for the spatial covariance:
    rank 2 there) and two at the same delay, at 10 dB per RE: the frequency-smoothed covariance
    has three signal eigenvalues far above its noise edge (each path's eigenvalue is about
    P M P_smooth K/K = 64 x its power / sigma^2, >= 28 dB above the noise here)."""
    rng = np.random.default_rng(1)
    paths = [(10.0, 0.0, 0.0, 0.3), (10.0, 180e-9, -3.0, 1.0), (-35.0, 0.0, -6.0, 2.0)]
    h = _cfr(paths, 10.0, 8, rng)
    assert los.order_frequency_smoothing(h) == 3
    assert los.order_frequency_smoothing(h, max_order=2) == 2
    noise = _cfr([(0.0, 0.0, -300.0, 0.0)], None, 8, rng)
    noise = noise + (rng.standard_normal(noise.shape) + 1j * rng.standard_normal(noise.shape))
    assert los.order_frequency_smoothing(noise) == 0
    assert los.order_frequency_smoothing(_cfr(paths[:1], 10.0, 8, rng)) == 1
    with pytest.raises(ValueError):
        los.order_frequency_smoothing(h, smoothing=1)


def test_weaker_earlier_los_is_marked_and_accurate():
    """LOS 4 dB below a reflection 150 ns later (two delay resolution cells at 17 MHz):
    the strongest path is the reflection, los_index marks the LOS, whose angle is within
    4 sqrt(CRB) of the truth (the angle-delay CRB of the two-path model; RMS over 20 trials
    would be ~1 sqrt(CRB), single trials stay within 4 with probability 0.99994)."""
    rng = np.random.default_rng(7)
    paths = [(12.0, 0.0, -4.0, 0.4), (-28.0, 150e-9, 0.0, 2.2)]
    s = 8
    snr = 10.0
    noise_power = sum(10 ** (p / 10) for _, _, p, _ in paths) / 10 ** (snr / 10)
    sd, _ = crb.crb_angle_delay(
        [12.0, -28.0],
        [0.0, 150e-9],
        [10 ** (-4 / 20), 1.0],
        F,
        noise_power=noise_power,
        num_symbols=s,
    )
    for _ in range(5):
        h = _cfr(paths, snr, s, rng)
        le = los.estimate_los(h, F, refine=True)
        assert le.los_index is not None and le.los_index != 0
        assert abs(le.los_aoa_deg - 12.0) < 4 * sd[0]
        assert abs(le.estimate.aoa_deg[0] + 28.0) < 1.0  # strongest: the reflection
        assert le.meta() == {"los_index": le.los_index}
        raw = los.estimate_los(h, F, refine=False)
        assert abs(raw.los_aoa_deg - 12.0) < 4 * sd[0] + 0.05


def test_prune_duplicated_paths():
    """An order one too high splits the single path into two nearly equal atoms with large,
    opposite least-squares gains; pruning leaves one path with the channel's power."""
    rng = np.random.default_rng(3)
    h = _cfr([(20.0, 30e-9, 0.0, 0.0)], 20.0, 4, rng)
    dup = _est([20.0, 20.05], [30e-9, 30.5e-9], [13.0, 13.0])
    out = los.prune_paths_joint(dup, h, F)
    assert out.aoa_deg.size == 1
    assert out.power[0] == pytest.approx(1.0, rel=0.05)  # noise 20 dB down over 1224 REs


def _delay_response(t_s):
    """|D(t)| of the leading-edge taper: |sum_k w_k exp(-j 2 pi f_k t)|."""
    b = np.ptp(F)
    w = np.exp(-0.5 * ((F - F.mean()) / (los.EDGE_SIGMA_FRACTION * b)) ** 2)
    return abs(np.sum(w * np.exp(-2j * np.pi * F * t_s))), w


def test_leading_edge_suppresses_later_paths_as_theory():
    """A weak path (amplitude 0.2) 0.4 / B after the direct one at 15 deg from it: to first
    order the single-source angle is biased in proportion to its amplitude relative to the
    direct path where the delay response is sampled. On the leading edge (1 / B early) that
    ratio is |D(0.4/B + 1/B)| / |D(1/B)| instead of |D(0.4/B)| / |D(0)| at the peak, so the rms
    bias over the second path's phase shrinks by their quotient (0.27 for the default
    Gaussian taper)."""
    b = np.ptp(F)
    dl, d = 0.4 / b, los.EDGE_OFFSET_CELLS / b
    d0 = _delay_response(0.0)[0]
    expected = (_delay_response(dl + d)[0] / _delay_response(d)[0]) / (_delay_response(dl)[0] / d0)
    peak, edge = [], []
    for ph in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        h = _cfr([(10.0, 0.0, 0.0, 0.0), (25.0, dl, 20 * np.log10(0.2), ph)], None, 1, None)
        peak.append(los.leading_edge_angle(h, F, 10.0, 0.0, offset_cells=0.0) - 10.0)
        edge.append(los.leading_edge_angle(h, F, 10.0, 0.0) - 10.0)
    rms_peak, rms_edge = np.sqrt(np.mean(np.square(peak))), np.sqrt(np.mean(np.square(edge)))
    assert rms_peak > 1.0  # the later path does bias the peak
    assert rms_edge / rms_peak == pytest.approx(expected, rel=0.1)
    assert 0.2 < expected < 0.35


def test_leading_edge_angle_noise_matches_its_crb():
    """One path, 0 dB per RE, 4 symbols: the edge snapshot y = sum_k w_k H_k e^{+j 2 pi f_k
    tau_e} has SNR |D(1/B)|^2 / sum w_k^2 per symbol, and the single-source ML on M elements
    reaches var(pi sin theta) = 6 / (M (M^2 - 1) S SNR). Unbiased (4 standard errors) and
    its spread within 4 standard errors (16 %) of that over 300 trials."""
    rng = np.random.default_rng(12)
    m, s, th, tau = 4, 4, 20.0, 30e-9
    h = _cfr([(th, tau, 0.0, 0.3)], None, s, None)
    e = []
    for _ in range(300):
        n = (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
        e.append(los.leading_edge_angle(h + n, F, th, tau) - th)
    e = np.asarray(e)
    a, w = _delay_response(los.EDGE_OFFSET_CELLS / np.ptp(F))
    snr_y = a**2 / np.sum(w**2)
    sd = np.degrees(np.sqrt(6 / (m * (m * m - 1) * s * snr_y)) / (np.pi * np.cos(np.radians(th))))
    assert abs(e.mean()) < 4 * sd / np.sqrt(e.size)
    assert e.std() == pytest.approx(sd, rel=4 / np.sqrt(2 * e.size))


def test_noise_per_re_and_edge_std():
    """The noise power from the delay domain far from the paths is within 4 standard errors
    (the median of ~3000 exponential samples: ~3 %; 12 % allowed for the Hann taper's
    correlated neighbours) of the truth at 0-30 dB per RE; the edge's predicted std follows
    1/sqrt(SNR) (10 dB more SNR: sqrt(10) smaller, within 15 %)."""
    rng = np.random.default_rng(21)
    paths = [(20.0, 30e-9, 0.0, 0.0), (-30.0, 400e-9, -6.0, 1.0), (50.0, 1.2e-6, -10.0, 2.0)]
    sds = []
    for snr in (0.0, 10.0, 20.0, 30.0):
        h = _cfr(paths, snr, 4, rng)
        truth = sum(10 ** (p / 10) for _, _, p, _ in paths) / 10 ** (snr / 10)
        assert los.noise_per_re(h) == pytest.approx(truth, rel=0.12)
        sds.append(los.leading_edge_std_deg(h, F, 20.0, 30e-9))
    for a, b in zip(sds, sds[1:]):
        assert a / b == pytest.approx(np.sqrt(10.0), rel=0.15)
    assert los.leading_edge_std_deg(_cfr(paths, None, 4, rng), F, 20.0, 30e-9) < 1e-6


def test_noise_per_channel():
    """Per channel, the delay-domain noise power is within 12 % of each channel's own noise
    power (9 dB apart across the channels, paths 4-16 dB above it): one channel's ~3000 far
    taps over 32 symbols give the median a standard error of ~2 %, ~3.5 % with the Hann
    taper's correlated neighbours (4 symbols: ~10 %, too few for a per-channel figure)."""
    rng = np.random.default_rng(22)
    paths = [(20.0, 30e-9, 0.0, 0.0), (-30.0, 400e-9, -6.0, 1.0)]
    h = _cfr(paths, None, 32, rng)
    p = np.array([0.1, 0.2, 0.05, 0.4])
    n = np.sqrt(p / 2)[:, None, None] * (
        rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
    )
    np.testing.assert_allclose(los.noise_per_channel(h + n), p, rtol=0.12)
    assert np.all(np.isnan(los.noise_per_channel(h[..., :1])))


def test_estimate_los_keeps_the_subspace_angle_when_the_edge_is_noisy():
    """At -10 dB per RE with 4 symbols the edge's own noise (predicted std > 0.25 deg) would
    cost more than the multipath bias it removes: estimate_los(edge=True) keeps the
    subspace angle; with the guard lifted it takes the edge angle."""
    rng = np.random.default_rng(22)
    h = _cfr([(20.0, 30e-9, 0.0, 0.0), (-30.0, 400e-9, -6.0, 1.0)], -10.0, 4, rng)
    plain = los.estimate_los(h, F, order=2)
    assert los.leading_edge_std_deg(h, F, plain.los_aoa_deg, plain.los_delay_s) > 0.25
    assert los.estimate_los(h, F, order=2, edge=True).los_aoa_deg == plain.los_aoa_deg
    lifted = los.estimate_los(h, F, order=2, edge=True, edge_max_std_deg=np.inf)
    assert lifted.los_aoa_deg == pytest.approx(
        los.leading_edge_angle(h, F, plain.los_aoa_deg, plain.los_delay_s)
    )


def test_estimate_los_edge_marks_the_same_path():
    rng = np.random.default_rng(4)
    paths = [(12.0, 0.0, -4.0, 0.4), (30.0, 15e-9, -12.0, 1.0), (-28.0, 150e-9, 0.0, 2.2)]
    h = _cfr(paths, 10.0, 8, rng)
    plain = los.estimate_los(h, F)
    le = los.estimate_los(h, F, edge=True)
    assert le.los_index == plain.los_index and le.los_index != 0
    assert le.los_aoa_deg == pytest.approx(
        los.leading_edge_angle(h, F, plain.los_aoa_deg, plain.los_delay_s)
    )
    np.testing.assert_array_equal(
        np.delete(le.estimate.aoa_deg, le.los_index),
        np.delete(plain.estimate.aoa_deg, le.los_index),
    )
    with pytest.raises(ValueError):
        los.leading_edge_angle(h, F, 12.0, 0.0, sigma_fraction=0.0)


def test_result_sink_writes_los_index():
    from gnuradio.srsaoa.blocks.result_sink import estimate_record

    meta = {
        "method": "2d-esprit",
        "order": 2,
        "aoa_deg": np.array([-28.0, 12.0], np.float32),
        "delay_s": np.array([150e-9, 0.0]),
        "sample_index": 0,
        "los_index": 1,
    }
    rec = estimate_record(meta, 30.72e6)
    assert rec["los_index"] == 1
    del meta["los_index"]
    assert "los_index" not in estimate_record(meta, 30.72e6)
