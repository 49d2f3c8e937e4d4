"""srs_sync's false-alarm rate follows ``pfa`` when its noise threshold is in force, and the
guard against other UEs' sequences is a separate, reported parameter.

Noise only, through a real flowgraph (GNU Radio's seeded Gaussian noise source -> head ->
srs_sync, run to completion). ``pfa`` is the union bound T P(rho > eta) over the T candidate
starts of a slot, exact per candidate (rho ~ Beta), an upper bound per slot: neighbouring
candidates are correlated, and benchmarks/bench_detector.py measures 0.65-0.8 of it
(docs/frontend.md). The test accepts the binomial 3-sigma band from half of pfa to pfa.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gnuradio import analog, blocks, gr, srsaoa
from gnuradio.srsaoa.nr.receiver import cross_sequence_floor, detection_threshold

# a small carrier so that thousands of noise slots take seconds: 15 kHz, 24 RB, FFT 512
CARRIER = {"subcarrier_spacing": 15, "n_size_grid": 24}
SRS = {
    "c_srs": 5,
    "n_srs_id": 5,
    "k_tc": 2,
    "num_srs_symbols": 2,
    "symbol_start": 10,
    "srs_period": [1, 0],
}


def _noise_run(sync: srsaoa.srs_sync, m: int, slots: int, seed: int) -> int:
    tb = gr.top_block()
    t = sync.params.slot_length
    for i in range(m):
        src = analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, seed + i)
        head = blocks.head(gr.sizeof_gr_complex, slots * t)
        tb.connect(src, head, (sync, i), blocks.null_sink(gr.sizeof_gr_complex))
    tb.run()
    return sync.num_detections()


def test_pfa_sets_the_false_alarm_rate_without_the_guard():
    pfa, slots = 1e-2, 4000
    sync = srsaoa.srs_sync(1, CARRIER, SRS, -1, pfa, min_metric=0)
    th = sync.thresholds()
    p = sync.params
    a, total = len(p.segment_starts), int(np.sum(p.segment_lengths))
    # the thresholds in use are the noise thresholds, from pfa (scipy, independent of C++)
    assert th["min_metric"] == 0.0
    assert th["acquisition"] == th["noise_acquisition"]
    assert th["acquisition"] == pytest.approx(
        detection_threshold(pfa / p.slot_length, a, total), rel=1e-6
    )
    assert th["tracking"] == pytest.approx(detection_threshold(pfa / 5, a, total), rel=1e-6)
    assert sync.effective_pfa() == pytest.approx(pfa, rel=1e-6)

    k = _noise_run(sync, 1, slots, seed=2026)
    lo_p, hi_p = 0.5 * pfa, pfa
    lo = slots * lo_p - 3 * math.sqrt(slots * lo_p * (1 - lo_p))
    hi = slots * hi_p + 3 * math.sqrt(slots * hi_p * (1 - hi_p))
    assert lo <= k <= hi, (k, lo, hi)


def test_a_smaller_pfa_gives_fewer_false_alarms():
    """pfa moves the operating point: 1e-1 and 1e-3 on the same noise."""
    slots = 1500
    many = _noise_run(srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-1, min_metric=0), 1, slots, 7)
    few = _noise_run(srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-3, min_metric=0), 1, slots, 7)
    assert few <= 0.01 * slots + 3 * math.sqrt(0.01 * slots)
    assert many >= 0.05 * slots - 3 * math.sqrt(0.05 * slots)


def test_the_guard_is_separate_and_reported():
    """Default: the guard 12/N_sc is the threshold and the false-alarm rate at it is far
    below pfa; the noise thresholds are still reported; min_metric sets the guard."""
    sync = srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-2)
    th = sync.thresholds()
    guard = cross_sequence_floor(sync.params)
    assert th["min_metric"] == pytest.approx(guard)
    assert th["acquisition"] == pytest.approx(guard)
    assert guard > th["noise_acquisition"]
    assert sync.effective_pfa() < 1e-12
    assert _noise_run(sync, 1, 300, seed=3) == 0

    half = srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-2, num_resources=2)
    assert half.thresholds()["min_metric"] == pytest.approx(guard / 2)
    set_ = srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-2, min_metric=0.5)
    assert set_.thresholds()["acquisition"] == 0.5


@pytest.mark.parametrize("bad", [1.0, 2.0, float("nan"), float("inf"), True, "0.1"])
def test_min_metric_is_validated(bad):
    with pytest.raises(ValueError, match="min_metric"):
        srsaoa.srs_sync(1, CARRIER, SRS, -1, 1e-2, min_metric=bad)
