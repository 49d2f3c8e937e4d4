"""Message-in, stream-out: the bounded queue between a block's message handler and work().

A block that turns PDUs into stream items (aoa_series, spatial_spectrum) pushes one item
per PDU from its handler thread; work() copies what is queued into the output buffer and
tags each item with its SRS occasion. When the stream side stalls (a plot that cannot keep
up), the oldest items are dropped and counted, with a warning every ``warn_every`` drops.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import pmt

from .. import constants as K


class OutputQueue:
    def __init__(self, max_items: int, what: str, warn_every: int) -> None:
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._max = int(max_items)
        self._what = what
        self._warn_every = int(warn_every)
        self.dropped = 0

    def push(self, logger: Any, item: Any, occasion: Any) -> None:
        with self._lock:
            if len(self._items) >= self._max:
                self._items.popleft()
                self.dropped += 1
                if self.dropped % self._warn_every == 1:
                    logger.warn(f"output blocked: dropped {self.dropped} old {self._what}")
            self._items.append((item, occasion))

    def fill(self, block: Any, out: Any) -> int:
        """Move queued items into ``out`` (one per output item) with ``srs_occasion`` tags."""
        with self._lock:
            n = min(len(self._items), len(out))
            items = [self._items.popleft() for _ in range(n)]
        base = block.nitems_written(0)
        key = pmt.intern(K.SRS_OCCASION)
        for i, (item, occ) in enumerate(items):
            out[i] = item
            if occ is not None:
                block.add_item_tag(0, base + i, key, pmt.from_long(int(occ)))
        return n
