"""Build and parse the PDUs of DESIGN section 6 (pmt <-> dict + numpy).

Shared by the Python blocks and the tests so every PDU is made one way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt

from .. import constants as K


class PduError(ValueError):
    """A message that does not follow DESIGN section 6."""


def to_pmt_value(v: Any) -> Any:
    """Python/numpy value -> pmt, with integer arrays as s32/s64 vectors and floats as f32/f64."""
    if isinstance(v, np.ndarray):
        if v.dtype == np.complex64:
            return pmt.init_c32vector(v.size, v.ravel().tolist())
        if v.dtype == np.complex128:
            return pmt.init_c64vector(v.size, v.ravel().tolist())
        if v.dtype == np.float32:
            return pmt.init_f32vector(v.size, v.ravel().tolist())
        if v.dtype == np.float64:
            return pmt.init_f64vector(v.size, v.ravel().tolist())
        if v.dtype == np.int32:
            return pmt.init_s32vector(v.size, v.ravel().tolist())
        if np.issubdtype(v.dtype, np.integer):
            return pmt.init_s64vector(v.size, v.ravel().astype(np.int64).tolist())
    if isinstance(v, (bool, np.bool_)):
        return pmt.from_bool(bool(v))
    if isinstance(v, (int, np.integer)):
        return pmt.from_long(int(v))
    if isinstance(v, (float, np.floating)):
        return pmt.from_double(float(v))
    if isinstance(v, type(pmt.PMT_NIL)):
        return v
    return pmt.to_pmt(v)


# uniform vector kinds -> the big-endian dtype of their serialization (pmt.serialize_str:
# 8 header bytes, then the elements in network byte order)
_SERIAL_DTYPES = (
    (pmt.is_c32vector, ">c8", np.complex64),
    (pmt.is_f32vector, ">f4", np.float32),
    (pmt.is_f64vector, ">f8", np.float64),
    (pmt.is_s32vector, ">i4", np.int32),
    (pmt.is_s64vector, ">i8", np.int64),
    (pmt.is_u64vector, ">u8", np.uint64),
    (pmt.is_c64vector, ">c16", np.complex128),
)
_FAST_MIN = 32  # below this many elements the element lists are as fast


def uniform_to_numpy(v: Any) -> np.ndarray | None:
    """A uniform vector as a numpy array, read from its serialization in one copy instead of
    element by element; None for a kind not handled here."""
    for test, wire, native in _SERIAL_DTYPES:
        if test(v):
            n = pmt.length(v)
            raw = pmt.serialize_str(v)
            hdr = len(raw) - n * np.dtype(wire).itemsize
            if hdr < 0:
                return None
            return np.frombuffer(raw, dtype=wire, count=n, offset=hdr).astype(native)
    return None


def from_pmt_value(v: Any) -> Any:
    """pmt -> Python, with uniform vectors as numpy arrays of their own dtype."""
    if pmt.is_uniform_vector(v) and pmt.length(v) >= _FAST_MIN:
        a = uniform_to_numpy(v)
        if a is not None:
            return a
    if pmt.is_s64vector(v):  # pmt.to_python cannot convert 64-bit integer vectors
        return np.asarray(pmt.s64vector_elements(v), dtype=np.int64)
    if pmt.is_u64vector(v):
        return np.asarray(pmt.u64vector_elements(v), dtype=np.uint64)
    if pmt.is_uniform_vector(v):
        return np.asarray(pmt.to_python(v))
    return pmt.to_python(v)


def make_pdu(meta: dict[str, Any], vector: np.ndarray | None) -> Any:
    """pmt.cons(meta dict, c32 vector); None gives an empty c32 vector."""
    d = pmt.make_dict()
    for k, v in meta.items():
        d = pmt.dict_add(d, pmt.intern(k), to_pmt_value(v))
    vec = (
        np.zeros(0, np.complex64) if vector is None else np.ascontiguousarray(vector, np.complex64)
    )
    return pmt.cons(d, pmt.init_c32vector(vec.size, vec.ravel()))


# DESIGN section 6 meta keys and the kind of value each must hold; parse_pdu refuses a PDU
# whose value is of another kind (a symbol snr_db, a complex num_snapshots, a float sample
# index), so that every block drops that one PDU instead of failing on it mid-batch.
_INT_KEYS = (K.SRS_OCCASION, K.SAMPLE_INDEX, K.OCCASIONS, K.ORDER, K.DROPPED)
_REAL_KEYS = (K.SNR_DB, K.SCS_HZ, K.CFO_HZ, K.NUM_SNAPSHOTS, K.FRACTIONAL_OFFSET)
_INT_ARRAY_KEYS = (K.SHAPE, K.SUBCARRIERS)
_REAL_ARRAY_KEYS = (K.AOA_DEG, K.DELAY_S, K.POWER, K.CRB_DEG)


def _check_meta(meta: dict[str, Any]) -> None:
    for k in _INT_KEYS:
        v = meta.get(k)
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise PduError(f"meta {k!r} is not an integer: {v!r}")
        if not -(2**63) <= int(v) < 2**64:
            raise PduError(f"meta {k!r} = {int(v)} is out of range")
    for k in _REAL_KEYS:
        v = meta.get(k)
        if v is not None and (
            isinstance(v, (bool, np.bool_))
            or not isinstance(v, (int, float, np.integer, np.floating))
        ):
            raise PduError(f"meta {k!r} is not a real number: {v!r}")
    for keys, kinds, what in (
        (_INT_ARRAY_KEYS, "iu", "integers"),
        (_REAL_ARRAY_KEYS, "iuf", "real numbers"),
    ):
        for k in keys:
            v = meta.get(k)
            if v is None:
                continue
            a = np.asarray(v) if not isinstance(v, (str, bytes, dict)) else np.asarray(None)
            if a.size == 0 and a.dtype.kind != "O":  # an empty list parses as float
                continue
            if a.dtype.kind not in kinds:
                raise PduError(f"meta {k!r} is not {what}: {v!r}"[:200])
            if (
                a.dtype.kind in "iu"
                and a.size
                and (int(a.min()) < -(2**63) or int(a.max()) >= 2**63)
            ):
                raise PduError(f"meta {k!r} is out of range")


def parse_pdu(msg: Any) -> tuple[dict[str, Any], np.ndarray]:
    """(meta dict, complex64 vector) of a PDU; PduError if it is not one, or if a DESIGN
    section 6 meta key holds a value of the wrong kind."""
    if not pmt.is_pair(msg):
        raise PduError("message is not a PDU (meta . vector) pair")
    meta_p, vec_p = pmt.car(msg), pmt.cdr(msg)
    if not pmt.is_dict(meta_p):
        raise PduError("PDU meta is not a dict")
    meta: dict[str, Any] = {}
    items = pmt.dict_items(meta_p)
    while pmt.is_pair(items):
        kv = pmt.car(items)
        meta[pmt.symbol_to_string(pmt.car(kv))] = from_pmt_value(pmt.cdr(kv))
        items = pmt.cdr(items)
    _check_meta(meta)
    if not pmt.is_c32vector(vec_p):
        raise PduError("PDU vector is not c32")
    if pmt.length(vec_p) >= _FAST_MIN:
        vec = uniform_to_numpy(vec_p)
        if vec is not None:
            return meta, vec
    return meta, np.asarray(pmt.c32vector_elements(vec_p), dtype=np.complex64)


def make_cfr_pdu(h: np.ndarray, meta: dict[str, Any] | None = None) -> Any:
    """CFR PDU from H [M, S, K]; ``shape`` is filled in from H."""
    h = np.asarray(h, dtype=np.complex64)
    if h.ndim != 3:
        raise PduError(f"CFR must be [M, S, K], got shape {h.shape}")
    m = dict(meta or {})
    m[K.SHAPE] = np.asarray(h.shape, dtype=np.int32)
    return make_pdu(m, h)


def cfr_from_pdu(msg: Any) -> tuple[dict[str, Any], np.ndarray]:
    """(meta, H [M, S, K]) of a CFR PDU, checking ``shape`` against the vector."""
    meta, vec = parse_pdu(msg)
    if K.SHAPE not in meta:
        raise PduError("CFR PDU has no 'shape' in its meta")
    shape = tuple(int(x) for x in np.atleast_1d(meta[K.SHAPE]))
    if len(shape) != 3 or int(np.prod(shape)) != vec.size:
        raise PduError(f"CFR shape {list(shape)} does not match vector length {vec.size}")
    return meta, vec.reshape(shape)


def covariance_from_pdu(msg: Any) -> tuple[dict[str, Any], np.ndarray]:
    """(meta, R [M, M]) of a covariance PDU."""
    meta, vec = parse_pdu(msg)
    m = int(round(np.sqrt(vec.size)))
    if m * m != vec.size or m == 0:
        raise PduError(f"covariance vector length {vec.size} is not a square M*M")
    return meta, vec.reshape(m, m)
