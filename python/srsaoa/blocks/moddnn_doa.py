"""moddnn_doa: MoD-DNN angle of arrival from CFR PDUs (a thin wrapper over moddnn)."""

from __future__ import annotations

import collections

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from . import _flow
from ._guard import guarded
from ._stack import OccasionStack, check_occasions
from .pdu import PduError, cfr_from_pdu, make_pdu


class moddnn_doa(gr.basic_block):
    """CFR PDUs in (port ``cfr``), estimate PDUs out (port ``estimate``, method "moddnn").

    The model (NAME.safetensors + NAME.json, "default" = the shipped model) is loaded on the
    first PDU. Each PDU is handled synchronously in the block's message thread (so a finite
    flowgraph never stops with estimates in flight); the PDUs that queued up behind it while
    the network was busy (at most ``max_batch`` in all) are taken off the queue and run through
    the network as one batch, in arrival order.

    PyTorch's thread pool (used from 8 queued CFRs on) is the process's: the block does not
    change it (a block must not change process-wide settings); `srsaoa run` sets one thread.

    Flow control (docs/performance.md): a CFR that gives no estimate (malformed, refused, no
    model) is announced on ``skipped`` for the branch's result_sink to acknowledge.
    ``max_queue`` > 0 bounds the input queue (a live radio): the oldest CFRs are dropped and
    counted (``num_dropped()``, meta ``dropped`` of the estimates); 0 never drops.

    ``calibration``: the calibration file the CFR Extractor upstream applies ('' = none). A
    model trained from a sweep (``srsaoa train --data``) learnt CFRs corrected by that
    sweep's angle-independent part (MODEL.calibration.json): given another calibration the
    block refuses every CFR with the reason; given none it warns once that the front end
    must apply the model's. A model trained without a calibration warns when given one.

    ``occasions`` N > 1: the CFRs of N consecutive SRS occasions are stacked along the symbol
    axis into one CFR [M, N S, K] and give one estimate (meta ``occasions`` = N, the last
    occasion's index), as ``doa_estimator(occasions=N)``; the N - 1 held ones are announced
    on ``skipped`` as "accumulated". The network's covariance (eq 11) then averages N times
    the snapshots.
    """

    def __init__(self, model="default", max_batch=32, max_queue=0, calibration="", occasions=1):
        gr.basic_block.__init__(self, name="moddnn_doa", in_sig=None, out_sig=None)
        if not isinstance(model, str):
            raise ValueError(f"model must be a path string (or 'default'), got {model!r}")
        if int(max_batch) != max_batch or max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {max_batch}")
        from ..moddnn.modelfile import model_paths

        _, jpath = model_paths(model)
        if not jpath.exists():
            raise ValueError(f"model metadata {jpath} does not exist")
        if not isinstance(calibration, str):
            raise ValueError(f"calibration must be a path string ('' = none), got {calibration!r}")
        if calibration:
            from ..array.calibration import CalibrationError, load_calibration

            try:
                load_calibration(calibration)
            except (CalibrationError, OSError, ValueError) as exc:
                raise ValueError(f"calibration {calibration!r}: {exc}") from None
        self._calibration = calibration
        self._stack = OccasionStack()  # CFRs held for the next estimate (``occasions``)
        self.set_occasions(occasions)
        self._model_path = model
        self._max_batch = int(max_batch)
        self._net = None
        self._domain = None
        self._refused = 0
        self._flagged = 0
        self._load_error = None
        # the sizes of the last batches run (bounded: a live flowgraph runs for days)
        self._batch_sizes: collections.deque[int] = collections.deque(maxlen=256)
        self._failure = None
        self._bound = _flow.InputBound(max_queue, "CFR PDUs")
        self._skipped = 0  # written only by the message handler; read through num_skipped()
        self._port = pmt.intern(K.PORT_CFR)
        self.message_port_register_in(self._port)
        self.message_port_register_out(pmt.intern(K.PORT_ESTIMATE))
        self.message_port_register_out(pmt.intern(K.PORT_SKIPPED))
        self.set_msg_handler(self._port, self._on_cfr)

    def set_max_queue(self, max_queue):
        self._bound.set_max_queue(max_queue)

    def num_dropped(self):
        """CFR PDUs dropped by the queue bound so far."""
        return self._bound.dropped

    def num_skipped(self):
        """CFRs announced on ``skipped`` (no estimate) so far."""
        return self._skipped

    def _skip(self, meta, why):
        """Announce a CFR without an estimate (``meta``: its parsed meta dict or None)."""
        self._skipped += 1
        d = pmt.make_dict()
        for key in (K.SRS_OCCASION, K.SAMPLE_INDEX):
            if meta is not None and key in meta:
                d = pmt.dict_add(d, pmt.intern(key), pmt.from_long(int(meta[key])))
        notice = _flow.skip_notice(d, "moddnn", why)
        self.message_port_pub(pmt.intern(K.PORT_SKIPPED), notice)

    def set_occasions(self, occasions):
        """CFRs per estimate: that many consecutive occasions stacked along the symbol axis
        (1 = every occasion); at most ``_stack.MAX_STACKED_OCCASIONS``."""
        self._occasions = check_occasions(occasions)
        self._stack.clear()

    def _stacked(self, good):
        """The (meta, CFR) pairs of ``good`` stacked ``occasions`` at a time (the held ones
        announced as "accumulated"); a CFR of another shape or band starts a new stack."""
        n = self._occasions
        out = []
        for meta, h in good:
            full = self._stack.push(h, meta.get(K.SUBCARRIERS), n, self.logger)
            if full is None:
                self._skip(meta, "accumulated")
                continue
            out.append(({**meta, K.OCCASIONS: n}, full))
        return out

    def set_max_batch(self, max_batch):
        if int(max_batch) != max_batch or max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {max_batch}")
        self._max_batch = int(max_batch)

    @guarded("estimating")
    def _on_cfr(self, msg):
        if self._bound.shed(self, self._port):
            return
        msgs = [msg, *_flow.take_queued(self, self._port, self._max_batch - 1)]
        batch = []
        for m in msgs:
            try:
                batch.append(cfr_from_pdu(m))
            except PduError as exc:
                self.logger.warn(f"dropping a message that is not a CFR PDU: {exc}")
                self.message_port_pub(
                    pmt.intern(K.PORT_SKIPPED),
                    _flow.skip_notice(_flow.meta_of(m), "moddnn", "malformed"),
                )
                self._skipped += 1
        if batch:
            self._process(batch)

    def _load(self):
        from ..moddnn.domain import ModelDomain
        from ..moddnn.lowered import LoweredMoDDNN
        from ..moddnn.modelfile import load_model

        net, meta = load_model(self._model_path)
        self._domain = ModelDomain.from_metadata(net.cfg, meta)
        self._domain.resolve_calibration(self._model_path)
        why = self._domain.check_calibration(self._calibration)
        if why is not None:
            raise ValueError(why)
        if self._domain.calibration and not self._calibration:
            self.logger.warn(
                f"model {self._model_path!r} was trained on CFRs calibrated with "
                f"{self._domain.calibration}: the CFR Extractor upstream must apply that file "
                "(its calibration parameter), else every angle is off"
            )
        elif self._calibration and not self._domain.calibration:
            self.logger.warn(
                f"model {self._model_path!r} was trained on uncalibrated CFRs, the front end "
                f"applies {self._calibration}: the angles may be off; retrain with it "
                "(srsaoa train --calibration)"
            )
        lo, hi = self._domain.angle_deg
        self.logger.info(
            f"loaded MoD-DNN model {self._model_path!r} (trained for {lo:g}..{hi:g} deg)"
        )
        return LoweredMoDDNN(net)  # numpy inference, faster for one CFR (docs/moddnn.md)

    def _process(self, batch):
        if self._net is None:
            if self._load_error is None:
                try:
                    self._net = self._load()
                except Exception as exc:  # noqa: BLE001 - logged once, block keeps running
                    self._load_error = str(exc)
                    self.logger.error(f"cannot load MoD-DNN model {self._model_path!r}: {exc}")
            if self._net is None:
                for meta, _ in batch:
                    self._skip(meta, "no model")
                return
        m = self._net.cfg.num_elements
        good = []
        for meta, h in batch:
            if (
                h.shape[0] != m
                or h.shape[2] < self._net.cfg.num_subcarriers
                or not np.all(np.isfinite(h))
            ):
                self.logger.warn(
                    f"dropping CFR of shape {list(h.shape)}: the model needs M = {m} and "
                    f">= {self._net.cfg.num_subcarriers} subcarriers, finite values"
                )
                self._skip(meta, "shape or non-finite")
                continue
            if h.shape[1] < 1 or not np.any(h):
                # no SRS symbol, or no signal at all: the network would still point
                # somewhere (an all-zero CFR gave -56 deg), so no estimate, as doa_estimator
                self.logger.warn(f"dropping CFR of shape {list(h.shape)}: no signal in it")
                self._skip(meta, "no signal")
                continue
            sub, scs = meta.get(K.SUBCARRIERS), meta.get(K.SCS_HZ)
            if sub is not None and scs is not None:
                why = self._domain.check_band(np.asarray(sub, np.float64).ravel() * float(scs))
                if why is not None:
                    if self._refused % 100 == 0:
                        self.logger.error(
                            f"refusing CFR(s) outside the model's domain: {why} "
                            f"({self._refused + 1} so far); retrain for this SRS configuration"
                        )
                    self._refused += 1
                    self._skip(meta, "outside the model's domain")
                    continue
            good.append((meta, h))
        if self._occasions > 1:
            good = self._stacked(good)
        if not good:
            return
        self._batch_sizes.append(len(good))
        results = self._net.estimate_batch([h for _, h in good])
        for (meta, h), (aoa, power) in zip(good, results):
            out = {
                K.METHOD: "moddnn",
                K.ORDER: 1,
                K.AOA_DEG: np.asarray([aoa], np.float32),
                K.POWER: np.asarray([power], np.float32),
            }
            flags = self._domain.flags(h, float(aoa))
            if flags:
                out[K.FLAGS] = flags
                if self._flagged % 100 == 0:
                    self.logger.warn(
                        f"occasion {meta.get(K.SRS_OCCASION)}: MoD-DNN estimate "
                        f"{float(aoa):.2f} deg flagged {', '.join(flags)} (trained for "
                        f"{self._domain.angle_deg[0]:g}..{self._domain.angle_deg[1]:g} deg; "
                        f"{self._flagged + 1} flagged so far)"
                    )
                self._flagged += 1
            for key in (K.SRS_OCCASION, K.SAMPLE_INDEX, K.RX_TIME, K.SNR_DB):
                if key in meta:
                    out[key] = meta[key]
            if int(meta.get(K.OCCASIONS, 1)) > 1:
                out[K.OCCASIONS] = int(meta[K.OCCASIONS])
            dropped = _flow.dropped_upstream(meta) + self._bound.dropped
            if dropped:
                out[K.DROPPED] = dropped
            self.message_port_pub(pmt.intern(K.PORT_ESTIMATE), make_pdu(out, None))
