"""``srsaoa run``: the receiver of examples/rx_file.grc, headless, on a recording or a USRP.

Runs to the end of the recording (or for ``--duration`` on a radio), prints a progress
line and a summary (occasions found, estimates, median AoA per method, error against the
truth when the recording carries one) and writes one JSON object per estimate
(DESIGN section 7).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SrsaoaError
from . import add_progress_args, show_progress

DEFAULT_METHODS = "esprit,2d-esprit"
MAX_OCCASIONS = 10000  # SRS occasions per covariance: beyond this no estimate ever comes


def _methods(text: str) -> tuple[str, ...]:
    from ..flowgraph import METHODS

    methods = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise SrsaoaError(f"--method: unknown {bad or text!r}; choose from {', '.join(METHODS)}")
    return methods


def _open_source(args: argparse.Namespace):
    """(source block, recording description): the C++ file stream of a SigMF recording
    (``sigmf_source``) or of a raw interleaved .cfile/.dat."""
    from ..blocks.sigmf_source import file_stream, sigmf_source, use_large_buffers

    path = args.input
    if not path:  # an empty path would stream sigmf_source's built-in demo
        raise SrsaoaError("give --input RECORDING (or --usrp ARGS for a live radio)")
    if (
        not Path(path).exists()
        and not Path(str(path) + ".sigmf-collection").exists()
        and not Path(str(path) + ".sigmf-meta").exists()
    ):
        raise SrsaoaError(f"input {path} does not exist")
    if Path(path).suffix in (".cfile", ".dat", ".bin"):
        rec = _read_raw(args)
        src = file_stream(rec, False)
    else:
        if getattr(args, "srs", None):
            raise SrsaoaError(
                "--srs applies to raw input only: a SigMF recording names its SRS resource in "
                "its metadata; to follow other or several resources give --srs-resources R.yaml"
            )
        try:
            src = sigmf_source(str(path), False, not args.no_hash_check, 0)
        except ValueError as exc:
            raise SrsaoaError(str(exc)) from None
        src.log_check_errors = False  # a hash mismatch is this command's one-line error
        rec = src.recording
    if args.num_channels and args.num_channels != rec.num_channels:
        raise SrsaoaError(
            f"{path}: the recording has {rec.num_channels} channels, --num-channels says "
            f"{args.num_channels}"
        )
    use_large_buffers(src)  # it feeds srs_sync directly: few, long reads
    return src, rec


def _resources(args: argparse.Namespace) -> list | None:
    """[(id, SRSConfig)] of ``--srs-resources`` (a YAML/JSON file, or ``recording``: the UEs
    of the recording's metadata); None without the option (one resource, no id)."""
    spec = getattr(args, "srs_resources", None)
    if not spec:
        return None
    if spec == "recording":
        return "recording"  # resolved once the recording is open
    from ..io.mapping import read_mapping
    from ..nr.resources import parse_resources

    try:
        return parse_resources(read_mapping(spec), spec)
    except ValueError as exc:
        raise SrsaoaError(str(exc)) from None


def _read_raw(args: argparse.Namespace):
    from ..array.geometry import ULA
    from ..io.mapping import read_mapping
    from ..io.safeio import regular_file
    from ..io.sigmf import open_raw

    regular_file(args.input, "raw recording")

    resources = getattr(args, "resources", None)
    if not (args.num_channels and args.carrier and (args.srs or resources)):
        raise SrsaoaError(
            "a raw .cfile/.dat input needs --num-channels, --carrier C.json/yaml and --srs S.json/yaml"
        )
    ula = ULA(args.num_channels, args.spacing_m, args.frequency)
    return open_raw(
        args.input,
        num_channels=args.num_channels,
        carrier=read_mapping(args.carrier),
        srs=read_mapping(args.srs) if args.srs else resources[0][1].to_dict(),
        array=ula,
        center_frequency_hz=args.frequency,
    )


def _check_calibration(args: argparse.Namespace, rec) -> None:
    """The calibration must be for this array and radio setting (a retune re-randomises the
    N310's inter-channel phases, so a calibration made at another frequency is wrong)."""
    if not args.calibration:
        return
    from ..array.calibration import CalibrationError, load_calibration
    from ..io.safeio import read_bytes

    read_bytes(args.calibration, "calibration file")  # a regular file of sane size
    try:
        cal = load_calibration(args.calibration)
    except CalibrationError as exc:
        raise SrsaoaError(str(exc)) from None
    if cal.num_elements != rec.num_channels:
        raise SrsaoaError(
            f"calibration {args.calibration} is for {cal.num_elements} elements, the input has "
            f"{rec.num_channels}"
        )
    for key, have, what in (
        ("center_frequency_hz", getattr(rec, "center_frequency_hz", None), "carrier frequency"),
        ("sample_rate", rec.sample_rate, "sample rate"),
    ):
        want = cal.radio.get(key)
        if want is not None and have is not None and abs(float(want) - float(have)) > 1.0:
            raise SrsaoaError(
                f"calibration {args.calibration} was made at {what} {float(want):g} Hz, the "
                f"input is at {float(have):g} Hz: calibrate again at this setting"
            )
    _check_manifold(args, rec)


def _check_manifold(args: argparse.Namespace, rec) -> None:
    """A sweep calibration's manifold: this element count, and the carrier grid it maps
    subcarriers to baseband frequencies with (its bands are in baseband Hz)."""
    from ..array.calibration import CalibrationError
    from ..array.manifold import load_calibration_file
    from ..io import config_to_dict

    try:
        _, man = load_calibration_file(args.calibration)
    except CalibrationError as exc:
        raise SrsaoaError(str(exc)) from None
    if man is None:
        return
    if man.num_elements != rec.num_channels:
        raise SrsaoaError(
            f"calibration {args.calibration} is for {man.num_elements} elements, the input has "
            f"{rec.num_channels}"
        )
    want = (getattr(man, "radio", None) or {}).get("carrier") or {}
    have = config_to_dict(rec.carrier)
    for key in ("subcarrier_spacing", "n_size_grid"):
        if key in want and key in have and want[key] != have[key]:
            raise SrsaoaError(
                f"calibration {args.calibration} was measured with carrier {key} {want[key]}, "
                f"the input has {have[key]}: calibrate again with this carrier"
            )


def _check_model(args: argparse.Namespace, rec) -> None:
    """MoD-DNN learns one array: refuse a model made for another element count or spacing."""
    import numpy as np

    from ..moddnn.domain import ModelDomain
    from ..moddnn.modelfile import load_model

    net, meta = load_model(args.model)  # a missing, corrupt or mismatched file fails here
    cfg = net.cfg
    d = rec.array.spacing_wavelengths
    if cfg.num_elements != rec.num_channels or abs(cfg.spacing_wavelengths - d) > 0.01 * d:
        raise SrsaoaError(
            f"model {args.model} was trained for {cfg.num_elements} elements at "
            f"{cfg.spacing_wavelengths:g} wavelengths, the input has {rec.num_channels} at "
            f"{d:.3g}: train a model for this array (srsaoa train)"
        )
    dom = ModelDomain.from_metadata(cfg, meta)
    if rec.carrier is not None and rec.srs is not None:
        from ..nr.receiver import frontend_params

        p = frontend_params(rec.carrier, rec.srs)
        why = dom.check_band(np.asarray(p.subcarriers, np.float64) * p.scs_hz)
        if why is not None:
            raise SrsaoaError(f"model {args.model} does not fit this input: {why}")
    # a model trained from a sweep learnt CFRs corrected by that sweep's angle-independent part
    if dom.calibration:
        dom.resolve_calibration(args.model)
        if not args.calibration:
            if not Path(dom.calibration).is_file():
                raise SrsaoaError(
                    f"model {args.model} was trained on CFRs calibrated with "
                    f"{dom.calibration}, which is missing: pass --calibration"
                )
            args.calibration = dom.calibration
            print(f"srsaoa run: using the model's calibration {dom.calibration}", file=sys.stderr)
        else:
            why = dom.check_calibration(args.calibration)
            if why is not None:
                raise SrsaoaError(f"model {args.model}: {why}")


def _check_out(args: argparse.Namespace, rec, methods: tuple[str, ...] = ()) -> None:
    """Never write the results over (or through a link to) one of the inputs, nor to a
    device: the recording's files, the calibration, the model, --carrier and --srs."""
    from ..io.safeio import check_output

    if args.out == "-":
        return
    inputs = [Path(p) for p in getattr(rec, "files", ()) or ()]
    if args.input:
        stem = Path(args.input)
        inputs += list(stem.parent.glob(stem.name.split(".sigmf")[0] + "*"))
        inputs.append(stem)
    inputs += [Path(p) for p in (args.calibration, args.carrier, args.srs) if p]
    if "moddnn" in methods:
        from ..moddnn.modelfile import model_paths

        inputs += list(model_paths(args.model))
    check_output(args.out, inputs)


def _run(args: argparse.Namespace) -> int:
    from ..io.safeio import AtomicFiles

    methods = _methods(args.method)
    args.resources = _resources(args)
    if args.verbose:
        from gnuradio import gr

        gr.logging().set_default_level(gr.log_levels.info)
    if args.usrp is not None:
        from ..flowgraph import usrp_source_from_args

        if args.resources == "recording":
            raise SrsaoaError("--srs-resources recording needs a recording; live, give R.yaml")

        src, rec = usrp_source_from_args(args)
    else:
        if args.resources == "recording":
            args.resources = None
            src, rec = _open_source(args)
            from ..nr.resources import resources_from_truth

            args.resources = resources_from_truth(rec.truth)
            if not args.resources:
                raise SrsaoaError(f"{args.input}: the recording lists no SRS resources (UEs)")
        else:
            src, rec = _open_source(args)
    if "moddnn" in methods:
        import torch

        # the application owns the process's thread pools (blocks never change them): one
        # intra-op thread, as OPENBLAS_NUM_THREADS=1 (cli.py); GNU Radio's block threads
        # already share the cores
        torch.set_num_threads(1)
        _check_model(args, rec)
    _check_calibration(args, rec)
    _check_out(args, rec, methods)
    if not 0 <= args.order < rec.num_channels:
        raise SrsaoaError(
            f"--order must be 0 (AIC) to {rec.num_channels - 1} for {rec.num_channels} elements"
        )
    if args.max_queue < 1:
        raise SrsaoaError(f"--max-queue must be >= 1, got {args.max_queue}")
    if not 1 <= args.occasions <= MAX_OCCASIONS:
        raise SrsaoaError(f"--occasions must be in [1, {MAX_OCCASIONS}], got {args.occasions}")
    from ..blocks._stack import MAX_STACKED_OCCASIONS as most

    if args.occasions > most:
        from ..array.manifold import load_calibration_file
        from ..flowgraph import stacks_cfrs

        man = load_calibration_file(args.calibration)[1] if args.calibration else None
        stacked = [m for m in methods if stacks_cfrs(m, man)]
        if stacked:
            raise SrsaoaError(
                f"--occasions {args.occasions}: {', '.join(stacked)} stack the CFRs of an "
                f"estimate's occasions, at most {most} (the 1-D methods accumulate a "
                f"covariance, up to {MAX_OCCASIONS})"
            )
    with AtomicFiles() as files:  # results go to a temporary file, renamed at the end
        out = "-" if args.out == "-" else str(files.path(args.out))
        _run_flowgraph(args, src, rec, methods, out)
        files.commit()
    return 0


def _run_flowgraph(args: argparse.Namespace, src, rec, methods: tuple[str, ...], out: str):
    from ..flowgraph import run_with_progress, rx_flowgraph
    from ..report import TruthTrack, format_table, read_jsonl, summarize

    m = rec.num_channels
    carrier, srs, ula = rec.carrier, rec.srs, rec.array
    try:
        tb = rx_flowgraph(
            src,
            m,
            carrier,
            srs,
            ula.spacing_wavelengths,
            rec.sample_rate,
            methods=methods,
            out=out,
            model=args.model,
            calibration=args.calibration or "",
            occasions_per_estimate=args.occasions,
            forward_backward=not args.no_fb,
            order=args.order,
            log_level="info" if args.verbose else "off",
            keep_estimates=out == "-" and args.usrp is None,  # a live run must not grow
            live=args.usrp is not None,
            max_queue=args.max_queue,
            resources=args.resources,
            los_edge=args.los_edge,
        )
    except ValueError as exc:
        raise SrsaoaError(str(exc)) from None

    duration = rec.num_samples / rec.sample_rate if rec.num_samples else None
    show = show_progress(args, False if args.quiet else None)
    checks = getattr(src, "wait_checks", None)
    if checks is not None and out == "-":
        checks()  # estimates on stdout cannot be taken back: check the hashes first
    run_with_progress(tb, duration, show, args.duration if args.usrp is not None else None)
    if checks is not None:
        checks()  # the SHA-512 check that ran alongside the stream
    read_error = src.error() if hasattr(src, "error") else ""
    if read_error:
        raise SrsaoaError(f"{args.input}: {read_error}")
    bad, first_bad = _nonfinite(src)
    if bad and bad >= rec.num_samples:
        raise SrsaoaError(f"{args.input}: every sample is non-finite (NaN/Inf)")

    found = tb.num_detections()
    from ..blocks.pdu import parse_pdu
    from ..blocks.result_sink import estimate_record

    if out == "-":
        records = []
        for rid, msg in tb.estimate_messages_by_resource():
            meta = parse_pdu(msg)[0]
            if rid:
                meta["resource"] = rid
            records.append(estimate_record(meta, rec.sample_rate))
    else:
        records = read_jsonl(out) if Path(out).exists() else []
    if found == 0:
        raise SrsaoaError(
            f"no SRS found in {args.input or args.usrp}: check the carrier/SRS configuration "
            f"(n_srs_id, c_srs, comb), the sample rate and the signal level"
        )
    written = len(records) if records else tb.num_estimates()  # live to stdout: not kept
    if not written:
        raise SrsaoaError(
            f"{found} SRS occasions found but no estimate was made ({tb.num_cfrs()} CFRs; "
            f"--occasions {args.occasions}): nothing written"
        )
    truth = TruthTrack(rec.truth, rec.annotations)
    if not args.quiet:
        err = sys.stderr if out == "-" else sys.stdout
        print(
            f"{found} SRS occasions found, {tb.num_cfrs()} CFRs, {written} estimates "
            f"({', '.join(methods)}); results in {'stdout' if out == '-' else args.out}",
            file=err,
        )
        for rid in tb.resources if records else ():
            mine = [r for r in records if r.get("resource", "") == rid]
            track = TruthTrack(rec.truth, rec.annotations, rid or None)
            if rid:
                print(f"UE {rid}:", file=err)
            print(format_table(summarize(mine, track if track.known else None, methods)), file=err)
        if records and not truth.known:
            print("(the recording carries no truth: no errors shown)", file=err)
    dropped = {m: n for m, n in tb.dropped().items() if n}
    if dropped:  # a live run that fell behind (a recording is held back, never dropped)
        print(
            "warning: estimators fell behind and dropped their oldest inputs: "
            + ", ".join(f"{m} {n}" for m, n in dropped.items())
            + " (the JSON lines carry the running count as 'dropped')",
            file=sys.stderr,
        )
    missed = tb.num_missed()
    if missed:  # occasions the tracker expected but found no SRS at
        print(
            f"warning: {missed} of {found + missed} expected SRS occasions missed "
            f"({found} found; the count runs from the first detection to the end of the "
            "input, gaps included)",
            file=sys.stderr,
        )
    gaps = tb.num_resyncs()
    if gaps:
        print(
            f"warning: {gaps} time gap(s) in the input ({tb.num_gap_samples()} samples "
            "missing): the front end re-synchronised after each, the occasions across a "
            "gap were dropped",
            file=sys.stderr,
        )
    if bad:
        print(
            f"warning: {bad} non-finite (NaN/Inf) sample(s) from sample {first_bad}; "
            f"{max(found - tb.num_cfrs(), 0)} SRS occasion(s) skipped",
            file=sys.stderr,
        )
    return 0


def _nonfinite(src) -> tuple[int, int | None]:
    """(non-finite time samples, index of the first) counted by the file source."""
    if not hasattr(src, "num_nonfinite"):
        return 0, None  # a radio
    first = src.first_nonfinite()
    return int(src.num_nonfinite()), None if first is None or first < 0 else int(first)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="estimate AoA from a recording (or a USRP) and write JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", "-i", help="NAME.sigmf-collection / .sigmf-meta / raw .cfile")
    p.add_argument(
        "--method",
        "-m",
        default=DEFAULT_METHODS,
        help="comma-separated: esprit, music, root-music, dbf, 2d-esprit, ml, 2d-ml, moddnn "
        f"(default {DEFAULT_METHODS})",
    )
    p.add_argument("--model", default="default", help="MoD-DNN model (path or 'default')")
    p.add_argument(
        "--calibration",
        default="",
        help="calibration JSON (srsaoa calibrate): its gain/phase/delay part corrects the CFR; "
        "a sweep calibration's manifold is also searched by dbf, music, ml and 2d-ml",
    )
    p.add_argument("--out", "-o", default="-", help="results .jsonl path, '-' for stdout")
    p.add_argument(
        "--occasions",
        type=int,
        default=1,
        help="SRS occasions per estimate (1): accumulated into one covariance for the 1-D "
        "methods, their CFRs stacked (at most 256) for 2d-esprit, 2d-ml, moddnn and the "
        "calibrated methods",
    )
    p.add_argument("--order", type=int, default=0, help="number of paths (0 = AIC)")
    p.add_argument("--no-fb", action="store_true", help="no forward-backward averaging")
    p.add_argument(
        "--los-edge",
        action="store_true",
        help="2d-esprit / 2d-ml: read the earliest path's angle on the leading edge of its "
        "delay response (rich multipath; docs/channels.md)",
    )
    p.add_argument("--no-hash-check", action="store_true", help="skip SigMF sha512 checks")
    raw = p.add_argument_group("raw .cfile/.dat input (interleaved channels)")
    raw.add_argument("--num-channels", type=int, default=0, help="channels (elements) M")
    raw.add_argument("--carrier", help="CarrierConfig as JSON/YAML file")
    raw.add_argument("--srs", help="SRSConfig as JSON/YAML file")
    p.add_argument(
        "--srs-resources",
        default=None,
        metavar="R.yaml",
        help="several UEs: follow every SRS resource of R.yaml (resources: [{id, srs: {...}}]), "
        "or 'recording' for the UEs the recording lists; lines carry 'resource': id",
    )
    raw.add_argument("--frequency", type=float, default=3.5e9, help="carrier frequency, Hz")
    raw.add_argument("--spacing-m", type=float, default=None, help="element spacing (lambda/2)")
    live = p.add_argument_group("live USRP (rx_n310.grc)")
    live.add_argument("--usrp", default=None, help='UHD device args, e.g. "addr=192.168.10.2"')
    live.add_argument("--duration", type=float, default=10.0, help="seconds to run (10)")
    live.add_argument("--gain", type=float, default=40.0, help="RX gain, dB (40)")
    live.add_argument("--time-source", default="internal", help="internal|external|gpsdo")
    live.add_argument("--clock-source", default="internal", help="internal|external|gpsdo")
    live.add_argument(
        "--max-queue",
        type=int,
        default=64,
        help="messages allowed to wait at each estimator stage before the oldest are dropped "
        "(counted; default 64)",
    )
    add_progress_args(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    p.add_argument("--verbose", "-v", action="store_true", help="log every estimate")
    p.set_defaults(func=_run)
