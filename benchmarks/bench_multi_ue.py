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
(median ``crb_deg`` of the UE alone) scaled to the SINR the receiver reported (target for
sequence: RMSE <= 1.5 x that), the mean reported SNR, the estimates attributed to the
wrong UE (strongest path nearer another UE's truth) and the wall time of the flowgraph:
the cost per extra UE is (t_n - t_1) / (n - 1) with t_1 the mean single-UE run.

    .venv/bin/python benchmarks/bench_multi_ue.py [--quick] [--slots 200] [--ues 2 4 8]

No assertion: this is a measurement (docs/multi_ue.md has the numbers). CSV:
benchmarks/out/multi_ue.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from gnuradio.srsaoa import sim
from gnuradio.srsaoa.blocks.sigmf_source import sigmf_source
from gnuradio.srsaoa.flowgraph import rx_flowgraph
from gnuradio.srsaoa.io import write_recording
from gnuradio.srsaoa.nr.resources import parse_resources

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


def scenario(mode: str, n: int, slots: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    angles = np.linspace(-50, 50, n) + rng.uniform(-3, 3, n)
    ues = [
        {
            "id": f"ue{i + 1}",
            "srs": ue_srs(mode, n, i),
            "paths": [{"aoa_deg": float(round(a, 2))}],
            "snr_db": SNR_DB,
            "cfo_hz": float(round(rng.uniform(-300, 300), 1)),
            "timing_offset_samples": int(rng.integers(0, 9)),
        }
        for i, a in enumerate(angles)
    ]
    return {"name": f"{mode}{n}", "snr_db": SNR_DB, "num_slots": slots, "seed": seed, "ues": ues}


def run(path: str, resources: list, out: Path) -> tuple[list[dict], float]:
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
    return [json.loads(x) for x in out.read_text().splitlines()], dt


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
    args = ap.parse_args()
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)
    slots = 20 if args.quick else args.slots
    OUT.mkdir(exist_ok=True)
    rows = []
    print(
        f"{'case':<11}{'UE':<5}{'truth':>7}{'RMSE':>8}{'alone':>8}{'ratio':>7}{'CRB@SINR':>9}"
        f"{'/CRB':>6}{'SNR':>7}{'wrong':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for mode in args.modes:
            for n in args.ues:
                sc = scenario(mode, n, slots, seed=100 + n)
                res = parse_resources([{"id": u["id"], "srs": u["srs"]} for u in sc["ues"]])
                path = str(write_recording(str(tmp / f"{mode}{n}"), sim.simulate(sc)))
                recs, t_all = run(path, res, tmp / f"{mode}{n}.jsonl")
                t_alone = []
                truth = {u["id"]: u["paths"][0]["aoa_deg"] for u in sc["ues"]}
                for u, r in zip(sc["ues"], res):
                    one = dict(sc, ues=[u], name=f"{mode}{n}_{u['id']}")
                    p1 = str(write_recording(str(tmp / one["name"]), sim.simulate(one)))
                    alone, dt = run(p1, [r], tmp / f"{one['name']}.jsonl")
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
                        "wrong_ue": int(wrong),
                        "t_all_s": t_all,
                    }
                    rows.append(row)
                    print(
                        f"{mode + str(n):<11}{u['id']:<5}{truth[u['id']]:>7.1f}{rmse:>8.3f}"
                        f"{rmse1:>8.3f}{rmse / rmse1:>7.2f}{crb:>9.3f}{rmse / crb:>6.2f}"
                        f"{snr:>7.1f}{wrong:>6}"
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
    with open(OUT / "multi_ue.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {OUT / 'multi_ue.csv'}")


if __name__ == "__main__":
    main()
