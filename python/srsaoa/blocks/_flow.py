"""Flow control between the message blocks (docs/performance.md), shared by the Python
blocks; the C++ blocks do the same (lib/queue_bound.h, cfr_extractor_core's credits).

- Load shedding (a live radio): GNU Radio 3.10 bounds only the queues of message ports
  without a handler, so a block whose handler falls behind grows its queue without limit.
  :class:`InputBound` keeps at most ``max_queue`` messages waiting: the oldest are
  dropped and counted, one warning per burst. ``max_queue`` 0 never drops.
- Skip notices (a recording): a stage that finishes an occasion without an output sends
  :func:`skip_notice` on its ``skipped`` port, connected to the data input of the next
  stage (which passes it on, in order with the data) and at the end of the branch to the
  result_sink, which acknowledges it like a written estimate (cfr_extractor holds the
  source back until every branch has acknowledged its CFRs). Going down the branch keeps
  one upstream block per block: GNU Radio ends a message-only block at the first "done"
  of any block upstream of it.
- Batches: :func:`take_queued` takes the messages that queued up behind the current one
  off the queue, so an estimator can work through them together.
"""

from __future__ import annotations

import threading
from typing import Any

import pmt

from .. import constants as K


class InputBound:
    """At most ``max_queue`` messages waiting on one input port (0: unbounded)."""

    def __init__(self, max_queue: int, what: str) -> None:
        self.set_max_queue(max_queue)
        self.what = what
        self.dropped = 0
        self._burst = 0
        self._lock = threading.Lock()

    def set_max_queue(self, max_queue: int) -> None:
        if isinstance(max_queue, bool) or int(max_queue) != max_queue or max_queue < 0:
            raise ValueError(f"max_queue must be an integer >= 0 (0 = no bound), got {max_queue}")
        self.max_queue = int(max_queue)

    def shed(self, block: Any, port: Any) -> bool:
        """Call first in the handler; True: drop the current message (the oldest queued
        ones went too, so that fewer than ``max_queue`` remain)."""
        limit = self.max_queue
        bb = block.to_basic_block()
        if limit <= 0 or bb.nmsgs(port) < limit:
            if self._burst:
                block.logger.info(
                    f"caught up: {self._burst} {self.what} dropped in that burst, "
                    f"{self.dropped} in all"
                )
                self._burst = 0
            return False
        n = 1
        while bb.nmsgs(port) >= limit:
            bb.delete_head_nowait(port)
            n += 1
        if not self._burst:
            block.logger.warn(
                f"falling behind: dropping the oldest {self.what} (at most {limit} queued; "
                f"{self.dropped} dropped before this burst)"
            )
        with self._lock:
            self._burst += n
            self.dropped += n
        return True


def take_queued(block: Any, port: Any, limit: int) -> list[Any]:
    """Up to ``limit`` messages waiting on ``port``, taken off the queue (oldest first)."""
    bb = block.to_basic_block()
    out = []
    while len(out) < limit and bb.nmsgs(port) > 0:
        out.append(bb.delete_head_nowait(port))
    return out


def skip_notice(meta: Any, method: str | None, why: str) -> Any:
    """The skip notice of an input whose pmt meta dict is ``meta`` (or None)."""
    d = pmt.make_dict()
    if meta is not None and pmt.is_dict(meta):
        for key in (K.SRS_OCCASION, K.SAMPLE_INDEX):
            k = pmt.intern(key)
            if pmt.dict_has_key(meta, k):
                d = pmt.dict_add(d, k, pmt.dict_ref(meta, k, pmt.PMT_NIL))
    if method:
        d = pmt.dict_add(d, pmt.intern(K.METHOD), pmt.intern(method))
    d = pmt.dict_add(d, pmt.intern(K.SKIPPED), pmt.intern(" ".join(str(why).split())[:200]))
    return pmt.cons(d, pmt.init_c32vector(0, []))


_SKIPPED = pmt.intern(K.SKIPPED)


def is_skip_notice(msg: Any) -> bool:
    """True for a skip notice (a PDU whose meta has ``skipped``): it travels down the
    branch on the data ports, in order with the data, and is passed on unchanged."""
    return (
        pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)) and pmt.dict_has_key(pmt.car(msg), _SKIPPED)
    )


def meta_of(msg: Any) -> Any:
    """The pmt meta dict of a PDU, or None."""
    if pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)):
        return pmt.car(msg)
    return None


def dropped_upstream(meta: dict) -> int:
    """The ``dropped`` count a parsed input meta carries (0 when absent)."""
    v = meta.get(K.DROPPED)
    try:
        return int(v) if v is not None else 0
    except (TypeError, ValueError):
        return 0
