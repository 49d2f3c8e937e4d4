#!/usr/bin/env python3
"""Front-end speed: M x fs samples -> srs_sync -> cfr_extractor -> message sink, against the
same flowgraph with the receiver replaced by a plain copy (the I/O limit), side by side.

For each sample-rate configuration (30.72, 61.44 and 122.88 Msps: 30 kHz SCS with 51, 133
and 273 RB) and SRS period (``--periods``, in slots: 1 = an SRS in every slot, the heaviest
case; 10 = every 5 ms) it runs free, from memory (repeating vector sources, 4 channels,
per-RE SNR 20 dB), for ``--seconds`` of wall time after a warm-up, and prints

    sustained throughput / real time   (signal seconds per wall-clock second)
    ratio to the copy flowgraph        (how much the receiver costs beyond moving samples)
    CPU seconds per signal second      (all threads; < number of free cores = can keep up)
    CFRs published, and SRS occasions streamed (equal: no occasion lost at that speed)

Both flowgraphs get the same buffer sizes (srs_sync's: 4 slots or more). The two
flowgraphs of a configuration run one after the other, alternating ``--repeats``
times, and the best run of each counts (the machine is shared; the best run is the least
disturbed). No assertion: this is a measurement.

    .venv/bin/python benchmarks/bench_frontend.py [--seconds 2] [--rates 30.72 61.44 122.88]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.nr.receiver import frontend_params

CONFIGS = {
    30.72: ({"subcarrier_spacing": 30, "n_size_grid": 51}, {"c_srs": 12, "n_srs_id": 1}),
    61.44: ({"subcarrier_spacing": 30, "n_size_grid": 133}, {"c_srs": 33, "n_srs_id": 1}),
    122.88: ({"subcarrier_spacing": 30, "n_size_grid": 273}, {"c_srs": 63, "n_srs_id": 1}),
}


class _Counter(gr.basic_block):
    """Message sink that only counts CFR PDUs."""

    def __init__(self) -> None:
        gr.basic_block.__init__(self, "counter", None, None)
        self.count = 0
        self.message_port_register_in(gr.pmt.intern(K.PORT_CFR))
        self.set_msg_handler(gr.pmt.intern(K.PORT_CFR), self._handle)

    def _handle(self, msg) -> None:
        self.count += 1


def _signal(carrier: dict, srs: dict, m: int, slots: int, rng) -> np.ndarray:
    p = frontend_params(carrier, srs)
    t = p.slot_length
    one = np.zeros(max(p.period, t), np.complex64)  # one SRS period: the SRS slot, then silence
    one[: p.reference.size] = p.reference
    x = np.tile(one, max(1, slots * t // one.size)).astype(np.complex64)
    slots = x.size // t
    x = np.roll(x, 1234)
    g = np.exp(1j * np.pi * 0.3 * np.arange(m))[:, None]
    sigma = np.sqrt(0.5 / 100.0)
    noise = sigma * (
        rng.standard_normal((m, slots * t), dtype=np.float32)
        + 1j * rng.standard_normal((m, slots * t), dtype=np.float32)
    )
    return (g * x[None, :] + noise).astype(np.complex64), p


def _buffer_items(slot_length: int, slots: int) -> int:
    """Power of two >= slots * slot_length, at least 32768 (srs_sync_core's rule, slots = 4)."""
    n = 1 << 15
    while n < slots * slot_length:
        n *= 2
    return n


def _run(
    data: np.ndarray,
    seconds: float,
    carrier: dict | None,
    srs: dict | None,
    ref_channel: int,
    buffer_items: int,
) -> tuple[float, float, int, int]:
    """Free-running repeating memory sources -> receiver (or copy) for ``seconds`` of wall
    time after a short warm-up: (samples per channel per second, CPU seconds per sample,
    CFRs, samples streamed)."""
    m = data.shape[0]
    tb = gr.top_block()
    srcs = [blocks.vector_source_c(data[i].tolist(), True) for i in range(m)]
    for s in srcs:  # the same source buffers in both flowgraphs
        s.set_min_output_buffer(buffer_items)
    counter = None
    if carrier is None:
        for i in range(m):
            cp = blocks.copy(gr.sizeof_gr_complex)
            cp.set_min_output_buffer(buffer_items)  # as large as srs_sync's outputs
            tb.connect(srcs[i], cp, blocks.null_sink(8))
    else:
        sync = srsaoa.srs_sync(m, carrier, srs, ref_channel)
        cfr = srsaoa.cfr_extractor(m, carrier, srs)
        counter = _Counter()
        for i in range(m):
            tb.connect(srcs[i], (sync, i), (cfr, i))
        tb.msg_connect(cfr, K.PORT_CFR, counter, K.PORT_CFR)
    tb.start()
    time.sleep(0.3)  # warm-up: acquisition, buffer allocation, first FFT plans
    n0, k0 = srcs[0].nitems_written(0), counter.count if counter else 0
    t0, c0 = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    n1, k1 = srcs[0].nitems_written(0), counter.count if counter else 0
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    tb.stop()
    tb.wait()
    return (n1 - n0) / dt, cpu / (n1 - n0), k1 - k0, n1 - n0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="wall time per run")
    ap.add_argument("--rates", type=float, nargs="+", default=list(CONFIGS))
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--slots", type=int, default=8, help="slots in the repeating buffer")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--periods",
        type=int,
        nargs="+",
        default=[1, 10],
        help="SRS periods in slots (1: an SRS in every slot, the heaviest case)",
    )
    ap.add_argument(
        "--ref-channel", type=int, default=-1, help="detection channel (-1: all, non-coherent)"
    )
    args = ap.parse_args()
    gr.logging().set_default_level(gr.log_levels.warn)  # not the buffer-size info lines
    rng = np.random.default_rng(1)
    print(
        f"detection channel: {'all (non-coherent)' if args.ref_channel < 0 else args.ref_channel}"
    )
    print(
        f"{'Msps':>8} {'period':>7} {'ch':>3} {'copy x RT':>10} {'rx x RT':>9} "
        f"{'rx / copy':>9} {'copy CPU':>9} {'rx CPU':>8} {'CFRs':>6} {'SRSs':>7}"
    )
    for rate in args.rates:
        for period in args.periods:
            carrier, srs = CONFIGS[rate]
            srs = dict(srs, srs_period=[period, 0])
            data, p = _signal(carrier, srs, args.channels, max(args.slots, 2 * period), rng)
            fs = p.sample_rate
            buf = _buffer_items(p.slot_length, 4)
            best_copy, best_rx, cpu_copy, cpu_rx = 0.0, 0.0, np.inf, np.inf
            cfrs, expected = 0, 0
            for _ in range(args.repeats):
                rate_c, cpu, _, _ = _run(data, args.seconds, None, None, -1, buf)
                best_copy, cpu_copy = max(best_copy, rate_c), min(cpu_copy, cpu)
                rate_r, cpu, k, n = _run(data, args.seconds, carrier, srs, args.ref_channel, buf)
                if rate_r > best_rx:
                    best_rx, cfrs, expected = rate_r, k, n // p.period
                cpu_rx = min(cpu_rx, cpu)
            print(
                f"{fs / 1e6:8.2f} {period:7d} {args.channels:3d} {best_copy / fs:10.2f} "
                f"{best_rx / fs:9.2f} {best_rx / best_copy:9.2f} {cpu_copy * fs:9.2f} "
                f"{cpu_rx * fs:8.2f} {cfrs:6d} {expected:7d}"
            )


if __name__ == "__main__":
    main()
