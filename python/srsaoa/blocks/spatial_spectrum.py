"""spatial_spectrum: normalised spatial spectrum (dB) of covariance / CFR PDUs as a vector stream.

A message-in, stream-out block for plots (QT GUI Vector Sink): one output vector per PDU
that the chosen method can use, nothing in between. The spectra themselves come from
``estimation.doa`` (DBF, MUSIC) and ``moddnn`` (the reconstructed MoD-DNN spectrum).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from ..estimation import calibrated as _cal
from ..estimation import covariance as _cov
from ..estimation import doa as _doa
from ..estimation import order as _order
from . import pdu as _pdu
from ._output_queue import OutputQueue
from ._renamed import renamed_parameters

METHODS = ("dbf", "music", "moddnn")
_QUEUE_MAX = 256  # spectra waiting for output space; older ones are dropped beyond this


def grid_points(fov_min_deg: float, fov_max_deg: float, step_deg: float) -> np.ndarray:
    """fov_min + step * arange(L): the uniform angle grid, fov_max included (ValueError if
    not)."""
    lo, hi, st = float(fov_min_deg), float(fov_max_deg), float(step_deg)
    if not all(np.isfinite([lo, hi, st])):
        raise ValueError("fov_min_deg, fov_max_deg and grid_step_deg must be finite")
    if not (-90.0 < lo < hi < 90.0):
        raise ValueError(f"need -90 < fov_min_deg < fov_max_deg < 90, got {lo}, {hi}")
    if not (st > 0):
        raise ValueError(f"grid_step_deg must be > 0, got {step_deg}")
    n = (hi - lo) / st
    if abs(n - round(n)) > 1e-6 or round(n) < 2:
        raise ValueError(
            f"(fov_max_deg - fov_min_deg) / grid_step_deg must be an integer >= 2 "
            f"(the vector sink plots x_start + i * x_step), got {n:g}"
        )
    return lo + st * np.arange(int(round(n)) + 1)


def to_db(power: np.ndarray, floor_db: float) -> np.ndarray:
    """10 log10(P / max P) clipped below at floor_db (all floor if P has no positive value)."""
    p = np.asarray(power, dtype=np.float64)
    peak = float(np.max(p)) if p.size else 0.0
    if not (np.isfinite(peak) and peak > 0):
        return np.full(p.shape, floor_db, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(np.maximum(p, 0.0) / peak)
    return np.maximum(np.nan_to_num(db, nan=floor_db, neginf=floor_db), floor_db).astype(np.float32)


def resample_peaks(src_deg: np.ndarray, src: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A spectrum on ``src_deg`` shown on ``grid``: linear interpolation, raised to the
    maximum of the source points that fall in each grid bin (so a peak narrower than the
    grid step keeps its height). Grid points outside the source's span get -inf."""
    src_deg = np.asarray(src_deg, dtype=np.float64)
    src = np.asarray(src, dtype=np.float64)
    out = np.interp(grid, src_deg, src, left=-np.inf, right=-np.inf)
    step = grid[1] - grid[0]
    idx = np.round((src_deg - grid[0]) / step).astype(np.int64)
    ok = (idx >= 0) & (idx < grid.size)
    np.maximum.at(out, idx[ok], src[ok])
    return out


