"""Spanos et al. Fig. 3: AoA RMSE under antenna calibration errors (LOS only).

    .venv/bin/python benchmarks/bench_spanos_fig3.py [--trials 1000] [--quick]

Same simulated SRS CFR as bench_spanos_fig1 (3-element half-wavelength ULA, LOS at 0 deg),
but the array response is the impaired manifold b = C (Gamma a) of Spanos eqs 8-12, drawn
anew in every trial with ``array.impairments.ImpairmentProfile.random``:
- "Gamma": gain ~ U(-0.7, 0.7) dB and phase ~ U(-15, 15) deg per element (eqs 13-14);
- "C": Toeplitz mutual coupling, Friis amplitude lambda / (4 pi p d) for elements p apart
  (eq 15, omnidirectional: G = 1) and N(0, (10 deg)^2) phase (the paper's replacement of
  eqs 16-17; its variance was lost from the text, 10 deg is ours);
- "Gamma+C": both; "ideal": neither.
The estimators use the nominal steering vector. MUSIC and ESPRIT (TLS) use the spatial
covariance of all S*K snapshots, 2D-ESPRIT the CFR. Writes benchmarks/out/spanos_fig3.csv
and .png and prints the table.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from bench_spanos_fig1 import FREQS_HZ, NUM_ELEMENTS, NUM_SYMBOLS, simulate_cfr, spatial_covariance
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.estimation import crb, doa

OUT = Path(__file__).resolve().parent / "out"
METHODS = ("music", "esprit", "2d-esprit")
CASES = {
    "ideal": dict(gain_db_max=0.0, phase_deg_max=0.0, coupling=False),
    "Gamma": dict(gain_db_max=0.7, phase_deg_max=15.0, coupling=False),
    "C": dict(gain_db_max=0.0, phase_deg_max=0.0, coupling=True),
    "Gamma+C": dict(gain_db_max=0.7, phase_deg_max=15.0, coupling=True),
}
GRID = np.arange(-89.0, 89.01, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="100 trials, coarse SNR grid")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--theta", type=float, default=0.0, help="LOS angle (deg)")
    args = ap.parse_args()
    trials = 100 if args.quick else args.trials
    snrs = np.arange(-10.0, 31.0, 10.0 if args.quick else 5.0)
    rng = np.random.default_rng(args.seed)
    ula = ULA(num_elements=NUM_ELEMENTS)
    theta = args.theta
    rows, table = [], {}
    for case, kw in CASES.items():
        for snr in snrs:
            errs = {m: [] for m in METHODS}
            for _ in range(trials):
                prof = ImpairmentProfile.random(
                    NUM_ELEMENTS,
                    seed=int(rng.integers(2**31)),
                    psi=False,
                    coupling_phase_std_deg=10.0,
                    **kw,
                )
                h = simulate_cfr(
                    rng,
                    [(theta, 0.0, 0.0)],
                    snr,
                    manifold=lambda th, p=prof: p.manifold(ula, th),
                )
                r, _ = spatial_covariance(h)
                errs["music"].append(doa.music(r, 1, 0.5, GRID)[0] - theta)
                errs["esprit"].append(doa.esprit(r, 1, 0.5)[0] - theta)
                errs["2d-esprit"].append(doa.esprit_2d(h, FREQS_HZ, 1, 0.5)[0][0] - theta)
            for m in METHODS:
                e = np.asarray(errs[m])
                rmse = float(np.sqrt(np.mean(e**2)))
                table[(case, snr, m)] = rmse
                rows.append((case, snr, m, rmse, float(np.mean(e)), float(np.std(e))))
            table[(case, snr, "crb")] = crb.crb_deterministic(
                theta, NUM_SYMBOLS * FREQS_HZ.size, snr, NUM_ELEMENTS
            )[0]
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "spanos_fig3.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "snr_db", "method", "rmse_deg", "mean_error_deg", "std_error_deg"])
        w.writerows(rows)
    cols = (*METHODS, "crb")
    for case in CASES:
        print(f"\n{case}: RMSE (deg), LOS at {theta:g} deg, {trials} trials")
        print("SNR dB " + " ".join(f"{c:>10s}" for c in cols))
        for snr in snrs:
            print(f"{snr:6.0f} " + " ".join(f"{table[(case, snr, c)]:10.4f}" for c in cols))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        styles = {"music": "-o", "esprit": "--s", "2d-esprit": ":^"}
        for i, case in enumerate(CASES):
            for m in METHODS:
                ax.semilogy(
                    snrs,
                    [table[(case, s, m)] for s in snrs],
                    styles[m],
                    color=f"C{i}",
                    ms=3,
                    label=f"{case} {m}",
                )
        ax.semilogy(snrs, [table[("ideal", s, "crb")] for s in snrs], "k-", lw=0.8, label="CRB")
        ax.set_xlabel("SNR per element and RE (dB)")
        ax.set_ylabel("RMSE (deg)")
        ax.set_title("Calibration errors: gain/phase (Gamma), mutual coupling (C)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        fig.savefig(OUT / "spanos_fig3.png", dpi=120)
    except ImportError:
        print("matplotlib missing: no PNG")


if __name__ == "__main__":
    main()
