"""sigmf_source: streams all M channels of a SigMF recording (DESIGN section 5)."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pmt
from gnuradio import gr

from ..errors import RecordingError
from ..io.sigmf import Recording, RecordingReader, open_recording
from ._guard import guarded


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


class _recording_stream(gr.sync_block):  # noqa: N801
    """M outputs streaming a Recording's (or a RecordingReader's) samples, with rx_rate /
    rx_freq (and rx_time when the recording has core:datetime) tags at the start of every
    pass."""

    def __init__(self, rec: Recording | RecordingReader, repeat: bool) -> None:
        gr.sync_block.__init__(
            self,
            name="sigmf_recording_stream",
            in_sig=None,
            out_sig=[np.complex64] * rec.num_channels,
        )
        self._rec = rec
        self._failure = None
        self._m = rec.num_channels
        self._total = rec.num_samples
        self._repeat = bool(repeat)
        self._pos = 0
        self._pass = 0
        self._rate = pmt.from_double(float(rec.sample_rate))
        self._freq = pmt.from_double(float(rec.center_frequency_hz))
        t = _rx_time(rec.captures[0]) if rec.captures else None
        self._time = (
            None if t is None else pmt.make_tuple(pmt.from_uint64(t[0]), pmt.from_double(t[1]))
        )

    def _tag_start(self, offset: int) -> None:
        src = pmt.intern(self.alias())
        for m in range(self._m):
            self.add_item_tag(m, offset, pmt.intern("rx_rate"), self._rate, src)
            self.add_item_tag(m, offset, pmt.intern("rx_freq"), self._freq, src)
            if self._time is not None and self._pass == 0:
                self.add_item_tag(m, offset, pmt.intern("rx_time"), self._time, src)

    @guarded("reading the recording", on_error=-1)  # -1 = WORK_DONE: a clean stop
    def work(self, input_items, output_items):
        if self._failure is not None:
            return -1
        total = self._total
        want = len(output_items[0])
        done = 0
        while done < want:
            if self._pos >= total:
                if not self._repeat or total == 0:
                    break
                self._pos = 0
                self._pass += 1
            if self._pos == 0:
                self._tag_start(self.nitems_written(0) + done)
            k = min(want - done, total - self._pos)
            block = self._rec.read(self._pos, k)
            for m, out in enumerate(output_items):
                out[done : done + k] = block[m]
            self._pos += k
            done += k
        if done == 0:
            return -1  # WORK_DONE
        return done


class sigmf_source(gr.hier_block2):  # noqa: N801 - GNU Radio block naming
    """All M channels of a SigMF recording (collection ``NAME.sigmf-collection``, a
    multi-channel ``NAME.sigmf-meta``, or ``NAME``), validated like ``srsaoa run`` does
    (hashes, lengths, sample rate, finiteness), as M complex streams in element order.

    Tags at the first sample (and at every restart with ``repeat``): ``rx_rate`` (S/s) and
    ``rx_freq`` (Hz) from the metadata, and ``rx_time`` (uint64 seconds, double fraction)
    only when the capture has ``core:datetime``: times are read, never invented.
    An empty ``path`` streams a simulated demo recording (sim.Scenario defaults, 10 slots).
    ``num_channels`` (0 = any) must match the recording: GRC needs the output count up front.
    The samples stay on disk (memory-mapped, read per work call); ``recording`` is the
    validated :class:`io.RecordingReader` (metadata, truth, annotations).
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
                # non-finite bursts are counted, not fatal: srs_sync and cfr_extractor skip
                # the occasions they touch (DESIGN section 9)
                rec = open_recording(path, check_hash=bool(check_hash), check_finite="count")
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
        self.num_channels = m
        self.sample_rate = float(rec.sample_rate)
        self._stream = _recording_stream(rec, bool(repeat))
        for ch in range(m):
            self.connect((self._stream, ch), (self, ch))
        self.logger = gr.logger("sigmf_source")
        if getattr(rec, "num_nonfinite", 0):
            self.logger.warn(
                f"{path}: {rec.num_nonfinite} non-finite (NaN/Inf) sample(s), first at sample "
                f"{rec.first_nonfinite}: the SRS occasions they touch are skipped"
            )
        self.logger.info(
            f"{path or 'simulated demo'}: {m} channels x {rec.num_samples} samples "
            f"({rec.datatype}, {rec.sample_rate / 1e6:g} Msps, "
            f"{'with' if rec.truth else 'no'} truth)"
        )
