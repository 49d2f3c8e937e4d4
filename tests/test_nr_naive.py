"""A deliberately naive, loop-by-loop transcription of TS 38.211 5.2.1, 5.2.2 and 6.4.1.4
(sequence, cyclic shifts, comb offsets, group/sequence hopping, frequency hopping,
mapping), compared with the vectorised library for 60 random valid configurations.

Written from the specification text with scalar Python arithmetic only; the phi tables are
shared (they are checked against the printed spec in test_nr.py). Values agree to
floating-point rounding of exp(): 1e-9 is far above that and far below any wrong phase.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from gnuradio.srsaoa import nr
from gnuradio.srsaoa.nr.tables import M_SRS, N_SRS, PHI


def c_seq(c_init, length):
    """5.2.1: x1(0)=1, x1(n)=0 n=1..30; x2(n) = bits of c_init; Nc = 1600."""
    n_c = 1600
    x1 = [0] * (n_c + length + 31)
    x2 = [0] * (n_c + length + 31)
    x1[0] = 1
    for i in range(31):
        x2[i] = (c_init >> i) & 1
    for n in range(n_c + length):
        x1[n + 31] = (x1[n + 3] + x1[n]) % 2
        x2[n + 31] = (x2[n + 3] + x2[n + 2] + x2[n + 1] + x2[n]) % 2
    return [(x1[n + n_c] + x2[n + n_c]) % 2 for n in range(length)]


def is_prime(n):
    if n < 2:
        return False
    for d in range(2, n):
        if n % d == 0:
            return False
    return True


def r_bar(u, v, m_zc):
    """5.2.2.1 / 5.2.2.2."""
    out = []
    if m_zc >= 36:
        n_zc = max(p for p in range(m_zc) if is_prime(p))
        q_bar = n_zc * (u + 1) / 31
        q = math.floor(q_bar + 0.5) + v * (-1) ** math.floor(2 * q_bar)
        for n in range(m_zc):
            m = n % n_zc
            out.append(cmath.exp(-1j * math.pi * q * m * (m + 1) / n_zc))
    elif m_zc == 30:
        for n in range(m_zc):
            out.append(cmath.exp(-1j * math.pi * (u + 1) * (n + 1) * (n + 2) / 31))
    else:
        for n in range(m_zc):
            out.append(cmath.exp(1j * int(PHI[m_zc][u][n]) * math.pi / 4))
    return out


def naive_srs(carrier, srs):
    """{(k, l, port): value} for one slot."""
    n_symb_slot = 14
    n_sc_rb = 12
    k_tc = srs.k_tc
    n_cs_max = {2: 8, 4: 12, 8: 6}[k_tc]
    n_ap = srs.num_srs_ports
    b_srs = srs.b_srs
    m_sc = M_SRS[srs.c_srs][b_srs] * n_sc_rb // k_tc
    l0 = srs.symbol_start
    n_sf = carrier.n_slot
    slots_per_frame = 10 * 2 ** {15: 0, 30: 1, 60: 2, 120: 3}[carrier.subcarrier_spacing]
    t_srs, t_off = srs.srs_period
    r_rep = srs.repetition
    out = {}
    for i in range(n_ap):
        p = 1000 + i
        n_cs_i = (srs.cyclic_shift + n_cs_max * (p - 1000) // n_ap) % n_cs_max
        alpha = 2 * math.pi * n_cs_i / n_cs_max
        if n_ap == 4 and n_cs_max // 2 <= srs.cyclic_shift <= n_cs_max - 1 and p in (1001, 1003):
            k_tc_p = (srs.k_bar_tc + k_tc // 2) % k_tc
        else:
            k_tc_p = srs.k_bar_tc
        for lp in range(srs.num_srs_symbols):
            # 6.4.1.4.2 group and sequence number
            f_gh, v = 0, 0
            if srs.group_seq_hopping == "groupHopping":
                idx0 = 8 * (n_sf * n_symb_slot + l0 + lp)
                c = c_seq(srs.n_srs_id, idx0 + 8)
                f_gh = 0
                for m in range(8):
                    f_gh += c[idx0 + m] * 2**m
                f_gh %= 30
            elif srs.group_seq_hopping == "sequenceHopping":
                if m_sc >= 6 * n_sc_rb:
                    idx = n_sf * n_symb_slot + l0 + lp
                    v = c_seq(srs.n_srs_id, idx + 1)[idx]
            u = (f_gh + srs.n_srs_id) % 30
            # 6.4.1.4.3 frequency position, periodic resource
            n_srs = ((slots_per_frame * carrier.n_frame + n_sf - t_off) // t_srs) * (
                srs.num_srs_symbols // r_rep
            ) + lp // r_rep
            total = 0
            for b in range(b_srs + 1):
                m_b = int(M_SRS[srs.c_srs][b])
                big_n_b = int(N_SRS[srs.c_srs][b])
                if srs.b_hop >= b_srs or b <= srs.b_hop:
                    n_b = (4 * srs.n_rrc // m_b) % big_n_b
                else:
                    prod_b = 1
                    prod_bm1 = 1
                    for bp in range(srs.b_hop, b + 1):
                        nbp = 1 if bp == srs.b_hop else int(N_SRS[srs.c_srs][bp])
                        prod_b *= nbp
                        if bp <= b - 1:
                            prod_bm1 *= nbp
                    if big_n_b % 2 == 0:
                        f_b = (big_n_b // 2) * ((n_srs % prod_b) // prod_bm1) + (
                            n_srs % prod_b
                        ) // (2 * prod_bm1)
                    else:
                        f_b = (big_n_b // 2) * (n_srs // prod_bm1)
                    n_b = (f_b + 4 * srs.n_rrc // m_b) % big_n_b
                m_sc_b = m_b * n_sc_rb // k_tc
                total += k_tc * m_sc_b * n_b
            k0_bar = srs.frequency_start * n_sc_rb + k_tc_p % k_tc
            k0 = k0_bar + total
            if carrier.n_start_grid <= srs.frequency_start:
                k0 -= n_sc_rb * carrier.n_start_grid
            base = r_bar(u, v, m_sc)
            for kp in range(m_sc):
                out[(k_tc * kp + k0, lp + l0, i)] = cmath.exp(1j * alpha * kp) * base[kp]
    return out


def random_config(rng):
    while True:
        scs = int(rng.choice([15, 30, 60, 120]))
        carrier = nr.CarrierConfig(
            subcarrier_spacing=scs,
            n_size_grid=int(rng.integers(24, 276)),
            n_start_grid=int(rng.choice([0, 0, int(rng.integers(0, 20))])),
            n_slot=int(rng.integers(0, 10 * scs // 15)),
            n_frame=int(rng.integers(0, 1024)),
        )
        k_tc = int(rng.choice([2, 4, 8]))
        n_sym = int(rng.choice([1, 2, 4]))
        b_srs = int(rng.integers(0, 4))
        t_srs = int(rng.choice([1, 2, 5, 10, 16, 40, 80]))
        try:
            srs = nr.SRSConfig(
                num_srs_ports=int(rng.choice([1, 2] if k_tc == 8 else [1, 2, 4])),
                symbol_start=int(rng.integers(0, 15 - n_sym)),
                num_srs_symbols=n_sym,
                frequency_start=int(rng.integers(0, 20)),
                n_rrc=int(rng.integers(0, 68)),
                c_srs=int(rng.integers(0, 64)),
                b_srs=b_srs,
                # hopping (b_hop < b_srs) in most draws
                b_hop=int(rng.integers(0, b_srs + 1)) if b_srs else int(rng.integers(0, 4)),
                k_tc=k_tc,
                k_bar_tc=int(rng.integers(0, k_tc)),
                cyclic_shift=int(rng.integers(0, {2: 8, 4: 12, 8: 6}[k_tc])),
                group_seq_hopping=str(rng.choice(["neither", "groupHopping", "sequenceHopping"])),
                n_srs_id=int(rng.integers(0, 1024)),
                srs_period=(t_srs, int(rng.integers(0, t_srs))),
                repetition=int(rng.choice([r for r in (1, 2, 4) if r <= n_sym])),
            )
            idx = nr.srs_indices(carrier, srs)
        except ValueError as exc:
            assert "does not fit" in str(exc)
            continue
        return carrier, srs, idx


def test_naive_transcription_matches_library():
    rng = np.random.default_rng(38211)
    kinds = {"hop": 0, "gh": 0, "sh": 0, "ports": 0}
    for _ in range(60):
        carrier, srs, idx = random_config(rng)
        kinds["hop"] += srs.b_hop < srs.b_srs
        kinds["gh"] += srs.group_seq_hopping == "groupHopping"
        kinds["sh"] += srs.group_seq_hopping == "sequenceHopping"
        kinds["ports"] += srs.num_srs_ports > 1
        sym = nr.srs_symbols(carrier, srs)
        want = naive_srs(carrier, srs)
        got = {tuple(int(x) for x in row): val for row, val in zip(idx, sym)}
        assert len(got) == len(idx) == len(want), (carrier, srs)
        assert set(got) == set(want), (carrier, srs)
        err = max(abs(got[key] - want[key]) for key in want)
        assert err < 1e-9, (carrier, srs, err)
    # the draw covers every feature several times
    assert min(kinds.values()) >= 5, kinds


def test_pseudo_random_matches_naive():
    for c_init in (0, 1, 511, 2**31 - 1, 123456789):
        np.testing.assert_array_equal(nr.pseudo_random(c_init, 700), c_seq(c_init, 700))
