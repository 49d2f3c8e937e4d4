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
        # generates the first slot now: a configuration that does not fit fails here
        srs_slot_waveform(carrier, srs)
        gr.sync_block.__init__(
            self, name="srs_source", in_sig=None, out_sig=[np.complex64] * srs.num_srs_ports
        )
        self.carrier = carrier
        self.srs = srs
        self.set_scale(scale)
        spsf = carrier.slots_per_subframe
        self._slot_len = [carrier.samples_per_slot(n) for n in range(spsf)]
        self._slots_total = 1024 * carrier.slots_per_frame
        self._count = carrier.n_frame * carrier.slots_per_frame + carrier.n_slot - 1
        # frequency hopping repeats after prod_{b = b_hop+1}^{B_SRS} N_b values of n_SRS
        self._hop_period = 1
        if srs.frequency_hopping:
            for b in range(srs.b_hop + 1, srs.b_srs + 1):
                self._hop_period *= srs.n_b_table(b)
        slot_bytes = 8 * srs.num_srs_ports * max(self._slot_len)
        self._cache_max = max(2, _CACHE_BYTES // slot_bytes)
        self._cache: OrderedDict = OrderedDict()
        self._buf: np.ndarray | None = None  # [ports, T] of the current SRS slot
        self._len = 0
        self._off = 0
        self._occasion = 0
        self.logger.info(
            f"SRS {srs.m_srs_b()} RB comb {srs.k_tc}, {srs.num_srs_symbols} symbols at "
            f"{srs.symbol_start}, {srs.num_srs_ports} port(s), period {srs.srs_period}, "
            f"{carrier.sample_rate / 1e6:g} Msps"
        )

    @classmethod
    def from_configs(cls, carrier: CarrierConfig, srs: SRSConfig, scale: float = 1.0):
        """Build from nr.CarrierConfig / nr.SRSConfig objects (or their dicts)."""
        c = carrier if isinstance(carrier, CarrierConfig) else CarrierConfig.from_dict(carrier)
        s = srs if isinstance(srs, SRSConfig) else SRSConfig.from_dict(srs)
        cd, sd = c.to_dict(), s.to_dict()
        if cd.pop("n_start_grid") != 0:
            raise ValueError("srs_source streams a grid with n_start_grid = 0")
        if cd.pop("cyclic_prefix") != "normal":
            raise ValueError("cyclic_prefix must be 'normal'")
        cd["fft_size"] = cd["fft_size"] or 0
        return cls(**cd, **sd, scale=scale)

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

    def _waveform(self, n_frame: int, n_slot: int) -> np.ndarray:
        """[ports, T] complex64 SRS of slot (n_frame, n_slot), cached on what it depends on:
        the slot (group/sequence hopping, long CP) and the frequency-hopping phase."""
        srs, carrier = self.srs, self.carrier
        t_srs = srs.srs_period[0]
        count = n_frame * carrier.slots_per_frame + n_slot - srs.srs_period[1]
        hop = (count // t_srs) * (srs.num_srs_symbols // srs.repetition) % self._hop_period
        slot_key = n_slot if srs.group_seq_hopping != "neither" else n_slot % len(self._slot_len)
        key = (slot_key, hop)
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
        t_srs, t_off = self.srs.srs_period
        self._len = self._slot_len[n_slot % len(self._slot_len)]
        is_srs = (self._count - t_off) % t_srs == 0
        self._buf = self._waveform(n_frame, n_slot) if is_srs else None
        self._off = 0

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
                for p, out in enumerate(output_items):
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
        value = pmt.make_dict()
        value = pmt.dict_add(value, pmt.intern(K.TAG_OCCASION), pmt.from_long(self._occasion))
        value = pmt.dict_add(value, pmt.intern(K.TAG_METRIC), pmt.from_double(1.0))
        value = pmt.dict_add(value, pmt.intern(K.CFO_HZ), pmt.from_double(0.0))
        key = pmt.intern(K.TAG_SRS_START)
        for p in range(self.srs.num_srs_ports):
            self.add_item_tag(p, offset, key, value, pmt.intern(self.name()))
        self._occasion += 1
