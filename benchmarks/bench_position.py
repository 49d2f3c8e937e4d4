"""Positioning accuracy against the position CRB (targets).

    .venv/bin/python benchmarks/bench_position.py [--trials 400] [--seed 1]

The AoA of every anchor and occasion comes from root-MUSIC on simulated snapshots of a
4-element half-wavelength ULA at 10 dB per element, 1152 snapshots (the module's default SRS:
4 symbols x 288 comb-2 subcarriers); its reported sigma is the stochastic CRB of the true
angle. Anchors at 3 m, UE at 1.5 m. The position CRB of each trial (``position.position_crb``
with the AoA CRBs and the UWB sigma) defines the 80th percentile an efficient estimator
reaches (``position.error_quantile`` over the trials' CRB covariances); the ratio printed is
the measured 80th percentile over it. The walk: a 1.4 m/s stadium loop (5 m radius turns)
with one estimate per anchor every 20 ms (SRS period 40 slots at 30 kHz), snapshot WLS
against the EKF (q = 0.5 m^2/s^3, the `srsaoa locate --track` default). Targets: single anchor AoA + UWB (sigma 10 cm, UE 5-50 m)
<= 1.2; three anchors angles only <= 1.2; the EKF lowers the 80th percentile of a walking
trajectory by >= 30 %. Writes benchmarks/out/bench_position.csv.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
from gnuradio.srsaoa.position import (
    AOA,
    Anchor,
    Locator,
    Measurement,
    aoa_deg,
    assemble,
    error_quantile,
    position_crb,
    range_m,
    single_anchor,
    solve,
)
from gnuradio.srsaoa.sim.positioning import PositioningScenario, _aoa_estimate

OUT = Path(__file__).resolve().parent / "out"
H_UE = 1.5
SIGMA_R = 0.10
THREE = [
    Anchor("gnb1", [0.0, 0.0, 3.0], 45.0),
    Anchor("gnb2", [30.0, 0.0, 3.0], 135.0),
    Anchor("gnb3", [15.0, 30.0, 3.0], -90.0),
]


def _sc(anchors, **kw) -> PositioningScenario:
    d = {"anchors": [a.to_dict() for a in anchors], "aoa_model": "root-music", "snr_db": 10.0}
    d.update(kw)
    return PositioningScenario.from_dict(d)


def single_anchor_trials(n: int, rng: np.random.Generator) -> dict:
    a = Anchor("gnb", [0.0, 0.0, 3.0], 0.0)
    sc = _sc([a])
    errs, covs = [], []
    for _ in range(n):
        r = rng.uniform(5.0, 50.0)
        az = math.radians(rng.uniform(-60.0, 60.0))
        p = np.array([r * math.cos(az), r * math.sin(az)])
        theta = aoa_deg(a, p, H_UE)
        est, crb = _aoa_estimate(theta, sc, rng)
        rr = range_m(a, p, H_UE) + SIGMA_R * rng.standard_normal()
        fix = single_anchor(a, est, crb, rr, SIGMA_R, ue_height_m=H_UE)
        errs.append(float(np.linalg.norm(fix.xy - p)))
        covs.append(position_crb([a], p, crb, SIGMA_R, ue_height_m=H_UE))
    return _stats("one anchor, AoA + UWB", errs, covs)


def three_anchor_trials(n: int, rng: np.random.Generator) -> dict:
    sc = _sc(THREE)
    errs, covs = [], []
    for _ in range(n):
        p = np.array([rng.uniform(6.0, 24.0), rng.uniform(4.0, 20.0)])
        ms, sig = [], {}
        for a in THREE:
            est, crb = _aoa_estimate(aoa_deg(a, p, H_UE), sc, rng)
            ms.append(Measurement(AOA, a, est, crb))
            sig[a.name] = crb
        fix = solve(ms, H_UE)
        errs.append(float(np.linalg.norm(fix.xy - p)))
        covs.append(position_crb(THREE, p, sig, None, ue_height_m=H_UE))
    return _stats("three anchors, AoA only", errs, covs)


def _stats(name: str, errs, covs) -> dict:
    p80 = float(np.percentile(errs, 80))
    bound = error_quantile(0.8, covs)
    return {"case": name, "p80_m": p80, "crb_p80_m": bound, "ratio": p80 / bound}


def _stadium(x0=11.0, x1=19.0, y0=7.0, radius=5.0, n_turn=24) -> list[list[float]]:
    """A closed walk: two 8 m straights joined by half circles of 5 m radius (a person at
    1.4 m/s turns with 0.4 m/s^2 centripetal acceleration), as dense waypoints."""
    yc = y0 + radius
    pts = [[x0, y0], [x1, y0]]
    for a in np.linspace(-math.pi / 2, math.pi / 2, n_turn)[1:]:
        pts.append([x1 + radius * math.cos(a), yc + radius * math.sin(a)])
    pts.append([x0, yc + radius])
    for a in np.linspace(math.pi / 2, 3 * math.pi / 2, n_turn)[1:]:
        pts.append([x0 + radius * math.cos(a), yc + radius * math.sin(a)])
    return pts


PERIOD_S = 0.02  # one estimate per 20 ms SRS period (srs_period 40 slots at 30 kHz)
WALK = {"waypoints_m": _stadium() * 2, "speed_m_s": 1.4, "height_m": H_UE}


def walk_case(name: str, anchors, ranges, seed: int, q: float) -> dict:
    from gnuradio.srsaoa.position.epochs import estimate_measurement, range_measurement

    sc = _sc(anchors, ue=WALK, period_s=PERIOD_S, seed=seed, ranges=ranges)
    from gnuradio.srsaoa.sim.positioning import simulate_positioning

    sim = simulate_positioning(sc)
    amap = {a.name: a for a in anchors}
    est = [estimate_measurement(r, amap[n], n) for n, recs in sim.estimates.items() for r in recs]
    rng_ms = [range_measurement(r, amap, "ranges") for r in sim.ranges]
    epochs = assemble([m for m in est if m is not None], rng_ms, PERIOD_S)
    truth = sim.truth

    def errors(track: bool) -> np.ndarray:
        loc = Locator(H_UE, track=track, q_m2_s3=q)
        out = []
        for e in epochs:
            f = loc.process(e)
            if f is None:
                continue
            x = np.interp(f.t_s, truth[:, 0], truth[:, 1])
            y = np.interp(f.t_s, truth[:, 0], truth[:, 2])
            out.append(math.hypot(f.xy[0] - x, f.xy[1] - y))
        return np.array(out)

    snap, ekf = errors(False), errors(True)
    s80, e80 = float(np.percentile(snap, 80)), float(np.percentile(ekf, 80))
    return {
        "case": name,
        "p80_m": e80,
        "crb_p80_m": s80,
        "ratio": e80 / s80,
        "improvement": 1.0 - e80 / s80,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--q", type=float, default=0.5, help="EKF acceleration noise (m^2/s^3)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = [single_anchor_trials(args.trials, rng), three_anchor_trials(args.trials, rng)]
    print(f"{'case':28s} {'p80 (m)':>9s} {'CRB p80 (m)':>12s} {'ratio':>6s}  target")
    for r in rows:
        ok = "ok" if r["ratio"] <= 1.2 else "MISSED"
        print(
            f"{r['case']:28s} {r['p80_m']:9.4f} {r['crb_p80_m']:12.4f} {r['ratio']:6.3f}"
            f"  <= 1.2 {ok}"
        )
    walks = [
        walk_case(
            "walk, one anchor AoA + UWB",
            [THREE[0]],
            {"anchors": ["gnb1"], "sigma_m": SIGMA_R},
            args.seed,
            args.q,
        ),
        walk_case("walk, three anchors AoA only", THREE, None, args.seed, args.q),
    ]
    print(f"\n{'tracker (walk 1.4 m/s, 50 Hz)':28s} {'snap p80':>9s} {'EKF p80':>9s} {'gain':>6s}")
    for w in walks:
        ok = "ok" if w["improvement"] >= 0.30 else "MISSED"
        print(
            f"{w['case']:28s} {w['crb_p80_m']:9.4f} {w['p80_m']:9.4f} "
            f"{100 * w['improvement']:5.1f}%  >= 30% {ok}"
        )
    OUT.mkdir(exist_ok=True)
    with open(OUT / "bench_position.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "p80_m", "reference_p80_m", "ratio"])
        for r in rows + walks:
            w.writerow([r["case"], r["p80_m"], r["crb_p80_m"], r["ratio"]])


if __name__ == "__main__":
    main()
