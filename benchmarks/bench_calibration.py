"""Calibration of an unseen array from a sweep: every method against the Cramer-Rao bound.

Arrays are drawn with seeds no test or default uses (``ImpairmentProfile.random``: gain and
phase mismatch, Friis coupling, 1 mm position errors, the MoD-DNN paper's angle-dependent
phase error at rho = 1, plus a random per-channel delay of up to 3 ns). For each array:

1. a turntable sweep from -60 to +60 deg (step and occasions per angle as given, 15 dB per
   RE) -> ``array.manifold.calibrate_sweep`` (what ``srsaoa calibrate --sweep`` runs after
   the front end);
2. test CFRs at random angles off the sweep grid in (-58, 58) deg, one SRS occasion each
   (51 RB at 30 kHz, comb 2: K = 306 subcarriers x 4 symbols), a single path or LOS + a
   coherent reflection (-6 dB, 15-40 deg away, 50-300 ns later); the strongest path's angle
   is scored against the LOS;
3. methods: ESPRIT uncalibrated; ESPRIT with a single-angle calibration at 0 deg; ESPRIT
   with the sweep's angle-independent part; calibrated DBF, MUSIC, ML and the joint
   angle-delay ML (``estimation.calibrated``); optionally (``--moddnn``) MoD-DNN trained
   from the same sweep (``srsaoa train --data`` path: measured + manifold-drawn CFRs) and the
   shipped simulator-trained model.

CFRs are synthesised in the frequency domain with the simulator's physics
(``sim.cfr_snapshots``: H = sum_p alpha_p b(theta_p, f_k) exp(-j 2 pi f_k tau_p) + noise), the
least-squares CFR the front end delivers; the recording path through the front end is
exercised by the tests and ``srsaoa calibrate --sweep``. Prints markdown tables (RMSE and
80th percentile in degrees and their ratio to sqrt(CRB)) and writes a plot of RMSE against
SNR and sweep step.

    .venv/bin/python benchmarks/bench_calibration.py            # main table, ~2 min
    .venv/bin/python benchmarks/bench_calibration.py --full     # + SNR, step, occasions sweeps
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gnuradio.srsaoa.array.calibration import estimate_calibration
from gnuradio.srsaoa.array.geometry import ULA
from gnuradio.srsaoa.array.impairments import ImpairmentProfile
from gnuradio.srsaoa.array.manifold import ProfileManifold, calibrate_sweep
from gnuradio.srsaoa.estimation import calibrated as C
from gnuradio.srsaoa.estimation.doa import esprit
from gnuradio.srsaoa.moddnn.data import default_srs_subcarriers_hz

ARRAY_SEEDS = (7301, 7302, 7303)
F = default_srs_subcarriers_hz()
ULA4 = ULA(4)


class Array:
    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed + 1)
        self.profile = ImpairmentProfile.random(4, seed, rho=1.0, position_std_m=1e-3)
        self.tau = np.concatenate([[0.0], rng.uniform(-3e-9, 3e-9, 3)])

    def response(self, theta: np.ndarray) -> np.ndarray:
        """[M, L, K] incl. the per-channel delays."""
        b = self.profile.manifold(ULA4, np.atleast_1d(theta), F)
        return b * np.exp(-2j * np.pi * np.outer(self.tau, F))[:, None, :]

    def cfrs(self, paths, snr_db, n_occ, rng, s=4, static=False) -> np.ndarray:
        """[n_occ, M, S, K] for paths [(aoa, delay, power_db)], noise per RE at snr_db. Each
        path's phase is drawn per symbol (the paths' relative phases decorrelate from one
        symbol to the next, as for a fast-moving geometry) or, ``static``, once (a static UE
        and reflector: the relative phase is the same in every symbol)."""
        h = 0
        ptot = 0.0
        for aoa, tau, pdb in paths:
            shape = (1, 1, 1, 1) if static else (n_occ, 1, s, 1)
            amp = 10 ** (pdb / 20) * np.exp(2j * np.pi * rng.random(shape))
            b = self.response(np.array([aoa]))[:, 0, :] * np.exp(-2j * np.pi * F * tau)
            h = h + amp * b[None, :, None, :]
            ptot += 10 ** (pdb / 10)
        h = np.broadcast_to(h, (n_occ, h.shape[1], s, F.size))  # static: every symbol
        sig = np.sqrt(ptot / 10 ** (snr_db / 10) / 2)
        n = (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) * sig
        return h + n


def sweep(arr: Array, step: float, occ: int, rng) -> tuple:
    angles = np.arange(-60.0, 60.0 + 1e-9, step)
    cf = [arr.cfrs([(a, 0.0, 0.0)], 15.0, occ, rng) for a in angles]
    cal, warnings = calibrate_sweep(angles, cf, F, ULA4.spacing_wavelengths)
    i0 = int(np.argmin(np.abs(angles)))
    single = estimate_calibration(cf[i0], F, ULA4.steering(angles[i0]), reference_aoa_deg=0.0)
    return cal, single, warnings


def tests(
    arr: Array, snr_db: float, n: int, multipath: bool, rng, occ: int = 1, static: bool = False
) -> list:
    """[(LOS angle, CFR [M, S, K], paths [(aoa, delay, power_db)])]; ``occ`` SRS occasions
    per test, their symbols side by side (S = 4 occ: what one estimate over ``occ``
    occasions sees)."""
    out = []
    for _ in range(n):
        th = float(rng.uniform(-58, 58))
        paths = [(th, 0.0, 0.0)]
        if multipath:
            off = rng.uniform(15, 40) * rng.choice([-1, 1])
            th2 = th + off if abs(th + off) < 60 else th - off
            paths.append((th2, rng.uniform(50e-9, 300e-9), -6.0))
        h = arr.cfrs(paths, snr_db, occ, rng, static=static)  # [occ, M, 4, K]
        out.append((th, np.concatenate(list(h), axis=1), paths))
    return out


def crb_paths(man, paths, snr_db: float, rng, s: int = 4, static: bool = False) -> float:
    """sqrt(CRB) (deg) of the LOS angle with every path's angle, delay and per-symbol gain
    unknown (``crb_angle_delay_calibrated`` on the true manifold; the gains' phases drawn
    as the test CFRs draw them): the bound of the LOS + reflection case."""
    g = np.array(
        [10 ** (p[2] / 20) * np.exp(2j * np.pi * rng.random(1 if static else s)) for p in paths]
    )
    g = np.broadcast_to(g, (len(paths), s))
    noise = sum(10 ** (p[2] / 10) for p in paths) / 10 ** (snr_db / 10)
    th = [p[0] for p in paths]
    tau = [p[1] for p in paths]
    return float(C.crb_angle_delay_calibrated(man, th, tau, g, F, noise)[0][0])


def esprit_angle(h: np.ndarray, mult=None) -> float:
    x = h * mult[:, None, :] if mult is not None else h
    x = x.reshape(4, -1)
    r = x @ x.conj().T / x.shape[1]
    return float(esprit(r, 1, 0.5)[0])


def calibrated_angle(method: str, h: np.ndarray, cal, order: int | None) -> float:
    x = h * cal.constant.multipliers(F)[:, None, :]
    est = C.estimate_calibrated(method, x, F, cal, order=order, grid_step_deg=1.0)
    return float(est.aoa_deg[0]) if est.aoa_deg.size else float("nan")


def calibration_floor(arr: Array, cal, rng, n: int = 40) -> float:
    """RMSE (deg) of calibrated DBF on noise-free single-path CFRs (300 dB): what the
    manifold's own error costs, without the test noise."""
    err = []
    for th in rng.uniform(-58, 58, n):
        h = arr.cfrs([(th, 0.0, 0.0)], 300.0, 1, rng)[0]
        err.append(calibrated_angle("dbf", h, cal, 1) - th)
    return float(np.sqrt(np.mean(np.square(err))))


