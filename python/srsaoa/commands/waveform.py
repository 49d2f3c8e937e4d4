"""``srsaoa waveform``: write the SRS of a UE as a SigMF recording and a raw .cfile.

    srsaoa waveform --config srs.yaml --out DIR/NAME [--slots N] [--peak 0.7]

The config file (YAML or JSON) holds ``{"carrier": CarrierConfig dict, "srs": SRSConfig
dict}`` (DESIGN section 4; missing fields take their defaults). Writes
``NAME.sigmf-meta`` / ``NAME.sigmf-data`` (one SigMF recording, cf32_le, ``core:num_channels``
= SRS ports, samples interleaved by port, ``srsaoa:carrier`` / ``srsaoa:srs`` /
``srsaoa:scale`` in the global, one annotation per SRS slot) and ``NAME.cfile`` (one port)
or ``NAME_port<p>.cfile`` (several): raw complex64 for UHD's tx_samples_from_file
(``--type float``) and GNU Radio's file source, to be replayed in a loop.

The minimal SigMF writer here is local on purpose: io.write_recording describes receive
captures of an array (``srsaoa:array`` is required there); a transmit waveform has none.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import SrsaoaError

SIGMF_VERSION = "1.2.0"


MAX_SLOTS = 20480  # one 1024-frame SFN cycle at 30 kHz; more is a typo, not a waveform
MAX_PEAK = 1e6  # |I|, |Q| in float32 file units; beyond this a typo (1e39 overflows to Inf)


def load_config(path: str | Path):
    """(CarrierConfig, SRSConfig) from a YAML/JSON file with ``carrier`` and ``srs`` maps."""
    from .. import nr
    from ..io.mapping import read_mapping

    p = Path(path)
    doc = read_mapping(p)
    if set(doc) - {"carrier", "srs"}:
        raise SrsaoaError(f"{p}: expected a map with keys 'carrier' and 'srs'")
    try:
        carrier = nr.CarrierConfig.from_dict(dict(doc.get("carrier") or {}))
        srs = nr.SRSConfig.from_dict(dict(doc.get("srs") or {}))
    except (ValueError, TypeError) as exc:
        raise SrsaoaError(f"{p}: {exc}") from None
    return carrier, srs


def write_waveform(
    out: str | Path,
    carrier,
    srs,
    num_slots: int = 1,
    peak: float = 0.7,
    center_frequency_hz: float | None = None,
) -> dict:
    """Write NAME.sigmf-meta/-data and the .cfile(s); return paths, scale and SRS starts."""
    from .. import nr

    if not (np.isfinite(peak) and 0 <= peak <= MAX_PEAK):
        raise ValueError(f"peak must be in [0, {MAX_PEAK:g}] (0 = no scaling), got {peak}")
    wave, starts = nr.srs_stream(carrier, srs, num_slots)
    wave = wave.reshape(len(wave), -1)
    top = float(np.max(np.abs(np.concatenate([wave.real.ravel(), wave.imag.ravel()]))))
    scale = 1.0 if peak == 0 or top == 0 else peak / top
    wave = (wave * np.float32(scale)).astype(np.complex64)

    if str(out).endswith(("/", "\\")) or Path(out).is_dir():
        raise ValueError(f"--out {str(out)!r} is a directory: give DIR/NAME")
    base = Path(out)
    name = base.name
    for suffix in (".sigmf-meta", ".sigmf-data", ".cfile"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if not name:
        raise ValueError(f"--out {str(out)!r} has no file name")
    base.parent.mkdir(parents=True, exist_ok=True)
    from ..io.safeio import AtomicFiles

    files = AtomicFiles()  # renamed into place only when every file is written
    data_path = base.parent / f"{name}.sigmf-data"
    data_bytes = np.ascontiguousarray(wave).astype("<c8").tobytes()
    if not np.all(np.isfinite(wave.view(np.float32))):
        raise ValueError(f"peak {peak} gives non-finite samples")
    ports = wave.shape[1]
    slot_len = [carrier.advanced(t).samples_per_slot() for t in range(num_slots)]
    bounds = np.concatenate([[0], np.cumsum(slot_len)])
    annotations = []
    for occ, s in enumerate(starts):
        t = int(np.searchsorted(bounds, s))
        c = carrier.advanced(t)
        annotations.append(
            {
                "core:sample_start": int(s),
                "core:sample_count": int(slot_len[t]),
                "core:label": f"SRS occasion {occ}",
                "srsaoa:n_frame": c.n_frame,
                "srsaoa:n_slot": c.n_slot,
            }
        )
    capture = {"core:sample_start": 0}
    if center_frequency_hz is not None:
        capture["core:frequency"] = float(center_frequency_hz)
    meta = {
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": float(carrier.sample_rate),
            "core:version": SIGMF_VERSION,
            "core:num_channels": ports,
            "core:description": f"5G NR SRS, {num_slots} slot(s), {ports} port(s) interleaved",
            "core:recorder": "gr-srsaoa waveform",
            "core:extensions": [{"name": "srsaoa", "version": "1.0.0", "optional": True}],
            "core:sha512": hashlib.sha512(data_bytes).hexdigest(),
            "srsaoa:carrier": carrier.to_dict(),
            "srsaoa:srs": srs.to_dict(),
            "srsaoa:scale": scale,
        },
        "captures": [capture],
        "annotations": annotations,
    }
    meta_path = base.parent / f"{name}.sigmf-meta"
    cfiles = [
        base.parent / (f"{name}.cfile" if ports == 1 else f"{name}_port{p}.cfile")
        for p in range(ports)
    ]
    with files:
        files.path(data_path).write_bytes(data_bytes)
        files.path(meta_path).write_text(json.dumps(meta, indent=2))
        for p, path in enumerate(cfiles):
            files.path(path).write_bytes(np.ascontiguousarray(wave[:, p]).astype("<c8").tobytes())
        files.commit()
    return {
        "meta": meta_path,
        "data": data_path,
        "cfiles": cfiles,
        "scale": scale,
        "srs_starts": starts,
        "num_samples": len(wave),
    }


def _run(args: argparse.Namespace) -> int:
    from ..io.safeio import check_output

    carrier, srs = load_config(args.config)
    name = Path(args.out).name
    for suffix in (".sigmf-meta", ".sigmf-data", ".cfile"):
        name = name.removesuffix(suffix)
    for suffix in (".sigmf-meta", ".sigmf-data", ".cfile", "_port0.cfile", "_port1.cfile"):
        check_output(Path(args.out).parent / (name + suffix), [args.config])
    if not 1 <= args.slots <= MAX_SLOTS:
        raise SrsaoaError(f"--slots must be in [1, {MAX_SLOTS}], got {args.slots}")
    if not any(srs.is_srs_slot(carrier.advanced(t)) for t in range(args.slots)):
        raise SrsaoaError(
            f"no SRS slot in the first {args.slots} slot(s) (srs_period {list(srs.srs_period)}): "
            "give more --slots"
        )
    res = write_waveform(args.out, carrier, srs, args.slots, args.peak, args.frequency)
    files = ", ".join(str(p) for p in [res["meta"], *res["cfiles"]])
    print(
        f"wrote {res['num_samples']} samples at {carrier.sample_rate / 1e6:g} Msps "
        f"({len(res['srs_starts'])} SRS slot(s), scale {res['scale']:.6g}): {files}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "waveform",
        help="write the SRS waveform (SigMF + .cfile) for a transmitter",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--config", required=True, help="YAML/JSON with 'carrier' and 'srs' maps")
    p.add_argument("--out", required=True, help="DIR/NAME of the files to write")
    p.add_argument("--slots", type=int, default=1, help="number of slots (default 1)")
    p.add_argument(
        "--peak",
        type=float,
        default=0.7,
        help="scale so the largest |I| or |Q| is this (default 0.7; 0 = unitary-DFT units)",
    )
    p.add_argument("--frequency", type=float, default=None, help="carrier frequency in Hz (meta)")
    p.set_defaults(func=_run)
