"""Latency per estimate of every method: Python time of one call, median of repeats.

    .venv/bin/python benchmarks/bench_estimators.py [--repeats 200]

Writes benchmarks/out/bench_estimators.csv and prints a table. Inputs: a 4 x 4 covariance
(two paths, 20 dB) for the 1-D methods, and a 4 x 816 CFR (4 SRS symbols of 204 comb
subcarriers, two paths) for 2D-ESPRIT, the size named in the issue.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from gnuradio.srsaoa.estimation import crb, doa, order

OUT = Path(__file__).resolve().parent / "out"


def timing_us(fn, repeats: int) -> tuple[float, float]:
    """(median, minimum) of single-call times in microseconds. On a shared machine the
    minimum is the cost of the code itself; the median includes the other processes."""
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * float(np.median(times)), 1e6 * float(np.min(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    m = 4
    a = np.exp(2j * np.pi * 0.5 * np.outer(np.arange(m), np.sin(np.deg2rad([-20.0, 25.0]))))
    x = a @ (rng.standard_normal((2, 64)) + 1j * rng.standard_normal((2, 64)))
    x += 0.1 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
    r = x @ x.conj().T / 64
    grid = doa.default_grid(-90, 90, 0.5)
    freqs = 60e3 * np.arange(204)
    h = np.zeros((m, 4, 204), complex)
    for th, tau, g in [(-20.0, 0.0, 1.0), (25.0, 150e-9, 0.7)]:
        st = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.deg2rad(th)))
        h += g * st[:, None, None] * np.exp(-2j * np.pi * freqs * tau)[None, None, :]
    h += 0.1 * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    h = h.astype(np.complex64)
    cases = [
        ("aic order (4x4)", lambda: order.estimate_order(r, 64, "aic")),
        ("dbf (4x4, 361-pt grid)", lambda: doa.dbf(r, 2, 0.5, grid)),
        ("music (4x4, 361-pt grid)", lambda: doa.music(r, 2, 0.5, grid)),
        ("root-music (4x4)", lambda: doa.root_music(r, 2, 0.5)),
        ("esprit TLS (4x4)", lambda: doa.esprit(r, 2, 0.5, tls=True)),
        ("esprit LS (4x4)", lambda: doa.esprit(r, 2, 0.5, tls=False)),
        ("2d-esprit (4x816 CFR, P auto=16)", lambda: doa.esprit_2d(h, freqs, 2, 0.5)),
        ("2d-esprit (4x816 CFR, P=32)", lambda: doa.esprit_2d(h, freqs, 2, 0.5, smoothing=32)),
        ("crb stochastic (2 sources)", lambda: crb.crb_stochastic([-20, 25], 64, 10.0, m)),
        (
            "estimate(esprit) + power + CRB",
            lambda: doa.estimate("esprit", covariance=r, order=2, n_snapshots=64),
        ),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{'case':40s} {'median us':>10s} {'min us':>10s}")
    for name, fn in cases:
        med, low = timing_us(fn, args.repeats)
        rows.append((name, f"{med:.1f}", f"{low:.1f}"))
        print(f"{name:40s} {med:10.1f} {low:10.1f}")
    with open(OUT / "bench_estimators.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "median_us", "min_us"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
