"""sigmf_source hier block (issue 4): streams every channel of a recording, with tags."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import io, sim

REF = Path(__file__).resolve().parent / "data" / "recordings"


def _collect(src, m, head=None):
    tb = gr.top_block()
    sinks = [blocks.vector_sink_c() for _ in range(m)]
    for ch, s in enumerate(sinks):
        if head is None:
            tb.connect((src, ch), s)
        else:
            h = blocks.head(gr.sizeof_gr_complex, head)
            tb.connect((src, ch), h, s)
    tb.run()
    return np.array([s.data() for s in sinks], dtype=np.complex64), sinks


def _tags(sink):
    return {(t.offset, pmt.symbol_to_string(t.key)): pmt.to_python(t.value) for t in sink.tags()}


def test_streams_the_reference_recording_with_tags():
    path = str(REF / "two_paths_period2.sigmf-collection")
    rec = io.read_recording(path)
    src = srsaoa.sigmf_source(path, False, True, 4)
    y, sinks = _collect(src, 4)
    assert np.array_equal(y, rec.samples)
    for s in sinks:
        tags = _tags(s)
        assert tags[(0, "rx_rate")] == 30.72e6 and tags[(0, "rx_freq")] == 3.5e9
        assert not any(k == "rx_time" for _, k in tags)  # no core:datetime: never invented


def test_rx_time_from_core_datetime_and_repeat(tmp_path):
    sc = sim.Scenario(paths=[{"aoa_deg": 5.0}], num_slots=1, snr_db=10, start_offset_samples=3)
    rec = sim.simulate(sc)
    rec.captures = [{"core:sample_start": 0, "core:datetime": "2026-11-22T01:02:03.250000125Z"}]
    p = io.write_recording(tmp_path / "dt", rec)
    n = rec.num_samples
    src = srsaoa.sigmf_source(str(p), True, True, 0)
    y, sinks = _collect(src, 4, head=2 * n + 10)
    assert np.array_equal(y[:, :n], rec.samples) and np.array_equal(y[:, n : 2 * n], rec.samples)
    tags = _tags(sinks[2])
    secs, frac = tags[(0, "rx_time")]
    assert secs == 1795309323 and frac == pytest.approx(0.250000125, abs=1e-12)
    assert (n, "rx_rate") in tags and (2 * n, "rx_freq") in tags
    assert (n, "rx_time") not in tags  # the restart is not a new capture time


def test_bad_recordings_raise_value_error(tmp_path):
    for f in REF.glob("los_23deg_10db*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "los_23deg_10db_ch1.sigmf-meta").unlink()
    with pytest.raises(ValueError, match="missing channel 1"):
        srsaoa.sigmf_source(str(tmp_path / "los_23deg_10db.sigmf-collection"))
    with pytest.raises(ValueError, match="has 4 channels but the block is set to 2"):
        srsaoa.sigmf_source(str(REF / "los_23deg_10db"), False, True, 2)
    with pytest.raises(ValueError, match="repeat"):
        srsaoa.sigmf_source(str(REF / "los_23deg_10db"), "yes")


def test_empty_path_streams_a_demo_recording():
    src = srsaoa.sigmf_source("", False, True, 4)
    y, _ = _collect(src, 4, head=1000)
    assert y.shape == (4, 1000) and src.recording.truth is not None
