"""Side-by-side evaluation of MoD-DNN and the baselines (the paper's Figs. 4f, 4g, 5b, 5c).

Test CFRs come from the simulator at held-out angles (midpoints of the training grid, never a
training angle) with fresh noise. The learned baselines (DeepMUSIC, CNN) are trained here on
the training angles of the MoD-DNN model's recipe, at rho = 1 and SNR 10 +- 3 dB.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import data as D
from .baselines import CLASSICAL, CNNRegressor, DeepMUSIC, classical
from .model import MoDDNN, model_subcarriers, subregion_of

METHODS = ("moddnn", "music", "esprit", "dbf", "cnn", "deepmusic")


def test_angles(n: int, train_step_deg: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """n held-out angles: midpoints between training angles over [-60, 60] deg."""
    _, val = D.split_angles(-60.0, 60.0, train_step_deg, n, rng)
    return val


def train_baselines(train_set: D.CfrDataset, seed: int = 0, epochs: int = 15) -> dict[str, Any]:
    return {
        "cnn": CNNRegressor(train_set.cfr.shape[1], seed).fit(
            train_set.cfr, train_set.aoa_deg, epochs
        ),
        "deepmusic": DeepMUSIC(train_set.cfr.shape[1], seed=seed).fit(train_set.cfr, None, epochs),
    }


def run_methods(
    model: MoDDNN, learned: dict[str, Any], ds: D.CfrDataset, methods: Sequence[str] = METHODS
) -> dict[str, NDArray[np.float64]]:
    """Estimated AoA (deg) of every test CFR for each method."""
    out: dict[str, NDArray[np.float64]] = {}
    for m in methods:
        if m == "moddnn":
            out[m] = np.concatenate(
                [model.estimate(ds.cfr[i : i + 256]) for i in range(0, len(ds), 256)]
            )
        elif m in CLASSICAL:
            out[m] = classical(m, ds.cfr, model.cfg.spacing_wavelengths)
        elif m in learned:
            out[m] = learned[m].predict(ds.cfr)
    return out


def stats(err: NDArray[np.float64]) -> dict[str, float]:
    a = np.abs(err)
    return {
        "rmse_deg": float(np.sqrt(np.mean(a**2))),
        "p80_deg": float(np.percentile(a, 80)),
        "median_deg": float(np.median(a)),
        "max_deg": float(a.max()),
    }


def make_train_set(
    model: MoDDNN, meta: dict[str, Any], seed: int, rho: float = 1.0
) -> D.CfrDataset:
    tr = meta.get("training", {})
    step = float(tr.get("train_step_deg", 0.2))
    reps = int(tr.get("realisations", 3))
    rng = np.random.default_rng(seed)
    ang = np.repeat(np.arange(-60.0, 60.0 + step / 2, step), reps)
    snr = rng.uniform(7.0, 13.0, ang.size)
    return D.simulate(ang, snr, rng, rho=rho, subcarriers_hz=_freqs(model, meta))


def _freqs(model: MoDDNN, meta: dict[str, Any]) -> NDArray[np.float64]:
    f = meta.get("subcarriers_hz")
    if f:
        return np.asarray(f, float)
    return model_subcarriers(D.default_srs_subcarriers_hz(), model.cfg)


def evaluate(
    model: MoDDNN,
    meta: dict[str, Any],
    out_dir: str | Path | None = None,
    snrs_db: Sequence[float] = (0, 5, 10, 15, 20),
    rhos: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    num_angles: int = 300,
    seed: int = 7,
    methods: Sequence[str] = METHODS,
    baseline_epochs: int = 15,
    plots: bool = True,
) -> dict[str, Any]:
    """Run every method on held-out angles; write CSV (and PNG) files to ``out_dir``.

    Returns {"summary": {method: stats at SNR 10 dB, rho 1}, "snr": [...], "rho": [...]}.
    """
    rng = np.random.default_rng(seed)
    step = float(meta.get("training", {}).get("train_step_deg", 0.2))
    f = _freqs(model, meta)
    learned = {}
    if any(m in ("cnn", "deepmusic") for m in methods):
        learned = train_baselines(make_train_set(model, meta, seed + 1), seed, baseline_epochs)
    angles = test_angles(num_angles, step, rng)
    res: dict[str, Any] = {"snr": [], "rho": []}
    main = None
    for snr in snrs_db:
        ds = D.simulate(angles, snr, rng, rho=1.0, subcarriers_hz=f)
        est = run_methods(model, learned, ds, methods)
        for m, e in est.items():
            res["snr"].append({"method": m, "snr_db": snr, "rho": 1.0, **stats(e - ds.aoa_deg)})
        if snr == 10:
            main = (ds, est)
    for rho in rhos:
        ds = D.simulate(angles, 10.0, rng, rho=rho, subcarriers_hz=f)
        est = run_methods(model, learned, ds, methods)
        for m, e in est.items():
            res["rho"].append({"method": m, "snr_db": 10.0, "rho": rho, **stats(e - ds.aoa_deg)})
    if main is None:
        ds = D.simulate(angles, 10.0, rng, rho=1.0, subcarriers_hz=f)
        main = (ds, run_methods(model, learned, ds, methods))
    ds, est = main
    res["summary"] = {m: stats(e - ds.aoa_deg) for m, e in est.items()}
    t0 = time.perf_counter()
    model.estimate(ds.cfr[:1])
    res["moddnn_ms_per_estimate_batch1"] = (time.perf_counter() - t0) * 1e3
    if out_dir is not None:
        _write(Path(out_dir), res, ds, est, model, plots)
    return res


def _write(
    out: Path,
    res: dict[str, Any],
    ds: D.CfrDataset,
    est: dict[str, NDArray],
    model: MoDDNN,
    plots: bool,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = ["method", "snr_db", "rho", "rmse_deg", "p80_deg", "median_deg", "max_deg"]
    for name in ("snr", "rho"):
        with open(out / f"rmse_vs_{name}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, keys)
            w.writeheader()
            w.writerows(res[name])
    sub = subregion_of(ds.aoa_deg, model.cfg)
    with open(out / "errors.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["aoa_deg", "subregion", *[f"err_{m}" for m in est]])
        for i in range(len(ds)):
            w.writerow(
                [
                    f"{ds.aoa_deg[i]:.4f}",
                    int(sub[i]),
                    *[f"{est[m][i] - ds.aoa_deg[i]:.5f}" for m in est],
                ]
            )
    if not plots:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, xkey, xlabel in (
        ("snr", "snr_db", "SNR (dB)"),
        ("rho", "rho", "impairment weight rho"),
    ):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for m in est:
            rows = [r for r in res[name] if r["method"] == m]
            ax.semilogy([r[xkey] for r in rows], [r["rmse_deg"] for r in rows], "o-", label=m)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("RMSE (deg)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"rmse_vs_{name}.png", dpi=120)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for m, e in est.items():
        a = np.sort(np.abs(e - ds.aoa_deg))
        ax.plot(a, np.arange(1, a.size + 1) / a.size, label=m)
    ax.set_xscale("log")
    ax.set_xlabel("absolute error (deg)")
    ax.set_ylabel("CDF")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "error_cdf.png", dpi=120)
    plt.close(fig)
    fig, axs = plt.subplots(
        1, model.cfg.num_subregions, figsize=(3 * model.cfg.num_subregions, 3.5), sharey=True
    )
    axs = np.atleast_1d(axs)
    bounds = model.cfg.subregion_bounds()
    for p, ax in enumerate(axs):
        sel = sub == p
        ax.boxplot(
            [np.abs(est[m][sel] - ds.aoa_deg[sel]) for m in est], labels=list(est), showfliers=False
        )
        s, e = bounds[p]
        ax.set_title(
            f"[{model.cfg.grid_deg[s]:.0f}, {model.cfg.grid_deg[e - 1]:.0f}] deg", fontsize=8
        )
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    axs[0].set_ylabel("absolute error (deg)")
    fig.tight_layout()
    fig.savefig(out / "subregion_boxplot.png", dpi=120)
    plt.close(fig)
