"""result_sink: estimate PDUs to JSON lines (file or stdout) and the GNU Radio log."""

from __future__ import annotations

import json
import math
import operator
import os
import sys
import threading
from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from . import _flow
from . import pdu as _pdu
from ._guard import guarded

LOG_LEVELS = ("off", "debug", "info")
MAX_BATCH = 256  # estimates written (and flushed) per handler call


class _SharedFile:
    """One open file per path in this process, shared by every result_sink that names it.

    A flowgraph gives each estimator branch its own result_sink (GNU Radio finishes a
    message-only block at the first upstream "done", so one sink fed by several branches
    loses the slower branches' last estimates); the branches still write one file. The
    first sink truncates it, later ones append to the same handle, the last one closes it.
    """

    _registry: dict[str, _SharedFile] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str, mode: str) -> None:
        self.path = path
        self.file = open(path, mode, encoding="utf-8")  # noqa: SIM115 - closed in release
        self.users = 0
        self.lock = threading.Lock()

    @classmethod
    def acquire(cls, path: str, mode: str = "w") -> _SharedFile:
        key = os.path.realpath(path)
        with cls._registry_lock:
            shared = cls._registry.get(key)
            if shared is None or shared.file.closed:
                shared = cls(key, mode)
                cls._registry[key] = shared
            shared.users += 1
            return shared

    def write_line(self, line: str) -> None:
        self.write_text(line + "\n")

    def write_text(self, text: str) -> None:
        """Whole lines, written and flushed together (one system call per batch)."""
        with self.lock:
            self.file.write(text)
            self.file.flush()

    def release(self) -> None:
        with self._registry_lock:
            self.users -= 1
            if self.users <= 0:
                try:
                    self.file.close()  # a last flush can fail (disk full)
                finally:
                    if self._registry.get(self.path) is self:
                        del self._registry[self.path]