def score(err: list[float]) -> tuple[float, float]:
    e = np.abs(np.asarray(err, float))
    e = np.where(np.isfinite(e), e, 90.0)
    return float(np.sqrt(np.mean(e**2))), float(np.percentile(e, 80))


def run_case(
    arr, cal, single, snr_db, n, multipath, rng, methods, models=None, occ: int = 1, static=False
) -> dict:
    cases = tests(arr, snr_db, n, multipath, rng, occ, static)
    truth_man = ProfileManifold(arr.profile, ULA4)
    crb = [
        float(C.crb_calibrated(truth_man, th, 4 * occ * F.size, snr_db=snr_db)[0])
        for th, _, _ in cases
    ]
    res = {"crb": float(np.sqrt(np.mean(np.square(crb))))}
    if multipath:
        crb2 = [crb_paths(truth_man, paths, snr_db, rng, 4 * occ, static) for _, _, paths in cases]
        res["crb2"] = float(np.sqrt(np.mean(np.square(crb2))))
    mult_single = single.multipliers(F)
    mult_const = cal.constant.multipliers(F)
    for m in methods:
        t0 = time.perf_counter()
        errs = []
        for th, h, _ in cases:
            if m == "esprit (uncalibrated)":
                a = esprit_angle(h)
            elif m == "esprit (single-angle cal.)":
                a = esprit_angle(h, mult_single)
            elif m == "esprit (sweep, constant part)":
                a = esprit_angle(h, mult_const)
            elif m.startswith("moddnn"):
                a = models[m](h * (mult_const[:, None, :] if "sweep" in m else 1.0))
            else:
                name = m.split()[0]
                a = calibrated_angle(name, h, cal, None if name == "2d-ml" else None)
            errs.append(a - th)
        res[m] = (*score(errs), (time.perf_counter() - t0) / len(cases) * 1e3)
    return res


