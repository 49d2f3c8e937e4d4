"""``srsaoa calibrate``: per-channel gain/phase/delay of the receive chains from a recording
with the UE at a known angle (or a common reference through a splitter), saved as JSON with
the radio settings; ``--check`` measures how far an existing calibration has drifted.

The recording goes through the same C++ front end as the receiver (srs_sync_kernel, then
cfr_kernel at every detected slot); the model and estimator are in
``gnuradio.srsaoa.array.calibration``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

DRIFT_EXIT = 3


def extract_cfrs(rec, max_occasions: int = 0) -> tuple[np.ndarray, np.ndarray, object]:
    """CFRs [occasions, M, S, K] of a recording, the baseband frequency of each column, and
    the front-end parameters (C++ kernels, the receiver's own processing)."""
    from .. import srsaoa_python as cpp
    from ..errors import SrsaoaError
    from ..nr.receiver import cfr_windows, cross_sequence_floor, frontend_params

    p = frontend_params(rec.carrier, rec.srs)
    if abs(rec.sample_rate - p.sample_rate) > 1e-6 * p.sample_rate:
        raise SrsaoaError(
            f"recording sample rate {rec.sample_rate} Hz != fft_size * scs = {p.sample_rate} Hz"
        )
    x = rec.samples
    m = x.shape[0]
    sync = cpp.srs_sync_kernel(
        p.reference.tolist(),
        list(p.segment_starts),
        list(p.segment_lengths),
        m,
        -1,
        p.period,
        1e-6,
        4,
        3,
        p.sample_rate,
        cross_sequence_floor(p),
    )
    chunk = 1 << 18
    for i in range(0, x.shape[1], chunk):
        sync.process(x[:, i : i + chunk])
    sync.finish()
    dets = sync.take_detections()
    backoff = min(p.cp_lengths) // 4
    kern = cpp.cfr_kernel(
        m,
        p.fft_size,
        list(p.window_offsets),
        p.subcarrier_bins.astype(int).tolist(),
        p.sequence.ravel().tolist(),
        p.noise_bins.astype(int).tolist(),
        backoff,
        p.sample_rate,
        [],
    )
    cfrs = []
    for d in dets:
        if d.index + p.window_offsets[-1] + p.fft_size > x.shape[1]:
            continue
        res = kern.estimate(cfr_windows(x, d.index, p, backoff), d.cfo_hz)
        if res is not None:
            cfrs.append(res[0])
        if max_occasions and len(cfrs) >= max_occasions:
            break
    if not cfrs:
        raise SrsaoaError("no SRS occasion found in the recording: check the SRS config and SNR")
    n = p.fft_size
    b = p.subcarrier_bins.astype(np.int64)
    freqs = np.where(b < n // 2, b, b - n) * p.scs_hz
    return np.stack(cfrs), freqs, p


def _steering(rec, aoa_deg: float | None) -> np.ndarray | None:
    if aoa_deg is None:
        return None
    from ..array.geometry import steering_vector

    return steering_vector(rec.num_channels, float(rec.array.spacing_wavelengths), aoa_deg)


def _radio(rec, args: argparse.Namespace) -> dict:
    return {
        "center_frequency_hz": float(rec.center_frequency_hz),
        "sample_rate": float(rec.sample_rate),
        "gains_db": None if args.gains_db is None else [float(g) for g in args.gains_db],
        "num_elements": int(rec.num_channels),
        "source": str(args.input),
    }


def _run(args: argparse.Namespace) -> int:
    from ..array.calibration import estimate_calibration, load_calibration, residual_phase_deg
    from ..errors import SrsaoaError
    from ..io import read_recording

    if args.splitter and args.aoa_deg is not None:
        raise SrsaoaError("give either --aoa-deg (UE at a known angle) or --splitter, not both")
    if not args.splitter and args.aoa_deg is None:
        raise SrsaoaError("give --aoa-deg (UE at a known angle) or --splitter (common reference)")
    if not (np.isfinite(args.max_drift_deg) and args.max_drift_deg >= 0):
        raise SrsaoaError(f"--max-drift-deg must be a finite angle >= 0, got {args.max_drift_deg}")
    if args.max_occasions < 0:
        raise SrsaoaError(f"--max-occasions must be >= 0 (0 = all), got {args.max_occasions}")
    if args.aoa_deg is not None and not -90.0 < args.aoa_deg < 90.0:
        raise SrsaoaError(f"--aoa-deg must be in (-90, 90), got {args.aoa_deg}")
    rec = read_recording(args.input)
    cfrs, freqs, _ = extract_cfrs(rec, args.max_occasions)
    steer = _steering(rec, args.aoa_deg)

    if args.check:
        cal = load_calibration(args.check)
        if cal.num_elements != rec.num_channels:
            raise SrsaoaError(
                f"calibration is for {cal.num_elements} elements, the recording has "
                f"{rec.num_channels}"
            )
        resid = residual_phase_deg(cal, cfrs, freqs, steer)
        print("residual phase per channel (deg): " + ", ".join(f"{r:+.2f}" for r in resid))
        warn = []
        f0 = cal.radio.get("center_frequency_hz")
        if f0 is not None and abs(float(f0) - rec.center_frequency_hz) > 1.0:
            warn.append(
                f"calibrated at {float(f0) / 1e6:.3f} MHz, recording at "
                f"{rec.center_frequency_hz / 1e6:.3f} MHz"
            )
        worst = float(np.max(np.abs(resid)))
        if worst > args.max_drift_deg:
            warn.append(
                f"residual phase {worst:.1f} deg exceeds {args.max_drift_deg:g} deg: the "
                "inter-channel phases changed (the N310 re-randomises them at every tune and "
                "restart); recalibrate"
            )
        for w in warn:
            print(f"srsaoa calibrate: warning: {w}", file=sys.stderr)
        return DRIFT_EXIT if worst > args.max_drift_deg else 0

    if not args.out:
        raise SrsaoaError("--out C.json is required (or --check C.json)")
    cal = estimate_calibration(
        cfrs,
        freqs,
        steer,
        reference_aoa_deg=args.aoa_deg,
        radio=_radio(rec, args),
        fit_delay=not args.no_delay,
    )
    cal.save(args.out)
    print(
        f"wrote {args.out}: {cal.num_occasions} occasions, phase (deg) "
        + ", ".join(f"{v:+.1f}" for v in cal.phase_deg)
        + ", gain (dB) "
        + ", ".join(f"{20 * np.log10(v):+.2f}" for v in cal.gain)
        + ", delay (ns) "
        + ", ".join(f"{v * 1e9:+.2f}" for v in cal.delay_s)
        + f", fit residual {cal.residual_phase_deg_rms:.2f} deg rms"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="per-channel phase/gain/delay calibration from a reference recording",
        description=(
            "Estimate each receive channel's complex gain and delay relative to channel 0 "
            "from a recording with the UE at a known angle (--aoa-deg) or with one reference "
            "fed to all channels through a splitter (--splitter); save them as JSON with the "
            "radio settings (use with cfr_extractor's calibration / srsaoa run "
            "--calibration). With --check C.json, measure the residual phase of an existing "
            f"calibration instead; exit status {DRIFT_EXIT} when it exceeds --max-drift-deg."
        ),
    )
    p.add_argument("--input", required=True, help="NAME.sigmf-collection or .sigmf-meta")
    p.add_argument("--aoa-deg", type=float, default=None, help="true AoA of the UE, degrees")
    p.add_argument("--splitter", action="store_true", help="common reference on all channels")
    p.add_argument("--out", default=None, help="calibration JSON to write")
    p.add_argument("--check", default=None, metavar="C.json", help="check this calibration")
    p.add_argument("--max-drift-deg", type=float, default=5.0, help="warning threshold (deg)")
    p.add_argument("--gains-db", type=float, nargs="+", default=None, help="RX gains to record")
    p.add_argument("--max-occasions", type=int, default=0, help="use at most N occasions")
    p.add_argument("--no-delay", action="store_true", help="fit phase only, no delay")
    p.set_defaults(func=_run)
