"""The pass/fail logic of the HIL tests, separated from the radios so it can be run on
simulated captures (tests/test_hil_logic.py) as well as on real ones (test_hil.py).

Each check runs the project's receiver (radio.process_capture) on the captures, computes
the statistics of stats.py, raises AssertionError with a diagnosis when the bench is out
of specification, and returns a report dict of the measured numbers otherwise.
"""

from __future__ import annotations

import numpy as np
from gnuradio.srsaoa.array.calibration import (
    Calibration,
    estimate_calibration,
)
from gnuradio.srsaoa.array.calibration import (
    residual_phase_deg as api_residual_phase_deg,
)
from gnuradio.srsaoa.nr import CarrierConfig, SRSConfig

from . import stats
from .config import HilConfig
from .radio import Capture, FrontendResult, process_capture

# srs_sync acquires on one slot, confirms the period on the next, and holds up to a couple
# of slots when the stream ends: that many slots of a capture may go untagged.
WARMUP_SLOTS = 4
# power imbalance between channels fed by one splitter: splitter arms (+-0.5 dB), cables
# and the N310's per-channel gain accuracy (about +-1 dB): anything beyond is a fault
SPLITTER_IMBALANCE_DB = 3.0


def _times(cap: Capture, res: FrontendResult) -> np.ndarray:
    t0 = cap.rx_time_s if cap.rx_time_s is not None else 0.0
    return t0 + res.sample_indices() / cap.sample_rate


def check_coherence(
    caps: list[Capture], carrier: CarrierConfig, srs: SRSConfig, cfg: HilConfig
) -> dict:
    """Inter-channel phase of a common signal over a series of snapshots: circular std
    per channel <= 4 x the noise floor its SNR implies + cfg.phase_tol_deg."""
    phases, times, snrs, n_re = [], [], [], 1
    ratios = []
    for i, cap in enumerate(caps):
        res = process_capture(cap, carrier, srs)
        assert res.cfr, f"no SRS occasion found in snapshot {i} (see the detection test)"
        h = res.cfr_series()
        n_re = h.shape[2] * h.shape[3]
        phases.append(stats.inter_channel_phase(h))
        times.append(_times(cap, res))
        snrs.append(res.snr_db())
        ratios.append(np.median(stats.amplitude_ratio_db(h), axis=0))
    ph = np.concatenate(phases)
    t = np.concatenate(times)
    snr = float(np.min(snrs))
    floor = stats.phase_std_floor_deg(snr, n_re)
    tol = stats.coherence_tolerance_deg(floor, cfg.phase_tol_deg)
    std = stats.circular_std_deg(ph)
    drift = stats.phase_drift_deg_per_s(t, ph) if t[-1] > t[0] else np.zeros(ph.shape[1])
    imbalance = np.median(np.stack(ratios), axis=0)
    report = {
        "occasions": int(ph.shape[0]),
        "span_s": float(t[-1] - t[0]),
        "snr_db": snr,
        "floor_deg": floor,
        "tolerance_deg": tol,
        "std_deg": std,
        "mean_deg": np.degrees(stats.circular_mean(ph)),
        "drift_deg_per_s": drift,
        "imbalance_db": imbalance,
    }
    assert np.all(std <= tol), (
        f"inter-channel phase std {np.round(std, 2)} deg > {tol:.2f} deg (noise floor "
        f"{floor:.3f} deg at {snr:.1f} dB SNR); drift {np.round(drift, 3)} deg/s over "
        f"{report['span_s']:.1f} s: LO not shared, reference unlocked, or a retune during the run"
    )
    if cfg.splitter:
        assert np.all(np.abs(imbalance) <= SPLITTER_IMBALANCE_DB), (
            f"channel power against channel 0: {np.round(imbalance, 2)} dB with a splitter "
            f"(allowed +-{SPLITTER_IMBALANCE_DB} dB): check splitter arms, cables and gains"
        )
    return report


def calibrate(cap: Capture, carrier: CarrierConfig, srs: SRSConfig, cfg: HilConfig) -> Calibration:
    """The project's calibration (array.calibration) from one capture at cfg.truth_deg."""
    return _calibration_from(process_capture(cap, carrier, srs), cfg)


def _calibration_from(res: FrontendResult, cfg: HilConfig) -> Calibration:
    h = res.cfr_series()
    assert h.shape[0] >= 5, f"only {h.shape[0]} SRS occasions in the calibration capture"
    a = stats.steering(h.shape[1], cfg.spacing_wl, cfg.truth_deg)
    return estimate_calibration(h, res.freqs_hz, a, reference_aoa_deg=cfg.truth_deg)


