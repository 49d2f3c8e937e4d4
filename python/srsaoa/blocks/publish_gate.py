"""publish_gate: an anchor's estimate PDUs in front of a ZMQ PUB Message Sink, with the
file handshake of ``gnuradio.srsaoa.handshake`` (complete delivery to the fusion flowgraph)."""

from __future__ import annotations

import math
import threading
import time

import pmt
from gnuradio import gr

from .. import handshake as hs
from . import pdu as _pdu
from ._guard import guarded

PORT_IN = "in"
PORT_OUT = "out"
KEY_ANCHOR = "anchor"
KEY_HELLO = "hello"


class publish_gate(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """Passes PDUs from ``in`` to ``out`` (connect ``out`` to a ZMQ PUB Message Sink).

    Without ``handshake_dir`` it is a plain pass-through (a live anchor: the fusion side may
    come and go). With it, the anchor side of the handshake (docs/positioning.md,
    ``gnuradio.srsaoa.handshake``): at construction the anchor's stale files in that folder are
    removed; from start, hello PDUs (meta ``anchor``, ``hello`` = True, empty vector) go out
    every ``hello_period_s`` and the PDUs are held (the handler waits) until the fusion writes
    ``<anchor>.ready``; at the end (``stop``, after the last PDU has been passed on) the gate
    writes ``<anchor>.done`` with the number of PDUs it passed and waits until the fusion writes
    ``<anchor>.ack``, which keeps the process and its PUB socket alive until everything has
    arrived. Each wait ends after ``timeout_s``; then the error is logged, ``failed()`` turns
    True, and the PDUs go out anyway. ``num_passed()`` and ``num_hellos()`` count the PDUs passed
    on and the hellos sent.
    """

    def __init__(
        self,
        anchor: str = "gnb1",
        handshake_dir: str = "",
        hello_period_s: float = 0.1,
        timeout_s: float = 60.0,
    ):
        gr.basic_block.__init__(self, name="publish_gate", in_sig=None, out_sig=None)
        self.anchor = str(anchor)
        if not self.anchor:
            raise ValueError("anchor must name the anchor (as in the anchors file)")
        for name, v in (("hello_period_s", hello_period_s), ("timeout_s", timeout_s)):
            if not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"{name} must be > 0 s, got {v}")
        self.hello_period_s = float(hello_period_s)
        self.timeout_s = float(timeout_s)
        self.handshake_dir = str(handshake_dir)
        if self.handshake_dir:
            hs.check_name(self.anchor)
            hs.check_dir(self.handshake_dir)
            hs.clear(self.handshake_dir, self.anchor)
        self._passed = 0  # written under self._lock; read through num_passed()
        self._hellos = 0
        self._failed = threading.Event()
        self._failure = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._deadline = math.inf
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.message_port_register_in(pmt.intern(PORT_IN))
        self.message_port_register_out(pmt.intern(PORT_OUT))
        self.set_msg_handler(pmt.intern(PORT_IN), self._handle)

    # ------------------------------------------------------------------ counters
    def num_passed(self) -> int:
        """PDUs passed from ``in`` to ``out`` so far."""
        with self._lock:
            return self._passed

    def num_hellos(self) -> int:
        """Hello PDUs sent so far."""
        with self._lock:
            return self._hellos

    def failed(self) -> bool:
        """True once a handshake wait has timed out (the error was logged)."""
        return self._failed.is_set()

    # ------------------------------------------------------------------ anchor side
    def _ready_path(self):
        return hs.path(self.handshake_dir, self.anchor, "ready")

    def _hello(self) -> None:
        msg = _pdu.make_pdu({KEY_ANCHOR: self.anchor, KEY_HELLO: True}, None)
        while not self._stop.is_set():
            if self._ready_path().exists():
                self._ready.set()
                return
            if time.monotonic() > self._deadline:
                self._give_up("no fusion flowgraph acknowledged the hellos")
                return
            self.message_port_pub(pmt.intern(PORT_OUT), msg)
            with self._lock:
                self._hellos += 1
            self._stop.wait(self.hello_period_s)

    def _give_up(self, why: str) -> None:
        self._failed.set()
        self.logger.error(
            f"anchor {self.anchor}: {why} within {self.timeout_s:g} s "
            f"(handshake folder {self.handshake_dir}); estimates may be lost"
        )
        self._ready.set()

    def start(self) -> bool:
        if self.handshake_dir:
            self._stop.clear()
            self._deadline = time.monotonic() + self.timeout_s
            self._thread = threading.Thread(target=self._hello, name="publish_gate", daemon=True)
            self._thread.start()
        return True

    @guarded("passing a PDU")
    def _handle(self, msg: pmt.pmt_t) -> None:
        if self.handshake_dir and not self._ready.is_set():
            # hold the PDUs (the queue grows behind this handler) until the fusion listens
            self._ready.wait(max(0.0, self._deadline - time.monotonic()) + 1.0)
        with self._lock:
            self._passed += 1
        self.message_port_pub(pmt.intern(PORT_OUT), msg)

    def stop(self) -> bool:
        if self.handshake_dir and not self.failed() and self._thread is not None:
            # no PDU at all, or none before the end: finish the hellos first (bounded)
            self._ready.wait(max(0.0, self._deadline - time.monotonic()) + 1.0)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.handshake_dir and self._ready.is_set() and not self.failed():
            hs.write_done(self.handshake_dir, self.anchor, self.num_passed())
            ack = hs.path(self.handshake_dir, self.anchor, "ack")
            if not hs.wait_for_file(ack, self.timeout_s):
                self._failed.set()
                self.logger.error(
                    f"anchor {self.anchor}: the fusion did not acknowledge the "
                    f"{self.num_passed()} estimates within {self.timeout_s:g} s"
                )
        return True
