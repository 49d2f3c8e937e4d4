"""PDU helpers (blocks/pdu.py): every meta value type survives the round trip."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.srsaoa.blocks.pdu import (
    PduError,
    cfr_from_pdu,
    covariance_from_pdu,
    make_cfr_pdu,
    make_pdu,
    parse_pdu,
)


@pytest.mark.parametrize(
    "value",
    [
        np.arange(5, dtype=np.int32),
        np.arange(5, dtype=np.int64),
        np.array([1.5, -2.0], dtype=np.float32),
        np.array([1.5, -2.0], dtype=np.float64),
        np.array([1 + 2j], dtype=np.complex64),
        7,
        2.5,
        True,
        "esprit",
    ],
    ids=lambda v: type(v).__name__ + (str(v.dtype) if isinstance(v, np.ndarray) else ""),
)
def test_meta_round_trip(value):
    meta, vec = parse_pdu(make_pdu({"x": value}, np.ones(3, np.complex64)))
    got = meta["x"]
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype
        np.testing.assert_array_equal(got, value)
    else:
        assert got == value
    np.testing.assert_array_equal(vec, np.ones(3, np.complex64))


def test_u64_vector_meta():
    d = pmt.dict_add(pmt.make_dict(), pmt.intern("u"), pmt.init_u64vector(2, [3, 4]))
    meta, _ = parse_pdu(pmt.cons(d, pmt.init_c32vector(0, [])))
    assert meta["u"].dtype == np.uint64 and list(meta["u"]) == [3, 4]


def test_cfr_and_covariance_helpers(rng):
    h = (rng.standard_normal((4, 2, 6)) + 1j * rng.standard_normal((4, 2, 6))).astype(np.complex64)
    meta, h2 = cfr_from_pdu(make_cfr_pdu(h, {"subcarriers": np.arange(6, dtype=np.int64)}))
    np.testing.assert_array_equal(h2, h)
    assert list(meta["shape"]) == [4, 2, 6]
    assert meta["subcarriers"].dtype == np.int64
    r = np.eye(3, dtype=np.complex64)
    np.testing.assert_array_equal(covariance_from_pdu(make_pdu({}, r))[1], r)


@pytest.mark.parametrize(
    "msg",
    [
        pmt.intern("x"),
        pmt.cons(pmt.from_long(3), pmt.init_c32vector(0, [])),  # meta not a dict
        pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [1.0])),
    ],
)
def test_not_a_pdu(msg):
    with pytest.raises(PduError):
        parse_pdu(msg)


def test_cfr_shape_mismatch():
    bad = make_pdu({"shape": np.array([2, 2, 2], np.int32)}, np.zeros(7, np.complex64))
    with pytest.raises(PduError):
        cfr_from_pdu(bad)


def _with(key, value):
    d = pmt.dict_add(pmt.make_dict(), pmt.intern(key), value)
    return pmt.cons(d, pmt.init_c32vector(0, []))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("snr_db", pmt.intern("high")),
        ("num_snapshots", pmt.from_complex(3 + 1j)),
        ("scs_hz", pmt.intern("30k")),
        ("sample_index", pmt.from_double(1e300)),
        ("srs_occasion", pmt.intern("first")),
        ("order", pmt.from_double(2.0)),
        ("occasions", pmt.PMT_T),
        ("shape", pmt.intern("4,1,12")),
        ("subcarriers", pmt.init_f32vector(2, [1.5, 2.5])),
        ("aoa_deg", pmt.intern("north")),
    ],
)
def test_meta_values_of_the_wrong_kind_are_refused(key, value):
    """DESIGN section 6 keys holding another kind of value: the PDU is malformed, so every
    block drops that one PDU (a skip notice) instead of failing on it mid-batch."""
    with pytest.raises(PduError, match=key):
        parse_pdu(_with(key, value))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("snr_db", pmt.from_double(float("inf"))),  # written as null, not refused
        ("sample_index", pmt.from_uint64(2**64 - 1)),
        ("srs_occasion", pmt.from_long(-1)),
        ("aoa_deg", pmt.init_f32vector(0, [])),
        ("subcarriers", pmt.init_s32vector(2, [3, 5])),
        ("num_snapshots", pmt.from_long(24)),
    ],
)
def test_meta_values_of_the_right_kind_pass(key, value):
    meta, _ = parse_pdu(_with(key, value))
    assert key in meta