def table(title: str, res: dict, methods: list[str]) -> None:
    crb = res["crb"]
    crb2 = res.get("crb2")
    print(f"\n{title} (sqrt(CRB) {crb:.4f} deg rms over the test angles: the single-path bound")
    if crb2 is None:
        print("at the LOS angle)\n")
        print("| method | RMSE (deg) | 80th pct (deg) | RMSE / sqrt(CRB) | ms per estimate |")
        print("|---|---|---|---|---|")
    else:
        print(f"at the LOS angle; {crb2:.4f} deg: the two-path bound, angles, delays and gains")
        print("unknown)\n")
        print(
            "| method | RMSE (deg) | 80th pct (deg) | RMSE / sqrt(CRB 1 path) | "
            "RMSE / sqrt(CRB 2 paths) | ms per estimate |"
        )
        print("|---|---|---|---|---|---|")
    for m in methods:
        rmse, p80, ms = res[m]
        two = "" if crb2 is None else f" {rmse / crb2:.2f} |"
        print(f"| {m} | {rmse:.4f} | {p80:.4f} | {rmse / crb:.2f} |{two} {ms:.1f} |")


def moddnn_models(arr, step, occ, rng, epochs, grid_step=1.0, synthetic=9600) -> dict:
    """MoD-DNN trained from the sweep (the train --data recipe at the CFR level: measured
    CFRs of 80 % of the sweep angles + manifold draws, the manifold's coarray dictionary,
    the weights of the best epoch on the other 20 %), the same with the paper's
    nominal dictionary, and the shipped simulator-trained model; each as a function
    CFR -> angle."""
    import torch
    from gnuradio.srsaoa.array.manifold import group_by_angle
    from gnuradio.srsaoa.moddnn import data as D
    from gnuradio.srsaoa.moddnn.config import ModelConfig, TrainConfig, dictionary_defaults
    from gnuradio.srsaoa.moddnn.lowered import LoweredMoDDNN
    from gnuradio.srsaoa.moddnn.modelfile import load_model
    from gnuradio.srsaoa.moddnn.train import train

    torch.set_num_threads(2)
    angles = np.arange(-60.0, 60.0 + 1e-9, step)
    cf = np.concatenate([arr.cfrs([(a, 0.0, 0.0)], 15.0, occ, rng) for a in angles])
    lab = np.repeat(angles, occ)
    # as train --data: 20 % of the sweep angles validate, the manifold is fitted on the rest
    val_ang = rng.choice(angles, size=max(1, int(round(0.2 * angles.size))), replace=False)
    is_val = np.isin(lab, val_ang)
    a_u, groups = group_by_angle(lab[~is_val], cf[~is_val])
    man, _ = calibrate_sweep(a_u, groups, F, 0.5)
    c = man.constant.multipliers(F)[None, :, None, :]
    full = D.CfrDataset((cf * c).astype(np.complex64), lab, np.full(lab.size, 15.0), F)
    measured, val = full.subset(np.flatnonzero(~is_val)), full.subset(np.flatnonzero(is_val))
    tcfg = TrainConfig(epochs=epochs)
    ang = rng.uniform(-60, 60, synthetic)
    synth = D.simulate_from_manifold(man, ang, rng.uniform(7, 13, ang.size), rng, F)
    both = D.concat([measured, synth])
    out = {}
    for name, dictionary in (
        ("moddnn (from sweep)", "calibrated"),
        ("moddnn (from sweep, nominal dictionary)", "nominal"),
    ):
        # as train --data: the dictionary's subregions and eta >= 0 settings
        cfg = ModelConfig(
            grid_step_deg=grid_step, dictionary=dictionary, **dictionary_defaults(dictionary)
        )
        t0 = time.time()
        net, _ = train(cfg, tcfg, both, val, progress=False, manifold=man)
        print(f"  {name} trained in {time.time() - t0:.0f} s")
        low = LoweredMoDDNN(net)
        out[name] = lambda h, low=low: float(low.estimate_batch([h])[0][0])
    shipped = LoweredMoDDNN(load_model("default")[0])
    out["moddnn (simulator-trained)"] = lambda h: float(shipped.estimate_batch([h])[0][0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tests", type=int, default=150, help="test CFRs per case")
    ap.add_argument("--full", action="store_true", help="also SNR, step and occasion sweeps")
    ap.add_argument(
        "--test-occasions",
        type=int,
        default=1,
        help="SRS occasions per test estimate (8: sqrt(CRB) ~0.025 deg at 10 dB)",
    )
    ap.add_argument("--moddnn", action="store_true", help="also MoD-DNN (trains, minutes)")
    ap.add_argument("--epochs", type=int, default=30, help="MoD-DNN epochs with --moddnn")
    ap.add_argument(
        "--synthetic", type=int, default=9600, help="MoD-DNN: manifold-drawn CFRs (train's)"
    )
    ap.add_argument("--plot", default="bench_calibration.png")
    ap.add_argument("--steps", type=float, nargs="+", default=[1.0, 5.0], help="sweep steps (deg)")
    ap.add_argument("--arrays", type=int, default=len(ARRAY_SEEDS), help="how many of the arrays")
    ap.add_argument(
        "--static-paths",
        action="store_true",
        help="test paths with one phase per test (a static UE and reflector) instead of one "
        "per symbol: the reflection stays coherent with the LOS over the estimate",
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="classical methods to run, by first word (esprit dbf music ml 2d-ml; default all)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(20261204)
    methods = [
        "esprit (uncalibrated)",
        "esprit (single-angle cal.)",
        "esprit (sweep, constant part)",
        "dbf (calibrated)",
        "music (calibrated)",
        "ml (calibrated)",
        "2d-ml (calibrated)",
    ]
    if args.methods:
        methods = [m for m in methods if m.split()[0] in args.methods]
    arrays = [Array(s) for s in ARRAY_SEEDS[: max(1, args.arrays)]]
    cache: dict = {}
    print(
        f"arrays: seeds {ARRAY_SEEDS[: len(arrays)]}; sweep 15 dB; tests of {args.test_occasions} occasion(s), "
        "51 RB, 4 symbols each"
    )
    for step, occ in ((st, 8) for st in args.steps):
        for mp in (False, True):
            acc: dict = {}
            floors = []
            for arr in arrays:
                cal, single, warns = sweep(arr, step, occ, rng)
                if not mp:
                    floors.append(calibration_floor(arr, cal, rng))
                mth = list(methods)
                models = None
                if args.moddnn and step == 1.0 and arr is arrays[0]:
                    if "models" not in cache:
                        cache["models"] = moddnn_models(
                            arr, step, occ, rng, args.epochs, synthetic=args.synthetic
                        )
                    models = cache["models"]
                    mth += list(models)
                res = run_case(
                    arr,
                    cal,
                    single,
                    10.0,
                    args.tests,
                    mp,
                    rng,
                    mth,
                    models,
                    args.test_occasions,
                    args.static_paths,
                )
                for k, v in res.items():
                    acc.setdefault(k, []).append(v)
            merged = {
                c: float(np.sqrt(np.mean(np.square(acc[c])))) for c in ("crb", "crb2") if c in acc
            }
            for k, v in acc.items():
                if k not in ("crb", "crb2"):
                    v = np.asarray(v)
                    merged[k] = (
                        float(np.sqrt(np.mean(v[:, 0] ** 2))),
                        float(np.mean(v[:, 1])),
                        float(np.mean(v[:, 2])),
                    )
            kind = "LOS + reflection (-6 dB, 15-40 deg, 50-300 ns)" if mp else "single path"
            if mp and args.static_paths:
                kind += ", static (one relative phase per test)"
            table(
                f"{step:g}-deg sweep, {occ} occasions per angle, {kind}, 10 dB, "
                f"{len(arrays)} arrays x {args.tests} tests of {args.test_occasions} occasion(s)",
                merged,
                [m for m in merged if m not in ("crb", "crb2")],
            )
            if floors:
                print(
                    "\ncalibration floor (calibrated DBF on noise-free tests), per array: "
                    + ", ".join(f"{f:.4f}" for f in floors)
                    + " deg rms"
                )
    if not args.full:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
    arr = arrays[0]
    sub = [
        "esprit (uncalibrated)",
        "esprit (single-angle cal.)",
        "music (calibrated)",
        "ml (calibrated)",
    ]
    cal, single, _ = sweep(arr, 1.0, 8, rng)
    snrs = [0, 5, 10, 15, 20]
    rows = [run_case(arr, cal, single, s, args.tests // 2, False, rng, sub) for s in snrs]
    print("\nRMSE (deg) against SNR, 1-deg sweep x 8, single path, array", ARRAY_SEEDS[0])
    print("| SNR (dB) | sqrt(CRB) | " + " | ".join(sub) + " |")
    print("|---" * (len(sub) + 2) + "|")
    for s, r in zip(snrs, rows):
        print(f"| {s} | {r['crb']:.4f} | " + " | ".join(f"{r[m][0]:.4f}" for m in sub) + " |")
    for m in sub:
        ax[0].semilogy(snrs, [r[m][0] for r in rows], "o-", label=m)
    ax[0].semilogy(snrs, [r["crb"] for r in rows], "k--", label="sqrt(CRB)")
    ax[0].set(xlabel="SNR per RE (dB)", ylabel="RMSE (deg)", title="against SNR")
    for j, (name, values, kw) in enumerate(
        (
            ("sweep step (deg)", (1.0, 2.0, 5.0, 10.0), "step"),
            ("occasions per angle", (1, 4, 8, 32), "occ"),
        )
    ):
        out = []
        for v in values:
            step, occ = (v, 8) if kw == "step" else (1.0, v)
            cal, single, _ = sweep(arr, step, occ, rng)
            out.append(run_case(arr, cal, single, 10.0, args.tests // 2, False, rng, sub))
        print(f"\nRMSE (deg) against {name}, 10 dB, single path")
        print(f"| {name} | sqrt(CRB) | " + " | ".join(sub) + " |")
        print("|---" * (len(sub) + 2) + "|")
        for v, r in zip(values, out):
            print(f"| {v:g} | {r['crb']:.4f} | " + " | ".join(f"{r[m][0]:.4f}" for m in sub) + " |")
        for m in sub:
            ax[j + 1].semilogy(values, [r[m][0] for r in out], "o-", label=m)
        ax[j + 1].semilogy(values, [r["crb"] for r in out], "k--", label="sqrt(CRB)")
        ax[j + 1].set(xlabel=name, ylabel="RMSE (deg)", title=f"against {name}")
    for a in ax:
        a.grid(alpha=0.3, which="both")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=100)
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
