"""doa_estimator: angle (and delay) of arrival from covariance or CFR PDUs."""

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
from ..estimation import los as _los
from ..estimation import order as _order
from . import _flow
from . import pdu as _pdu
from ._guard import guarded
from ._stack import OccasionStack, check_occasions

_PASS_KEYS = (K.SRS_OCCASION, K.SAMPLE_INDEX, K.RX_TIME)
MAX_BATCH = 32  # PDUs taken off the queue per handler call


class doa_estimator(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """One estimate PDU (DESIGN section 6) per covariance PDU, and per CFR PDU or ``occasions``
    consecutive ones.

    In ``covariance``: covariance PDUs (1-D methods only). In ``cfr``: CFR PDUs; the 1-D
    methods turn H into R = (1/SK) sum h h^H (forward-backward averaged if
    ``forward_backward``), 2D-ESPRIT uses H itself with subcarrier frequencies
    meta ``subcarriers`` * ``scs_hz``. Out ``estimate``: meta ``srs_occasion``,
    ``sample_index``, ``rx_time`` (when the input has them), ``method``, ``order``,
    ``aoa_deg`` (f32, strongest path first), ``power`` (f32, per path), ``delay_s`` (f64,
    2D-ESPRIT only), ``snr_db`` (the input's when it has one, else estimated from R), ``crb_deg``
    (f32, stochastic CRB of each angle); empty c32 vector.

    ``order`` > 0 fixes the number of paths; 0 takes meta ``order`` (from order_estimator) or
    else runs ``order_method`` (AIC/MDL) with meta ``num_snapshots`` (S*K for a CFR). Order 0
    (no path detected) gives an estimate with empty vectors. ``subarray_size`` M_s (0 = off)
    spatially smooths R over the M - M_s + 1 subarrays before the 1-D methods and AIC/MDL,
    for coherent multipath.

    ``calibration``: a calibration JSON ('' = none). A sweep (manifold) calibration makes
    dbf, music, ml and 2d-ml search the measured manifold (``estimation.calibrated``) on CFR
    PDUs (per-band covariances; covariance PDUs are dropped with an error, they carry no
    frequency information); esprit, root-music and 2d-esprit use only the angle-independent
    part, which cfr_extractor applies (logged once). A single-angle calibration has no
    manifold: nothing changes here (cfr_extractor applies it). Without a manifold, ml and
    2d-ml use the ideal ULA.

    ``los_edge`` (2d-esprit and 2d-ml without a manifold): the angle of the earliest path
    (meta ``los_index``) is read on the leading edge of its delay response
    (``estimation.los.leading_edge_angle``: later paths attenuated, 10.7 dB of SNR given
    up) whenever the edge's own predicted noise std stays below 0.25 deg; meta ``los_edge``
    says whether it was. For the LOS in rich multipath (docs/channels.md); off by default,
    since on a clean single path it only adds noise.

    ``occasions`` N > 1 (CFR input): the CFRs of N consecutive SRS occasions are stacked
    along the symbol axis into one CFR [M, N S, K] and give one estimate (meta
    ``occasions`` = N, the last occasion's index); the N - 1 held ones are announced on
    ``skipped`` as "accumulated", as covariance_accumulator does for the covariance input.

    Flow control (docs/performance.md): the PDUs that queued up behind the current one (at
    most 32 in all) are taken off the queue and worked through in one handler call. An
    input without an estimate is announced on ``skipped`` (for the branch's result_sink to
    acknowledge). ``max_queue`` > 0 bounds each input queue (a live radio): the oldest PDUs
    are dropped and counted (``num_dropped()``, meta ``dropped`` of the estimates), one
    warning per burst; 0 never drops.
    """

    def __init__(
        self,
        method: str = "esprit",
        spacing_wavelengths: float = 0.5,
        order: int = 0,
        order_method: str = "aic",
        fov_min_deg: float = -90.0,
        fov_max_deg: float = 90.0,
        grid_step_deg: float = 0.5,
        tls: bool = True,
        forward_backward: bool = False,
        smoothing: int = 0,
        subarray_size: int = 0,
        calibration: str = "",
        max_queue: int = 0,
        los_edge: bool = False,
        occasions: int = 1,
    ):
        gr.basic_block.__init__(self, name="doa_estimator", in_sig=None, out_sig=None)
        self._lock = threading.Lock()
        self._failure = None
        self._bounds = {
            K.PORT_COVARIANCE: _flow.InputBound(max_queue, "covariance PDUs"),
            K.PORT_CFR: _flow.InputBound(max_queue, "CFR PDUs"),
        }
        # the settings, changed from any thread by the setters; a handler works on a copy
        # taken under the lock (_config), so one PDU sees one consistent set
        self._cfg: dict[str, Any] = {}
        self.set_method(method)
        self.set_spacing_wavelengths(spacing_wavelengths)
        self.set_order(order)
        self.set_order_method(order_method)
        self.set_fov(fov_min_deg, fov_max_deg)
        self.set_grid_step_deg(grid_step_deg)
        self.set_tls(tls)
        self.set_forward_backward(forward_backward)
        self.set_smoothing(smoothing)
        self.set_subarray_size(subarray_size)
        self._told_angle_independent = False
        self.set_calibration(calibration)
        self.set_los_edge(los_edge)
        self._stack = OccasionStack()  # CFRs held for the next estimate (``occasions``)
        self.set_occasions(occasions)
        self._cov_errors = 0
        self._k2d: tuple | None = None  # (settings, C++ 2D-ESPRIT kernel)
        self._num_estimates = 0  # written by the handler thread, read from any (the lock)
        self._num_skipped = 0
        self.message_port_register_in(pmt.intern(K.PORT_COVARIANCE))
        self.message_port_register_in(pmt.intern(K.PORT_CFR))
        self.message_port_register_out(pmt.intern(K.PORT_ESTIMATE))
        self.message_port_register_out(pmt.intern(K.PORT_SKIPPED))
        self.set_msg_handler(pmt.intern(K.PORT_COVARIANCE), self._on_covariance)
        self.set_msg_handler(pmt.intern(K.PORT_CFR), self._on_cfr)

    # ------------------------------------------------------------------ settings
    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._cfg.update(kw)

    def _config(self) -> dict[str, Any]:
        """A copy of the settings for one PDU (a setter may run meanwhile in another thread)."""
        with self._lock:
            return dict(self._cfg)

    def num_estimates(self) -> int:
        """Estimate PDUs published so far."""
        with self._lock:
            return self._num_estimates

    def num_skipped(self) -> int:
        """Inputs announced on ``skipped`` (no estimate) so far."""
        with self._lock:
            return self._num_skipped

    def set_method(self, method: str) -> None:
        m = str(method).lower()
        if m not in _doa.METHODS:
            raise ValueError(f"method must be one of {_doa.METHODS}, got {method!r}")
        self._set(method=m)

    def set_spacing_wavelengths(self, spacing_wavelengths: float) -> None:
        s = float(spacing_wavelengths)
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"spacing_wavelengths must be > 0, got {spacing_wavelengths}")
        self._set(spacing=s)

    def set_order(self, order: int) -> None:
        if isinstance(order, bool) or int(order) != order or order < 0:
            raise ValueError(f"order must be an integer >= 0 (0 = automatic), got {order!r}")
        self._set(order=int(order))

    def set_order_method(self, order_method: str) -> None:
        m = str(order_method).lower()
        if m not in _order.METHODS:
            raise ValueError(f"order_method must be one of {_order.METHODS}, got {order_method!r}")
        self._set(order_method=m)

    def set_fov(self, fov_min_deg: float, fov_max_deg: float) -> None:
        lo, hi = float(fov_min_deg), float(fov_max_deg)
        if not (-90.0 <= lo < hi <= 90.0):
            raise ValueError(f"need -90 <= fov_min_deg < fov_max_deg <= 90, got {lo}, {hi}")
        self._set(fov=(lo, hi))

    def set_grid_step_deg(self, grid_step_deg: float) -> None:
        g = float(grid_step_deg)
        if not (np.isfinite(g) and 0 < g <= 10):
            raise ValueError(f"grid_step_deg must be in (0, 10], got {grid_step_deg}")
        self._set(grid_step=g)

    def set_tls(self, tls: bool) -> None:
        self._set(tls=bool(tls))

    def set_forward_backward(self, forward_backward: bool) -> None:
        self._set(fb=bool(forward_backward))

    def set_smoothing(self, smoothing: int) -> None:
        if isinstance(smoothing, bool) or int(smoothing) != smoothing or smoothing < 0:
            raise ValueError(f"smoothing must be 0 (automatic) or an integer >= 2, got {smoothing}")
        if smoothing == 1:
            raise ValueError("smoothing must be 0 (automatic) or >= 2, got 1")
        self._set(smoothing=int(smoothing))

    def set_subarray_size(self, subarray_size: int) -> None:
        if isinstance(subarray_size, bool) or int(subarray_size) != subarray_size:
            raise ValueError(f"subarray_size must be an integer, got {subarray_size!r}")
        if subarray_size != 0 and subarray_size < 2:
            raise ValueError(f"subarray_size must be 0 (off) or >= 2, got {subarray_size}")
        self._set(subarray=int(subarray_size))

    def set_los_edge(self, los_edge: bool) -> None:
        """Read the earliest path's angle on its leading edge (2d-esprit, uncalibrated 2d-ml)."""
        self._set(los_edge=bool(los_edge))

    def set_occasions(self, occasions: int) -> None:
        """CFRs per estimate on the ``cfr`` port: that many consecutive SRS occasions are
        stacked along the symbol axis into one CFR [M, N S, K] (1 = every occasion)."""
        n = check_occasions(occasions)
        with self._lock:
            self._cfg["occasions"] = n
        self._stack.clear()

    def set_calibration(self, calibration: str) -> None:
        """Load a calibration file ('' = none); ValueError if it cannot be used."""
        from ..array.manifold import manifold_parameter

        manifold = manifold_parameter(calibration)
        with self._lock:
            self._cfg["manifold"] = manifold
            self._cfg["calibration"] = calibration
            self._told_angle_independent = False

    def _calibrated(self, cfg: dict) -> bool:
        """True when this PDU goes to the calibrated estimators (a manifold and a method that
        searches it); logs once that the others use the angle-independent part only."""
        if cfg["manifold"] is None:
            return False
        if cfg["method"] in _cal.CALIBRATED_METHODS:
            return True
        if not self._told_angle_independent:
            self._told_angle_independent = True
            self.logger.info(
                f"method {cfg['method']!r} uses only the angle-independent part of the "
                f"calibration {cfg['calibration']!r} (applied by cfr_extractor); dbf, music, ml "
                "and 2d-ml search the calibrated manifold"
            )
        return False

    def set_max_queue(self, max_queue: int) -> None:
        """Bound each input queue (0 = no bound): the oldest PDUs are dropped beyond it."""
        for b in self._bounds.values():
            b.set_max_queue(max_queue)

    def num_dropped(self) -> int:
        """Input PDUs dropped by the queue bound so far."""
        return sum(b.dropped for b in self._bounds.values())

    # ------------------------------------------------------------------ handlers
    def _take(self, port: str, msg: pmt.pmt_t) -> list[pmt.pmt_t]:
        """This message and the ones queued behind it, or [] when it is shed."""
        p = pmt.intern(port)
        if self._bounds[port].shed(self, p):
            return []
        return [msg, *_flow.take_queued(self, p, MAX_BATCH - 1)]

    @guarded("estimating")
    def _on_covariance(self, msg: pmt.pmt_t) -> None:
        for m in self._take(K.PORT_COVARIANCE, msg):
            if _flow.is_skip_notice(m):  # an upstream stage's: pass it on, in order
                self.message_port_pub(pmt.intern(K.PORT_SKIPPED), m)
            else:
                self._handle_covariance(m)

    @guarded("estimating")
    def _on_cfr(self, msg: pmt.pmt_t) -> None:
        for m in self._take(K.PORT_CFR, msg):
            if _flow.is_skip_notice(m):
                self.message_port_pub(pmt.intern(K.PORT_SKIPPED), m)
            else:
                self._handle_cfr(m)

    def _skip(self, msg: pmt.pmt_t, why: str, method: str) -> None:
        """Announce an input that gives no estimate (its branch's sink acknowledges it)."""
        with self._lock:
            self._num_skipped += 1
        self.message_port_pub(
            pmt.intern(K.PORT_SKIPPED), _flow.skip_notice(_flow.meta_of(msg), method, why)
        )

    def _handle_covariance(self, msg: pmt.pmt_t) -> None:
        cfg = self._config()
        if cfg["method"] in _doa.CFR_ONLY_METHODS or self._calibrated(cfg):
            if self._cov_errors % 100 == 0:
                why = " with a calibrated manifold" if cfg["manifold"] is not None else ""
                self.logger.error(
                    f"method {cfg['method']!r}{why} needs CFR PDUs on the 'cfr' port, not "
                    "covariance PDUs: connect the CFR extractor to 'cfr' or pick a 1-D method "
                    f"({self._cov_errors + 1} covariance PDU(s) dropped)"
                )
            self._cov_errors += 1
            self._skip(msg, "covariance PDU for a CFR method", cfg["method"])
            return
        try:
            meta, r = _pdu.covariance_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"dropping malformed covariance PDU: {exc}")
            self._skip(msg, "malformed", cfg["method"])
            return
        n = meta.get(K.NUM_SNAPSHOTS)
        self._run(
            cfg,
            meta,
            msg,
            covariance=r,
            n_snapshots=None if n is None else float(n),
        )

    def _handle_cfr(self, msg: pmt.pmt_t) -> None:
        cfg = self._config()
        parsed = self._parse_cfr(cfg, msg)
        if parsed is None:
            return
        meta, h, freqs = parsed
        if cfg["occasions"] > 1:
            h = self._stacked(cfg, msg, h, freqs)
            if h is None:
                return
            meta[K.OCCASIONS] = cfg["occasions"]
        if freqs is not None:
            n = h.shape[1] * h.shape[2]
            if self._calibrated(cfg):
                self._run_calibrated(cfg, meta, msg, h, freqs)
            elif cfg["method"] == "2d-esprit":
                self._run_2d_esprit(cfg, meta, msg, h, freqs)
            else:
                self._run(cfg, meta, msg, cfr=h, subcarrier_hz=freqs, n_snapshots=n)
            return
        try:
            r, n = _cov.covariance_from_cfr(h, fb=cfg["fb"])
        except ValueError as exc:
            self.logger.warn(f"dropping CFR PDU: {exc}")
            self._skip(msg, str(exc), cfg["method"])
            return
        self._run(cfg, meta, msg, covariance=r, n_snapshots=n, cfr=h)

    def _stacked(
        self, cfg: dict, msg: pmt.pmt_t, h: np.ndarray, freqs: np.ndarray | None
    ) -> np.ndarray | None:
        """Hold this CFR until ``occasions`` of them are in (announced on ``skipped`` as
        "accumulated", as covariance_accumulator does); then the CFRs stacked along the
        symbol axis. CFRs of another shape or band than the held ones start a new stack."""
        full = self._stack.push(h, freqs, cfg["occasions"], self.logger)
        if full is None:
            self._skip(msg, "accumulated", cfg["method"])
        return full

    def _parse_cfr(self, cfg: dict, msg: pmt.pmt_t) -> tuple | None:
        """(meta, H, subcarrier Hz or None) of a CFR PDU; None (skipped) when unusable.
        The frequencies are given for 2-D and calibrated methods (baseband Hz with a
        manifold), None for the 1-D methods on R."""
        try:
            meta, h = _pdu.cfr_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"dropping malformed CFR PDU: {exc}")
            self._skip(msg, "malformed", cfg["method"])
            return None
        calibrated = self._calibrated(cfg)
        if not (cfg["method"] in _doa.CFR_ONLY_METHODS or calibrated):
            return meta, h, None
        sub, scs = meta.get(K.SUBCARRIERS), meta.get(K.SCS_HZ)
        if sub is None or scs is None:
            self.logger.error("dropping CFR PDU without 'subcarriers' and 'scs_hz' meta")
            self._skip(msg, "no subcarriers", cfg["method"])
            return None
        freqs = np.asarray(sub, dtype=np.float64).ravel() * float(scs)
        if calibrated:
            try:  # the manifold's bands are in baseband Hz
                freqs = _cal.baseband_frequencies(sub, scs, cfg["manifold"])
            except ValueError as exc:
                self.logger.error(f"dropping CFR PDU: {exc}")
                self._skip(msg, str(exc), cfg["method"])
                return None
        return meta, h, freqs

    def _resolve_order(self, cfg: dict, meta: dict, r: np.ndarray, n: float | None) -> int:
        if cfg["order"] > 0:
            return cfg["order"]
        if K.ORDER in meta:
            return int(meta[K.ORDER])
        if n is None:
            raise ValueError("order 0 needs meta 'order' or 'num_snapshots' for AIC/MDL")
        return _order.estimate_order(r, n, cfg["order_method"])

    @staticmethod
    def _whitened(r: np.ndarray, cfr: np.ndarray, fb: bool = False) -> np.ndarray:
        """R scaled to equal noise per channel, for AIC/MDL after a calibration: the CFR
        Extractor's gain correction leaves the channels' noise unequal, which the white-noise
        criteria read as extra paths (docs/calibration.md); noise per channel measured in
        the delay domain away from the paths (estimation.los.noise_per_channel), averaged
        with the mirrored channel's when R is forward-backward averaged (``fb``)."""
        q = _los.noise_per_channel(cfr)
        return _order.whiten(r, 0.5 * (q + q[::-1]) if fb else q)

    @staticmethod
    def _smoothed(cfg: dict, r: np.ndarray, n: float | None) -> tuple[np.ndarray, float | None]:
        """R and N as the 1-D estimators see them (spatially smoothed when configured)."""
        ms = cfg["subarray"]
        m = r.shape[0]
        if ms == 0 or ms >= m or cfg["method"] in _doa.CFR_ONLY_METHODS:
            return r, n
        rs = _cov.spatial_smoothing(r, ms)
        return rs, None if n is None else _cov.effective_snapshots(n, m, ms)

    def _run_calibrated(
        self, cfg: dict, meta: dict, msg: pmt.pmt_t, h: np.ndarray, freqs: np.ndarray
    ) -> None:
        """dbf / music / ml / 2d-ml on the calibrated manifold (estimation.calibrated)."""
        manifold = cfg["manifold"]
        try:
            if h.shape[0] != manifold.num_elements:
                raise ValueError(
                    f"the CFR has {h.shape[0]} elements, the calibration {manifold.num_elements}"
                )
            d = None  # AIC/MDL in estimate_calibrated, whitened by each channel's noise
            if cfg["order"] > 0:
                d = min(cfg["order"], h.shape[0] - 1)
            elif K.ORDER in meta:  # from order_estimator
                d = min(int(meta[K.ORDER]), h.shape[0] - 1)
            est = _cal.estimate_calibrated(
                cfg["method"],
                h,
                freqs,
                manifold,
                order=d,
                fov_deg=cfg["fov"],
                grid_step_deg=cfg["grid_step"],
                order_method=cfg["order_method"],
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no estimate: {exc}")
            self._skip(msg, str(exc), cfg["method"])
            return
        self._publish(cfg, meta, msg, est, freqs)

    def _run_2d_esprit(
        self, cfg: dict, meta: dict, msg: pmt.pmt_t, h: np.ndarray, freqs: np.ndarray
    ) -> None:
        """2D-ESPRIT in C++ (esprit2d_kernel, the GIL released while it runs): the same
        estimate as estimation.doa.estimate("2d-esprit"), its oracle, at about a quarter of
        the time."""
        key = (cfg["spacing"], cfg["tls"], cfg["fov"], cfg["smoothing"])
        if self._k2d is None or self._k2d[0] != key:
            from .. import srsaoa_python as cpp

            k = cpp.esprit2d_kernel(cfg["spacing"], cfg["tls"], *cfg["fov"], cfg["smoothing"])
            self._k2d = (key, k)
        if cfg["order"] > 0:
            d = cfg["order"]
        elif K.ORDER in meta:
            d = int(meta[K.ORDER])
        elif cfg["calibration"]:  # gain-corrected channels: the criterion on whitened R
            r, n = _cov.covariance_from_cfr(h)
            d = _order.estimate_order(self._whitened(r, h), n, cfg["order_method"])
        else:
            d = -1  # AIC/MDL on the spatial covariance, in the kernel
        try:
            e = self._k2d[1].estimate(h, freqs.tolist(), d, cfg["order_method"] == "mdl")
        except (ValueError, RuntimeError) as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no estimate: {exc}")
            self._skip(msg, str(exc), cfg["method"])
            return
        est = _doa.Estimate(
            "2d-esprit",
            e.order,
            np.asarray(e.aoa_deg, np.float64),
            np.asarray(e.power, np.float64),
            np.asarray(e.delay_s, np.float64) if e.order else None,
            e.noise_power,
            e.snr_db,
            np.asarray(e.crb_deg, np.float64),
        )
        self._publish(cfg, meta, msg, est, freqs, h)

    @staticmethod
    def _edge(
        cfg: dict, est: Any, i: int, h: np.ndarray, freqs: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        """(angles with the earliest path's read on its leading edge when the edge's noise
        allows, whether it was): as estimation.los.estimate_los(edge=True)."""
        aoa = est.aoa_deg.astype(np.float32)
        a = _los.guarded_edge_angle(
            np.asarray(h, np.complex128),
            freqs,
            float(est.aoa_deg[i]),
            float(est.delay_s[i]),
            cfg["spacing"],
        )
        if a is None:
            return aoa, False
        aoa[i] = a
        return aoa, True

    def _run(self, cfg: dict, meta: dict, msg: pmt.pmt_t, **kw: Any) -> None:
        try:
            r = kw.get("covariance")
            if r is None:
                r, _ = _cov.covariance_from_cfr(kw["cfr"])
            r_eff, n_eff = self._smoothed(cfg, r, kw.get("n_snapshots"))
            r_ord = r_eff
            cfr = kw.get("cfr")
            if cfg["calibration"] and cfr is not None and cfg["order"] == 0 and K.ORDER not in meta:
                fb = cfg["fb"] and kw.get("covariance") is not None  # R from _handle_cfr
                r_ord = self._smoothed(cfg, self._whitened(r, cfr, fb), None)[0]
            d = self._resolve_order(cfg, meta, r_ord, n_eff)
            if cfg["method"] not in _doa.CFR_ONLY_METHODS:
                d = min(d, r_eff.shape[0] - 1)
                kw.pop("cfr", None)
                if 0 < cfg["subarray"] < r.shape[0]:
                    kw["subarray_size"] = cfg["subarray"]
            est = _doa.estimate(
                cfg["method"],
                order=d,
                spacing_wavelengths=cfg["spacing"],
                fov_deg=cfg["fov"],
                grid_step_deg=cfg["grid_step"],
                tls=cfg["tls"],
                smoothing=cfg["smoothing"] or None,
                **kw,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            self.logger.warn(f"occasion {meta.get(K.SRS_OCCASION)}: no estimate: {exc}")
            self._skip(msg, str(exc), cfg["method"])
            return
        self._publish(cfg, meta, msg, est)

    def _publish(
        self,
        cfg: dict,
        meta: dict,
        msg: pmt.pmt_t,
        est: Any,
        freqs: np.ndarray | None = None,
        cfr: np.ndarray | None = None,
    ) -> None:
        out: dict[str, Any] = {}
        out[K.METHOD] = cfg["method"]
        if int(meta.get(K.OCCASIONS, 1)) > 1:  # SRS occasions behind it (accumulated, stacked)
            out[K.OCCASIONS] = int(meta[K.OCCASIONS])
        out[K.ORDER] = int(est.order)
        out[K.AOA_DEG] = est.aoa_deg.astype(np.float32)
        out[K.POWER] = est.power.astype(np.float32)
        if est.delay_s is not None:
            out[K.DELAY_S] = est.delay_s.astype(np.float64)
            if freqs is not None and freqs.size > 1 and est.aoa_deg.size:
                # positioning wants the direct path, not the strongest: the earliest path
                # within 10 dB of the strongest, delays compared modulo the comb's period and
                # to within the band's resolution (estimation.los)
                i = _los.earliest_path(
                    est,
                    delay_period_s=1.0 / float(np.median(np.abs(np.diff(freqs)))),
                    resolution_s=0.5 / float(np.ptp(freqs)),
                )
                if i is not None:
                    out[K.LOS_INDEX] = int(i)
                    if cfg["los_edge"] and cfr is not None:
                        out[K.AOA_DEG], out[K.LOS_EDGE] = self._edge(cfg, est, i, cfr, freqs)
        snr = meta.get(K.SNR_DB, est.snr_db)
        out[K.SNR_DB] = float(snr)
        out[K.CRB_DEG] = est.crb_deg.astype(np.float32)
        dropped = _flow.dropped_upstream(meta) + self.num_dropped()
        if dropped:
            out[K.DROPPED] = dropped
        self.logger.debug(
            f"occasion {meta.get(K.SRS_OCCASION)}: {cfg['method']} aoa {np.round(est.aoa_deg, 2)}"
        )
        kw_meta = pmt.car(msg)
        pdu = _pdu.make_pdu(out, None)
        # occasion, sample index and UHD's rx_time go through as the very same pmt values
        d = pmt.car(pdu)
        for key in _PASS_KEYS:
            val = pmt.dict_ref(kw_meta, pmt.intern(key), pmt.PMT_NIL)
            if not pmt.is_null(val) or pmt.dict_has_key(kw_meta, pmt.intern(key)):
                d = pmt.dict_add(d, pmt.intern(key), val)
        with self._lock:
            self._num_estimates += 1
        self.message_port_pub(pmt.intern(K.PORT_ESTIMATE), pmt.cons(d, pmt.cdr(pdu)))
