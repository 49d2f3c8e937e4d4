"""aoa_series: the angle of arrival (or SNR) of estimate PDUs as a float stream (for QT time /
number sinks)."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from . import pdu as _pdu
from ._output_queue import OutputQueue

_QUEUE_MAX = 4096  # values waiting for output space; older ones are dropped beyond this
QUANTITIES = (K.AOA_DEG, K.SNR_DB)


class aoa_series(gr.sync_block):  # noqa: N801 - GNU Radio block naming
    """One float per estimate PDU: ``aoa_deg[path_index]`` (deg), NaN when it has fewer paths;
    or, with ``quantity="snr_db"``, the estimate's ``snr_db`` (dB, NaN if it has none).

    In ``estimate``: estimate PDUs (DESIGN section 6; doa_estimator, moddnn_doa). Out: a
    float stream, one item per PDU and nothing in between, tagged ``srs_occasion`` when the
    PDU carried one. Malformed messages are dropped with an error in the log.
    """

    def __init__(self, path_index: int = 0, quantity: str = K.AOA_DEG):
        gr.sync_block.__init__(self, name="aoa_series", in_sig=None, out_sig=[np.float32])
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        self._quantity = quantity
        self._lock = threading.Lock()
        self.set_path_index(path_index)
        self._queue = OutputQueue(_QUEUE_MAX, "values", 1000)
        self.message_port_register_in(pmt.intern(K.PORT_ESTIMATE))
        self.set_msg_handler(pmt.intern(K.PORT_ESTIMATE), self._handle)

    def set_path_index(self, path_index: int) -> None:
        if isinstance(path_index, bool) or int(path_index) != path_index or path_index < 0:
            raise ValueError(f"path_index must be an integer >= 0, got {path_index!r}")
        with self._lock:
            self._index = int(path_index)

    def _handle(self, msg: pmt.pmt_t) -> None:
        try:
            meta, _ = _pdu.parse_pdu(msg)
        except _pdu.PduError as exc:
            self.logger.error(f"dropping a message that is not an estimate PDU: {exc}")
            return
        if K.AOA_DEG not in meta:
            self.logger.error("dropping an estimate PDU without 'aoa_deg'")
            return
        if self._quantity == K.SNR_DB:
            value = _scalar(meta.get(K.SNR_DB))
        else:
            aoa = np.atleast_1d(np.asarray(meta[K.AOA_DEG], dtype=np.float64)).ravel()
            with self._lock:
                i = self._index
            value = float(aoa[i]) if i < aoa.size else float("nan")
        self._queue.push(self.logger, value, meta.get(K.SRS_OCCASION))

    def work(self, input_items, output_items):
        return self._queue.fill(self, output_items[0])


def _scalar(value) -> float:
    """A meta value as one float; NaN when missing or not a single number."""
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return float("nan")
    return float(arr[0]) if arr.size == 1 else float("nan")
