"""``srsaoa simulate``: a scenario (YAML) becomes a SigMF collection with ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import add_progress_args, show_progress


def _run_positioning(args: argparse.Namespace, doc: dict) -> int:
    """A scenario with ``anchors``: estimates per anchor, ranges, truth (docs/positioning.md)."""
    from ..sim import Scenario
    from ..sim.positioning import (
        PositioningScenario,
        anchor_recordings,
        simulate_positioning,
        write_positioning,
    )

    if args.seed is not None:
        doc["seed"] = args.seed
    if args.snr_db is not None:
        doc["snr_db"] = args.snr_db
    sc = PositioningScenario.from_dict(doc)
    files = write_positioning(simulate_positioning(sc), args.out)
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    if sc.recordings:
        base_path = Path(args.scenario).parent / str(sc.recordings.get("scenario", ""))
        base = Scenario.from_yaml(base_path) if sc.recordings.get("scenario") else Scenario()
        num_slots = int(sc.recordings.get("num_slots", 40))
        for name, path in anchor_recordings(sc, base, args.out, num_slots).items():
            print(f"wrote {path} (anchor {name}, {num_slots} slots)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..io import write_recording
    from ..io.mapping import read_mapping
    from ..sim import Scenario, simulate, sweep, sweep_label

    doc = read_mapping(args.scenario)
    if "anchors" in doc:
        return _run_positioning(args, doc)
    sc = Scenario.from_yaml(args.scenario)
    changes: dict = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.snr_db is not None:
        changes["snr_db"] = args.snr_db
    if args.num_slots is not None:
        changes["num_slots"] = args.num_slots
    if args.datatype is not None:
        changes["datatype"] = args.datatype
    if args.aoa_deg is not None:
        paths = [dict(p) for p in sc.paths]
        paths[0]["aoa_deg"] = args.aoa_deg
        changes["paths"] = paths
    if args.channel is not None:  # a TR 38.901 model name or a JSON object (docs/channels.md)
        text = args.channel.strip()
        try:
            spec = json.loads(text) if text.startswith("{") else {"model": text}
        except json.JSONDecodeError as exc:
            raise ValueError(f"--channel is not valid JSON: {exc.msg}") from None
        changes["channel"] = spec
        changes["rician"] = None
        changes["paths"] = [dict(changes.get("paths", sc.paths)[0])]
    if changes:
        sc = sc.copy(**changes)
    if str(args.out).endswith(("/", "\\")) or Path(args.out).is_dir():
        raise ValueError(f"--out {args.out!r} is a directory: give DIR/NAME")
    out = Path(args.out)
    if out.name.endswith(".sigmf-collection"):
        out = out.with_name(out.name[: -len(".sigmf-collection")])
    if not out.name:
        raise ValueError(f"--out {args.out!r} needs a file name: DIR/NAME")
    from ..io.safeio import atomic_write_text, check_output

    inputs = [args.scenario]
    if isinstance(sc.impairments, str):
        inputs.append(sc.impairments)
    for suffix in (".sigmf-collection", ".sigmf-meta", "_sweep.json", "_ch0.sigmf-meta"):
        check_output(out.parent / (out.name + suffix), inputs)
    if args.save_profile:
        check_output(args.save_profile, inputs, "--save-profile")
    out.parent.mkdir(parents=True, exist_ok=True)
    progress = show_progress(args)
    if args.save_profile:
        sc.profile().save(args.save_profile)

    if sc.sweep is not None:
        angles = sc.sweep_angles()
        index = {"scenario": sc.to_dict(), "recordings": []}
        it = sweep(sc)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=angles.size, desc=f"sweep {sc.name}", unit="angle")
        for aoa, rec in it:
            path = write_recording(
                out.parent / f"{out.name}_{sweep_label(aoa)}",
                rec,
                datatype=sc.datatype,
                interleaved=args.interleaved,
            )
            index["recordings"].append({"aoa_deg": aoa, "path": path.name})
        idx = out.parent / f"{out.name}_sweep.json"
        atomic_write_text(idx, json.dumps(index, indent=2))
        print(f"wrote {angles.size} recordings ({angles[0]:g} .. {angles[-1]:g} deg) and {idx}")
        return 0

    rec = simulate(sc, progress=progress)
    path = write_recording(out, rec, datatype=sc.datatype, interleaved=args.interleaved)
    t = rec.truth
    print(
        f"wrote {path}: {rec.num_channels} channels x {rec.num_samples} samples "
        f"({rec.datatype}, {rec.sample_rate / 1e6:g} Msps), {t['num_srs_occasions']} SRS "
        f"occasions from sample {t['first_slot_sample']}, LOS {t['los_aoa_deg']:g} deg, "
        + (f"{sc.channel['model']} channel, " if sc.channel else "")
        + f"SNR {t['snr_db']} dB"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate an M-channel SRS recording (SigMF collection with ground truth)",
        description="Simulate the scenario (docs/simulator.md) and write DIR/NAME.sigmf-collection "
        "plus one NAME_ch<m>.sigmf-meta/-data per array element. A scenario with 'sweep' "
        "writes one recording per angle and DIR/NAME_sweep.json.",
    )
    p.add_argument("--scenario", required=True, help="scenario YAML file")
    p.add_argument("--out", required=True, help="output DIR/NAME (no suffix)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--snr-db", type=float, help="override the per-RE SNR (dB)")
    p.add_argument("--aoa-deg", type=float, help="override the LOS AoA (deg)")
    p.add_argument("--num-slots", type=int, help="override the number of slots")
    p.add_argument(
        "--channel",
        help="TR 38.901 channel: a model name (UMi, UMa, RMa, InH, InF, CDL-A..E, TDL-A..E) "
        'or a JSON object such as \'{"model": "UMi", "los": true}\' (docs/channels.md); '
        "replaces the scenario's multipath",
    )
    p.add_argument("--datatype", choices=["cf32_le", "ci16_le"], help="override the datatype")
    p.add_argument(
        "--interleaved",
        action="store_true",
        help="write one multi-channel NAME.sigmf-meta instead of a collection",
    )
    p.add_argument("--save-profile", help="also save the impairment profile as JSON here")
    add_progress_args(p)
    p.set_defaults(func=_run)
