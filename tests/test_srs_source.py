"""srs_source in real GNU Radio flowgraphs against nr.srs_slot_waveform.

The expected stream is built slot by slot from the math: srs_slot_waveform of the carrier
advanced by t slots where is_srs_slot holds, zeros elsewhere. The block copies those
complex64 samples (times a float32 scale), so the comparison is exact up to one float32
multiplication (relative 6e-8); we allow 1e-6.
"""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import nr


def expected(carrier, srs, num_slots, scale=1.0):
    parts, starts, pos = [], [], 0
    for t in range(num_slots):
        c = carrier.advanced(t)
        n = c.samples_per_slot()
        if srs.is_srs_slot(c):
            parts.append(nr.srs_slot_waveform(c, srs).reshape(n, -1) * scale)
            starts.append(pos)
        else:
            parts.append(np.zeros((n, srs.num_srs_ports), np.complex64))
        pos += n
    return np.concatenate(parts), starts


def run(src, total, ports, max_items=None):
    tb = gr.top_block()
    sinks = []
    for p in range(ports):
        head = blocks.head(gr.sizeof_gr_complex, total)
        sink = blocks.vector_sink_c()
        tb.connect((src, p), head, sink)
        sinks.append(sink)
    if max_items:
        src.set_max_noutput_items(max_items)
    tb.run()
    out = np.stack([np.array(s.data(), dtype=np.complex64) for s in sinks], axis=1)
    return out, [s.tags() for s in sinks]


def check_tags(tags, starts):
    got = [t for t in tags if pmt.symbol_to_string(t.key) == "srs_start"]
    assert [t.offset for t in got] == starts
    for i, t in enumerate(got):
        v = pmt.to_python(t.value)
        assert v["occasion"] == i and v["metric"] == 1.0 and v["cfo_hz"] == 0.0


# 30 kHz, 24 RB (fft 512, 7680 samples per slot), 2 ports, frequency hopping over 4 sub-bands
# of 4 RB (C_SRS 3, B_SRS 1), group hopping, SRS every 2nd slot with offset 1.
CARRIER = nr.CarrierConfig(n_size_grid=24, n_frame=1023, n_slot=17)
SRS = nr.SRSConfig(
    num_srs_ports=2,
    c_srs=3,
    b_srs=1,
    b_hop=0,
    symbol_start=10,
    num_srs_symbols=2,
    group_seq_hopping="groupHopping",
    n_srs_id=300,
    srs_period=(2, 1),
)
SLOTS = 9  # crosses the frame wrap 1023 -> 0


def test_stream_matches_math_and_tags():
    want, starts = expected(CARRIER, SRS, SLOTS, scale=0.5)
    assert len(starts) == 5  # slots 17, 19 of frame 1023 and 1, 3, 5 of frame 0
    src = srsaoa.srs_source.from_configs(CARRIER, SRS, scale=0.5)
    out, tags = run(src, len(want), 2)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-6 * np.abs(want).max())
    for p in range(2):
        check_tags(tags[p], starts)
    # frequency hopping really happens: the SRS occupies different subcarriers per occasion
    occupied = []
    for t in range(SLOTS):
        if t * 7680 in starts:
            g = nr.ofdm_demodulate(CARRIER.advanced(t), out[t * 7680 : (t + 1) * 7680, 0])
            k = np.nonzero(np.abs(g[:, 10]) > 0.1)[0]
            occupied.append((k[0], k[-1]))
    assert len(set(occupied)) > 1


@pytest.mark.parametrize("max_items", [1, 517, 4096])
def test_chunked_scheduling_gives_the_same_stream(max_items):
    total = 4 * 7680 + 123
    want, starts = expected(CARRIER, SRS, 5)
    want = want[:total]
    starts = [s for s in starts if s < total]
    src = srsaoa.srs_source.from_configs(CARRIER, SRS)
    out, tags = run(src, total if max_items > 1 else 7680 * 2 + 50, 2, max_items)
    n = len(out)
    np.testing.assert_allclose(out, want[:n], rtol=0, atol=1e-6 * np.abs(want).max())
    check_tags(tags[1], [s for s in starts if s < n])


def test_default_block_is_the_default_waveform_every_slot():
    src = srsaoa.srs_source()
    out, tags = run(src, 3 * 15360, 1)
    w = nr.srs_slot_waveform(nr.CarrierConfig(), nr.SRSConfig())
    np.testing.assert_array_equal(out[:, 0], np.tile(w, 3))
    check_tags(tags[0], [0, 15360, 30720])


def test_long_cp_slots_at_60khz():
    carrier = nr.CarrierConfig(subcarrier_spacing=60, n_size_grid=24, n_slot=1)
    srs = nr.SRSConfig(c_srs=3)
    want, starts = expected(carrier, srs, 4)
    src = srsaoa.srs_source.from_configs(carrier, srs)
    out, tags = run(src, len(want), 1)
    np.testing.assert_array_equal(out, want)
    check_tags(tags[0], starts)
    assert np.diff(starts).tolist() == [7672, 7688, 7672]  # 14*(512+36), +16 on slot 2's long CP


def test_scale_callback_and_validation():
    src = srsaoa.srs_source()
    src.set_scale(2.0)
    assert src.scale() == 2.0
    with pytest.raises(ValueError, match="scale"):
        src.set_scale(float("nan"))
    with pytest.raises(ValueError, match="c_srs"):
        srsaoa.srs_source(c_srs=70)
    with pytest.raises(ValueError, match="does not fit"):
        srsaoa.srs_source(n_size_grid=24, c_srs=12)
    with pytest.raises(ValueError, match="fft_size"):
        srsaoa.srs_source(fft_size=100)
    with pytest.raises(ValueError, match="srs_period"):
        srsaoa.srs_source(srs_period=(3, 0))


def test_cached_slots_follow_frequency_hopping():
    # no group hopping: the block reuses cached slots keyed on the hopping phase
    # (period N_1 = 4 occasions here), so 10 slots exercise cache hits.
    carrier = nr.CarrierConfig(n_size_grid=24, n_slot=3)
    srs = nr.SRSConfig(c_srs=3, b_srs=1, b_hop=0, num_srs_symbols=2, repetition=2, symbol_start=12)
    want, starts = expected(carrier, srs, 10)
    out, tags = run(srsaoa.srs_source.from_configs(carrier, srs), len(want), 1)
    np.testing.assert_array_equal(out, want)
    check_tags(tags[0], starts)
    k0 = [int(nr.start_subcarriers(carrier.advanced(t), srs)[0, 0]) for t in range(10)]
    assert len(set(k0)) == 4 and k0[:4] == k0[4:8]