def check_calibration(
    cap_a: Capture, cap_b: Capture, carrier: CarrierConfig, srs: SRSConfig, cfg: HilConfig
) -> dict:
    """Calibrate on ``cap_a``, apply the calibration in cfr_extractor to ``cap_b``: the mean
    residual phase per channel is noise (4 sigma of both estimates) + cfg.phase_tol_deg."""
    res_a = process_capture(cap_a, carrier, srs)
    cal = _calibration_from(res_a, cfg)
    h_a = res_a.cfr_series()
    floor_a = stats.phase_std_floor_deg(res_a.snr_db(), h_a.shape[0] * h_a.shape[2] * h_a.shape[3])
    res_b = process_capture(cap_b, carrier, srs, calibration=cal)
    h_b = res_b.cfr_series()
    assert h_b.shape[0] >= 5, f"only {h_b.shape[0]} SRS occasions in the second capture"
    resid = stats.residual_phase_deg(h_b, cfg.truth_deg, cfg.spacing_wl)  # [N, M]
    mean_resid = np.degrees(stats.circular_mean(np.radians(resid)))
    floor_b = stats.phase_std_floor_deg(res_b.snr_db(), h_b.shape[2] * h_b.shape[3])
    tol = 4 * floor_b / np.sqrt(h_b.shape[0]) + 4 * floor_a + cfg.phase_tol_deg
    # the calibration API's own residual on the uncorrected capture B
    res_raw = process_capture(cap_b, carrier, srs)
    a = stats.steering(h_b.shape[1], cfg.spacing_wl, cfg.truth_deg)
    api_resid = api_residual_phase_deg(cal, res_raw.cfr_series(), res_raw.freqs_hz, a)
    report = {
        "calibration_phase_deg": cal.phase_deg,
        "calibration_delay_s": cal.delay_s,
        "calibration_gain_db": 20 * np.log10(cal.gain),
        "residual_deg": mean_resid,
        "api_residual_deg": api_resid,
        "tolerance_deg": tol,
    }
    assert np.all(np.abs(mean_resid) <= tol) and np.all(np.abs(api_resid) <= tol), (
        f"residual phase after calibration {np.round(mean_resid, 2)} deg (API: "
        f"{np.round(api_resid, 2)}) > {tol:.2f} deg: the inter-channel phase moved between "
        "the captures (retune, restart, unlocked reference) or the truth angle is wrong"
    )
    return report


def check_detection(cap: Capture, carrier: CarrierConfig, srs: SRSConfig) -> dict:
    """Every SRS slot found (Pd >= 99.9 % not rejected at the 1e-3 level after the warm-up),
    no false detection, and the starts on the SRS period grid within one sample."""
    res = process_capture(cap, carrier, srs)
    slot = carrier.samples_per_slot(0)
    period = slot * srs.srs_period[0]
    n_exp = stats.expected_occasions(cap.samples.shape[1], period, slot)
    need = stats.min_detections(n_exp - WARMUP_SLOTS, pd=0.999, alpha=1e-3)
    n_det = len(res.cfr)
    snr = res.snr_db() if res.cfr else float("nan")
    report = {"expected": n_exp, "required": need, "detected": n_det, "snr_db": snr}
    assert n_det >= need, (
        f"{n_det} SRS occasions detected, expected >= {need} of {n_exp} (SNR {snr:.1f} dB): "
        "check gains, cabling, frequency, and that the UE streams without underflows"
    )
    assert n_det <= n_exp + 1, f"{n_det} detections for {n_exp} slots: false alarms"
    dev = stats.period_deviation(res.sample_indices(), period)
    report["max_period_deviation"] = float(np.max(np.abs(dev))) if dev.size else 0.0
    assert report["max_period_deviation"] <= 1.0, (
        f"slot starts off the period grid by up to {report['max_period_deviation']} samples"
    )
    return report


def check_aoa(
    cap: Capture, cal: Calibration | str, carrier: CarrierConfig, srs: SRSConfig, cfg: HilConfig
) -> dict:
    """ESPRIT through srs_sync -> cfr_extractor (calibration applied) -> covariance ->
    doa_estimator: 90th-percentile |error| against cfg.truth_deg <= cfg.aoa_tol_deg."""
    res = process_capture(cap, carrier, srs, calibration=cal, spacing_wl=cfg.spacing_wl)
    assert res.estimates, "no AoA estimate (see the detection test)"
    st = stats.aoa_error_stats(res.aoa_deg(), cfg.truth_deg)
    assert st["p90_abs"] <= cfg.aoa_tol_deg, (
        f"AoA 90th-percentile error {st['p90_abs']:.2f} deg > {cfg.aoa_tol_deg} deg "
        f"(bias {st['bias']:+.2f}, std {st['std']:.2f}, {int(st['n'])} estimates): a bias "
        "means a wrong truth angle, spacing or a stale calibration; a large std low SNR or "
        "multipath"
    )
    return st
