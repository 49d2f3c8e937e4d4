"""Sounding reference signal, TS 38.211 6.4.1.4 (Rel-16, periodic resources).

Notation follows the specification: p_i = 1000 + i is SRS port i, l' = 0..N_symb^SRS - 1
the SRS symbol inside the resource, l0 = ``symbol_start``, K_TC = ``k_tc`` the comb,
k_bar_TC = ``k_bar_tc`` the comb offset, n_SRS^cs = ``cyclic_shift``, n_shift =
``frequency_start``, n_RRC = ``n_rrc``, (T_SRS, T_offset) = ``srs_period``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .carrier import N_SC_RB, SYMBOLS_PER_SLOT, CarrierConfig
from .sequences import low_papr_sequence, pseudo_random
from .tables import M_SRS, N_SRS, SRS_PERIODS

HOPPING_MODES = ("neither", "groupHopping", "sequenceHopping")
NUM_SYMBOLS = (1, 2, 4, 8, 10, 12, 14)
REPETITIONS = (1, 2, 4, 5, 6, 7, 8, 10, 12, 14)
#: n_SRS^cs,max per comb size K_TC.
N_CS_MAX = {2: 8, 4: 12, 8: 6}


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def _one_of(name: str, value: Any, allowed: tuple) -> Any:
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


class SRSConfig:
    """One SRS resource (TS 38.331 SRS-Resource; MATLAB nrSRSConfig names in snake_case).

    num_srs_ports: 1, 2 or 4 (ports 1000..).          symbol_start: l0, 0..13.
    num_srs_symbols: 1, 2, 4 (Rel-17: 8, 10, 12, 14). frequency_start: n_shift, RBs, 0..268.
    n_rrc: freqDomainPosition, 0..67.                  c_srs: 0..63, b_srs: 0..3, b_hop: 0..3.
    k_tc: comb 2, 4 or 8.                              k_bar_tc: comb offset 0..k_tc-1.
    cyclic_shift: 0..n_cs_max-1 (7, 11, 5 for comb 2, 4, 8).
    group_seq_hopping: "neither", "groupHopping", "sequenceHopping".
    n_srs_id: sequenceId, 0..65535.                    srs_period: (T_SRS slots, T_offset).
    repetition: R, dividing num_srs_symbols.
    """

    FIELDS = (
        "num_srs_ports",
        "symbol_start",
        "num_srs_symbols",
        "frequency_start",
        "n_rrc",
        "c_srs",
        "b_srs",
        "b_hop",
        "k_tc",
        "k_bar_tc",
        "cyclic_shift",
        "group_seq_hopping",
        "n_srs_id",
        "srs_period",
        "repetition",
    )

    def __init__(
        self,
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
        srs_period: tuple[int, int] | list[int] = (1, 0),
        repetition: int = 1,
    ) -> None:
        self.num_srs_ports = num_srs_ports
        self.symbol_start = symbol_start
        self.num_srs_symbols = num_srs_symbols
        self.frequency_start = frequency_start
        self.n_rrc = n_rrc
        self.c_srs = c_srs
        self.b_srs = b_srs
        self.b_hop = b_hop
        self.k_tc = k_tc
        self.k_bar_tc = k_bar_tc
        self.cyclic_shift = cyclic_shift
        self.group_seq_hopping = group_seq_hopping
        self.n_srs_id = n_srs_id
        self.srs_period = srs_period
        self.repetition = repetition
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first out-of-range field and its allowed values."""
        self.num_srs_ports = int(_one_of("num_srs_ports", self.num_srs_ports, (1, 2, 4)))
        self.num_srs_symbols = int(_one_of("num_srs_symbols", self.num_srs_symbols, NUM_SYMBOLS))
        self.symbol_start = _int(
            "symbol_start", self.symbol_start, 0, SYMBOLS_PER_SLOT - self.num_srs_symbols
        )
        self.frequency_start = _int("frequency_start", self.frequency_start, 0, 268)
        self.n_rrc = _int("n_rrc", self.n_rrc, 0, 67)
        self.c_srs = _int("c_srs", self.c_srs, 0, 63)
        self.b_srs = _int("b_srs", self.b_srs, 0, 3)
        self.b_hop = _int("b_hop", self.b_hop, 0, 3)
        self.k_tc = int(_one_of("k_tc", self.k_tc, (2, 4, 8)))
        self.k_bar_tc = _int("k_bar_tc", self.k_bar_tc, 0, self.k_tc - 1)
        self.cyclic_shift = _int("cyclic_shift", self.cyclic_shift, 0, N_CS_MAX[self.k_tc] - 1)
        if self.k_tc == 8 and self.num_srs_ports == 4:
            raise ValueError(
                "num_srs_ports must be 1 or 2 with k_tc = 8 (4-port comb-8 SRS is not supported)"
            )
        self.group_seq_hopping = _one_of("group_seq_hopping", self.group_seq_hopping, HOPPING_MODES)
        self.n_srs_id = _int("n_srs_id", self.n_srs_id, 0, 65535)
        period = self.srs_period
        if isinstance(period, str) or not hasattr(period, "__len__") or len(period) != 2:
            raise ValueError(f"srs_period must be (T_SRS, T_offset), got {period!r}")
        t_srs = int(_one_of("srs_period[0] (T_SRS, slots)", period[0], SRS_PERIODS))
        t_off = _int("srs_period[1] (T_offset, slots)", period[1], 0, t_srs - 1)
        self.srs_period = (t_srs, t_off)
        self.repetition = int(_one_of("repetition", self.repetition, REPETITIONS))
        if self.num_srs_symbols % self.repetition:
            raise ValueError(
                f"repetition must divide num_srs_symbols = {self.num_srs_symbols}, "
                f"got {self.repetition}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"SRSConfig({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SRSConfig) and self.to_dict() == other.to_dict()

    def copy(self, **changes: Any) -> SRSConfig:
        d = self.to_dict()
        d.update(changes)
        return SRSConfig.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.FIELDS}
        d["srs_period"] = list(self.srs_period)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SRSConfig:
        unknown = set(d) - set(cls.FIELDS)
        if unknown:
            raise ValueError(
                f"unknown SRSConfig field(s) {sorted(unknown)}; known: {list(cls.FIELDS)}"
            )
        return cls(**d)

    # derived quantities ----------------------------------------------------------------
    @property
    def n_cs_max(self) -> int:
        return N_CS_MAX[self.k_tc]

    def m_srs_b(self, b: int | None = None) -> int:
        """m_SRS,b in resource blocks (Table 6.4.1.4.3-1); b defaults to B_SRS."""
        return int(M_SRS[self.c_srs, self.b_srs if b is None else b])

    def n_b_table(self, b: int) -> int:
        """N_b of Table 6.4.1.4.3-1."""
        return int(N_SRS[self.c_srs, b])

    @property
    def sequence_length(self) -> int:
        """M_sc,b^SRS = m_SRS,B_SRS * 12 / K_TC."""
        return self.m_srs_b() * N_SC_RB // self.k_tc

    @property
    def frequency_hopping(self) -> bool:
        return self.b_hop < self.b_srs

    def is_srs_slot(self, carrier: CarrierConfig) -> bool:
        """(N_slot^frame * n_f + n_s,f - T_offset) mod T_SRS == 0 (TS 38.211 6.4.1.4.4)."""
        t_srs, t_off = self.srs_period
        count = carrier.slots_per_frame * carrier.n_frame + carrier.n_slot
        return (count - t_off) % t_srs == 0

    def port_cyclic_shifts(self) -> np.ndarray:
        """n_SRS^cs,i = (n_SRS^cs + n_cs,max*(p_i - 1000)/N_ap) mod n_cs,max per port."""
        i = np.arange(self.num_srs_ports)
        return (self.cyclic_shift + self.n_cs_max * i // self.num_srs_ports) % self.n_cs_max

    def port_alphas(self) -> np.ndarray:
        """alpha_i = 2*pi*n_SRS^cs,i / n_SRS^cs,max (radians)."""
        return 2 * np.pi * self.port_cyclic_shifts() / self.n_cs_max

    def port_comb_offsets(self) -> np.ndarray:
        """k_TC^(p_i): k_bar_TC, or (k_bar_TC + K_TC/2) mod K_TC for ports 1001/1003 of a
        4-port resource with n_SRS^cs >= n_cs,max/2."""
        k = np.full(self.num_srs_ports, self.k_bar_tc, dtype=np.int64)
        if self.num_srs_ports == 4 and self.cyclic_shift >= self.n_cs_max // 2:
            k[[1, 3]] = (self.k_bar_tc + self.k_tc // 2) % self.k_tc
        return k


def is_srs_slot(carrier: CarrierConfig, srs: SRSConfig) -> bool:
    """True when slot (carrier.n_frame, carrier.n_slot) carries this periodic SRS."""
    return srs.is_srs_slot(carrier)


def srs_counter(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """n_SRS for each SRS symbol l' (TS 38.211 6.4.1.4.3, periodic resource):
    ((N_slot^frame n_f + n_s,f - T_offset) / T_SRS) * (N_symb^SRS / R) + floor(l'/R)."""
    t_srs, t_off = srs.srs_period
    count = carrier.slots_per_frame * carrier.n_frame + carrier.n_slot - t_off
    lp = np.arange(srs.num_srs_symbols)
    return (count // t_srs) * (srs.num_srs_symbols // srs.repetition) + lp // srs.repetition


def sequence_group_number(carrier: CarrierConfig, srs: SRSConfig) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) per SRS symbol l' (TS 38.211 6.4.1.4.2), c(i) initialised with n_ID^SRS."""
    lp = np.arange(srs.num_srs_symbols)
    sym = carrier.n_slot * SYMBOLS_PER_SLOT + srs.symbol_start + lp
    f_gh = np.zeros(srs.num_srs_symbols, dtype=np.int64)
    v = np.zeros(srs.num_srs_symbols, dtype=np.int64)
    if srs.group_seq_hopping == "groupHopping":
        c = pseudo_random(srs.n_srs_id, 8 * int(sym[-1]) + 8).astype(np.int64)
        idx = 8 * sym[:, None] + np.arange(8)[None, :]
        f_gh = (c[idx] << np.arange(8)[None, :]).sum(axis=1) % 30
    elif srs.group_seq_hopping == "sequenceHopping":
        if srs.sequence_length >= 6 * N_SC_RB:
            c = pseudo_random(srs.n_srs_id, int(sym[-1]) + 1).astype(np.int64)
            v = c[sym]
    u = (f_gh + srs.n_srs_id) % 30
    return u, v


def frequency_positions(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """n_b for b = 0..B_SRS (columns) and each SRS symbol l' (rows), with hopping."""
    n_srs = srs_counter(carrier, srs)
    out = np.zeros((srs.num_srs_symbols, srs.b_srs + 1), dtype=np.int64)
    for b in range(srs.b_srs + 1):
        m_b, n_b_tab = srs.m_srs_b(b), srs.n_b_table(b)
        base = (4 * srs.n_rrc // m_b) % n_b_tab
        if not srs.frequency_hopping or b <= srs.b_hop:
            out[:, b] = base
            continue
        # products over b' = b_hop..b of N_b', with N_{b_hop} = 1
        prod_prev = 1
        for bb in range(srs.b_hop + 1, b):
            prod_prev *= srs.n_b_table(bb)
        prod_b = prod_prev * n_b_tab
        if n_b_tab % 2 == 0:
            r = n_srs % prod_b
            f_b = (n_b_tab // 2) * (r // prod_prev) + r // (2 * prod_prev)
        else:
            f_b = (n_b_tab // 2) * (n_srs // prod_prev)
        out[:, b] = (f_b + 4 * srs.n_rrc // m_b) % n_b_tab
    return out


def start_subcarriers(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """k0^(p_i) per port (rows) and SRS symbol (columns), as grid subcarrier indices.

    k0 = n_shift*12 + k_TC^(p_i) + sum_b K_TC*M_sc,b^SRS*n_b. The reference point is
    subcarrier 0 of common resource block 0 when n_start_grid <= n_shift, else the first
    subcarrier of the grid (Rel-16); grid index = k0 - 12*n_start_grid in the first case.
    """
    n_b = frequency_positions(carrier, srs)
    m_b = np.array([srs.m_srs_b(b) for b in range(srs.b_srs + 1)])
    offset = (N_SC_RB * m_b[None, :] * n_b).sum(axis=1)  # K_TC*M_sc,b = 12*m_SRS,b
    k_bar0 = srs.frequency_start * N_SC_RB + srs.port_comb_offsets()
    k0 = k_bar0[:, None] + offset[None, :]
    if carrier.n_start_grid <= srs.frequency_start:
        k0 = k0 - N_SC_RB * carrier.n_start_grid
    return k0


def _check_fits(carrier: CarrierConfig, srs: SRSConfig, k0: np.ndarray) -> None:
    k_last = int(k0.max()) + srs.k_tc * (srs.sequence_length - 1)
    if int(k0.min()) < 0 or k_last >= carrier.num_subcarriers:
        raise ValueError(
            f"SRS does not fit the carrier: subcarriers {int(k0.min())}..{k_last} outside "
            f"0..{carrier.num_subcarriers - 1} (n_size_grid={carrier.n_size_grid}); reduce "
            f"c_srs (m_SRS,0 = {srs.m_srs_b(0)} RB) or frequency_start, or enlarge n_size_grid"
        )


def srs_indices(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """[N, 3] int: (subcarrier k, symbol l, port) of every SRS RE of the slot, ordered port,
    then symbol, then subcarrier (the order of srs_symbols)."""
    carrier.validate()
    srs.validate()
    k0 = start_subcarriers(carrier, srs)
    _check_fits(carrier, srs, k0)
    m = srs.sequence_length
    kp = np.arange(m)
    rows = []
    for p in range(srs.num_srs_ports):
        for lp in range(srs.num_srs_symbols):
            k = k0[p, lp] + srs.k_tc * kp
            rows.append(np.stack([k, np.full(m, srs.symbol_start + lp), np.full(m, p)], axis=1))
    return np.concatenate(rows).astype(np.int64)


def srs_symbols(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """Complex SRS values (amplitude 1, beta_SRS = 1, no 1/sqrt(ports)) in srs_indices order:
    r^(p_i)(k', l') = r_{u,v}^{(alpha_i, delta)}(k'), delta = log2(K_TC)."""
    carrier.validate()
    srs.validate()
    u, v = sequence_group_number(carrier, srs)
    m = srs.sequence_length
    out = []
    for alpha in srs.port_alphas():
        for lp in range(srs.num_srs_symbols):
            out.append(low_papr_sequence(int(u[lp]), int(v[lp]), float(alpha), m))
    return np.concatenate(out).astype(np.complex128)