def _num(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def _vec(v: Any) -> list[float | None]:
    return [_num(x) for x in np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel()]


def _sample_index(v: Any) -> int:
    """A meta ``sample_index`` as an int in [0, 2^64); ValueError otherwise (a float such as
    1e300 would otherwise become the latest index acknowledged and hold every later ack)."""
    try:
        i = operator.index(v)
    except TypeError:
        raise ValueError(f"sample_index {v!r} is not an integer") from None
    if not 0 <= i < 2**64:
        raise ValueError(f"sample_index {i} is outside [0, 2^64)")
    return i


def estimate_record(meta: dict[str, Any], sample_rate: float) -> dict[str, Any]:
    """The DESIGN section 7 JSON object of one estimate PDU's meta (non-finite -> null).

    Raises ValueError for a meta that is not an estimate's (no ``method`` or no
    ``aoa_deg``, DESIGN section 6): such a PDU is dropped, never written as an estimate."""
    missing = [k for k in (K.METHOD, K.AOA_DEG) if meta.get(k) is None]
    if missing:
        raise ValueError(f"not an estimate: its meta has no {' or '.join(missing)}")
    si = meta.get(K.SAMPLE_INDEX)
    rec: dict[str, Any] = {
        "t_s": None if si is None else float(si) / sample_rate,
        "sample_index": None if si is None else int(si),
        "srs_occasion": None if meta.get(K.SRS_OCCASION) is None else int(meta[K.SRS_OCCASION]),
        "method": str(meta[K.METHOD]),
        "order": None if meta.get(K.ORDER) is None else int(meta[K.ORDER]),
        "aoa_deg": _vec(meta[K.AOA_DEG]),
        "delay_s": _vec(meta[K.DELAY_S]) if K.DELAY_S in meta else None,
        "snr_db": None if meta.get(K.SNR_DB) is None else _num(meta[K.SNR_DB]),
        "power": _vec(meta.get(K.POWER, [])),
        "crb_deg": _vec(meta.get(K.CRB_DEG, [])),
    }
    if meta.get(K.FLAGS):
        rec["flags"] = [str(f) for f in np.atleast_1d(meta[K.FLAGS])]
    if meta.get(K.DROPPED):
        rec["dropped"] = int(meta[K.DROPPED])
    if meta.get(K.RESOURCE) is not None:  # several UEs: the SRS resource id
        rec["resource"] = str(meta[K.RESOURCE])
    if meta.get(K.OCCASIONS):  # SRS occasions combined into it, when more than one
        rec["occasions"] = int(meta[K.OCCASIONS])
    if meta.get(K.LOS_INDEX) is not None:  # the earliest significant path (estimation.los)
        rec["los_index"] = int(meta[K.LOS_INDEX])
    if meta.get(K.LOS_EDGE) is not None:  # its angle read on the leading edge (doa_estimator)
        rec["los_edge"] = bool(meta[K.LOS_EDGE])
    rx = meta.get(K.RX_TIME)
    if isinstance(rx, (tuple, list)) and len(rx) == 2:
        rec["rx_time"] = float(rx[0]) + float(rx[1])
    return rec


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that later flushes (and interpreter exit) do not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class result_sink(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """Writes one JSON object per line and per estimate PDU (DESIGN section 7).

    In ``estimate``: estimate PDUs from doa_estimator (or moddnn_doa). Each line holds
    ``t_s`` = sample_index / sample_rate, ``sample_index``, ``srs_occasion``, ``method``,
    ``order``, ``aoa_deg``, ``delay_s`` (null unless 2D-ESPRIT), ``snr_db``, ``power``,
    ``crb_deg`` and ``rx_time`` (seconds, when the radio gave one); non-finite numbers are
    written as null. ``filename`` "-" is stdout, else the file is created (truncated) and
    flushed after every line. Several result_sinks naming the same file share it (the
    first truncates it): give each estimator branch its own sink. ``log_level`` "info"/"debug"
    also logs a one-line summary per estimate at that level, "off" does not. A line gets
    ``dropped`` (inputs of its branch dropped so far by the bounded queues of a live run)
    when the estimate carries it. ``resource`` (several UEs, docs/multi_ue.md): the SRS
    resource id this branch follows, written as ``resource`` in every line ("" = none).

    Flow control (docs/performance.md): the estimates queued up are written together, with
    one flush. Skip notices (meta ``skipped``, from the branch's ``skipped`` ports) write
    nothing; messages that are not estimate PDUs (no ``method`` or ``aoa_deg``) are logged
    and dropped. After each batch, out ``ack`` publishes {``consumer``: this block's alias,
    ``sample_index``: the latest occasion done}, for cfr_extractor's credits.
    ``max_queue`` > 0 bounds the input queue (oldest estimates dropped and counted,
    ``num_dropped()``); 0 never drops. ``num_written()`` counts the lines written,
    ``num_skipped()`` the skip notices.
    """

    def __init__(
        self,
        filename: str = "-",
        sample_rate: float = 30.72e6,
        log_level: str = "info",
        max_queue: int = 0,
        resource: str = "",
    ):
        gr.basic_block.__init__(self, name="result_sink", in_sig=None, out_sig=None)
        if not isinstance(resource, str) or len(resource) > 64:
            raise ValueError(f"resource must be a string of at most 64 characters, {resource!r}")
        self.resource = resource
        fname = str(filename)
        if not fname:
            raise ValueError("filename must be a path or '-' for stdout")
        if fname != "-":
            parent = os.path.dirname(os.path.abspath(fname))
            if not os.path.isdir(parent):
                raise ValueError(f"directory of {fname!r} does not exist")
        sr = float(sample_rate)
        if not (math.isfinite(sr) and sr > 0):
            raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
        self._lock = threading.Lock()
        self.filename = fname
        self.sample_rate = sr
        self.set_log_level(log_level)
        self._written = 0  # under self._lock; read through num_written()
        self._shared: _SharedFile | None = None
        self._write_failed = False
        self._failure = None
        self._bound = _flow.InputBound(max_queue, "estimates")
        self._skipped = 0  # under self._lock; read through num_skipped()
        self._done_index: int | None = None  # latest sample_index written or skipped
        if fname != "-":
            try:
                self._shared = _SharedFile.acquire(fname, "w")
            except OSError as exc:
                raise ValueError(f"cannot open {fname!r} for writing: {exc}") from exc
        self._port = pmt.intern(K.PORT_ESTIMATE)
        self.message_port_register_in(self._port)
        self.message_port_register_out(pmt.intern(K.PORT_ACK))
        self.set_msg_handler(self._port, self._handle)

    def set_log_level(self, log_level: str) -> None:
        lv = str(log_level).lower()
        if lv not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}, got {log_level!r}")
        self._log_level = lv

    def set_max_queue(self, max_queue: int) -> None:
        self._bound.set_max_queue(max_queue)

    def num_written(self) -> int:
        """Estimate lines written so far."""
        with self._lock:
            return self._written

    def num_skipped(self) -> int:
        """Skip notices (inputs of the branch finished without an estimate) so far."""
        with self._lock:
            return self._skipped

    def num_dropped(self) -> int:
        """Estimate PDUs dropped by the input queue bound so far."""
        return self._bound.dropped

    @guarded("writing an estimate")
    def _handle(self, msg: pmt.pmt_t) -> None:
        if self._bound.shed(self, self._port):
            return
        lines, done = [], None
        for m in [msg, *_flow.take_queued(self, self._port, MAX_BATCH - 1)]:
            try:
                meta, _ = _pdu.parse_pdu(m)
                idx = meta.get(K.SAMPLE_INDEX)
                if idx is not None:
                    idx = _sample_index(idx)  # before it can move the acknowledgements
                    done = idx if done is None else max(done, idx)
                if K.SKIPPED in meta:  # a stage of the branch finished it without estimate
                    with self._lock:
                        self._skipped += 1
                    continue
                if self.resource:
                    meta[K.RESOURCE] = self.resource
                rec = estimate_record(meta, self.sample_rate)
            except (ValueError, TypeError) as exc:
                self.logger.error(f"dropping malformed estimate PDU: {exc}")
                continue
            lines.append(rec)
        try:
            self._write(lines)
        finally:
            if done is not None:
                self._ack(done)

    def _ack(self, sample_index: int) -> None:
        if self._done_index is not None and sample_index <= self._done_index:
            return
        self._done_index = sample_index
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern(K.CONSUMER), pmt.intern(self.alias()))
        d = pmt.dict_add(d, pmt.intern(K.SAMPLE_INDEX), pmt.from_uint64(int(sample_index)))
        self.message_port_pub(pmt.intern(K.PORT_ACK), d)

    def _write(self, recs: list[dict[str, Any]]) -> None:
        if not recs:
            return
        text = "".join(json.dumps(r, separators=(", ", ": ")) + "\n" for r in recs)
        with self._lock:
            if self._write_failed:
                return
            try:
                if self.filename == "-":
                    sys.stdout.write(text)
                    sys.stdout.flush()
                else:
                    if self._shared is None:  # restarted after stop(): append
                        self._shared = _SharedFile.acquire(self.filename, "a")
                    self._shared.write_text(text)
            except BrokenPipeError:
                # the reader went away (e.g. `srsaoa run --out - | head`): stop quietly
                self._write_failed = True
                _silence_stdout()
                self.logger.info("stdout was closed by its reader: no more estimates written")
                return
            except OSError as exc:  # disk full, file removed, ...
                self._write_failed = True
                raise OSError(f"cannot write {self.filename}: {exc}; estimates are lost") from exc
            self._written += len(recs)
        if self._log_level != "off":
            log = self.logger.info if self._log_level == "info" else self.logger.debug
            for rec in recs:
                aoa = ", ".join(f"{a:.2f}" for a in rec["aoa_deg"] if a is not None)
                log(
                    f"occasion {rec['srs_occasion']} t={rec['t_s']} s {rec['method']}: "
                    f"aoa [{aoa}] deg, snr {rec['snr_db']} dB"
                )

    @guarded("closing its file", on_error=True)
    def stop(self) -> bool:
        with self._lock:
            if self._shared is not None:
                self._shared.release()
                self._shared = None
            elif not self._write_failed:
                try:
                    sys.stdout.flush()
                except OSError:
                    _silence_stdout()
        return True
