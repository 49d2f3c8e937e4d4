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

from . import add_progress_args, show_progress

DRIFT_EXIT = 3


def extract_cfrs(
    rec, max_occasions: int = 0, with_index: bool = False, with_snr: bool = False
) -> tuple:
    """CFRs [occasions, M, S, K] of a recording, the baseband frequency of each column, and
    the front-end parameters (C++ kernels, the receiver's own processing); with
    ``with_index`` also the slot-start sample index of each CFR, with ``with_snr`` also the
    front end's SNR estimate (dB) of each."""
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
        [int(v) for v in p.period_pattern],  # unequal intervals (long CP every 0.5 ms)
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
    index = []
    snrs = []
    for d in dets:
        if d.index + p.window_offsets[-1] + p.fft_size > x.shape[1]:
            continue
        res = kern.estimate(cfr_windows(x, d.index, p, backoff), d.cfo_hz)
        if res is not None:
            cfrs.append(res[0])
            index.append(int(d.index))
            snrs.append(float(res[1]))
        if max_occasions and len(cfrs) >= max_occasions:
            break
    if not cfrs:
        raise SrsaoaError("no SRS occasion found in the recording: check the SRS config and SNR")
    n = p.fft_size
    b = p.subcarrier_bins.astype(np.int64)
    freqs = np.where(b < n // 2, b, b - n) * p.scs_hz
    out = (np.stack(cfrs), freqs, p)
    if with_index:
        out += (np.asarray(index),)
    if with_snr:
        out += (np.asarray(snrs),)
    return out


def _labelled_cfrs(rec, name) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(angles [N] deg, CFRs [N, M, S, K], frequencies [K] Hz, SNR [N] dB) of a recording's
    SRS occasions with a known angle, through the C++ front end; errors name ``name``."""
    from ..errors import SrsaoaError
    from ..report import TruthTrack

    truth = TruthTrack(rec.truth, rec.annotations)
    if not truth.known:
        raise SrsaoaError(f"{name}: no angle truth (srsaoa:truth or srsaoa:aoa_deg annotations)")
    try:
        h, f, _, index, snr = extract_cfrs(rec, with_index=True, with_snr=True)
    except SrsaoaError as exc:
        raise SrsaoaError(f"{name}: {exc}") from None
    lab = [truth.aoa_at(int(j)) for j in index]
    keep = np.array([v is not None for v in lab])
    if not np.any(keep):
        raise SrsaoaError(f"{name}: no SRS occasion with a known angle")
    labels = np.array([v for v in lab if v is not None], dtype=np.float64)
    return labels, h[keep].astype(np.complex64), np.asarray(f, np.float64), snr[keep]


def sweep_dataset(path):
    """One labelled sweep recording as a MoD-DNN CfrDataset through the receiver's C++ front
    end (as ``calibrate --sweep`` and ``run``): every SRS occasion with a known angle."""
    from ..io import read_recording
    from ..moddnn.data import CfrDataset

    labels, h, f, snr = _labelled_cfrs(read_recording(path), path)
    return CfrDataset(h, labels, snr, f)


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


RADIO_KEYS = ("carrier", "srs", "sample_rate", "center_frequency_hz", "array")


def _radio_of(rec) -> dict:
    from ..io import config_to_dict

    return {
        "carrier": config_to_dict(rec.carrier),
        "srs": config_to_dict(rec.srs),
        "sample_rate": float(rec.sample_rate),
        "center_frequency_hz": float(rec.center_frequency_hz),
        "array": rec.array.to_dict(),
    }


def read_sweep(directory: str, progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Labelled CFRs of a sweep directory through the receiver's C++ front end: (labels [N]
    deg, CFRs [N, M, S, K], subcarrier frequencies [K] Hz, the radio settings shared by every
    recording). Mixed radio settings, recordings without angle truth or without SRS are
    errors naming the recording."""
    from pathlib import Path

    from ..errors import SrsaoaError
    from ..io import read_recording
    from ..moddnn.recordings import recording_paths

    d = Path(directory)
    if not d.is_dir():
        raise SrsaoaError(f"--sweep {directory}: not a directory")
    paths = recording_paths(d)
    if not paths:
        raise SrsaoaError(f"--sweep {directory}: no SigMF recordings in it")
    radio = None
    labels, cfrs, freqs = [], [], None
    for i, path in enumerate(paths):
        if progress:
            progress(f"front end {i + 1}/{len(paths)}: {path.name}")
        rec = read_recording(path)
        this = _radio_of(rec)
        if radio is None:
            radio = this
        else:
            for key in RADIO_KEYS:
                if this[key] != radio[key]:
                    raise SrsaoaError(
                        f"{path.name}: {key} {this[key]} differs from the first recording's "
                        f"{radio[key]}: a sweep must be recorded at one radio setting"
                    )
        lab, h, f, _ = _labelled_cfrs(rec, path.name)
        labels.append(lab)
        cfrs.append(h)
        freqs = f
    return np.concatenate(labels), np.concatenate(cfrs), freqs, radio


def plot_manifold(cal, path: str) -> None:
    """Gain (dB) and phase (deg) of every element's response relative to the ideal ULA
    against angle: the measured points of each band and the fitted model (the first thing a
    lab engineer looks at), and the leave-one-out residual per sweep angle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sw = cal.sweep
    th = np.asarray(sw["angles_deg"])
    meas = np.asarray(sw["response_re"]) + 1j * np.asarray(sw["response_im"])  # [L, B, M]
    nb, m = meas.shape[1], meas.shape[2]
    lo, hi = cal.angle_range_deg
    fine = np.linspace(lo, hi, 961)
    model = cal.response(fine)  # [M, L, B]
    fig, ax = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for e in range(1, m):
        col = colors[(e - 1) % len(colors)]
        for b in range(nb):
            lab = f"element {e}" if b == 0 else None
            ax[0].plot(th, 20 * np.log10(np.abs(meas[:, b, e])), "o", ms=3, color=col, alpha=0.7)
            ax[0].plot(fine, 20 * np.log10(np.abs(model[e, :, b])), "-", lw=1, color=col, label=lab)
            ph = np.rad2deg(np.unwrap(np.angle(meas[:, b, e])))
            ax[1].plot(th, ph, "o", ms=3, color=col, alpha=0.7)
            phm = np.rad2deg(np.unwrap(np.angle(model[e, :, b])))
            phm += 360 * np.round((np.interp(th[0], fine, phm) - ph[0]) / 360) * -1
            ax[1].plot(fine, phm, "-", lw=1, color=col)
    ax[2].plot(th, sw["loo_residual_deg"], "k.-", ms=3, lw=0.8, label="leave-one-out residual")
    ax[0].set_ylabel("gain re. element 0 and ideal (dB)")
    ax[1].set_ylabel("phase re. element 0 and ideal (deg)")
    ax[2].set_ylabel("held-out fit error (deg)")
    ax[2].set_xlabel("angle of arrival (deg)")
    ax[0].legend(loc="best", fontsize=8)
    ax[2].legend(loc="best", fontsize=8)
    fit = cal.fit
    fig.suptitle(
        f"measured manifold: {len(th)} angles, {nb} band(s), {fit.get('model')} model with "
        f"{fit.get('model_parameters')} terms, held-out error {fit.get('cv_rms_deg', 0):.2f} deg "
        f"rms (noise {fit.get('noise_rms_deg', 0):.2f})\n(after the angle-independent "
        "correction; points: measured per band, lines: fitted model)",
        fontsize=10,
    )
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _run_sweep(args: argparse.Namespace) -> int:
    import os

    from ..array.manifold import ManifoldError, calibrate_sweep, group_by_angle
    from ..errors import SrsaoaError
    from ..io.safeio import check_output

    if not args.out:
        raise SrsaoaError("--sweep needs --out CAL.json")
    if args.aoa_deg is not None or args.splitter or args.check:
        raise SrsaoaError("--sweep is a calibration of its own: drop --aoa-deg/--splitter/--check")
    inputs = (
        [os.path.join(args.sweep, n) for n in os.listdir(args.sweep)]
        if os.path.isdir(args.sweep)
        else []
    )
    check_output(args.out, inputs)
    plot = args.plot if args.plot is not None else os.path.splitext(args.out)[0] + ".png"
    if plot:
        check_output(plot, inputs + [args.out], what="--plot")
    bands = args.bands
    if bands != "auto":
        try:
            bands = int(bands)
        except ValueError:
            raise SrsaoaError(f"--bands must be 'auto' or an integer, got {args.bands!r}") from None
    if args.min_occasions < 1:
        raise SrsaoaError(f"--min-occasions must be >= 1, got {args.min_occasions}")

    show = show_progress(args)

    def progress(msg: str) -> None:
        if show:
            print(f"  calibrate: {msg}", file=sys.stderr)

    labels, cfrs, freqs, radio = read_sweep(args.sweep, progress)
    angles, groups = group_by_angle(labels, cfrs)
    arr = radio["array"]
    from ..array.geometry import ULA

    ula = ULA.from_dict(arr)
    radio = {
        **radio,
        "num_elements": int(ula.num_elements),
        "gains_db": None if args.gains_db is None else [float(g) for g in args.gains_db],
        "source": str(args.sweep),
    }
    try:
        cal, warnings = calibrate_sweep(
            angles,
            groups,
            freqs,
            ula.spacing_wavelengths,
            bands=bands,
            radio=radio,
            min_occasions=args.min_occasions,
            progress=progress,
        )
    except ManifoldError as exc:
        raise SrsaoaError(f"--sweep {args.sweep}: {exc}") from None
    cal.constant.radio = {
        k: radio[k] for k in ("center_frequency_hz", "sample_rate", "num_elements", "gains_db")
    }
    for w in warnings:
        print(f"srsaoa calibrate: warning: {w}", file=sys.stderr)
    fit = cal.fit
    if fit["cv_rms_deg"] > args.max_fit_error_deg:
        raise SrsaoaError(
            f"the manifold fit leaves {fit['cv_rms_deg']:.2f} deg rms on held-out sweep angles, "
            f"more than --max-fit-error-deg {args.max_fit_error_deg:g}: not written (check the "
            "sweep's angle labels and the chamber; see the warnings above)"
        )
    cal.save(args.out)
    if plot:
        plot_manifold(cal, plot)
    occ = np.asarray(cal.sweep["occasions"])
    print(
        f"wrote {args.out}: {angles.size} angles {angles[0]:g}..{angles[-1]:g} deg "
        f"({occ.min()}-{occ.max()} occasions each, SNR {np.median(cal.sweep['snr_db']):.1f} dB "
        f"median), {fit['bands']} band(s), {fit['model']} model with "
        f"{fit['model_parameters']} terms, held-out error {fit['cv_rms_deg']:.3f} deg rms "
        f"(measurement noise {fit['noise_rms_deg']:.3f} deg)" + (f"; plot {plot}" if plot else "")
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..array.calibration import estimate_calibration, load_calibration, residual_phase_deg
    from ..errors import SrsaoaError
    from ..io import read_recording

    if args.sweep:
        return _run_sweep(args)
    if not args.input:
        raise SrsaoaError("give --input REF (single angle or splitter) or --sweep DIR")

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
    if args.out:
        import os

        from ..io.safeio import check_output

        stem = os.path.basename(str(args.input)).split(".sigmf")[0]
        folder = os.path.dirname(os.path.abspath(str(args.input)))
        inputs = [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(stem)]
        check_output(args.out, [args.input, args.check, *inputs])
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
    from ..array.calibration import MAX_RESIDUAL_DEG

    if cal.residual_phase_deg_rms > MAX_RESIDUAL_DEG:
        raise SrsaoaError(
            f"the calibration fit leaves {cal.residual_phase_deg_rms:.1f} deg rms of phase about "
            f"its lines (more than {MAX_RESIDUAL_DEG:g}): no usable reference in this recording "
            "(SNR too low, multipath, or the UE not at --aoa-deg); not written"
        )
    cal.save(args.out)
    if args.aoa_deg is not None:
        print(
            "srsaoa calibrate: warning: a single-angle calibration removes the "
            f"angle-independent gain/phase/delay only and is exact at {args.aoa_deg:g} deg; "
            "if the array's error depends on angle (coupling, element patterns: most "
            "commodity arrays) estimates away from that angle can get worse, not better. "
            "Measure a sweep and use `srsaoa calibrate --sweep DIR` (docs/calibration.md).",
            file=sys.stderr,
        )
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
        help="array calibration: a turntable sweep's manifold (--sweep) or per-channel "
        "phase/gain/delay from a reference recording",
        description=(
            "With --sweep DIR: measure the array manifold from a turntable sweep (one "
            "labelled recording per angle), fit a smooth model of it in angle and save it "
            "with a plot (docs/calibration.md). Otherwise: estimate each receive channel's "
            "complex gain and delay relative to channel 0 "
            "from a recording with the UE at a known angle (--aoa-deg) or with one reference "
            "fed to all channels through a splitter (--splitter); save them as JSON with the "
            "radio settings (use with cfr_extractor's calibration / srsaoa run "
            "--calibration). With --check C.json, measure the residual phase of an existing "
            f"calibration instead; exit status {DRIFT_EXIT} when it exceeds --max-drift-deg."
        ),
    )
    p.add_argument("-i", "--input", help="NAME.sigmf-collection or .sigmf-meta")
    p.add_argument(
        "--sweep",
        metavar="DIR",
        help="directory of labelled sweep recordings (one per angle, or annotated): measure "
        "and fit the array manifold (docs/calibration.md)",
    )
    p.add_argument(
        "--bands",
        default="auto",
        help="--sweep: frequency bands of the manifold, 'auto' (chosen by cross-validation) "
        "or a number",
    )
    p.add_argument(
        "--plot", default=None, help="--sweep: manifold plot PNG (default CAL.png, '' = none)"
    )
    p.add_argument(
        "--min-occasions", type=int, default=1, help="--sweep: fewest SRS occasions per angle"
    )
    p.add_argument(
        "--max-fit-error-deg",
        type=float,
        default=5.0,
        help="--sweep: refuse a manifold whose held-out error exceeds this (deg rms)",
    )
    add_progress_args(p)
    p.add_argument("--aoa-deg", type=float, default=None, help="true AoA of the UE, degrees")
    p.add_argument("--splitter", action="store_true", help="common reference on all channels")
    p.add_argument("--out", default=None, help="calibration JSON to write")
    p.add_argument("--check", default=None, metavar="C.json", help="check this calibration")
    p.add_argument("--max-drift-deg", type=float, default=5.0, help="warning threshold (deg)")
    p.add_argument("--gains-db", type=float, nargs="+", default=None, help="RX gains to record")
    p.add_argument("--max-occasions", type=int, default=0, help="use at most N occasions")
    p.add_argument("--no-delay", action="store_true", help="fit phase only, no delay")
    p.set_defaults(func=_run)
