"""order_estimator: channel order (number of paths) of a covariance PDU by AIC or MDL."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from ..estimation import order as _order
from . import _flow
from . import pdu as _pdu
from ._guard import guarded

MAX_BATCH = 32  # PDUs taken off the queue per handler call


class order_estimator(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """Adds ``order`` (AIC or MDL, Wax and Kailath 1985) to every covariance PDU.

    In ``covariance``: covariance PDUs (DESIGN section 6, R as an M*M c32 vector). The order is
    the minimiser of the criterion over k = 0..M-1 for the eigenvalues of R and N =
    meta ``num_snapshots`` (or the ``num_snapshots`` parameter when it is > 0), capped at
    ``max_order`` (0 = M - 1). Out ``covariance``: the same PDU with ``order`` added.
    Malformed PDUs, non-finite or all-zero R and PDUs without a snapshot count are dropped
    with an error in the log, and announced on ``skipped`` (docs/performance.md).
    ``max_queue`` > 0 bounds the input queue (a live radio): the oldest PDUs are dropped and
    counted (``num_dropped()``, added to meta ``dropped``); 0 never drops.
    """

    def __init__(
        self,
        method: str = "aic",
        max_order: int = 0,
        num_snapshots: float = 0.0,
        max_queue: int = 0,
    ):
        gr.basic_block.__init__(self, name="order_estimator", in_sig=None, out_sig=None)
        self._lock = threading.Lock()
        self._failure = None
        self._bound = _flow.InputBound(max_queue, "covariance PDUs")
        self.set_method(method)
        self.set_max_order(max_order)
        self.set_num_snapshots(num_snapshots)
        self._port = pmt.intern(K.PORT_COVARIANCE)
        self.message_port_register_in(self._port)
        self.message_port_register_out(pmt.intern(K.PORT_COVARIANCE))
        self.message_port_register_out(pmt.intern(K.PORT_SKIPPED))
        self.set_msg_handler(self._port, self._on_covariance)

    def set_max_queue(self, max_queue: int) -> None:
        self._bound.set_max_queue(max_queue)

    def num_dropped(self) -> int:
        return self._bound.dropped

    @guarded("estimating the order")
    def _on_covariance(self, msg: pmt.pmt_t) -> None:
        if self._bound.shed(self, self._port):
            return
        for m in [msg, *_flow.take_queued(self, self._port, MAX_BATCH - 1)]:
            self._handle(m)

    def _skip(self, msg: pmt.pmt_t, why: str) -> None:
        notice = _flow.skip_notice(_flow.meta_of(msg), None, why)
        self.message_port_pub(pmt.intern(K.PORT_SKIPPED), notice)

    def set_method(self, method: str) -> None:
        m = str(method).lower()
        if m not in _order.METHODS:
            raise ValueError(f"method must be one of {_order.METHODS}, got {method!r}")
        with self._lock:
            self._method = m

    def set_max_order(self, max_order: int) -> None:
        if isinstance(max_order, bool) or int(max_order) != max_order or max_order < 0:
            raise ValueError(f"max_order must be an integer >= 0 (0 = M-1), got {max_order!r}")
        with self._lock:
            self._max_order = int(max_order)

    def set_num_snapshots(self, num_snapshots: float) -> None:
        n = float(num_snapshots)
        if not np.isfinite(n) or (n != 0.0 and n < 1.0):
            raise ValueError(f"num_snapshots must be 0 (use the PDU's) or >= 1, got {n}")
        with self._lock:
            self._num_snapshots = n

    def _handle(self, msg: pmt.pmt_t) -> None:
        if _flow.is_skip_notice(msg):  # an upstream stage's: pass it on, in order
            self.message_port_pub(pmt.intern(K.PORT_SKIPPED), msg)
            return
        try:
            meta, r = _pdu.covariance_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"dropping malformed covariance PDU: {exc}")
            self._skip(msg, "malformed")
            return
        with self._lock:
            method, max_order, n_fixed = self._method, self._max_order, self._num_snapshots
        n = n_fixed if n_fixed > 0 else meta.get(K.NUM_SNAPSHOTS)
        if n is None:
            self.logger.error(
                "dropping covariance PDU without 'num_snapshots' (set the num_snapshots parameter)"
            )
            self._skip(msg, "no num_snapshots")
            return
        try:
            d = _order.estimate_order(r, float(n), method)
        except ValueError as exc:
            self.logger.warn(f"dropping covariance PDU: {exc}")
            self._skip(msg, str(exc))
            return
        if max_order > 0:
            d = min(d, max_order)
        self.logger.debug(f"occasion {meta.get(K.SRS_OCCASION)}: {method} order {d}")
        out = pmt.dict_add(pmt.car(msg), pmt.intern(K.ORDER), pmt.from_long(int(d)))
        if self._bound.dropped:
            total = _flow.dropped_upstream(meta) + self._bound.dropped
            out = pmt.dict_add(out, pmt.intern(K.DROPPED), pmt.from_long(total))
        self.message_port_pub(pmt.intern(K.PORT_COVARIANCE), pmt.cons(out, pmt.cdr(msg)))
