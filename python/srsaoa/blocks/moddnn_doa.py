"""moddnn_doa: MoD-DNN angle of arrival from CFR PDUs (a thin wrapper over moddnn)."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from .pdu import PduError, cfr_from_pdu, make_pdu

_STOP = object()


class moddnn_doa(gr.basic_block):
    """CFR PDUs in (port ``cfr``), estimate PDUs out (port ``estimate``, method "moddnn").

    The model (NAME.safetensors + NAME.json, "default" = the shipped model) is loaded on the
    first PDU. PDUs are handed to one worker thread; whatever has queued up when it is free
    (at most ``max_batch``) runs through the network as one batch, in arrival order.
    """

    def __init__(self, model="default", max_batch=32, num_threads=1):
        gr.basic_block.__init__(self, name="moddnn_doa", in_sig=None, out_sig=None)
        if not isinstance(model, str):
            raise ValueError(f"model must be a path string (or 'default'), got {model!r}")
        if int(max_batch) != max_batch or max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {max_batch}")
        if int(num_threads) != num_threads or num_threads < 1:
            raise ValueError(f"num_threads must be an integer >= 1, got {num_threads}")
        from ..moddnn.modelfile import model_paths

        wpath, jpath = model_paths(model)
        if not jpath.exists():
            raise ValueError(f"model metadata {jpath} does not exist")
        self._model_path = model
        self._max_batch = int(max_batch)
        self._num_threads = int(num_threads)
        self._net = None
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self.message_port_register_in(pmt.intern(K.PORT_CFR))
        self.message_port_register_out(pmt.intern(K.PORT_ESTIMATE))
        self.set_msg_handler(pmt.intern(K.PORT_CFR), self._on_cfr)

    def set_max_batch(self, max_batch):
        if int(max_batch) != max_batch or max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {max_batch}")
        self._max_batch = int(max_batch)

    def start(self):
        self._worker = threading.Thread(target=self._run, name="moddnn_doa", daemon=True)
        self._worker.start()
        return True

    def stop(self):
        if self._worker is not None:
            self._queue.put(_STOP)
            self._worker.join()
            self._worker = None
        return True

    def _on_cfr(self, msg):
        try:
            meta, h = cfr_from_pdu(msg)
        except PduError as exc:
            self.logger.warn(f"dropping a message that is not a CFR PDU: {exc}")
            return
        self._queue.put((meta, h))

    def _load(self):
        import torch

        from ..moddnn.modelfile import load_model

        torch.set_num_threads(self._num_threads)
        net, _ = load_model(self._model_path)
        self.logger.info(f"loaded MoD-DNN model {self._model_path!r}")
        return net

    def _run(self):
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._process(batch)
            if stop:
                return

    def _process(self, batch):
        from ..moddnn.infer import estimate_batch

        if self._net is None:
            try:
                self._net = self._load()
            except Exception as exc:  # noqa: BLE001 - logged once per batch, block keeps running
                self.logger.error(f"cannot load MoD-DNN model {self._model_path!r}: {exc}")
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
                continue
            good.append((meta, h))
        if not good:
            return
        results = estimate_batch(self._net, [h for _, h in good])
        for (meta, _), (aoa, power) in zip(good, results):
            out = {
                K.METHOD: "moddnn",
                K.ORDER: 1,
                K.AOA_DEG: np.asarray([aoa], np.float32),
                K.POWER: np.asarray([power], np.float32),
            }
            for key in (K.SRS_OCCASION, K.SAMPLE_INDEX, K.RX_TIME, K.SNR_DB):
                if key in meta:
                    out[key] = meta[key]
            self.message_port_pub(pmt.intern(K.PORT_ESTIMATE), make_pdu(out, None))
