"""sigmf_source hier block: streams every channel of a recording, with tags."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import io, sim
from gnuradio.srsaoa.errors import RecordingError

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


# --------------------------------------------------------------- the C++ file stream


def _sim(tmp_path, datatype, interleaved=False, slots=2):
    sc = sim.Scenario(paths=[{"aoa_deg": -12.0}], num_slots=slots, snr_db=10, seed=4)
    rec = sim.simulate(sc)
    p = io.write_recording(tmp_path / "r", rec, datatype=datatype, interleaved=interleaved)
    return p


@pytest.mark.parametrize(
    ("datatype", "interleaved"),
    [("cf32_le", False), ("ci16_le", False), ("cf32_le", True), ("ci16_le", True)],
)
def test_cpp_stream_equals_the_numpy_twin(tmp_path, datatype, interleaved):
    """recording_source (C++ pread, ci16 scaling) gives bit for bit the samples of the numpy
    twin io.RecordingReader.read, for one file per channel and for interleaved channels."""
    p = _sim(tmp_path, datatype, interleaved)
    reader = io.open_recording(p)
    src = srsaoa.sigmf_source(str(p), False, True, 4)
    y, _ = _collect(src, 4)
    assert np.array_equal(y, reader.read())
    src.wait_checks()  # the hash check that ran alongside: fine
    assert src.num_nonfinite() == 0 and src.first_nonfinite() is None


def test_kernel_reads_any_window_like_the_twin(tmp_path):
    from gnuradio.srsaoa import srsaoa_python as cpp

    p = _sim(tmp_path, "ci16_le", interleaved=True)
    reader = io.open_recording(p)
    k = cpp.recording_reader([str(f) for f in reader.data_files], 4, "ci16_le", reader.ci16_scale)
    assert k.num_samples == reader.num_samples and k.interleaved
    for start, count in ((0, 1), (17, 1000), (reader.num_samples - 5, 100)):
        assert np.array_equal(k.read(start, count), reader.read(start, count))


def test_nonfinite_samples_counted_as_they_stream(tmp_path):
    p = _sim(tmp_path, "cf32_le")
    data = tmp_path / "r_ch2.sigmf-data"
    x = np.fromfile(data, dtype=np.complex64)
    x[1000:1007] = np.nan
    x[5000] = np.inf
    x.tofile(data)
    src = srsaoa.sigmf_source(str(p), False, False, 4)  # no hash check: the data changed
    y, _ = _collect(src, 4)
    assert np.isnan(y[2, 1000:1007]).all()  # streamed unchanged, skipped downstream
    assert src.num_nonfinite() == 8 and src.first_nonfinite() == 1000


def test_hash_mismatch_found_alongside_the_stream(tmp_path):
    from gnuradio.srsaoa.blocks import _guard

    p = _sim(tmp_path, "ci16_le")
    data = tmp_path / "r_ch1.sigmf-data"
    b = bytearray(data.read_bytes())
    b[100] ^= 0x01
    data.write_bytes(bytes(b))
    _guard.clear()
    src = srsaoa.sigmf_source(str(p), False, True, 4)  # metadata fine: opens
    src.log_check_errors = False
    _collect(src, 4)
    with pytest.raises(RecordingError, match="r_ch1.sigmf-data: sha512 hash mismatch"):
        src.wait_checks()
    assert _guard.failed.is_set()  # what stops a flowgraph run by srsaoa
    _guard.clear()
    # skipped when asked: no check, no error
    src = srsaoa.sigmf_source(str(p), False, False, 4)
    _collect(src, 4)
    src.wait_checks()
