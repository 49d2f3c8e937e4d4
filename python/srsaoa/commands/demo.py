"""``srsaoa demo``: what the module does, in about a minute, on a simulated N310 capture.

1. simulates the built-in default scenario (sim/scenarios/demo_walk.yaml: 4 channels at
   30.72 Msps, a UE walking from -50 to +50 deg, a reflection, the default impaired gNB
   array) and writes it as a SigMF collection;
2. runs the receiver of examples/rx_file.grc on it (srs_sync -> cfr_extractor -> ESPRIT,
   2D-ESPRIT and MoD-DNN branches);
3. prints the comparison table against the truth and writes the JSON lines;
4. draws AoA against time for every method with the truth, and the spatial spectra of
   DBF, MUSIC and MoD-DNN at a few instants.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

from ..errors import SrsaoaError
from . import add_progress_args, show_progress

DEFAULT_METHODS = "esprit,2d-esprit,moddnn"


def default_scenario_path() -> Path:
    return Path(str(resources.files("gnuradio.srsaoa.sim") / "scenarios" / "demo_walk.yaml"))


def _step(i: int, n: int, text: str) -> None:
    print(f"[{i}/{n}] {text}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    from gnuradio import blocks

    from .. import constants as K
    from ..flowgraph import run_with_progress, rx_flowgraph
    from ..io import write_recording
    from ..report import TruthTrack, format_table, read_jsonl, summarize
    from ..sim import Scenario, simulate
    from .run import _methods

    methods = _methods(args.method)
    scenario = Scenario.from_yaml(args.scenario or default_scenario_path())
    if args.num_slots:
        scenario = scenario.copy(num_slots=args.num_slots)
    if "moddnn" in methods:
        import torch

        from ..moddnn.modelfile import load_model

        torch.set_num_threads(1)  # the application's choice, as in `srsaoa run`
        net, _ = load_model(args.model)  # a missing or corrupt model fails now
        ula = scenario.ula()
        cfg = net.cfg
        d = ula.spacing_wavelengths
        if cfg.num_elements != ula.num_elements or abs(cfg.spacing_wavelengths - d) > 0.01 * d:
            why = (
                f"model {args.model} was trained for {cfg.num_elements} elements at "
                f"{cfg.spacing_wavelengths:g} wavelengths, the scenario has "
                f"{ula.num_elements} at {d:.3g} (train one: srsaoa train --scenario S.yaml)"
            )
            if args.method != DEFAULT_METHODS:
                raise SrsaoaError(why)
            methods = tuple(m for m in methods if m != "moddnn")
            print(f"srsaoa demo: MoD-DNN skipped: {why}", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()

    _step(1, 4, f"simulating {scenario.name}: {scenario.description}")
    rec = simulate(scenario, progress=show_progress(args))
    base = out / "recording"
    write_recording(base, rec, datatype=rec.datatype or "ci16_le")
    print(
        f"      {rec.num_channels} channels x {rec.num_samples} samples at "
        f"{rec.sample_rate / 1e6:g} Msps -> {base}.sigmf-collection",
        file=sys.stderr,
    )

    _step(2, 4, f"running the receiver ({', '.join(methods)})")
    from ..blocks.sigmf_source import sigmf_source

    src = sigmf_source(f"{base}.sigmf-collection", False, True, rec.num_channels)
    results = out / "results.jsonl"
    tb = rx_flowgraph(
        src,
        rec.num_channels,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=methods,
        out=str(results),
        model=args.model,
    )
    cfrs = blocks.message_debug()  # a bounded recording: keep its CFRs for the spectra
    tb.msg_connect((tb.cfr, K.PORT_CFR), (cfrs, "store"))
    run_with_progress(tb, rec.num_samples / rec.sample_rate, show_progress(args))
    if tb.sync.num_detections() == 0:
        raise SrsaoaError("the receiver found no SRS in the simulated capture")

    _step(3, 4, "scoring against the truth")
    records = read_jsonl(results)
    truth = TruthTrack(rec.truth, rec.annotations)
    stats = summarize(records, truth, methods)
    print(
        f"\n{tb.sync.num_detections()} SRS occasions found, {len(records)} estimates; "
        f"errors of the strongest path against the LOS truth:\n",
        file=sys.stdout,
    )
    print(format_table(stats))
    (out / "summary.txt").write_text(format_table(stats) + "\n")

    _step(4, 4, "plotting")
    from ..report import plot_aoa_vs_time

    plot_aoa_vs_time(
        records,
        truth,
        rec.sample_rate,
        out / "aoa_vs_time.png",
        title=f"{scenario.name}: AoA against time (impaired array, {scenario.snr_db:g} dB)",
    )
    spectra = _plot_spectra(cfrs, rec, truth, out, args.model if "moddnn" in methods else None)
    print(
        f"\nwrote {results}, {out / 'summary.txt'}, {out / 'aoa_vs_time.png'} and "
        f"{len(spectra)} spectrum plots in {out} ({time.monotonic() - t_start:.0f} s)",
        file=sys.stderr,
    )
    return 0


def _plot_spectra(cfrs, rec, truth, out: Path, model: str | None) -> list[Path]:
    """DBF, MUSIC (and MoD-DNN) spectra of a few CFRs spread over the capture."""
    import numpy as np

    from ..blocks.pdu import cfr_from_pdu
    from ..estimation import doa
    from ..estimation.covariance import sample_covariance
    from ..estimation.order import estimate_order
    from ..report import plot_spectra

    n = cfrs.num_messages()
    if n == 0:
        return []
    grid = np.arange(-89.75, 89.8, 0.25)
    net = None
    if model is not None:
        from ..moddnn.modelfile import load_model

        net, _ = load_model(model)
    paths = []
    for idx in sorted({int(round(x)) for x in np.linspace(0, n - 1, 4)}):
        meta, h = cfr_from_pdu(cfrs.get_message(idx))
        r = sample_covariance(h, fb=True)
        order = max(1, estimate_order(r, h.shape[1] * h.shape[2], "aic"))
        spectra = {
            "DBF": doa.dbf_spectrum(r, rec.array.spacing_wavelengths, grid),
            "MUSIC": doa.music_spectrum(
                r, min(order, h.shape[0] - 1), rec.array.spacing_wavelengths, grid
            ),
        }
        if net is not None:
            import torch

            net.eval()
            with torch.no_grad():
                p = net.spectrum(h[None]).cpu().numpy()[0]
            g = net.grid.cpu().numpy()
            spectra["MoD-DNN"] = np.interp(grid, g, np.maximum(p, 0.0), left=0.0, right=0.0)
        t = int(meta["sample_index"]) / rec.sample_rate
        path = out / f"spectrum_{idx:03d}.png"
        plot_spectra(
            grid,
            spectra,
            truth.aoa_at(int(meta["sample_index"])),
            path,
            f"occasion {int(meta['srs_occasion'])}, t = {t * 1e3:.1f} ms",
        )
        paths.append(path)
    return paths


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="simulate an N310 capture, estimate, compare, plot (the README's main job)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", "-o", default="demo_out", help="output folder (demo_out)")
    p.add_argument("--scenario", help="scenario YAML (default: the built-in demo_walk)")
    p.add_argument("--method", "-m", default=DEFAULT_METHODS, help=f"methods ({DEFAULT_METHODS})")
    p.add_argument("--model", default="default", help="MoD-DNN model (path or 'default')")
    p.add_argument("--num-slots", type=int, default=0, help="override the scenario's slot count")
    add_progress_args(p)
    p.set_defaults(func=_run)
