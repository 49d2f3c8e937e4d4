"""resource_separator: one UE's CFR freed of the UEs that share its comb (docs/multi_ue.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from ..nr.resources import separate_cyclic_shift
from . import _flow
from . import pdu as _pdu
from ._guard import guarded


class resource_separator(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """CFR PDUs of one SRS resource in, the same PDUs with this UE's CFR and SNR out.

    Several UEs on the same comb (TS 38.211 6.4.1.4.2): after the CFR extractor's division
    by this UE's sequence, a UE with the same base sequence and cyclic shift n' sits
    (n' - n_cs) K / n_cs_max delay bins away, a UE with another sequence is spread over
    every delay.

    Joint separation (``carrier``, ``srs`` and ``sharers`` given, the receiver's way): every
    UE on these REs is fitted in its own delay band with its known sequence by joint least
    squares (nr.separation.separate_joint) and the others' fits are subtracted, which
    removes UEs separated only by their sequence ID as well as the sidelobes of
    neighbouring cyclic shifts. The meta ``snr_db`` is the SNR at which the single-UE CRB
    is this UE's CRB in that joint model: the noise measured on the fit's residual
    (whatever the others leave counts), times the share of this UE's signal outside the
    others' subspace. ``sinr_before_db`` (attribute, mean over the CFRs) is the SINR per
    RE with the other UEs as noise, before separation.

    Then, with ``window``, the block keeps this UE's delay window (K / n_cs_max bins around
    delay 0) and transforms back (nr.resources.separate_cyclic_shift), keeping every
    n_cs_max-th subcarrier (they hold the whole window with independent noise; meta
    ``subcarriers`` and ``shape`` follow) so the estimators' CRB stays right. Without the
    sequences (``sharers`` empty) only the window is applied and ``snr_db`` counts the
    residual outside the window and the ``orthogonal`` shifts' windows as noise +
    interference. Without ``window`` the CFR passes unchanged and only a NaN ``snr_db``
    (no noise REs left beside the other resources' combs) is filled in.

    Message ports: in ``cfr`` (CFR PDUs of cfr_extractor), out ``cfr``. Skip notices pass.

    Parameters: ``cyclic_shift`` n_SRS^cs of this resource, ``n_cs_max`` (8, 12, 6 for
    comb 2, 4, 8), ``orthogonal``: the cyclic shifts of the other resources on the same comb
    with the same sequence, ``window``: separate (True) or only measure the SNR (False),
    ``taper``: Kaiser beta of a taper over the subcarriers before the delay transform (0 =
    none), used only without the joint separation (which models the sidelobes instead),
    ``carrier`` (CarrierConfig or dict), ``srs`` (this resource's SRSConfig or dict) and
    ``sharers`` (the SRS configs of the other resources on the same REs): the sequences of
    the joint separation.
    """

    def __init__(
        self,
        cyclic_shift: int = 0,
        n_cs_max: int = 8,
        orthogonal: list[int] | tuple[int, ...] = (),
        window: bool = True,
        taper: float = 0.0,
        carrier: Any = None,
        srs: Any = None,
        sharers: list[Any] | tuple[Any, ...] = (),
    ):
        gr.basic_block.__init__(self, name="resource_separator", in_sig=None, out_sig=None)
        if n_cs_max not in (6, 8, 12):
            raise ValueError(f"n_cs_max must be 8, 12 or 6 (comb 2, 4, 8), got {n_cs_max}")
        shifts = [int(cyclic_shift), *(int(o) for o in orthogonal)]
        if any(not 0 <= c < n_cs_max for c in shifts) or len(set(shifts)) != len(shifts):
            raise ValueError(f"cyclic shifts must be distinct and in [0, {n_cs_max}), got {shifts}")
        self.cyclic_shift = int(cyclic_shift)
        self.n_cs_max = int(n_cs_max)
        self.orthogonal = tuple(shifts[1:])
        self.window = bool(window)
        if not 0.0 <= float(taper) <= 20.0:
            raise ValueError(f"taper must be a Kaiser beta in [0, 20], got {taper}")
        self.taper = float(taper)
        seqs = self._sequences(carrier, srs, sharers)
        self._x_own, self._x_others, self._columns, self._search = seqs
        self.joint = self._x_own is not None and len(self._x_others) > 0 and self.window
        # written only by the message handler (an int store is atomic); read through
        # num_cfrs() and num_unseparated()
        self._cfrs = 0
        self._unseparated = 0  # CFRs the joint separation could not take: windowed only
        self._models: dict = {}  # the joint fit's factorised models (nr.separation)
        self._sinr_before: list[float] = []
        self._port = pmt.intern(K.PORT_CFR)
        self.message_port_register_in(self._port)
        self.message_port_register_out(self._port)
        self.set_msg_handler(self._port, self._handle)

    @staticmethod
    def _sequences(carrier: Any, srs: Any, sharers: Any):
        """(own [S, K], others [[S, K], ...], grid subcarriers [K], the delay bins to search
        per UE) of the joint separation, (None, [], None, None) without a carrier and SRS;
        ValueError if a sharer's REs differ."""
        if carrier is None or srs is None or carrier == "" or srs == "":
            if sharers:
                raise ValueError("sharers need the carrier and this resource's srs")
            return None, [], None, None
        from ..nr.receiver import frontend_params
        from ..nr.resources import same_base_sequence
        from ..nr.separation import search_bins
        from ..nr.srs import SRSConfig

        def cfg(c):
            return c if isinstance(c, SRSConfig) else SRSConfig.from_dict(dict(c))

        own = frontend_params(carrier, srs)
        own_cfg = cfg(srs)
        all_cfgs = [own_cfg, *(cfg(o) for o in sharers or ())]
        k = own.subcarriers.size
        # a sharer with its own timing (a base sequence no other UE here uses) may arrive up
        # to a CP before or after this UE (no timing advance): look for it that far
        spread = int(min(own.cp_lengths) * own_cfg.k_tc * k / own.fft_size)
        others: list[np.ndarray] = []
        search: list = [None]
        for i, o in enumerate(sharers or ()):
            p = frontend_params(carrier, o)
            if not np.array_equal(p.subcarriers, own.subcarriers) or p.symbols != own.symbols:
                raise ValueError(f"sharers[{i}] does not use this resource's REs")
            x = p.sequence.astype(np.complex128)
            if np.allclose(x, own.sequence, atol=1e-4):
                raise ValueError(
                    f"sharers[{i}] sends this resource's sequence and cyclic shift (n_srs_id "
                    "equal modulo 30): the receiver cannot tell the UEs apart"
                )
            # the same sequence twice among the others: one model for their sum
            if not any(np.allclose(x, y, atol=1e-4) for y in others):
                others.append(x)
                alone = not any(
                    same_base_sequence(all_cfgs[i + 1], c)
                    for j, c in enumerate(all_cfgs)
                    if j != i + 1
                )
                n_cs_max = own_cfg.n_cs_max
                search.append(search_bins(k, n_cs_max, spread) if alone else None)
        return own.sequence.astype(np.complex128), others, np.asarray(own.subcarriers), search

    def num_cfrs(self) -> int:
        """CFR PDUs passed on so far (skip notices not counted)."""
        return self._cfrs

    def num_unseparated(self) -> int:
        """CFRs the joint separation could not take (windowed only) so far."""
        return self._unseparated

    def sinr_before_db(self) -> float:
        """Mean SINR per RE before the joint separation (the other UEs as noise); NaN if none."""
        vals = tuple(self._sinr_before)  # a snapshot: the handler may append meanwhile
        return float(np.mean(vals)) if vals else float("nan")

    def _separate(self, meta: dict, h: np.ndarray) -> tuple[np.ndarray, float]:
        if self.joint:
            sub = np.atleast_1d(meta.get(K.SUBCARRIERS, self._columns))
            if h.shape[1:] == self._x_own.shape and np.array_equal(sub, self._columns):
                from ..nr.separation import separate_joint

                try:
                    r = separate_joint(
                        h,
                        self._x_own,
                        self._x_others,
                        self.n_cs_max,
                        cache=self._models,
                        search=self._search,
                    )
                except ValueError as exc:  # the UEs' delay bands fill too much of the band
                    self._unseparated += 1
                    n = self._unseparated
                    if n in (1, 10, 100) or n % 1000 == 0:
                        self.logger.warn(f"{exc}: windowed only ({n} CFRs so far)")
                else:
                    self._sinr_before.append(r.sinr_before_db)
                    h2, _ = separate_cyclic_shift(
                        r.h, self.cyclic_shift, self.n_cs_max, (), True, True, 0.0
                    )
                    return h2, r.snr_db
            else:
                self.logger.error(
                    f"CFR of shape {list(h.shape)} is not this resource's "
                    f"{list(self._x_own.shape)} (symbols, subcarriers): windowed only"
                )
        return separate_cyclic_shift(
            h, self.cyclic_shift, self.n_cs_max, self.orthogonal, self.window, True, self.taper
        )

    @guarded("separating a CFR")
    def _handle(self, msg: pmt.pmt_t) -> None:
        if _flow.is_skip_notice(msg):
            self.message_port_pub(self._port, msg)
            return
        try:
            meta, h = _pdu.cfr_from_pdu(msg)
        except (_pdu.PduError, ValueError) as exc:
            self.logger.error(f"passing a malformed CFR PDU on unchanged: {exc}")
            self.message_port_pub(self._port, msg)
            return
        out_meta = pmt.car(msg)
        vec = pmt.cdr(msg)
        snr = meta.get(K.SNR_DB)
        if self.window or snr is None or not np.isfinite(snr):
            h2, snr_sep = self._separate(meta, h)
            out_meta = pmt.dict_add(out_meta, pmt.intern(K.SNR_DB), pmt.from_double(snr_sep))
            if self.window:
                if h2.shape != h.shape:  # decimated: every n_cs_max-th subcarrier
                    sub = np.atleast_1d(meta[K.SUBCARRIERS])[:: self.n_cs_max]
                    out_meta = pmt.dict_add(
                        out_meta, pmt.intern(K.SUBCARRIERS), _pdu.to_pmt_value(sub)
                    )
                    out_meta = pmt.dict_add(
                        out_meta,
                        pmt.intern(K.SHAPE),
                        _pdu.to_pmt_value(np.asarray(h2.shape, dtype=np.int32)),
                    )
                v = np.ascontiguousarray(h2, np.complex64).ravel()
                vec = pmt.init_c32vector(v.size, v)
        self._cfrs += 1
        self.message_port_pub(self._port, pmt.cons(out_meta, vec))
