"""Spanos et al. Fig. 2: RMSE vs SNR of MUSIC, ESPRIT and 2D-ESPRIT against the CRB.

    .venv/bin/python benchmarks/bench_spanos_fig2.py [--trials 1000] [--quick]

Same simulated SRS CFR as bench_spanos_fig1 (3-element half-wavelength ULA, 4 SRS symbols,
768 comb-2 subcarriers at 60 kHz spacing, static channel, per-element per-RE SNR):
- scenario "los": one LOS path at 0 deg;
- scenario "los+mpc": LOS at 0 deg plus an MPC 10 deg away, -3 dB, 100 ns later.
The order is known (Spanos: "assuming a perfect channel order estimation"). MUSIC and ESPRIT
(TLS) use the spatial covariance of all S*K = 3072 CFR snapshots; 2D-ESPRIT uses the CFR.
RMSE is over the trials for the LOS angle (estimates are matched to the true paths by the
assignment with the smallest error). Bounds: the deterministic (conditional) CRB of the spatial
model with N = S*K and the trial's path-signal covariance (for one path it equals the CRB of
the angle-delay CFR model, ``crb_angle_delay``; for two paths it is averaged over the random
path phases as a variance) and,
for two paths, the angle-delay CRB, the bound for estimators that exploit the delay structure.

A second part ("resolution") fixes SNR = 20 dB and moves the MPC from 1 to 10 deg with delay
spreads of 0, 30 and 100 ns: a trial resolves the paths when both angle errors are below
half the separation. Zero delay difference means fully coherent paths: the spatial covariance
has rank 1 and MUSIC / ESPRIT on it cannot separate them. Forward-backward averaging restores
the rank for two coherent paths (phase permitting); 2D-ESPRIT applies it to its stacked
covariance, so "esprit-fb" (ESPRIT on the forward-backward averaged R) is listed as well to
show how much of the gain is the averaging and how much the joint angle-delay structure.

Writes benchmarks/out/spanos_fig2.csv, spanos_fig2_resolution.csv and spanos_fig2.png.
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np
from bench_spanos_fig1 import (
    FREQS_HZ,
    MPC_DELAY_S,
    MPC_POWER_DB,
    NUM_ELEMENTS,
    NUM_SYMBOLS,
    simulate_cfr,
    spatial_covariance,
)
from gnuradio.srsaoa.estimation import covariance, crb, doa

OUT = Path(__file__).resolve().parent / "out"
METHODS = ("music", "esprit", "2d-esprit")
RES_METHODS = ("music", "esprit", "esprit-fb", "2d-esprit")
GRID = np.arange(-89.0, 89.01, 0.5)


def run_methods(h: np.ndarray, order: int, fb_too: bool = False) -> dict[str, np.ndarray]:
    r, _ = spatial_covariance(h)
    out = {
        "music": doa.music(r, order, 0.5, GRID),
        "esprit": doa.esprit(r, order, 0.5, tls=True),
        "2d-esprit": doa.esprit_2d(h, FREQS_HZ, order, 0.5)[0],
    }
    if fb_too:  # forward-backward averaged R, as 2D-ESPRIT does on its stacked covariance
        out["esprit-fb"] = doa.esprit(covariance.forward_backward(r), order, 0.5, tls=True)
    return out


def path_signal_covariance(paths, gains) -> np.ndarray:
    """P = (1/N) sum_k s_k s_k^H of the path signals s_p(k) = g_p exp(-j 2 pi f_k tau_p)."""
    s = np.array([g * np.exp(-2j * np.pi * FREQS_HZ * p[1]) for g, p in zip(gains, paths)])
    return s @ s.conj().T / FREQS_HZ.size


def match(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Errors est - truth under the assignment with the smallest squared error."""
    if est.size < truth.size:
        est = np.concatenate([est, np.full(truth.size - est.size, np.nan)])
    best = None
    for perm in itertools.permutations(range(est.size), truth.size):
        e = est[list(perm)] - truth
        cost = np.nansum(e**2) + 1e6 * np.sum(np.isnan(e))
        if best is None or cost < best[0]:
            best = (cost, e)
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="100 trials, coarse grids")
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    trials = 100 if args.quick else args.trials
    rng = np.random.default_rng(args.seed)
    snrs = np.arange(-10.0, 31.0, 10.0 if args.quick else 5.0)
    n = NUM_SYMBOLS * FREQS_HZ.size
    scenarios = {
        "los": [(0.0, 0.0, 0.0)],
        "los+mpc": [(0.0, 0.0, 0.0), (10.0, MPC_DELAY_S, MPC_POWER_DB)],
    }
    rows, table = [], {}
    for name, paths in scenarios.items():
        truth = np.array([p[0] for p in paths])
        for snr in snrs:
            errs = {m: [] for m in METHODS}
            crb_var = []
            for _ in range(trials):
                h = simulate_cfr(rng, paths, snr)
                for m, est in run_methods(h, len(paths)).items():
                    errs[m].append(match(np.asarray(est), truth))
                # conditional CRB for this trial's path signals (random phases: their
                # correlation changes from trial to trial); averaged as a variance below
                ph = np.exp(2j * np.pi * rng.uniform(size=len(paths)))
                g = np.array([10 ** (p[2] / 20) for p in paths]) * ph
                pmat = path_signal_covariance(paths, g) * 10 ** (snr / 10)
                c = crb.crb_deterministic(
                    truth, n, num_elements=NUM_ELEMENTS, source_covariance=pmat, full=True
                )
                crb_var.append(np.real(c[0, 0]))
            crb_det = float(np.rad2deg(np.sqrt(np.mean(crb_var))))
            gains = [10 ** (p[2] / 20) for p in paths]
            crb_ad = crb.crb_angle_delay(
                truth,
                [p[1] for p in paths],
                gains,
                FREQS_HZ,
                NUM_ELEMENTS,
                0.5,
                10 ** (-snr / 10),
                NUM_SYMBOLS,
            )[0][0]
            for m in METHODS:
                e = np.array(errs[m])[:, 0]
                rmse = float(np.sqrt(np.nanmean(e**2)))
                table[(name, snr, m)] = rmse
                rows.append((name, snr, m, rmse, crb_det, crb_ad))
            table[(name, snr, "crb")] = crb_det
            table[(name, snr, "crb-ad")] = crb_ad
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "spanos_fig2.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "snr_db", "method", "rmse_deg", "crb_det_deg", "crb_ad_deg"])
        w.writerows(rows)
    for name in scenarios:
        print(f"\n{name}: RMSE of the LOS angle (deg), {trials} trials")
        cols = (*METHODS, "crb", "crb-ad")
        print("SNR dB " + " ".join(f"{c:>10s}" for c in cols))
        for snr in snrs:
            print(f"{snr:6.0f} " + " ".join(f"{table[(name, snr, c)]:10.4f}" for c in cols))

    # ---- resolution of two close paths
    seps = [1.0, 2.0, 4.0, 6.0, 8.0, 10.0] if not args.quick else [2.0, 6.0, 10.0]
    spreads = [0.0, 30e-9, 100e-9]
    res_rows, res = [], {}
    snr = 20.0
    for tau in spreads:
        for sep in seps:
            paths = [(0.0, 0.0, 0.0), (sep, tau, MPC_POWER_DB)]
            truth = np.array([0.0, sep])
            ok = {m: 0 for m in RES_METHODS}
            for _ in range(trials):
                h = simulate_cfr(rng, paths, snr)
                try:
                    out = run_methods(h, 2, fb_too=True)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                for m, est in out.items():
                    e = match(np.asarray(est), truth)
                    ok[m] += bool(np.all(np.abs(e) < sep / 2))
            for m in RES_METHODS:
                res[(tau, sep, m)] = ok[m] / trials
                res_rows.append((tau, sep, m, ok[m] / trials))
    with open(OUT / "spanos_fig2_resolution.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["delay_difference_s", "separation_deg", "method", "resolved_rate"])
        w.writerows(res_rows)
    print(f"\nresolution at {snr:.0f} dB: fraction of trials with both paths within sep/2")
    print("dtau ns  method    " + " ".join(f"{s:6.0f}" for s in seps))
    for tau in spreads:
        for m in RES_METHODS:
            vals = " ".join(f"{res[(tau, s, m)]:6.2f}" for s in seps)
            print(f"{tau * 1e9:7.0f}  {m:9s} {vals}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
        for ax, name in zip(axes[:2], scenarios):
            for m in METHODS:
                ax.semilogy(snrs, [table[(name, s, m)] for s in snrs], "-o", ms=3, label=m)
            ax.semilogy(snrs, [table[(name, s, "crb")] for s in snrs], "k--", label="CRB spatial")
            if name != "los":
                ax.semilogy(
                    snrs, [table[(name, s, "crb-ad")] for s in snrs], "k:", label="CRB angle-delay"
                )
            ax.set_title(f"{name}: LOS angle RMSE")
            ax.set_xlabel("SNR per element and RE (dB)")
            ax.set_ylabel("RMSE (deg)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        ax = axes[2]
        for i, m in enumerate(RES_METHODS):
            for j, tau in enumerate(spreads):
                ax.plot(
                    seps,
                    [res[(tau, s, m)] for s in seps],
                    ["-", "--", ":"][j],
                    color=f"C{i}",
                    marker="o",
                    ms=3,
                    label=f"{m}, {tau * 1e9:.0f} ns",
                )
        ax.set_title(f"two paths resolved at {snr:.0f} dB")
        ax.set_xlabel("angle separation (deg)")
        ax.set_ylabel("resolved fraction")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, ncol=1)
        fig.tight_layout()
        fig.savefig(OUT / "spanos_fig2.png", dpi=120)
    except ImportError:
        print("matplotlib missing: no PNG")


if __name__ == "__main__":
    main()
