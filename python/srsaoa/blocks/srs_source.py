"""srs_source: streams the 5G NR SRS of one UE, slot after slot (the transmit side)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pmt
from gnuradio import gr

from .. import constants as K
from ..nr import CarrierConfig, SRSConfig, srs_slot_waveform

_CACHE_BYTES = 64 << 20  # waveform cache budget


class srs_source(gr.sync_block):  # noqa: N801 - GNU Radio block naming
    """Time-domain SRS of a UE: the slot waveform of nr.srs_slot_waveform in every SRS slot
    (periodicity and offset of ``srs_period``), zeros in the other slots, one complex output
    per SRS port, sample rate fft_size * subcarrier spacing.

    The first output sample is the first sample of slot (n_frame, n_slot); slot numbers
    advance and wrap like the air interface (1024 frames), so slot-dependent things (long
    CP at 60/120 kHz, group/sequence hopping, frequency hopping) follow the specification.
    Each SRS slot's first sample carries the tag ``srs_start`` on every output, value
    ``{occasion: n (0, 1, ...), metric: 1.0, cfo_hz: 0.0}``.

    Several UEs (docs/multi_ue.md): ``resources`` = ``[{id, srs: {<SRSConfig fields>},
    scale}, ...]`` (the resource list of ``srsaoa run --srs-resources``, with an optional
    linear ``scale`` per UE, default 1) replaces the single resource of the SRS fields, on
    the same carrier. Each resource keeps its own period, offset, hopping and occasion
    count. With ``separate_outputs`` False the outputs carry the sum of the resources (one
    output per port, as many as the resource with the most ports); with True one output per
    resource, in list order (single-port resources), e.g. to give each UE its own channel
    before summing. The ``srs_start`` tags then also carry ``resource: id``; summed, every
    output carries the tags of every resource (one per resource sounding in that slot).
    """

    def __init__(
        self,
        subcarrier_spacing: int = 30,
        n_size_grid: int = 51,
        fft_size: int = 0,
        n_frame: int = 0,
        n_slot: int = 0,
        num_srs_ports: int = 1,
        symbol_start: int = 8,
        num_srs_symbols: int = 4,
        frequency_start: int = 0,
        n_rrc: int = 0,
        c_srs: int = 12,
        b_srs: int = 0,
        b_hop: int = 0,
        k_tc: int = 2,
        k_bar_tc: int = 0,
        cyclic_shift: int = 0,
        group_seq_hopping: str = "neither",
        n_srs_id: int = 0,
        srs_period: tuple[int, int] = (1, 0),
        repetition: int = 1,
        scale: float = 1.0,
        resources: list[dict] | None = None,
        separate_outputs: bool = False,
    ) -> None:
        if isinstance(fft_size, bool) or not isinstance(fft_size, (int, np.integer)):
            raise ValueError(f"fft_size must be an integer (0 = default), got {fft_size!r}")
        carrier = CarrierConfig(
            subcarrier_spacing=subcarrier_spacing,
            n_size_grid=n_size_grid,
            n_slot=n_slot,
            n_frame=n_frame,
            fft_size=None if fft_size == 0 else fft_size,
        )
        srs = SRSConfig(
            num_srs_ports=num_srs_ports,
            symbol_start=symbol_start,
            num_srs_symbols=num_srs_symbols,
            frequency_start=frequency_start,
            n_rrc=n_rrc,
            c_srs=c_srs,
            b_srs=b_srs,
            b_hop=b_hop,
            k_tc=k_tc,
            k_bar_tc=k_bar_tc,
            cyclic_shift=cyclic_shift,
            group_seq_hopping=group_seq_hopping,
            n_srs_id=n_srs_id,
            srs_period=tuple(srs_period) if isinstance(srs_period, list) else srs_period,
            repetition=repetition,
        )
        self.resources = _parse_resources(resources)
        self.separate_outputs = bool(separate_outputs)
        multi = bool(self.resources)
        srs_list = [r[1] for r in self.resources] if multi else [srs]
        # generates the first slot now: a configuration that does not fit fails here
        for i, one in enumerate(srs_list):
            try:
                srs_slot_waveform(carrier, one)
            except ValueError as exc:
                if not multi:
                    raise
                raise ValueError(f"resources[{i}] ({self.resources[i][0]}): {exc}") from exc
        if multi and self.separate_outputs:
            many = [rid for rid, one, _ in self.resources if one.num_srs_ports != 1]
            if many:
                raise ValueError(f"separate_outputs needs single-port resources, not {many}")
            n_out = len(self.resources)
        else:
            n_out = max(one.num_srs_ports for one in srs_list)
        gr.sync_block.__init__(self, name="srs_source", in_sig=None, out_sig=[np.complex64] * n_out)
        self.carrier = carrier
        self.srs = srs_list[0]
        self._n_out = n_out
        self.set_scale(scale)
        spsf = carrier.slots_per_subframe
        self._slot_len = [carrier.samples_per_slot(n) for n in range(spsf)]
        self._slots_total = 1024 * carrier.slots_per_frame
        self._count = carrier.n_frame * carrier.slots_per_frame + carrier.n_slot - 1
        slot_bytes = 8 * sum(one.num_srs_ports for one in srs_list) * max(self._slot_len)
        self._cache_max = max(2 * len(srs_list), _CACHE_BYTES // slot_bytes)
        self._cache: OrderedDict = OrderedDict()
        # per resource: (id, SRSConfig, scale, frequency-hopping period); the single one: ""
        self._streams = [
            (rid, one, float(sc), _hop_period(one))
            for rid, one, sc in (self.resources or [("", srs, 1.0)])
        ]
        self._hop_period = self._streams[0][3]
        self._buf: np.ndarray | None = None  # [outputs, T] of the current SRS slot
        self._sounding: list[int] = []  # the resources sounding in the current slot
        self._len = 0
        self._off = 0
        self._occasions = [0] * len(self._streams)
        for rid, one, _, _ in self._streams:
            self.logger.info(
                f"{'UE ' + rid + ': ' if rid else ''}SRS {one.m_srs_b()} RB comb {one.k_tc}, "
                f"{one.num_srs_symbols} symbols at {one.symbol_start}, {one.num_srs_ports} "
                f"port(s), period {one.srs_period}, {carrier.sample_rate / 1e6:g} Msps"
            )

    @classmethod
    def from_configs(
        cls,
        carrier: CarrierConfig,
        srs: SRSConfig | None = None,
        scale: float = 1.0,
        resources: list[dict] | None = None,
        separate_outputs: bool = False,
    ):
        """Build from nr.CarrierConfig / nr.SRSConfig objects (or their dicts); ``resources``
        (several UEs) instead of ``srs``."""
        c = carrier if isinstance(carrier, CarrierConfig) else CarrierConfig.from_dict(carrier)
        if srs is None:
            srs = SRSConfig()
        s = srs if isinstance(srs, SRSConfig) else SRSConfig.from_dict(srs)
        cd, sd = c.to_dict(), s.to_dict()
        if cd.pop("n_start_grid") != 0:
            raise ValueError("srs_source streams a grid with n_start_grid = 0")
        if cd.pop("cyclic_prefix") != "normal":
            raise ValueError("cyclic_prefix must be 'normal'")
        cd["fft_size"] = cd["fft_size"] or 0
        return cls(**cd, **sd, scale=scale, resources=resources, separate_outputs=separate_outputs)

    def set_scale(self, scale: float) -> None:
        """Linear amplitude factor applied to the waveform (run-time settable)."""
        try:
            value = float(scale)
        except (TypeError, ValueError):
            raise ValueError(f"scale must be a finite real number, got {scale!r}") from None
        if isinstance(scale, bool) or not np.isfinite(value):
            raise ValueError(f"scale must be a finite real number, got {scale!r}")
        self._scale = np.float32(value)

    def scale(self) -> float:
        return float(self._scale)

    def _waveform(self, n_frame: int, n_slot: int, i: int = 0) -> np.ndarray:
        """[ports, T] complex64 SRS of resource ``i`` in slot (n_frame, n_slot), cached on what
        it depends on: the slot (group/sequence hopping, long CP) and the frequency-hopping
        phase."""
        _, srs, _, hop_period = self._streams[i]
        carrier = self.carrier
        t_srs = srs.srs_period[0]
        count = n_frame * carrier.slots_per_frame + n_slot - srs.srs_period[1]
        hop = (count // t_srs) * (srs.num_srs_symbols // srs.repetition) % hop_period
        slot_key = n_slot if srs.group_seq_hopping != "neither" else n_slot % len(self._slot_len)
        key = (i, slot_key, hop)
        wave = self._cache.get(key)
        if wave is None:
            c = carrier.copy(n_frame=n_frame, n_slot=n_slot)
            wave = srs_slot_waveform(c, srs).reshape(-1, srs.num_srs_ports).T.copy()
            self._cache[key] = wave
            if len(self._cache) > self._cache_max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return wave

    def _load_slot(self) -> None:
        self._count = (self._count + 1) % self._slots_total
        n_frame, n_slot = divmod(self._count, self.carrier.slots_per_frame)
        self._len = self._slot_len[n_slot % len(self._slot_len)]
        self._sounding = [
            i
            for i, (_, srs, _, _) in enumerate(self._streams)
            if (self._count - srs.srs_period[1]) % srs.srs_period[0] == 0
        ]
        self._off = 0
        if not self._sounding:
            self._buf = None
        elif not self.resources:
            self._buf = self._waveform(n_frame, n_slot)
        else:
            buf = np.zeros((self._n_out, self._len), np.complex64)
            for i in self._sounding:
                wave = self._waveform(n_frame, n_slot, i) * np.float32(self._streams[i][2])
                if self.separate_outputs:
                    buf[i] = wave[0]
                else:
                    buf[: wave.shape[0]] += wave
            self._buf = buf

    def work(self, input_items, output_items):
        n = len(output_items[0])
        pos = 0
        while pos < n:
            if self._off >= self._len:
                self._load_slot()
            take = min(n - pos, self._len - self._off)
            if self._buf is None:
                for out in output_items:
                    out[pos : pos + take] = 0
            else:
                seg = self._buf[:, self._off : self._off + take]
                for p, out in enumerate(output_items):  # rows: the outputs
                    if self._scale == 1:
                        out[pos : pos + take] = seg[p]
                    else:
                        np.multiply(seg[p], self._scale, out=out[pos : pos + take])
                if self._off == 0:
                    self._tag(self.nitems_written(0) + pos)
            self._off += take
            pos += take
        return n

    def _tag(self, offset: int) -> None:
        key = pmt.intern(K.TAG_SRS_START)
        src = pmt.intern(self.name())
        for i in self._sounding:
            rid, srs = self._streams[i][0], self._streams[i][1]
            value = pmt.make_dict()
            value = pmt.dict_add(
                value, pmt.intern(K.TAG_OCCASION), pmt.from_long(self._occasions[i])
            )
            value = pmt.dict_add(value, pmt.intern(K.TAG_METRIC), pmt.from_double(1.0))
            value = pmt.dict_add(value, pmt.intern(K.CFO_HZ), pmt.from_double(0.0))
            if rid:
                value = pmt.dict_add(value, pmt.intern("resource"), pmt.intern(rid))
            if self.resources and self.separate_outputs:
                outs = [i]
            elif self.resources:
                outs = range(self._n_out)
            else:
                outs = range(srs.num_srs_ports)
            for p in outs:
                self.add_item_tag(p, offset, key, value, src)
            self._occasions[i] += 1

    @property
    def _occasion(self) -> int:
        """SRS occasions streamed so far (of the first resource)."""
        return self._occasions[0]


def _hop_period(srs: SRSConfig) -> int:
    """Frequency hopping repeats after prod_{b = b_hop+1}^{B_SRS} N_b values of n_SRS."""
    n = 1
    if srs.frequency_hopping:
        for b in range(srs.b_hop + 1, srs.b_srs + 1):
            n *= srs.n_b_table(b)
    return n


def _parse_resources(resources) -> list[tuple[str, SRSConfig, float]]:
    """[(id, SRSConfig, scale), ...] of ``[{id, srs, scale}, ...]`` (or ``{resources: [...]}``);
    [] for None or an empty list."""
    from ..nr.resources import parse_resources

    if resources is None or (isinstance(resources, (list, tuple)) and not resources):
        return []
    items = resources.get("resources") if isinstance(resources, dict) else resources
    if not isinstance(items, (list, tuple)):
        raise ValueError("resources must be a list of {id, srs, scale} maps")
    scales, plain = [], []
    for i, r in enumerate(items):
        if not isinstance(r, dict):
            raise ValueError(f"resources[{i}]: must be {{id: NAME, srs: {{...}}, scale: S}}")
        r = dict(r)
        sc = r.pop("scale", 1.0)
        if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not np.isfinite(sc):
            raise ValueError(f"resources[{i}]: scale must be a finite number, got {sc!r}")
        scales.append(float(sc))
        plain.append(r)
    parsed = parse_resources(list(plain))
    return [(rid, srs, sc) for (rid, srs), sc in zip(parsed, scales)]
