"""sigmf_source: streams all M channels of a SigMF recording (DESIGN section 5).

The metadata is validated here in Python; the samples go from disk to the output buffers
in C++ (``recording_source``: pread, ci16 scaled by VOLK), never through the interpreter.
The checks that read the whole recording run once, alongside the stream: the SHA-512 of
the data files in a background thread (hashlib releases the GIL), the count of non-finite
samples in the C++ reader as it streams (docs/performance.md).
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

import numpy as np
import pmt
from gnuradio import blocks, gr

from ..errors import RecordingError
from ..io.sigmf import Recording, open_recording
from . import _guard


def _rx_time(capture: dict) -> tuple[int, float] | None:
    """(full seconds, fractional seconds) of core:datetime (ISO 8601, UTC), or None."""
    text = capture.get("core:datetime")
    if not text:
        return None
    t = str(text).strip().replace("Z", "+00:00")
    frac = 0.0
    if "." in t:  # Python's parser takes at most 6 fractional digits: keep them all here
        head, rest = t.split(".", 1)
        k = 0
        while k < len(rest) and rest[k].isdigit():
            k += 1
        digits = rest[:k]
        tz = rest[len(digits) :]
        frac = float("0." + digits) if digits else 0.0
        t = head + tz
    try:
        d = _dt.datetime.fromisoformat(t)
    except ValueError:
        raise RecordingError(f"core:datetime {text!r} is not ISO 8601") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    return int(d.timestamp()), frac


# Output buffer (items per channel) for a file stream that feeds srs_sync directly, as in
# `srsaoa run`: 1 MiB, 2.1 ms at 61.44 Msps. Few, long reads: with GNU Radio's default
# buffers the receiver does not keep real time at 4 x 61.44 Msps (docs/performance.md).
# Not the block's default: next to a throttled branch (gui_spectrum.grc throttles one of the
# four channels) a large source buffer stalled that flowgraph's scheduler.
STREAM_BUFFER_ITEMS = 1 << 17


def use_large_buffers(block: Any) -> None:
    """Give a file stream (``recording_source``, or the ``sigmf_source`` around one) the
    output buffers of STREAM_BUFFER_ITEMS items."""
    core = getattr(block, "core", block)
    if core is not None and hasattr(core, "set_min_output_buffer"):
        core.set_min_output_buffer(STREAM_BUFFER_ITEMS)


def file_stream(rec: Any, repeat: bool = False, count_nonfinite: bool = True) -> Any:
    """The C++ ``recording_source`` streaming ``rec``'s data files (a RecordingReader or
    io.sigmf.RawRecording): M outputs with rx_rate / rx_freq tags at every pass and rx_time
    (first pass) when the capture has core:datetime."""
    from .. import srsaoa_python as cpp

    t = _rx_time(rec.captures[0]) if rec.captures else None
    # later captures with a core:datetime: rx_time at their first sample, so a capture gap
    # reaches srs_sync / cfr_extractor as a time discontinuity (docs/frontend.md)
    later = []
    for cap in list(rec.captures or [])[1:]:
        ct = _rx_time(cap)
        start = int(cap.get("core:sample_start", 0))
        if ct is not None and 0 < start < int(rec.num_samples):
            later.append((start, int(ct[0]), float(ct[1])))
    later.sort()
    ci16 = rec.datatype == "ci16_le"
    blk = cpp.recording_source(
        [str(p) for p in rec.data_files],
        int(rec.num_channels),
        str(rec.datatype),
        float(rec.ci16_scale) if ci16 else 1.0,
        int(rec.num_samples),
        bool(repeat),
        float(rec.sample_rate),
        float(rec.center_frequency_hz),
        t is not None,
        0 if t is None else int(t[0]),
        0.0 if t is None else float(t[1]),
        bool(count_nonfinite),
        [c[0] for c in later],
        [c[1] for c in later],
        [c[2] for c in later],
    )
    return blk


def memory_stream(rec: Recording, repeat: bool = False) -> list[Any]:
    """One ``vector_source_c`` per channel of an in-memory Recording (the simulated demo),
    with rx_rate / rx_freq tags at the first sample of every pass."""
    tags = [
        gr.tag_utils.python_to_tag(
            (0, pmt.intern(key), pmt.from_double(float(v)), pmt.intern("sigmf_source"))
        )
        for key, v in (("rx_rate", rec.sample_rate), ("rx_freq", rec.center_frequency_hz))
    ]
    return [blocks.vector_source_c(row, bool(repeat), 1, tags) for row in rec.samples]


class sigmf_source(gr.hier_block2):  # noqa: N801 - GNU Radio block naming
    """All M channels of a SigMF recording (collection ``NAME.sigmf-collection``, a
    multi-channel ``NAME.sigmf-meta``, or ``NAME``), validated like ``srsaoa run`` does
    (lengths, sample rate, metadata, and with ``check_hash`` the SHA-512 of every file),
    as M complex streams in element order.

    Tags at the first sample (and at every restart with ``repeat``): ``rx_rate`` (S/s) and
    ``rx_freq`` (Hz) from the metadata, and ``rx_time`` (uint64 seconds, double fraction)
    only when the capture has ``core:datetime``: times are read, never invented.
    An empty ``path`` streams a simulated demo recording (sim.Scenario defaults, 10 slots).
    ``num_channels`` (0 = any) must match the recording: GRC needs the output count up front.

    The samples stay on disk and stream in C++ (``recording_source``). The data files'
    SHA-512 is checked in a background thread while the flowgraph runs: a mismatch is logged
    as an error and stops a flowgraph run by ``srsaoa`` (``wait_checks()`` raises it).
    Non-finite samples are counted as they stream (``num_nonfinite()``); the occasions they
    touch are skipped downstream. ``recording`` is the validated :class:`io.RecordingReader`
    (metadata, truth, annotations).
    """

    def __init__(
        self, path: str = "", repeat: bool = False, check_hash: bool = True, num_channels: int = 0
    ) -> None:
        if not isinstance(path, str):
            raise ValueError(f"path must be a string, got {path!r}")
        if not isinstance(repeat, (bool, np.bool_)):
            raise ValueError(f"repeat must be True or False, got {repeat!r}")
        if not isinstance(check_hash, (bool, np.bool_)):
            raise ValueError(f"check_hash must be True or False, got {check_hash!r}")
        if isinstance(num_channels, bool) or int(num_channels) != num_channels or num_channels < 0:
            raise ValueError(f"num_channels must be an integer >= 0, got {num_channels!r}")
        if path:
            try:
                # metadata and sizes now; data hashes alongside the stream, non-finite
                # samples counted by the C++ reader (DESIGN section 9)
                rec = open_recording(
                    path, check_hash="defer" if check_hash else False, check_finite=False
                )
            except RecordingError as exc:
                raise ValueError(str(exc)) from None
        else:
            from ..sim import Scenario, simulate

            rec = simulate(Scenario(name="demo"))
        m = rec.num_channels
        if num_channels and num_channels != m:
            raise ValueError(
                f"{path}: the recording has {m} channels but the block is set to {num_channels}"
            )
        gr.hier_block2.__init__(
            self,
            "sigmf_source",
            gr.io_signature(0, 0, 0),
            gr.io_signature(m, m, gr.sizeof_gr_complex),
        )
        self.recording = rec
        self._num_channels = m
        self.sample_rate = float(rec.sample_rate)
        self.logger = gr.logger("sigmf_source")
        self._failure = None
        self._hash_error: str | None = None
        self._hash_thread: threading.Thread | None = None
        self.log_check_errors = True  # False: the caller reports wait_checks()'s error
        self._go = threading.Event()
        if path:
            self.core = file_stream(rec, bool(repeat))
            for ch in range(m):
                self.connect((self.core, ch), (self, ch))
        else:
            self.core = None
            self._memory = memory_stream(rec, bool(repeat))
            for ch, src in enumerate(self._memory):
                self.connect(src, (self, ch))
        self.logger.info(
            f"{path or 'simulated demo'}: {m} channels x {rec.num_samples} samples "
            f"({rec.datatype}, {rec.sample_rate / 1e6:g} Msps, "
            f"{'with' if rec.truth else 'no'} truth)"
        )
        if path and check_hash:
            self._hash_thread = threading.Thread(
                target=self._verify_hashes, name="sigmf_source sha512", daemon=True
            )
            self._hash_thread.start()

    def _verify_hashes(self) -> None:
        # start with the stream (or when someone waits for the result), so that whoever
        # runs the flowgraph has configured how errors are reported
        while not self._go.wait(0.01):
            if self.core.num_streamed() > 0:
                break
        try:
            self.recording.verify_data_hashes()
        except (RecordingError, OSError) as exc:
            self._hash_error = str(exc)
            # stops a flowgraph run by srsaoa (which prints the error itself); logged for GRC
            _guard.report(self, exc, "checking the recording", log=self.log_check_errors)

    def wait_checks(self, timeout: float | None = None) -> None:
        """Wait for the background SHA-512 check; RecordingError if a data file does not
        match its metadata (TimeoutError if it is still running after ``timeout`` s)."""
        if self._hash_thread is not None:
            self._go.set()
            self._hash_thread.join(timeout)
            if self._hash_thread.is_alive():
                raise TimeoutError("the SHA-512 check is still running")
        if self._hash_error is not None:
            raise RecordingError(self._hash_error)

    def num_channels(self) -> int:
        """Number of output streams (the recording's channels)."""
        return self._num_channels

    def num_nonfinite(self) -> int:
        """Time samples with a NaN/Inf in some channel, counted so far (first pass)."""
        return 0 if self.core is None else int(self.core.num_nonfinite())

    def first_nonfinite(self) -> int | None:
        """Index of the first non-finite time sample (None: none so far)."""
        i = -1 if self.core is None else int(self.core.first_nonfinite())
        return None if i < 0 else i

    def error(self) -> str:
        """The read error that ended the stream early, or ''."""
        return "" if self.core is None else str(self.core.error())
