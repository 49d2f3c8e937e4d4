"""Run message blocks in real flowgraphs deterministically (shared by the tests).

No test waits on a clock. A flowgraph either ends by itself (finite sources, or the system
"done" message: a block finishes after handling its queues and passes "done" on to the
blocks it feeds), or the test waits on a condition that the sink sets when the expected
outputs have arrived. The wait has a generous timeout that only a broken block reaches,
and then the test fails.

GNU Radio drains a block's ports one after the other, so "done" is handled after the
messages on the other ports only when they were queued before the flowgraph started (its
first pass takes everything) or already handled: tests queue everything before the start
and use tb.run(), or wait for the outputs and post "done" afterwards (await_outputs).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pmt
from gnuradio import blocks, gr
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import parse_pdu

WAIT_S = 120.0  # reached only when a block is broken: the test fails, it never decides a result


def post(blk: Any, port: str, msg: Any) -> None:
    """Queue ``msg`` on ``blk``'s message input ``port``."""
    blk.to_basic_block()._post(pmt.intern(port), msg)


def post_done(blk: Any) -> None:
    """Queue GNU Radio's system "done" message on ``blk``."""
    blk.to_basic_block()._post(pmt.intern("system"), pmt.cons(pmt.intern("done"), pmt.from_long(1)))


def run_until_done(
    blk: Any, msgs: list[Any], in_port: str = K.PORT_CFR, out_port: str = K.PORT_ESTIMATE
) -> list[dict]:
    """Post ``msgs`` to ``blk``'s ``in_port``, then the system "done" message: GNU Radio
    finishes the block once it has handled everything queued before it, so the flowgraph
    ends by itself (no waiting on a clock). Returns the meta of every PDU on ``out_port``."""
    tb = gr.top_block()
    dbg = blocks.message_debug()
    tb.msg_connect((blk, out_port), (dbg, "store"))
    tb.start()
    for m in msgs:
        post(blk, in_port, m)
    post_done(blk)
    tb.wait()
    return [parse_pdu(dbg.get_message(i))[0] for i in range(dbg.num_messages())]


class WatchedLock:
    """A lock that records the threads that took it (to check that a block's handler thread
    reads shared settings under the block's lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.threads: set[int] = set()

    def __enter__(self) -> WatchedLock:
        self._lock.acquire()
        self.threads.add(threading.get_ident())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


class MessageCollector(gr.basic_block):
    """Message sink that keeps every message on its ``in`` port and wakes whoever waits for
    a number of them (a ``message_debug`` that can be waited on instead of polled)."""

    def __init__(self) -> None:
        gr.basic_block.__init__(self, name="message_collector", in_sig=None, out_sig=None)
        self._cond = threading.Condition()
        self._msgs: list[Any] = []
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._store)

    def _store(self, msg: Any) -> None:
        with self._cond:
            self._msgs.append(msg)
            self._cond.notify_all()

    def count(self) -> int:
        with self._cond:
            return len(self._msgs)

    def wait_for(self, n: int, timeout: float = WAIT_S) -> bool:
        """True once ``n`` messages have arrived; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._msgs) >= n, timeout)

    def messages(self) -> list[Any]:
        with self._cond:
            return list(self._msgs)

    def metas(self) -> list[dict]:
        """The meta dict of every PDU received."""
        return [parse_pdu(m)[0] for m in self.messages()]


class VectorCollector(gr.sync_block):
    """Float stream sink (items of ``vlen`` floats) that keeps the items and their tags and
    wakes whoever waits for a number of items."""

    def __init__(self, vlen: int = 1) -> None:
        sig = np.float32 if vlen == 1 else (np.float32, vlen)
        gr.sync_block.__init__(self, name="vector_collector", in_sig=[sig], out_sig=None)
        self._vlen = int(vlen)
        self._cond = threading.Condition()
        self._rows: list[np.ndarray] = []
        self._tags: list[tuple[int, str, Any]] = []

    def work(self, input_items, output_items):
        n = len(input_items[0])
        rows = np.array(input_items[0], dtype=np.float32).reshape(n, self._vlen)
        tags = [
            (t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value))
            for t in self.get_tags_in_window(0, 0, n)
        ]
        with self._cond:
            self._rows.extend(rows)
            self._tags.extend(tags)
            self._cond.notify_all()
        return n

    def count(self) -> int:
        with self._cond:
            return len(self._rows)

    def wait_for(self, n: int, timeout: float = WAIT_S) -> bool:
        """True once ``n`` items have arrived; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._rows) >= n, timeout)

    def data(self) -> np.ndarray:
        """The items as float64: shape [items, vlen], or [items] when vlen is 1."""
        with self._cond:
            rows = np.array(self._rows, dtype=np.float64).reshape(-1, self._vlen)
        return rows[:, 0] if self._vlen == 1 else rows

    def tags(self, key: str | None = None) -> list[tuple[int, Any]]:
        """(offset, value) of the tags seen, those with ``key`` only when given."""
        with self._cond:
            return [(o, v) for o, k, v in self._tags if key is None or k == key]


def await_outputs(tb: gr.top_block, sink: Any, n: int, entries: list[Any]) -> None:
    """Wait until ``sink`` (a collector) holds ``n`` outputs, then end the running ``tb``:
    "done" to the ``entries`` (the blocks the test posts to) travels down the flowgraph
    after the messages queued before it, so once ``tb.wait()`` returns nothing more can
    arrive. Fails the test, after stopping ``tb``, if the outputs do not come."""
    if not sink.wait_for(n):
        tb.stop()
        tb.wait()
        raise AssertionError(f"{sink.count()} of {n} outputs arrived within {WAIT_S:g} s")
    for blk in entries:
        post_done(blk)
    tb.wait()


def run_messages(
    posts: list[tuple[Any, str, Any]],
    outputs: tuple[Any, str] | list[tuple[Any, str]],
    expect: int,
    connections: list[tuple[tuple[Any, str], tuple[Any, str]]] = (),
) -> list[Any]:
    """Post ``(block, port, msg)`` in order into a running flowgraph whose output port(s)
    ``outputs`` ((block, port) or a list of them) feed one MessageCollector, plus the
    message ``connections``; returns every message out, in arrival order, once ``expect``
    have come and the flowgraph has ended (see await_outputs)."""
    tb = gr.top_block()
    col = MessageCollector()
    for out in [outputs] if isinstance(outputs, tuple) else outputs:
        tb.msg_connect(out, (col, "in"))
    for src, dst in connections:
        tb.msg_connect(src, dst)
    tb.start()
    for blk, port, msg in posts:
        post(blk, port, msg)
    entries = list({id(b): b for b, _, _ in posts}.values())
    await_outputs(tb, col, expect, entries)
    return col.messages()


def wait_until(cond, what: str = "the condition", timeout: float = 60.0) -> None:
    """Poll ``cond()`` (a block's counter, a sink's message count) until it holds; fail after
    ``timeout`` s. For states a block exposes only as counters, where no message marks the
    moment: the interval only bounds the polling, the deadline only fails the test."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)  # polling interval of a condition with a deadline
