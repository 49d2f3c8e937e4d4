"""range_source: UWB ranges as JSON lines from ZeroMQ or a file -> range PDUs."""

from __future__ import annotations

import json
import math
import os
import threading

import pmt
from gnuradio import gr

from . import pdu as _pdu

PORT_RANGE = "range"
ZMQ_PREFIXES = ("tcp://", "ipc://", "inproc://")


def parse_range_line(line: str) -> dict:
    """The range record of one JSON line {t_s, anchor, range_m, sigma_m}; ValueError if bad."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("t_s", "anchor", "range_m", "sigma_m") if k not in obj]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not isinstance(obj["anchor"], str):
        raise ValueError("anchor must be a string")
    rec = {"anchor": obj["anchor"]}
    for k in ("t_s", "range_m", "sigma_m"):
        v = obj[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{k} must be a finite number, got {v!r}")
        rec[k] = float(v)
    if rec["range_m"] < 0 or rec["sigma_m"] <= 0:
        raise ValueError("range_m must be >= 0 and sigma_m > 0")
    return rec


class range_source(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """Reads UWB ranges, one JSON object {t_s, anchor, range_m, sigma_m} per line, and
    publishes one range PDU per line (meta = those keys, empty c32 vector) on ``range``.

    ``source``: a ZeroMQ address (``tcp://host:port``, ``ipc://...``): a SUB socket that
    connects to the UWB publisher (``bind`` True: binds instead; give 127.0.0.1, not *, unless
    the network must reach it), every message one or more lines; or a file path: read from
    the start, then followed like ``tail -f`` (a UWB logger appending to it) until the
    flowgraph stops. The block never sends "done" (it would end the position_estimator
    before the estimates); for recorded ranges give position_estimator's ``ranges_file``.
    Malformed lines are logged and skipped. ``poll_ms``: receive timeout / file poll interval.
    ``num_ranges()`` and ``num_bad()`` count the lines published and skipped.
    """

    def __init__(
        self, source: str = "tcp://127.0.0.1:5560", bind: bool = False, poll_ms: int = 100
    ):
        gr.basic_block.__init__(self, name="range_source", in_sig=None, out_sig=None)
        self._socket = None
        src = str(source)
        if not src:
            raise ValueError("source must be a ZeroMQ address or a file path")
        if int(poll_ms) < 1:
            raise ValueError(f"poll_ms must be >= 1, got {poll_ms}")
        self.is_zmq = src.startswith(ZMQ_PREFIXES)
        if not self.is_zmq and not os.path.isfile(src):
            raise ValueError(f"range file {src!r} does not exist")
        self.source = src
        self.bind = bool(bind)
        self.poll_ms = int(poll_ms)
        # written only by the reader thread (an int store is atomic): num_ranges(), num_bad()
        self._ranges = 0
        self._bad = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.is_zmq:
            import zmq

            self._ctx = zmq.Context.instance()
            self._socket = self._ctx.socket(zmq.SUB)
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.setsockopt(zmq.SUBSCRIBE, b"")
            try:
                (self._socket.bind if self.bind else self._socket.connect)(src)
            except zmq.ZMQError as exc:
                self._socket.close()
                raise ValueError(
                    f"cannot {'bind' if self.bind else 'connect'} {src}: {exc}"
                ) from None
        self.message_port_register_out(pmt.intern(PORT_RANGE))

    def num_ranges(self) -> int:
        """Range lines published so far."""
        return self._ranges

    def num_bad(self) -> int:
        """Malformed lines skipped so far."""
        return self._bad

    def _publish(self, text: str) -> None:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                rec = parse_range_line(line)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                self._bad += 1
                self.logger.warn(f"skipping range line {line[:80]!r}: {exc}")
                continue
            self._ranges += 1
            self.message_port_pub(pmt.intern(PORT_RANGE), _pdu.make_pdu(rec, None))

    def _run_zmq(self) -> None:
        import zmq

        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            if dict(poller.poll(self.poll_ms)).get(self._socket):
                self._publish(self._socket.recv().decode("utf-8", errors="replace"))

    def _run_file(self) -> None:
        with open(self.source, encoding="utf-8") as f:
            pending = ""
            while True:
                chunk = f.read()
                if chunk:
                    pending += chunk
                    text, _, pending = pending.rpartition("\n")
                    self._publish(text)
                elif self._stop.wait(self.poll_ms / 1000.0):
                    break
            if pending.strip():
                self._publish(pending)

    def start(self) -> bool:
        self._stop.clear()
        target = self._run_zmq if self.is_zmq else self._run_file
        self._thread = threading.Thread(target=target, name="range_source", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return True

    def __del__(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
