"""nr: numerology, tables, sequence properties, OFDM conventions and validation.

Each check is against the specification (printed table values, closed-form CP lengths),
a mathematical property (constant modulus, orthogonality, unitary round trip) or a
DESIGN convention (tone frequency), never against numbers the code printed.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from gnuradio.srsaoa import nr
from gnuradio.srsaoa.nr.tables import M_SRS, N_SRS

# float64 FFT round trips are exact to ~1e-15 per element; 1e-12 leaves room for N = 4096.
TIGHT = 1e-12


# --- numerology ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scs, n_rb, fft, rate",
    [
        (15, 52, 1024, 15.36e6),
        (30, 51, 1024, 30.72e6),
        (30, 106, 2048, 61.44e6),
        (30, 273, 4096, 122.88e6),
        (60, 66, 1024, 61.44e6),
        (120, 66, 1024, 122.88e6),
        (15, 6, 128, 1.92e6),
    ],
)
def test_default_fft_size_and_rate(scs, n_rb, fft, rate):
    c = nr.CarrierConfig(subcarrier_spacing=scs, n_size_grid=n_rb)
    # DESIGN: smallest power of two >= max(128, 12*n_size_grid/0.85)
    assert c.fft_size == fft
    assert c.sample_rate == rate
    assert c.to_dict()["fft_size"] is None  # the default stays a default in the dict


def test_slot_at_30khz_is_15360_samples():
    c = nr.CarrierConfig()
    assert c.sample_rate == 30.72e6
    assert c.samples_per_slot() == 15360
    assert c.slots_per_subframe == 2 and c.slots_per_frame == 20 and c.symbols_per_slot == 14
    np.testing.assert_array_equal(c.cp_lengths(), [88] + [72] * 13)
    np.testing.assert_array_equal(c.symbol_lengths(), [1112] + [1096] * 13)
    assert c.symbol_start(0) == 0 and c.symbol_start(8) == 1112 + 7 * 1096
    assert c.symbol_start(14) == 15360


@pytest.mark.parametrize("scs", [15, 30, 60, 120])
@pytest.mark.parametrize("fft", [None, 1536, 4096])
def test_cp_lengths_follow_38211_5_3_1(scs, fft):
    c = nr.CarrierConfig(subcarrier_spacing=scs, n_size_grid=51, fft_size=fft)
    mu = {15: 0, 30: 1, 60: 2, 120: 3}[scs]
    kappa = 64
    tc = Fraction(1, 480_000 * 4096)
    ts = Fraction(1, c.fft_size * scs * 1000)  # one sample
    for n_slot in range(c.slots_per_frame):
        cps = c.cp_lengths(n_slot)
        for sym in range(14):
            l_sf = (n_slot % (1 << mu)) * 14 + sym  # symbol index inside the subframe
            ncp = 144 * kappa * Fraction(1, 1 << mu)
            if l_sf in (0, 7 * (1 << mu)):
                ncp += 16 * kappa
            assert cps[sym] == ncp * tc / ts, (n_slot, sym)
    # every subframe is exactly 1 ms and every half-subframe 0.5 ms
    rate = c.sample_rate
    assert c.samples_per_subframe() == round(rate * 1e-3)
    half = c.slots_per_subframe // 2
    if half:
        assert sum(c.samples_per_slot(s) for s in range(half)) == round(rate * 0.5e-3)


def test_long_cp_only_on_first_slot_of_each_half_subframe_at_60khz():
    c = nr.CarrierConfig(subcarrier_spacing=60, n_size_grid=66)
    # the reference vector srs_09 is a 60 kHz slot 3: no long CP, 15344 samples
    assert [c.samples_per_slot(s) for s in range(4)] == [15376, 15344, 15376, 15344]


# --- tables ---------------------------------------------------------------------------------
# Spot values typed from TS 38.211 Tables 5.2.2.2-1..4 (phi(0..M-1) for a group u).
PHI_SPOTS = {
    (6, 0): [-3, -1, 3, 3, -1, -3],
    (6, 29): [1, 1, -3, 1, -1, -1],
    (12, 0): [-3, 1, -3, -3, -3, 3, -3, -1, 1, 1, 1, -3],
    (12, 29): [-3, 3, -3, 3, -3, -3, 3, -1, -1, 1, 3, -3],
    (18, 0): [-1, 3, -1, -3, 3, 1, -3, -1, 3, -3, -1, -1, 1, 1, 1, -1, -1, -1],
    (24, 0): [-1, -3, 3, -1, 3, 1, 3, -1, 1, -3, -1, -3, -1, 1, 3, -3, -1, -3, 3, 3, 3, -3, -3, -3],
}


@pytest.mark.parametrize("key", sorted(PHI_SPOTS))
def test_phi_table_spot_values(key):
    m, u = key
    r = nr.base_sequence(u, 0, m)
    phi = np.angle(r) / (np.pi / 4)
    # phi in {-3,-1,1,3}: exp(j*pi*phi/4) is unambiguous, so the angle gives phi back
    np.testing.assert_allclose(phi, PHI_SPOTS[key], atol=1e-9)


def test_phi_24_group_18_starts_with_minus_3():
    # DESIGN section 4: one public implementation prints +3 here; the spec has -3.
    assert np.angle(nr.base_sequence(18, 0, 24)[0]) / (np.pi / 4) == pytest.approx(-3)


# Rows of TS 38.211 Table 6.4.1.4.3-1: C_SRS -> (m0, N0, m1, N1, m2, N2, m3, N3)
BW_SPOTS = {
    0: (4, 1, 4, 1, 4, 1, 4, 1),
    9: (32, 1, 16, 2, 8, 2, 4, 2),
    12: (48, 1, 16, 3, 8, 2, 4, 2),
    25: (104, 1, 52, 2, 4, 13, 4, 1),
    37: (144, 1, 48, 3, 16, 3, 4, 4),
    55: (240, 1, 48, 5, 16, 3, 8, 2),
    61: (272, 1, 136, 2, 68, 2, 4, 17),
    63: (272, 1, 16, 17, 8, 2, 4, 2),
}


@pytest.mark.parametrize("c_srs", sorted(BW_SPOTS))
def test_bandwidth_table_spot_values(c_srs):
    row = BW_SPOTS[c_srs]
    for b in range(4):
        srs = nr.SRSConfig(c_srs=c_srs, b_srs=b)
        assert srs.m_srs_b(b) == row[2 * b]
        assert srs.n_b_table(b) == row[2 * b + 1]


def test_bandwidth_table_is_nested():
    # Structure of Table 6.4.1.4.3-1: each level splits the one above into N_b parts.
    assert M_SRS.shape == N_SRS.shape == (64, 4)
    assert np.all(N_SRS[:, 0] == 1)
    assert np.all(M_SRS[:, :-1] == N_SRS[:, 1:] * M_SRS[:, 1:])
    assert np.all(M_SRS % 4 == 0)


def test_zadoff_chu_sequence_definition():
    # M_ZC = 48 (4 RB, comb... u = 5, v = 1): N_ZC = 47, q_bar = 47*6/31 = 9.096...,
    # q = floor(9.596) + 1*(-1)^floor(18.19) = 9 + 1 = 10
    r = nr.base_sequence(5, 1, 48)
    m = np.arange(48) % 47
    np.testing.assert_allclose(r, np.exp(-1j * np.pi * 10 * m * (m + 1) / 47), atol=1e-12)
    # M_ZC = 30: exp(-j*pi*(u+1)*(n+1)*(n+2)/31)
    n = np.arange(30)
    np.testing.assert_allclose(
        nr.base_sequence(3, 0, 30), np.exp(-1j * np.pi * 4 * (n + 1) * (n + 2) / 31), atol=1e-12
    )


# --- SRS properties -------------------------------------------------------------------------
def test_default_configuration():
    c, s = nr.CarrierConfig(), nr.SRSConfig()
    assert (s.c_srs, s.k_tc, s.symbol_start, s.num_srs_symbols, s.num_srs_ports) == (12, 2, 8, 4, 1)
    idx = nr.srs_indices(c, s)
    # 48 RB, comb 2 -> 288 REs per symbol, 4 symbols 8..11, even subcarriers from 0
    assert idx.shape == (4 * 288, 3)
    assert s.sequence_length == 288
    np.testing.assert_array_equal(np.unique(idx[:, 1]), [8, 9, 10, 11])
    np.testing.assert_array_equal(idx[:288, 0], np.arange(0, 576, 2))
    w = nr.srs_slot_waveform(c, s)
    assert w.shape == (15360,) and w.dtype == np.complex64
    # unitary DFT: time-domain energy of the symbol bodies = number of unit REs
    assert np.sum(np.abs(nr.ofdm_demodulate(c, w)) ** 2) == pytest.approx(1152, rel=1e-5)


@pytest.mark.parametrize("k_tc", [2, 4, 8])
def test_constant_modulus(k_tc):
    c = nr.CarrierConfig(n_size_grid=273, n_slot=5)
    s = nr.SRSConfig(c_srs=63, k_tc=k_tc, num_srs_ports=2, group_seq_hopping="groupHopping")
    np.testing.assert_allclose(np.abs(nr.srs_symbols(c, s)), 1.0, atol=1e-12)


@pytest.mark.parametrize("k_tc, c_srs", [(2, 12), (4, 12), (8, 12), (2, 0), (4, 3), (8, 5)])
def test_cyclic_shifts_on_one_comb_are_orthogonal(k_tc, c_srs):
    # alpha = 2*pi*n_cs/n_cs_max and M_sc^SRS is a multiple of n_cs_max, so
    # sum_n exp(j*(alpha_a - alpha_b)*n) = 0 exactly for a != b.
    c = nr.CarrierConfig()
    n_cs_max = {2: 8, 4: 12, 8: 6}[k_tc]
    seqs = []
    for cs in range(n_cs_max):
        s = nr.SRSConfig(k_tc=k_tc, c_srs=c_srs, cyclic_shift=cs, num_srs_symbols=1)
        seqs.append(nr.srs_symbols(c, s))
    g = np.array(seqs) @ np.array(seqs).conj().T / len(seqs[0])
    np.testing.assert_allclose(g, np.eye(n_cs_max), atol=1e-9)


def test_four_ports_share_comb_or_split_by_cyclic_shift():
    c = nr.CarrierConfig()
    low = nr.SRSConfig(num_srs_ports=4, k_tc=4, cyclic_shift=2, num_srs_symbols=1)
    high = nr.SRSConfig(num_srs_ports=4, k_tc=4, cyclic_shift=7, num_srs_symbols=1)
    # n_cs < n_cs_max/2: all ports on comb k_bar_tc, cyclic shifts 2, 5, 8, 11
    np.testing.assert_array_equal(low.port_cyclic_shifts(), [2, 5, 8, 11])
    np.testing.assert_array_equal(low.port_comb_offsets(), [0, 0, 0, 0])
    # n_cs >= n_cs_max/2: ports 1001 and 1003 move by K_TC/2
    np.testing.assert_array_equal(high.port_comb_offsets(), [0, 2, 0, 2])
    idx = nr.srs_indices(c, high).reshape(4, -1, 3)
    assert set(idx[1, :, 0] % 4) == {2} and set(idx[0, :, 0] % 4) == {0}
    sym = nr.srs_symbols(c, low).reshape(4, -1)
    g = sym @ sym.conj().T / sym.shape[1]
    np.testing.assert_allclose(g, np.eye(4), atol=1e-9)


@pytest.mark.parametrize("c_srs, b_srs, b_hop", [(12, 3, 0), (12, 2, 1), (63, 1, 0), (25, 2, 0)])
def test_frequency_hopping_visits_every_subband_once(c_srs, b_srs, b_hop):
    # TS 38.211 6.4.1.4.3: over prod_{b=b_hop+1}^{B_SRS} N_b consecutive occasions the hopping
    # pattern F_b visits every m_SRS,B_SRS sub-band of the hopping bandwidth exactly once.
    c = nr.CarrierConfig(n_size_grid=273)
    s = nr.SRSConfig(c_srs=c_srs, b_srs=b_srs, b_hop=b_hop, num_srs_symbols=1)
    period = int(np.prod([s.n_b_table(b) for b in range(b_hop + 1, b_srs + 1)]))
    starts = [int(nr.start_subcarriers(c.advanced(t), s)[0, 0]) for t in range(2 * period)]
    assert len(set(starts[:period])) == period
    assert starts[period:] == starts[:period]
    width = 12 * s.m_srs_b(b_hop)
    assert max(starts) - min(starts) == width - 12 * s.m_srs_b()


def test_no_hopping_when_b_hop_not_below_b_srs():
    c = nr.CarrierConfig(n_size_grid=273)
    s = nr.SRSConfig(c_srs=63, b_srs=1, b_hop=1, n_rrc=20)
    starts = {int(nr.start_subcarriers(c.advanced(t), s)[0, 0]) for t in range(20)}
    # n_1 = floor(4*20/16) mod 17 = 5 -> k0 = 12*16*5
    assert starts == {12 * 16 * 5}


def test_repetition_keeps_position_within_groups_of_r_symbols():
    c = nr.CarrierConfig(n_size_grid=273)
    s = nr.SRSConfig(c_srs=63, b_srs=1, b_hop=0, num_srs_symbols=4, repetition=2)
    k0 = nr.start_subcarriers(c, s)[0]
    assert k0[0] == k0[1] and k0[2] == k0[3] and k0[0] != k0[2]


def test_group_hopping_changes_group_per_symbol_and_sequence_hopping_needs_6_rb():
    c = nr.CarrierConfig(n_slot=3)
    u, v = nr.sequence_group_number(c, nr.SRSConfig(group_seq_hopping="groupHopping", n_srs_id=5))
    assert len(set(u.tolist())) > 1 and not v.any()
    # comb 2 over 4 RB gives 24 < 72 subcarriers: v stays 0 even with sequence hopping
    _, v = nr.sequence_group_number(
        c, nr.SRSConfig(c_srs=0, group_seq_hopping="sequenceHopping", n_srs_id=5)
    )
    assert not v.any()
    u, _ = nr.sequence_group_number(c, nr.SRSConfig(n_srs_id=47))
    assert set(u.tolist()) == {47 % 30}


def test_periodicity_and_offset():
    s = nr.SRSConfig(srs_period=(5, 2))
    c = nr.CarrierConfig()
    assert [n for n in range(20) if s.is_srs_slot(c.copy(n_slot=n))] == [2, 7, 12, 17]
    s = nr.SRSConfig(srs_period=(16, 3))
    got = [
        (f, n) for f in range(2) for n in range(20) if s.is_srs_slot(c.copy(n_frame=f, n_slot=n))
    ]
    assert got == [(0, 3), (0, 19), (1, 15)]
    assert nr.is_srs_slot(c.copy(n_slot=3), s)


# --- OFDM ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scs, n_slot", [(15, 0), (30, 1), (60, 1), (60, 2), (120, 4), (120, 7)])
def test_ofdm_round_trip_every_numerology(scs, n_slot, rng):
    c = nr.CarrierConfig(subcarrier_spacing=scs, n_size_grid=24, n_slot=n_slot)
    grid = rng.standard_normal((288, 14, 2)) + 1j * rng.standard_normal((288, 14, 2))
    wave = nr.ofdm_modulate(c, grid)
    assert wave.shape == (c.samples_per_slot(), 2)
    np.testing.assert_allclose(nr.ofdm_demodulate(c, wave), grid, atol=TIGHT)
    # unitary: energy of the symbol bodies (CP removed) equals the grid energy
    body = np.concatenate(
        [wave[c.symbol_start(s) + c.cp_lengths()[s] : c.symbol_start(s + 1)] for s in range(14)]
    )
    assert np.sum(np.abs(body) ** 2) == pytest.approx(np.sum(np.abs(grid) ** 2), rel=1e-12)
    # 2-D grid in, 1-D waveform out
    np.testing.assert_allclose(nr.ofdm_modulate(c, grid[:, :, 0]), wave[:, 0], atol=TIGHT)


@pytest.mark.parametrize(
    "scs, n_rb, k, sym", [(30, 51, 100, 3), (30, 51, 306, 0), (15, 52, 623, 7)]
)
def test_single_subcarrier_is_a_tone_at_k_minus_6nrb_times_scs(scs, n_rb, k, sym):
    c = nr.CarrierConfig(subcarrier_spacing=scs, n_size_grid=n_rb)
    grid = nr.resource_grid(c, 1)
    grid[k, sym, 0] = 1.0
    x = nr.ofdm_modulate(c, grid)[:, 0]
    start, stop = c.symbol_start(sym), c.symbol_start(sym + 1)
    seg = x[start:stop]
    f = (k - 6 * n_rb) * scs * 1e3
    n = np.arange(stop - start)
    # the whole symbol, CP included, is one tone of amplitude 1/sqrt(N) at f Hz
    want = seg[0] * np.exp(2j * np.pi * f * n / c.sample_rate)
    np.testing.assert_allclose(seg, want, atol=TIGHT)
    assert abs(seg[0]) == pytest.approx(1 / np.sqrt(c.fft_size))
    # phase reference: n = 0 is the first sample after the CP
    cp = c.cp_lengths()[sym]
    assert seg[cp] == pytest.approx(1 / np.sqrt(c.fft_size))
    assert np.count_nonzero(np.abs(x) > 1e-12) == stop - start


def test_srs_slot_waveform_multiport_shape():
    c = nr.CarrierConfig()
    w = nr.srs_slot_waveform(c, nr.SRSConfig(num_srs_ports=4, k_tc=4))
    assert w.shape == (15360, 4) and w.dtype == np.complex64


# --- validation ---------------------------------------------------------------------------
CARRIER_BAD = [
    ("subcarrier_spacing", 45),
    ("n_size_grid", 0),
    ("n_size_grid", 276),
    ("n_start_grid", -1),
    ("n_slot", 30 * 1024 * 2),  # beyond the 1024-frame cycle (smaller values wrap)
    ("n_frame", 1024),
    ("cyclic_prefix", "extended"),
    ("fft_size", 1000),
    ("fft_size", 512),
    ("n_size_grid", 5.0),
]


@pytest.mark.parametrize("field, value", CARRIER_BAD)
def test_carrier_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        nr.CarrierConfig(**{field: value})


SRS_BAD = [
    ("num_srs_ports", 3),
    ("symbol_start", 11),  # 11 + 4 symbols > 14
    ("num_srs_symbols", 3),
    ("frequency_start", 269),
    ("n_rrc", 68),
    ("c_srs", 64),
    ("b_srs", 4),
    ("b_hop", -1),
    ("k_tc", 6),
    ("k_bar_tc", 2),
    ("cyclic_shift", 8),
    ("group_seq_hopping", "both"),
    ("n_srs_id", 65536),
    ("srs_period", (3, 0)),
    ("srs_period", (5, 5)),
    ("repetition", 3),
]


@pytest.mark.parametrize("field, value", SRS_BAD)
def test_srs_rejects(field, value):
    with pytest.raises(ValueError, match=field.split("[")[0]):
        nr.SRSConfig(**{field: value})


def test_srs_rejects_more():
    with pytest.raises(ValueError, match="repetition"):
        nr.SRSConfig(num_srs_symbols=2, repetition=4)
    with pytest.raises(ValueError, match="num_srs_ports"):
        nr.SRSConfig(k_tc=8, num_srs_ports=4)
    with pytest.raises(ValueError, match="unknown SRSConfig"):
        nr.SRSConfig.from_dict({"comb": 2})
    with pytest.raises(ValueError, match="unknown CarrierConfig"):
        nr.CarrierConfig.from_dict({"nfft": 2})
    with pytest.raises(ValueError, match="does not fit"):
        nr.srs_indices(nr.CarrierConfig(n_size_grid=24), nr.SRSConfig(c_srs=12))
    with pytest.raises(ValueError, match="does not fit"):
        nr.srs_slot_waveform(nr.CarrierConfig(), nr.SRSConfig(frequency_start=10))


def test_dict_round_trip():
    c = nr.CarrierConfig(60, 66, 3, 7, 12, "normal", 2048)
    s = nr.SRSConfig(2, 10, 2, 3, 5, 20, 1, 0, 4, 1, 3, "groupHopping", 900, (10, 4), 2)
    assert nr.CarrierConfig.from_dict(c.to_dict()) == c
    assert nr.SRSConfig.from_dict(s.to_dict()) == s
    assert s.to_dict()["srs_period"] == [10, 4]
    assert c.to_dict()["fft_size"] == 2048 and c.fft_size == 2048


def test_slot_number_beyond_one_frame_wraps_into_the_frame_number():
    """As MATLAB's nrCarrierConfig: NSlot 13 at 15 kHz (10 slots per frame) is slot 3 of the
    next frame; the frame number wraps at 1024."""
    c = nr.CarrierConfig(subcarrier_spacing=15, n_size_grid=25, n_slot=13)
    assert (c.n_frame, c.n_slot) == (1, 3)
    np.testing.assert_array_equal(c.cp_lengths(), nr.CarrierConfig(15, 25, n_slot=3).cp_lengths())
    c = nr.CarrierConfig(subcarrier_spacing=30, n_size_grid=51, n_slot=45, n_frame=1023)
    assert (c.n_frame, c.n_slot) == (1, 5)
    with pytest.raises(ValueError):
        nr.CarrierConfig(n_slot=-1)
