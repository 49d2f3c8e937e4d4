#!/usr/bin/env python3
"""Several UEs at one receiver (docs/multi_ue.md): 2, 4 and 8 UEs, each with its own SRS
resource, separated by

    comb       different comb offsets (comb 2, 4, 8 for 2, 4, 8 UEs)
    shift      the same comb 2 offset, cyclic shifts spread over n_cs_max = 8
    sequence   the same comb and shift, n_srs_id 0 .. n-1 (not orthogonal)

Every UE: one LOS path (angles spread over -50..50 deg), 10 dB per-element per-RE SNR
alone, a CFO within +-300 Hz and a timing offset of 0..8 samples (seeded). The recording
of all UEs and, for each UE, the recording of that UE alone (the same channel phases and
the same noise: the simulator seeds a UE by its id) go through ``rx_flowgraph`` (ESPRIT on
each CFR) built from the resource list, as ``srsaoa run --srs-resources``.

Per case and UE it prints the RMSE of the strongest path against the UE's truth, the RMSE
of the same UE alone, their ratio (target <= 1.2 for comb / shift), the single-UE CRB
(median ``crb_deg`` of the UE alone) scaled to the SNR the receiver reported for that UE
(target for sequence: RMSE <= 1.5 x that), the mean reported SNR, the SINR before the
separation (the separator's ``sinr_before_db``: the other UEs as noise), the estimates
attributed to the wrong UE (strongest path nearer another UE's truth) and the wall time of
the flowgraph: the cost per extra UE is (t_n - t_1) / (n - 1) with t_1 the mean single-UE
run.

Which CRB: on the same REs the separator fits every UE with its sequence and subtracts the
others (nr.separation); with the others' channels as unknown nuisance parameters and white
noise, the CRB of a UE's angle is the single-UE CRB at rho x SNR (rho: the share of its
signal off the others' subspace), and that is the SNR the receiver reports (with the noise
measured on the fit's residual, so what the models leave of the others counts). The
single-UE CRB is scaled to it with the single-source stochastic CRB, var ~ (1 / (N s))
(1 + 1 / (M s)).

    .venv/bin/python benchmarks/bench_multi_ue.py [--quick] [--slots 200] [--ues 2 4 8]
        [--modes comb shift sequence] [--multipath] [--alone-separated] [--no-plots]

No assertion: this is a measurement (docs/multi_ue.md has the numbers). CSV:
benchmarks/out/multi_ue.csv; per-UE plots benchmarks/out/multi_ue_<mode><n>.png (each UE's
error against the occasion, with all UEs and alone, +-1 CRB) and multi_ue_summary.png
(``--multipath``: multi_ue_multipath*: every UE with two reflections, -6 dB at 100-200 ns
and -10 dB at 300-500 ns, at other angles).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

# one BLAS thread per caller, as `srsaoa run` (cli.py): the separators of several UEs call
# LAPACK from their own block threads, and OpenBLAS's own threads on top of them thrash
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from gnuradio.srsaoa import sim  # noqa: E402
from gnuradio.srsaoa.blocks.sigmf_source import sigmf_source  # noqa: E402
from gnuradio.srsaoa.flowgraph import rx_flowgraph  # noqa: E402
from gnuradio.srsaoa.io import write_recording  # noqa: E402
from gnuradio.srsaoa.nr.resources import parse_resources  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SNR_DB = 10.0
M = 4


def ue_srs(mode: str, n: int, i: int) -> dict:
    base = {"c_srs": 12}
    if mode == "comb":
        return {**base, "k_tc": {2: 2, 4: 4, 8: 8}[n], "k_bar_tc": i}
    if mode == "shift":
        return {**base, "k_tc": 2, "k_bar_tc": 0, "cyclic_shift": i * 8 // n}
    return {**base, "k_tc": 2, "k_bar_tc": 0, "n_srs_id": i}


def ue_paths(aoa: float, multipath: bool, rng: np.random.Generator) -> list[dict]:
    """LOS only, or LOS plus two reflections (-6 dB at 100-200 ns, -10 dB at 300-500 ns, at
    other angles): the separator must then model each UE over a longer delay span."""
    los = {"aoa_deg": float(round(aoa, 2))}
    if not multipath:
        return [los]
    towards = -1.0 if aoa > 0 else 1.0  # the reflections towards broadside: within +-90 deg
    return [
        los,
        {
            "aoa_deg": float(round(aoa + rng.uniform(15, 30) * towards, 2)),
            "delay_s": float(round(rng.uniform(100e-9, 200e-9), 10)),
            "power_db": -6.0,
        },
        {
            "aoa_deg": float(round(aoa + rng.uniform(30, 50) * towards, 2)),
            "delay_s": float(round(rng.uniform(300e-9, 500e-9), 10)),
            "power_db": -10.0,
        },
    ]


def scenario(mode: str, n: int, slots: int, seed: int, multipath: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    angles = np.linspace(-50, 50, n) + rng.uniform(-3, 3, n)
    ues = [
        {
            "id": f"ue{i + 1}",
            "srs": ue_srs(mode, n, i),
            "paths": ue_paths(a, multipath, rng),
            "snr_db": SNR_DB,
            "cfo_hz": float(round(rng.uniform(-300, 300), 1)),
            "timing_offset_samples": int(rng.integers(0, 9)),
        }
        for i, a in enumerate(angles)
    ]
    return {"name": f"{mode}{n}", "snr_db": SNR_DB, "num_slots": slots, "seed": seed, "ues": ues}


def run(path: str, resources: list, out: Path) -> tuple[list[dict], float, dict[str, float]]:
    """(estimates, flowgraph wall time, per resource the separator's SINR before separation)."""
    src = sigmf_source(path, False, False, 0)
    rec = src.recording
    tb = rx_flowgraph(
        src,
        rec.num_channels,
        rec.carrier,
        rec.srs,
        rec.array.spacing_wavelengths,
        rec.sample_rate,
        methods=("esprit",),
        out=str(out),
        resources=resources,
    )
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    before = {rid: sep.sinr_before_db() for rid, sep in tb.separators.items()}
    return [json.loads(x) for x in out.read_text().splitlines()], dt, before


def plot_case(name: str, ues: list[dict], path: Path) -> None:
    """PNG, one panel per UE: its angle error against the occasion with all UEs and alone,
    +-1 CRB at the SINR it reported; the title has the UE's ratios and SNR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(ues)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), dpi=100, squeeze=False)
    for ax, u in zip(axes.ravel(), ues):
        ax.plot(u["occ_alone"], u["err_alone"], ".", ms=3, color="0.6", label="alone")
        ax.plot(u["occ"], u["err"], ".", ms=3, color="C0", label=f"{n} UEs")
        for sgn in (-1, 1):
            ax.axhline(sgn * u["crb"], color="C3", lw=0.8, ls="--")
        ax.set_title(
            f"{u['id']} at {u['aoa']:.1f} deg: x{u['ratio']:.2f} alone, "
            f"{u['over_crb']:.2f} CRB\nSNR {u['snr']:.1f} dB (before sep. {u['before']:.1f} dB)",
            fontsize=8,
        )
        ax.set_xlabel("SRS occasion", fontsize=8)
        ax.set_ylabel("AoA error (deg)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    axes.ravel()[0].legend(fontsize=7, loc="upper right")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(f"{name}: each UE's error (dashed: +-1 CRB at its reported SNR)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_summary(rows: list[dict], path: Path) -> None:
    """PNG: every UE's RMSE / alone and RMSE / CRB at its reported SNR, by case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(f"{r['mode']} {r['ues']}" for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), dpi=100)
    for ax, key, target, label in (
        (axes[0], "ratio", 1.2, "RMSE / same UE alone"),
        (axes[1], "rmse_over_crb_at_sinr", 1.5, "RMSE / CRB at reported SNR"),
    ):
        for i, c in enumerate(cases):
            v = [r[key] for r in rows if f"{r['mode']} {r['ues']}" == c]
            ax.plot(i + np.linspace(-0.25, 0.25, len(v)), v, "o", ms=4)
        ax.axhline(target, color="C3", ls="--", lw=1, label=f"target {target}")
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=30, fontsize=8)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Several UEs at 10 dB: every UE of every case", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def crb_scale(snr_alone_db: float, sinr_db: float) -> float:
    """Stochastic single-source CRB ratio: var ~ (1 / (N s)) (1 + 1 / (M s))."""
    s1, s2 = 10 ** (snr_alone_db / 10), 10 ** (sinr_db / 10)
    return float(np.sqrt((1 / s2) * (1 + 1 / (M * s2)) / ((1 / s1) * (1 + 1 / (M * s1)))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 slots")
    ap.add_argument("--slots", type=int, default=200)
    ap.add_argument("--ues", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--modes", nargs="+", default=["comb", "shift", "sequence"])
    ap.add_argument("--no-plots", action="store_true", help="no PNGs")
    ap.add_argument(
        "--multipath", action="store_true", help="two reflections per UE (-6 dB, -10 dB)"
    )
    ap.add_argument(
        "--alone-separated",
        action="store_true",
        help="the UE alone through the same separator (an absent UE with another sequence "
        "ID on its REs): the reference then differs from the plain receiver only by the UEs",
    )
    args = ap.parse_args()
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)
    slots = 20 if args.quick else args.slots
    tag = ("_multipath" if args.multipath else "") + ("_sep" if args.alone_separated else "")
    OUT.mkdir(exist_ok=True)
    rows = []
    print(
        f"{'case':<11}{'UE':<5}{'truth':>7}{'RMSE':>8}{'alone':>8}{'ratio':>7}{'CRB@SINR':>9}"
        f"{'/CRB':>6}{'SNR':>7}{'before':>7}{'wrong':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for mode in args.modes:
            for n in args.ues:
                sc = scenario(mode, n, slots, 100 + n, args.multipath)
                res = parse_resources([{"id": u["id"], "srs": u["srs"]} for u in sc["ues"]])
                path = str(write_recording(str(tmp / f"{mode}{n}"), sim.simulate(sc)))
                recs, t_all, before = run(path, res, tmp / f"{mode}{n}.jsonl")
                panels = []
                t_alone = []
                truth = {u["id"]: u["paths"][0]["aoa_deg"] for u in sc["ues"]}
                for u, r in zip(sc["ues"], res):
                    one = dict(sc, ues=[u], name=f"{mode}{n}_{u['id']}")
                    p1 = str(write_recording(str(tmp / one["name"]), sim.simulate(one)))
                    alone_res = [r]
                    if args.alone_separated:
                        # the same receiver as with the others: an absent UE on the same REs
                        # (another sequence ID) makes the separator fit and window this one
                        ghost = dict(u["srs"], n_srs_id=1000 + n)
                        alone_res = [r, *parse_resources([{"id": "absent", "srs": ghost}])]
                    alone, dt, _ = run(p1, alone_res, tmp / f"{one['name']}.jsonl")
                    alone = [x for x in alone if x.get("resource", u["id"]) == u["id"]]
                    t_alone.append(dt)
                    mine = [x for x in recs if x["resource"] == u["id"]]
                    a = np.array([x["aoa_deg"][0] for x in mine])
                    a1 = np.array([x["aoa_deg"][0] for x in alone])
                    rmse = float(np.sqrt(np.mean((a - truth[u["id"]]) ** 2)))
                    rmse1 = float(np.sqrt(np.mean((a1 - truth[u["id"]]) ** 2)))
                    crb1 = float(np.median([x["crb_deg"][0] for x in alone]))
                    snr = float(np.nanmean([x["snr_db"] for x in mine if x["snr_db"] is not None]))
                    crb = crb1 * crb_scale(SNR_DB, min(snr, SNR_DB))
                    wrong = sum(min(truth, key=lambda k: abs(truth[k] - v)) != u["id"] for v in a)
                    row = {
                        "mode": mode,
                        "ues": n,
                        "ue": u["id"],
                        "aoa_deg": truth[u["id"]],
                        "estimates": len(mine),
                        "estimates_alone": len(alone),
                        "rmse_deg": rmse,
                        "rmse_alone_deg": rmse1,
                        "ratio": rmse / rmse1,
                        "crb_alone_deg": crb1,
                        "crb_at_sinr_deg": crb,
                        "rmse_over_crb_at_sinr": rmse / crb,
                        "snr_db": snr,
                        "sinr_before_separation_db": before.get(u["id"], float("nan")),
                        "wrong_ue": int(wrong),
                        "t_all_s": t_all,
                    }
                    rows.append(row)
                    print(
                        f"{mode + str(n):<11}{u['id']:<5}{truth[u['id']]:>7.1f}{rmse:>8.3f}"
                        f"{rmse1:>8.3f}{rmse / rmse1:>7.2f}{crb:>9.3f}{rmse / crb:>6.2f}"
                        f"{snr:>7.1f}{row['sinr_before_separation_db']:>7.1f}{wrong:>6}"
                    )
                    panels.append(
                        {
                            "id": u["id"],
                            "aoa": truth[u["id"]],
                            "occ": [x["srs_occasion"] for x in mine],
                            "err": a - truth[u["id"]],
                            "occ_alone": [x["srs_occasion"] for x in alone],
                            "err_alone": a1 - truth[u["id"]],
                            "crb": crb,
                            "ratio": rmse / rmse1,
                            "over_crb": rmse / crb,
                            "snr": snr,
                            "before": row["sinr_before_separation_db"],
                        }
                    )
                t1 = float(np.mean(t_alone))
                per = (t_all - t1) / (n - 1)
                print(
                    f"  {mode}{n}: {len(recs)} estimates; flowgraph {t_all:.2f} s for {n} UEs, "
                    f"{t1:.2f} s for one: +{per:.2f} s ({per / t1:.0%}) per extra UE "
                    f"({slots} slots)"
                )
                for r in rows[-n:]:
                    r["t_one_s"] = t1
                    r["t_per_extra_ue_s"] = per
                if not args.no_plots:
                    plot_case(f"{mode} {n}{tag}", panels, OUT / f"multi_ue{tag}_{mode}{n}.png")
    with open(OUT / f"multi_ue{tag}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {OUT / f'multi_ue{tag}.csv'}")
    if not args.no_plots:
        plot_summary(rows, OUT / f"multi_ue{tag}_summary.png")
        print(f"wrote per-UE plots {OUT}/multi_ue{tag}_<case>.png and _summary.png")


if __name__ == "__main__":
    main()
