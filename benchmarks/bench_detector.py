#!/usr/bin/env python3
"""SRS detector: false-alarm and detection probabilities, measured against theory at the
thresholds srs_sync actually uses.

The C++ kernel (srs_sync_kernel, acquisition only: every sample is a candidate start) runs
on seeded complex Gaussian noise, then on slots carrying the SRS (flat channel, a random
phase per element, integer timing) at several per-RE SNRs, for two operating points:

- ``guard``: srs_sync's default, each threshold max(noise threshold from pfa, 12/N_sc);
- ``cfar``: the guard off (``min_metric=0``), the threshold from ``pfa`` alone.

Printed:

1. Pfa per slot of noise: measured (with its 95 % binomial interval) against the configured
   pfa, which is the union bound T P(rho > eta) (docs/frontend.md section 1).
2. Per-candidate tail at the tracking threshold: the fraction of all noise candidates above
   eta_trk against pfa / (2W + 1) (exact, Beta distribution).
3. Pd per slot against SNR: measured against P(rho(n0) > eta) at the true start, rho there
   being a noncentral Beta (numerator noncentral chi-square with noncentrality
   2 Mc SNR sum_s ||r_s||^2, scipy.stats.ncf), for both operating points.

    nice -n 10 .venv/bin/python benchmarks/bench_detector.py [--noise-slots 2000] [--slots 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gnuradio.srsaoa import srsaoa_python as cpp
from gnuradio.srsaoa.nr.receiver import SrsSyncTwin, cross_sequence_floor, frontend_params
from scipy import stats

CARRIER = {"subcarrier_spacing": 30, "n_size_grid": 51, "fft_size": 1024}
SRS = {"c_srs": 12, "n_srs_id": 100, "k_tc": 2, "num_srs_symbols": 4, "symbol_start": 8}
W = 2  # srs_sync's default track_window


def kernel(p, mc: int, pfa: float, min_metric: float):
    return cpp.srs_sync_kernel(
        p.reference.tolist(),
        list(p.segment_starts),
        list(p.segment_lengths),
        mc,
        -1 if mc > 1 else 0,
        0,  # period 0: acquisition at every sample
        pfa,
        W,
        3,
        p.sample_rate,
        min_metric,
    )


def noise(rng, m: int, n: int, sigma2: float = 1.0) -> np.ndarray:
    s = np.sqrt(sigma2 / 2.0)
    return (s * (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n)))).astype(
        np.complex64
    )


def binom_ci(k: int, n: int) -> tuple[float, float]:
    """95 % Clopper-Pearson interval."""
    lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
    return float(lo), float(hi)


def measure_pfa(p, mc: int, pfa: float, min_metric: float, slots: int, seed: int):
    k = kernel(p, mc, pfa, min_metric)
    rng = np.random.default_rng(seed)
    t = p.slot_length
    chunk = 20
    for done in range(0, slots, chunk):
        k.process(noise(rng, mc, min(chunk, slots - done) * t))
    k.finish()
    return len(k.take_detections()), k


def tail_at_tracking(p, mc: int, pfa: float, slots: int, seed: int) -> tuple[float, float, int]:
    """Fraction of noise candidates with rho > eta_trk (numpy twin of the statistic)."""
    twin = SrsSyncTwin(p, mc, -1 if mc > 1 else 0, pfa=pfa, track_window=W)
    rng = np.random.default_rng(seed)
    above = total = 0
    for _ in range(slots):
        rho = twin.metric(noise(rng, mc, p.slot_length + twin.b_max))
        above += int(np.sum(rho > twin.noise_trk))
        total += rho.size
    return above / total, pfa / (2 * W + 1), total


def pd_theory(p, mc: int, snr_db: float, eta: float) -> float:
    ns = len(p.segment_starts)
    ln = np.asarray(p.segment_lengths)
    a, b = mc * ns, mc * (int(ln.sum()) - ns)
    ref = p.reference.astype(np.complex128)
    energy = sum(
        float(np.sum(np.abs(ref[s : s + n]) ** 2))
        for s, n in zip(p.segment_starts, p.segment_lengths)
    )
    lam = mc * 10 ** (snr_db / 10.0) * energy  # sum |mu|^2 / sigma^2, |alpha| = 1
    x = (b / a) * eta / (1.0 - eta)
    return float(stats.ncf.sf(x, 2 * a, 2 * b, 2 * lam))


def measure_pd(p, mc: int, snr_db: float, slots: int, seed: int, thresholds: dict) -> dict:
    """Slots of the SRS (one per slot, random element phases) in noise of variance
    1/SNR per sample (= per RE, unitary FFT); detections within +-1 sample of each start."""
    rng = np.random.default_rng(seed)
    t = p.slot_length
    ref = p.reference.astype(np.complex64)
    offset = 777
    kernels = {name: kernel(p, mc, pfa, mm) for name, (pfa, mm) in thresholds.items()}
    sigma2 = 10 ** (-snr_db / 10.0)
    chunk = 20
    for done in range(0, slots, chunk):
        n = min(chunk, slots - done)
        x = noise(rng, mc, n * t, sigma2)
        ph = np.exp(2j * np.pi * rng.random((mc, n))).astype(np.complex64)
        for i in range(n):
            x[:, i * t : (i + 1) * t] += ph[:, i : i + 1] * ref[np.newaxis, :]
        x = np.roll(x, offset, axis=1)  # starts at offset + i t (the wrap is one slot)
        for k in kernels.values():
            k.process(x)
    out = {}
    for name, k in kernels.items():
        k.finish()
        idx = np.array([d.index for d in k.take_detections()], dtype=np.int64)
        starts = offset + np.arange(slots) * t
        hit = sum(bool(np.any(np.abs(idx - s) <= 1)) for s in starts)
        out[name] = (hit, k.acquisition_threshold)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise-slots", type=int, default=2000, help="noise-only slots per row")
    ap.add_argument("--slots", type=int, default=200, help="SRS slots per SNR")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    p = frontend_params(CARRIER, SRS)
    guard = cross_sequence_floor(p)
    print(
        f"30 kHz, 51 RB, FFT {p.fft_size}, {len(p.segment_starts)} SRS symbols, comb 2: "
        f"N_sc = {p.num_subcarriers}, T = {p.slot_length} candidate starts per slot, "
        f"guard 12/N_sc = {guard:.5f}"
    )

    print("\n1. False alarms per slot of noise (acquisition, every sample a candidate)")
    print(
        f"{'channels':>8} {'pfa':>8} {'guard':>8} {'eta_noise':>10} {'eta_used':>10} "
        f"{'union bound':>12} {'slots':>6} {'false':>6} {'measured':>9} {'95% interval':>20}"
    )
    for mc, pfa, mm in [
        (4, 1e-2, 0.0),
        (4, 1e-1, 0.0),
        (1, 1e-2, 0.0),
        (1, 1e-1, 0.0),
        (4, 1e-2, guard),
        (4, 1e-6, guard),
    ]:
        t0 = time.time()
        nfa, k = measure_pfa(p, mc, pfa, mm, args.noise_slots, args.seed + mc)
        lo, hi = binom_ci(nfa, args.noise_slots)
        print(
            f"{mc:>8} {pfa:>8.0e} {mm:>8.4f} {k.noise_acquisition_threshold:>10.5f} "
            f"{k.acquisition_threshold:>10.5f} {k.effective_pfa:>12.3g} {args.noise_slots:>6} "
            f"{nfa:>6} {nfa / args.noise_slots:>9.4f} [{lo:.4f}, {hi:.4f}]"
            f"   ({time.time() - t0:.0f} s)"
        )

    print("\n2. Per-candidate tail at the tracking threshold (noise, guard off)")
    print(
        f"{'channels':>8} {'pfa':>8} {'eta_trk':>9} {'candidates':>11} {'measured':>10} {'theory':>10}"
    )
    for mc, pfa in [(4, 1e-1), (1, 1e-1)]:
        frac, theory, total = tail_at_tracking(p, mc, pfa, max(20, args.noise_slots // 50), 7)
        eta = SrsSyncTwin(p, mc, -1 if mc > 1 else 0, pfa=pfa, track_window=W).noise_trk
        print(f"{mc:>8} {pfa:>8.0e} {eta:>9.5f} {total:>11} {frac:>10.5f} {theory:>10.5f}")

    print("\n3. Detection probability per slot (acquisition; theory: rho at the true start)")
    ops = {"cfar": (1e-6, 0.0), "guard": (1e-6, guard)}
    for mc in (4, 1):
        print(f"\n  {mc} detection channel(s)")
        print(
            f"  {'SNR/RE dB':>9} {'Pd cfar':>8} {'theory':>7} {'Pd guard':>9} {'theory':>7}"
            "   (thresholds: cfar eta from pfa 1e-6, guard 12/N_sc)"
        )
        snrs = range(-30, -3, 2) if mc == 4 else range(-24, 3, 2)
        for snr in snrs:
            r = measure_pd(p, mc, float(snr), args.slots, args.seed + 100 + snr, ops)
            cells = []
            for name in ("cfar", "guard"):
                hit, eta = r[name]
                cells.append(f"{hit / args.slots:>8.3f} {pd_theory(p, mc, snr, eta):>7.3f}")
            print(f"  {snr:>9} " + " ".join(cells))


if __name__ == "__main__":
    main()
