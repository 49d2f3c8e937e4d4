#!/usr/bin/env python3
"""Front-end speed: M x fs samples -> srs_sync -> cfr_extractor -> message sink, against the
same flowgraph with the receiver replaced by a plain copy (the I/O limit), side by side.

For each sample-rate configuration (30.72, 61.44 and 122.88 Msps: 30 kHz SCS with 51, 133
and 273 RB) it streams ``--seconds`` of signal time from memory (a repeating vector source
holding ``--slots`` slots of an SRS in every slot, 4 channels, per-RE SNR 20 dB) and prints

    sustained throughput / real time   (signal seconds per wall-clock second)
    ratio to the copy flowgraph        (how much the receiver costs beyond moving samples)
    CPU seconds per signal second      (all threads; < number of free cores = can keep up)

The two flowgraphs of a configuration run one after the other, alternating ``--repeats``
times, and the best run of each counts (the machine is shared; the best run is the least
disturbed). No assertion: this is a measurement.

    .venv/bin/python benchmarks/bench_frontend.py [--seconds 0.5] [--rates 30.72 61.44 122.88]
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
    x = np.tile(p.reference, slots).astype(np.complex64)
    x = np.roll(x, 1234)
    g = np.exp(1j * np.pi * 0.3 * np.arange(m))[:, None]
    sigma = np.sqrt(0.5 / 100.0)
    noise = sigma * (
        rng.standard_normal((m, slots * t), dtype=np.float32)
        + 1j * rng.standard_normal((m, slots * t), dtype=np.float32)
    )
    return (g * x[None, :] + noise).astype(np.complex64), p


def _run(
    data: np.ndarray, n_items: int, carrier: dict | None, srs: dict | None, ref_channel: int = -1
) -> tuple[float, float, int]:
    m = data.shape[0]
    tb = gr.top_block()
    heads = []
    for i in range(m):
        src = blocks.vector_source_c(data[i], True)
        head = blocks.head(gr.sizeof_gr_complex, n_items)
        tb.connect(src, head)
        heads.append(head)
    counter = None
    if carrier is None:
        for i in range(m):
            cp = blocks.copy(gr.sizeof_gr_complex)
            tb.connect(heads[i], cp, blocks.null_sink(gr.sizeof_gr_complex))
    else:
        sync = srsaoa.srs_sync(m, carrier, srs, ref_channel)
        cfr = srsaoa.cfr_extractor(m, carrier, srs)
        counter = _Counter()
        for i in range(m):
            tb.connect(heads[i], (sync, i), (cfr, i))
        tb.msg_connect(cfr, K.PORT_CFR, counter, K.PORT_CFR)
    t0, c0 = time.perf_counter(), time.process_time()
    tb.run()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dt, cpu, (counter.count if counter else 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="signal time per run")
    ap.add_argument("--rates", type=float, nargs="+", default=list(CONFIGS))
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--slots", type=int, default=8, help="slots in the repeating buffer")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--ref-channel", type=int, default=-1, help="detection channel (-1: all, non-coherent)"
    )
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    print(
        f"detection channel: {'all (non-coherent)' if args.ref_channel < 0 else args.ref_channel}"
    )
    print(
        f"{'Msps':>8} {'ch':>3} {'signal s':>8} {'copy x RT':>10} {'rx x RT':>9} "
        f"{'rx / copy':>9} {'copy CPU':>9} {'rx CPU':>8} {'CFRs':>6} {'expected':>8}"
    )
    for rate in args.rates:
        carrier, srs = CONFIGS[rate]
        data, p = _signal(carrier, srs, args.channels, args.slots, rng)
        n = int(args.seconds * p.sample_rate)
        best_copy, best_rx, cpu_copy, cpu_rx, cfrs = np.inf, np.inf, np.inf, np.inf, 0
        for _ in range(args.repeats):
            dt, cpu, _ = _run(data, n, None, None)
            best_copy, cpu_copy = min(best_copy, dt), min(cpu_copy, cpu)
            dt, cpu, cfrs = _run(data, n, carrier, srs, args.ref_channel)
            best_rx, cpu_rx = min(best_rx, dt), min(cpu_rx, cpu)
        sig = n / p.sample_rate
        # slot starts at 1234 + i T; a slot counts if its SRS symbols end before n
        b_max = p.segment_starts[-1] + p.segment_lengths[-1]
        expected = (n - 1234 - b_max) // p.slot_length + 1
        print(
            f"{p.sample_rate / 1e6:8.2f} {args.channels:3d} {sig:8.3f} {sig / best_copy:10.2f} "
            f"{sig / best_rx:9.2f} {best_copy / best_rx:9.2f} {cpu_copy / sig:9.2f} "
            f"{cpu_rx / sig:8.2f} {cfrs:6d} {expected:8d}"
        )


if __name__ == "__main__":
    main()
