"""position_estimator: estimate PDUs of one or more anchors (+ range PDUs) -> position PDUs."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections import Counter, deque
from importlib import resources
from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from .. import handshake
from ..errors import SrsaoaError
from ..position import EpochAssembler, Locator, anchor_map, read_anchors, read_ranges
from ..position.epochs import estimate_measurement, range_measurement
from . import pdu as _pdu

RECORDS_KEPT = 1000  # position records kept for records(); all go to the file and port

PORT_RANGE = "range"
PORT_POSITION = "position"
KEY_ANCHOR = "anchor"  # estimate PDU meta: the name of the anchor that made it (pdu_set)
KEY_T_S = "t_s"
KEY_HELLO = "hello"  # meta of publish_gate's hello PDUs (handshake, not an estimate)


def default_anchors_file() -> str:
    """The example deployment shipped with the module (docs/positioning.md)."""
    return str(resources.files("gnuradio.srsaoa.position").joinpath("example_anchors.yaml"))


class position_estimator(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """Fuses AoA estimates of several anchors and UWB ranges into positions.

    In ``estimate``: estimate PDUs (DESIGN section 6) with a meta ``anchor`` (the anchor's
    name in the anchors file; a GNU Radio ``PDU Set`` block adds it in each anchor's
    flowgraph). Without it, the PDU belongs to the only anchor of a one-anchor file; else it
    is dropped with a warning. The estimate's time is ``t_s`` when the meta has it, else
    ``sample_index / sample_rate``. Hello PDUs of an anchor's ``publish_gate`` (meta ``hello``
    = True) are counted (``num_hellos()``), not fused; ``num_received()`` counts each anchor's
    estimate PDUs and ``serve_handshake`` runs the fusion side of the file handshake over
    ZeroMQ (docs/positioning.md). In ``range``: range PDUs from ``range_source`` (meta
    ``t_s``, ``anchor``, ``range_m``, ``sigma_m``); recorded ranges can instead be given as
    ``ranges_file`` (JSON lines, read at construction). Out ``position``: one PDU per epoch with meta
    ``t_s``, ``x_m``, ``y_m``, ``cov_m2`` (f64 [xx, xy, yx, yy]), ``anchors``, ``method``; with a
    ``filename`` also the JSON lines of DESIGN section 9 (same as ``srsaoa locate``).
    Epochs, weights, outlier rejection and the EKF are those of ``srsaoa locate``.
    """

    def __init__(
        self,
        anchors_file: str = "",
        ranges_file: str = "",
        filename: str = "",
        sample_rate: float = 30.72e6,
        epoch_s: float = 0.5e-3,
        ue_height_m: float = 0.0,
        track: bool = False,
        method: str = "",
        aoa_sigma_deg: float = 1.0,
        max_lag_s: float = 0.05,
    ):
        gr.basic_block.__init__(self, name="position_estimator", in_sig=None, out_sig=None)
        path = str(anchors_file) or default_anchors_file()
        try:
            self.anchors = read_anchors(path)
        except SrsaoaError as exc:
            raise ValueError(str(exc)) from None
        self.amap = anchor_map(self.anchors)
        for name, v, ok in (
            ("sample_rate", sample_rate, sample_rate > 0),
            ("epoch_s", epoch_s, epoch_s > 0),
            ("ue_height_m", ue_height_m, True),
            ("aoa_sigma_deg", aoa_sigma_deg, aoa_sigma_deg > 0),
            ("max_lag_s", max_lag_s, max_lag_s >= 0),
        ):
            if not (math.isfinite(float(v)) and ok):
                raise ValueError(f"{name} must be finite (and positive), got {v}")
        self.sample_rate = float(sample_rate)
        self.method = str(method)
        self.aoa_sigma_deg = float(aoa_sigma_deg)
        self.filename = str(filename)
        self._file = None
        if self.filename and self.filename != "-":
            parent = os.path.dirname(os.path.abspath(self.filename))
            if not os.path.isdir(parent):
                raise ValueError(f"directory of {self.filename!r} does not exist")
            self._file = open(self.filename, "w", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self._asm = EpochAssembler(
            float(epoch_s), expected=list(self.amap), max_lag_s=float(max_lag_s)
        )
        self._loc = Locator(float(ue_height_m), track=bool(track))
        if ranges_file:
            try:
                for m in read_ranges(str(ranges_file), self.amap):
                    self._asm.add_range(m)
            except SrsaoaError as exc:
                raise ValueError(str(exc)) from None
        # counters, written by the message handlers under self._lock (read them through the
        # num_* methods)
        self._estimates: Counter[str] = Counter()  # AoA measurements used, per anchor
        self._received: Counter[str] = Counter()  # estimate PDUs received, per anchor
        self._hellos: Counter[str] = Counter()  # hello PDUs (publish_gate), per anchor
        self._ranges = 0
        self._positions = 0
        self._dropped = 0
        # the latest position records, bounded: a live flowgraph runs for days (under
        # self._lock; read through records())
        self._records: deque[dict] = deque(maxlen=RECORDS_KEPT)
        self.message_port_register_in(pmt.intern(K.PORT_ESTIMATE))
        self.message_port_register_in(pmt.intern(PORT_RANGE))
        self.message_port_register_out(pmt.intern(PORT_POSITION))
        self.set_msg_handler(pmt.intern(K.PORT_ESTIMATE), self._on_estimate)
        self.set_msg_handler(pmt.intern(PORT_RANGE), self._on_range)

    # ------------------------------------------------------------------ input
    def _time(self, meta: dict[str, Any]) -> float:
        if KEY_T_S in meta:
            return float(meta[KEY_T_S])
        if meta.get(K.SAMPLE_INDEX) is None:
            raise ValueError("estimate PDU has neither t_s nor sample_index")
        return float(meta[K.SAMPLE_INDEX]) / self.sample_rate

    def _on_estimate(self, msg: pmt.pmt_t) -> None:
        try:
            meta, _ = _pdu.parse_pdu(msg)
            name = meta.get(KEY_ANCHOR)
            if name is None and len(self.anchors) == 1:
                name = self.anchors[0].name
            if name not in self.amap:
                raise ValueError(f"unknown or missing anchor {name!r}")
            if meta.get(KEY_HELLO) is True:  # an anchor's publish_gate saying it is there
                with self._lock:
                    self._hellos[name] += 1
                return
            with self._lock:
                self._received[name] += 1
            if self.method and meta.get(K.METHOD) != self.method:
                return
            rec = {
                "t_s": self._time(meta),
                "aoa_deg": [float(x) for x in np.atleast_1d(meta.get(K.AOA_DEG, []))],
                "crb_deg": [float(x) for x in np.atleast_1d(meta.get(K.CRB_DEG, []))],
            }
            if rec["aoa_deg"] and not math.isfinite(rec["aoa_deg"][0]):
                rec["aoa_deg"] = [None]
            if rec["crb_deg"] and not math.isfinite(rec["crb_deg"][0]):
                rec["crb_deg"] = []
            m = estimate_measurement(rec, self.amap[name], f"anchor {name}", self.aoa_sigma_deg)
        except (ValueError, TypeError, SrsaoaError) as exc:
            with self._lock:
                self._dropped += 1
            self.logger.warn(f"dropping estimate PDU: {exc}")
            return
        if m is None:
            return
        with self._lock:
            self._estimates[name] += 1
            epochs = self._asm.add_estimate(m)
            self._solve(epochs)

    def _on_range(self, msg: pmt.pmt_t) -> None:
        try:
            meta, _ = _pdu.parse_pdu(msg)
            m = range_measurement(meta, self.amap, "range PDU")
        except (ValueError, TypeError, SrsaoaError) as exc:
            with self._lock:
                self._dropped += 1
            self.logger.warn(f"dropping range PDU: {exc}")
            return
        with self._lock:
            self._ranges += 1
            self._asm.add_range(m)

    # ------------------------------------------------------------------ output
    def _solve(self, epochs) -> None:
        for e in epochs:
            fix = self._loc.process(e)
            if fix is None:
                continue
            rec = fix.to_record()
            self._records.append(rec)
            self._positions += 1
            cov = np.array(rec["cov_m2"], dtype=np.float64).ravel()
            meta = {
                KEY_T_S: rec["t_s"],
                "x_m": rec["x_m"],
                "y_m": rec["y_m"],
                "cov_m2": cov,
                "anchors": pmt.to_pmt(list(rec["anchors"])),
                K.METHOD: rec["method"],
            }
            self.message_port_pub(pmt.intern(PORT_POSITION), _pdu.make_pdu(meta, None))
            line = json.dumps(rec, separators=(", ", ": "))
            try:
                if self._file is not None:
                    self._file.write(line + "\n")
                    self._file.flush()
                elif self.filename == "-":
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
            except OSError as exc:
                self.logger.error(f"cannot write {self.filename}: {exc}")
                self._file = None
                self.filename = ""

    # ------------------------------------------------------------------ counters
    def _per_anchor(self, counter: Counter[str]) -> dict[str, int]:
        with self._lock:
            return {a: int(counter[a]) for a in self.amap}

    def num_estimates(self) -> dict[str, int]:
        """AoA measurements fused so far, per anchor (every anchor of the file, 0 if none)."""
        return self._per_anchor(self._estimates)

    def num_received(self) -> dict[str, int]:
        """Estimate PDUs received so far, per anchor (hello PDUs not included)."""
        return self._per_anchor(self._received)

    def num_hellos(self) -> dict[str, int]:
        """Hello PDUs of the anchors' ``publish_gate`` received so far, per anchor."""
        return self._per_anchor(self._hellos)

    def records(self) -> list[dict]:
        """The latest position records (JSON line dicts, at most ``RECORDS_KEPT``), a copy;
        every record goes to the output file and port."""
        with self._lock:
            return list(self._records)

    def num_ranges(self) -> int:
        """Range PDUs taken so far (not counting those of ``ranges_file``)."""
        with self._lock:
            return self._ranges

    def num_positions(self) -> int:
        """Positions solved so far."""
        with self._lock:
            return self._positions

    def num_dropped(self) -> int:
        """Estimate and range PDUs dropped as invalid so far."""
        with self._lock:
            return self._dropped

    def serve_handshake(self, handshake_dir: str, timeout_s: float = 60.0) -> bool:
        """The fusion side of the file handshake with the anchors' ``publish_gate`` blocks
        (``gnuradio.srsaoa.handshake``) for every anchor of the anchors file: writes
        ``<anchor>.ready`` once the anchor has been heard and ``<anchor>.ack`` once all the
        estimates it published have arrived. Blocks until every anchor is acknowledged (True)
        or ``timeout_s`` has passed (False, logged). Call it from the thread that started the
        flowgraph, then stop the flowgraph (``stop()`` solves the last epochs)."""

        def heard(a: str) -> bool:
            with self._lock:
                return self._hellos[a] + self._received[a] > 0

        def received(a: str) -> int:
            with self._lock:
                return self._received[a]

        return handshake.serve(
            handshake_dir, list(self.amap), heard, received, timeout_s, log=self.logger.error
        )

    def flush(self) -> int:
        """Solve every epoch still open (end of data); the number of positions so far."""
        with self._lock:
            self._solve(self._asm.flush())
            return self._positions

    def stop(self) -> bool:
        self.flush()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        return True