class spatial_spectrum(gr.sync_block):  # noqa: N801 - GNU Radio block naming
    """Normalised spatial spectrum in dB, one float vector per PDU (see the GRC yml).

    In ``covariance``: covariance PDUs (DBF, MUSIC). In ``cfr``: CFR PDUs (MoD-DNN; DBF and
    MUSIC form R = (1/SK) sum h h^H from them only while no covariance PDU has arrived, so
    connecting both ports gives one spectrum per occasion). Out: float vectors of length L,
    element i the spectrum at fov_min_deg + i * grid_step_deg, 0 dB at its maximum and
    never below ``floor_db``; each carries a ``srs_occasion`` tag when the PDU had one.

    ``calibration``: a calibration JSON ('' = none). With a sweep (manifold) calibration,
    DBF and MUSIC are computed on the calibrated manifold from CFR PDUs (one covariance per
    band of the calibration; covariance PDUs are ignored, they carry no frequency
    information); angles outside the calibrated range show the floor.
    """

    @renamed_parameters(grid_start_deg="fov_min_deg", grid_stop_deg="fov_max_deg")
    def __init__(
        self,
        method: str = "dbf",
        spacing_wavelengths: float = 0.5,
        fov_min_deg: float = -60.0,
        fov_max_deg: float = 60.0,
        grid_step_deg: float = 0.5,
        order: int = 0,
        model: str = "default",
        floor_db: float = -40.0,
        calibration: str = "",
    ):
        grid = grid_points(fov_min_deg, fov_max_deg, grid_step_deg)
        gr.sync_block.__init__(
            self, name="spatial_spectrum", in_sig=None, out_sig=[(np.float32, grid.size)]
        )
        self._grid = grid
        # the settings, changed from any thread by the setters; a handler works on a copy
        # taken under the lock (_config), so one PDU sees one consistent set
        self._lock = threading.Lock()
        self._cfg: dict[str, Any] = {}
        if not isinstance(model, str):
            raise ValueError(f"model must be a path string (or 'default'), got {model!r}")
        self._model = model
        self._net = None
        self._net_error = ""
        self.set_method(method)
        self.set_spacing_wavelengths(spacing_wavelengths)
        self.set_order(order)
        self.set_floor_db(floor_db)
        self.set_calibration(calibration)
        self._queue = OutputQueue(_QUEUE_MAX, "spectra (plot too slow)", 100)
        self._seen_covariance = False
        self.message_port_register_in(pmt.intern(K.PORT_COVARIANCE))
        self.message_port_register_in(pmt.intern(K.PORT_CFR))
        self.set_msg_handler(pmt.intern(K.PORT_COVARIANCE), self._handle_covariance)
        self.set_msg_handler(pmt.intern(K.PORT_CFR), self._handle_cfr)

    # ------------------------------------------------------------------ settings
    def grid_deg(self) -> np.ndarray:
        """The angles of the output vector's bins in degrees (a copy)."""
        return self._grid.copy()

    def set_method(self, method: str) -> None:
        m = str(method).lower()
        if m not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if m == "moddnn":  # checked only when used: importing torch takes seconds
            from ..moddnn.modelfile import model_paths

            meta = model_paths(self._model)[1]
            if not meta.exists():
                raise ValueError(f"MoD-DNN model metadata {meta} does not exist")
        with self._lock:
            self._cfg["method"] = m

    def set_spacing_wavelengths(self, spacing_wavelengths: float) -> None:
        s = float(spacing_wavelengths)
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"spacing_wavelengths must be > 0, got {spacing_wavelengths}")
        with self._lock:
            self._cfg["spacing"] = s

    def set_order(self, order: int) -> None:
        if isinstance(order, bool) or int(order) != order or order < 0:
            raise ValueError(f"order must be an integer >= 0 (0 = automatic), got {order!r}")
        with self._lock:
            self._cfg["order"] = int(order)

    def set_floor_db(self, floor_db: float) -> None:
        f = float(floor_db)
        if not (np.isfinite(f) and f < 0):
            raise ValueError(f"floor_db must be a finite negative number of dB, got {floor_db}")
        with self._lock:
            self._cfg["floor"] = f

    def set_calibration(self, calibration: str) -> None:
        """Load a calibration file ('' = none); ValueError if it cannot be used."""
        from ..array.manifold import manifold_parameter

        manifold = manifold_parameter(calibration)
        with self._lock:
            self._cfg["manifold"] = manifold

    def _config(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._cfg)

    # ------------------------------------------------------------------ handlers
    def _handle_covariance(self, msg: pmt.pmt_t) -> None:
        cfg = self._config()
        if cfg["method"] == "moddnn":
            self._seen_covariance = True
            return  # MoD-DNN needs the CFR; documented, nothing to log per PDU
        if cfg["manifold"] is not None:
            return  # calibrated spectra need the CFR (per-band covariances); documented
        try:
            meta, r = _pdu.covariance_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"dropping malformed covariance PDU: {exc}")
            return
        self._seen_covariance = True  # only a real covariance PDU takes over from the CFRs
        n = meta.get(K.NUM_SNAPSHOTS)
        self._emit(cfg, meta, self._subspace_spectrum(cfg, meta, r, n))

    def _handle_cfr(self, msg: pmt.pmt_t) -> None:
        cfg = self._config()
        manifold = cfg["manifold"]
        if cfg["method"] != "moddnn" and self._seen_covariance and manifold is None:
            return
        try:
            meta, h = _pdu.cfr_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"dropping malformed CFR PDU: {exc}")
            return
        if cfg["method"] == "moddnn":
            self._emit(cfg, meta, self._moddnn_spectrum(h))
            return
        if manifold is not None:
            self._emit(cfg, meta, self._calibrated_spectrum(cfg, meta, h, manifold))
            return
        try:
            r, n = _cov.covariance_from_cfr(h)
        except ValueError as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no spectrum: {exc}")
            self._emit(cfg, meta, None)
            return
        self._emit(cfg, meta, self._subspace_spectrum(cfg, meta, r, n))

    def _subspace_spectrum(
        self, cfg: dict, meta: dict, r: np.ndarray, n: float | None
    ) -> np.ndarray | None:
        try:
            if cfg["method"] == "dbf":
                return _doa.dbf_spectrum(r, cfg["spacing"], self._grid)
            m = r.shape[0]
            if cfg["order"] > 0:
                d = cfg["order"]
            elif K.ORDER in meta:
                d = int(meta[K.ORDER])
            elif n is not None:
                d = _order.estimate_order(r, float(n), "aic")
            else:
                raise ValueError("order 0 needs meta 'order' or 'num_snapshots' for AIC")
            # MUSIC needs >= 1 signal and >= 1 noise dimension
            return _doa.music_spectrum(r, min(max(d, 1), m - 1), cfg["spacing"], self._grid)
        except (ValueError, np.linalg.LinAlgError) as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no spectrum: {exc}")
            return None

    def _calibrated_spectrum(
        self, cfg: dict, meta: dict, h: np.ndarray, manifold
    ) -> np.ndarray | None:
        try:
            sub, scs = meta.get(K.SUBCARRIERS), meta.get(K.SCS_HZ)
            if sub is None or scs is None:
                raise ValueError("the CFR PDU has no 'subcarriers' and 'scs_hz' meta")
            freqs = _cal.baseband_frequencies(sub, scs, manifold)
            order = cfg["order"] or (int(meta[K.ORDER]) if K.ORDER in meta else None)
            return _cal.calibrated_spectrum(
                cfg["method"], h, freqs, manifold, self._grid, order, "aic"
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no spectrum: {exc}")
            return None

    def _moddnn_spectrum(self, h: np.ndarray) -> np.ndarray | None:
        if self._net is None and not self._net_error:
            try:
                from ..moddnn.lowered import LoweredMoDDNN
                from ..moddnn.modelfile import load_model

                # numpy inference (as moddnn_doa): one CFR at a time never enters PyTorch's
                # thread pool, whose size is the application's to choose
                self._net = LoweredMoDDNN(load_model(self._model)[0])
                self.logger.info(f"loaded MoD-DNN model {self._model!r}")
            except Exception as exc:  # noqa: BLE001 - logged once, block keeps running
                self._net_error = str(exc)
                self.logger.error(f"cannot load MoD-DNN model {self._model!r}: {exc}")
        if self._net is None:
            return None
        cfg = self._net.cfg
        if (
            h.shape[0] != cfg.num_elements
            or h.shape[2] < cfg.num_subcarriers
            or not np.all(np.isfinite(h))
        ):
            self.logger.warn(
                f"no MoD-DNN spectrum for a CFR of shape {list(h.shape)}: the model needs "
                f"M = {cfg.num_elements}, >= {cfg.num_subcarriers} subcarriers, finite values"
            )
            return None
        s = self._net.spectrum(h[None])[0]
        return resample_peaks(cfg.grid_deg, s, self._grid)

    def _emit(self, cfg: dict, meta: dict, power: np.ndarray | None) -> None:
        """Queue one output vector; a PDU without a spectrum gives a flat floor vector so
        that plots fed in lockstep by several of these blocks keep going."""
        floor = cfg["floor"]
        if power is None:
            vec = np.full(self._grid.size, floor, dtype=np.float32)
        else:
            vec = to_db(np.where(np.isfinite(power), power, 0.0), floor)
        self._queue.push(self.logger, vec, meta.get(K.SRS_OCCASION))

    # ------------------------------------------------------------------ stream side
    def work(self, input_items, output_items):
        return self._queue.fill(self, output_items[0])
