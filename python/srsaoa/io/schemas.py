"""Declarative schemas (JSON Schema, draft 7) for every document gr-srsaoa reads (DESIGN 9).

SigMF metadata and collections (the ``core`` namespace fields this module reads, with
their SigMF 1.x types; other namespaces only when declared in ``core:extensions``), the
``srsaoa:*`` extension objects (DESIGN section 5), scenarios and MoD-DNN model configs.
Unknown keys are rejected, numbers must be finite and inside physical ranges, counts are
bounded. :func:`validate` reports the first violation as one line naming the file and the
field (``file: field.path: problem``). Checks JSON Schema cannot express (spacing against
the wavelength, a datetime's year) are in :func:`check_array` and :func:`check_datetime`.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import jsonschema

from ..errors import SrsaoaError

MAX_CHANNELS = 64
MAX_SAMPLES_INDEX = 1 << 40


def _num(lo: float | None = None, hi: float | None = None, *, exclusive_lo=False) -> dict:
    s: dict[str, Any] = {"type": "number"}
    if lo is not None:
        s["exclusiveMinimum" if exclusive_lo else "minimum"] = lo
    if hi is not None:
        s["maximum"] = hi
    return s


def _int(lo: int | None = None, hi: int | None = None) -> dict:
    s: dict[str, Any] = {"type": "integer"}
    if lo is not None:
        s["minimum"] = lo
    if hi is not None:
        s["maximum"] = hi
    return s


def _opt(schema: dict) -> dict:
    """``schema`` or null."""
    return {**schema, "type": ["null", schema["type"]]}


def _obj(props: dict, required: tuple[str, ...] = (), extra: Any = False, **kw: Any) -> dict:
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": extra,
        **kw,
    }


STR = {"type": "string", "maxLength": 4096}
BOOL = {"type": "boolean"}
AOA = _num(-90, 90)
INDEX = _int(0, MAX_SAMPLES_INDEX)

CARRIER = _obj(
    {
        "subcarrier_spacing": {"enum": [15, 30, 60, 120]},
        "n_size_grid": _int(1, 275),
        "n_start_grid": _int(0, 2199),
        "n_slot": _int(0, 79),
        "n_frame": _int(0, 1023),
        "cyclic_prefix": {"enum": ["normal", "extended"]},
        "fft_size": _opt(_int(128, 8192)),
    }
)

SRS = _obj(
    {
        "num_srs_ports": {"enum": [1, 2, 4]},
        "symbol_start": _int(0, 13),
        "num_srs_symbols": {"enum": [1, 2, 4, 8, 10, 12, 14]},
        "frequency_start": _int(0, 268),
        "n_rrc": _int(0, 67),
        "c_srs": _int(0, 63),
        "b_srs": _int(0, 3),
        "b_hop": _int(0, 3),
        "k_tc": {"enum": [2, 4, 8]},
        "k_bar_tc": _int(0, 7),
        "cyclic_shift": _int(0, 11),
        "group_seq_hopping": {"enum": ["neither", "groupHopping", "sequenceHopping"]},
        "n_srs_id": _int(0, 65535),
        "srs_period": {"type": "array", "items": _int(0, 2560), "minItems": 2, "maxItems": 2},
        "repetition": {"enum": [1, 2, 4, 5, 6, 7, 8, 10, 12, 14]},
    }
)

# carrier frequency: NR bands lie in 410 MHz .. 71 GHz; a lab may go lower (cabled tests)
ARRAY = _obj(
    {
        "geometry": {"const": "ula"},
        "num_elements": _int(2, MAX_CHANNELS),
        "spacing_m": _opt(_num(0, 10, exclusive_lo=True)),
        "carrier_frequency_hz": _num(1e8, 1e11),
    },
    required=("num_elements", "carrier_frequency_hz"),
)

PATH = _obj(
    {
        "aoa_deg": AOA,
        "delay_s": _num(0, 1e-3),
        "power_db": _num(-200, 200),
        "phase_rad": _opt(_num(-1e3, 1e3)),
    },
    required=("aoa_deg",),
)

_FREE = {}  # a value stored for the record, never read back: any JSON type
RESOURCE_ID = {"type": "string", "minLength": 1, "maxLength": 64}

UE_TRUTH = _obj(
    {
        "id": RESOURCE_ID,
        "srs": SRS,
        "paths": {"type": "array", "items": PATH, "maxItems": 64},
        "los_aoa_deg": AOA,
        "snr_db": _opt(_num(-100, 200)),
        "signal_power_per_re": _num(0),
        "cfo_hz": _num(-1e7, 1e7),
        "timing_offset_samples": INDEX,
        "num_srs_occasions": INDEX,
        "srs_slot_sample_starts": {"type": "array", "items": INDEX},
    },
    required=("id", "srs", "los_aoa_deg"),
)

TRUTH = _obj(
    {
        "paths": {"type": "array", "items": PATH, "maxItems": 64},
        "snr_db": _opt(_num(-100, 200)),
        "cfo_hz": _num(-1e7, 1e7),
        "first_slot_sample": INDEX,
        "los_path": _int(0, 63),
        "los_aoa_deg": AOA,
        "num_slots": INDEX,
        "num_srs_occasions": INDEX,
        "srs_slot_sample_starts": {"type": "array", "items": INDEX},
        "slot_sample_starts": {"type": "array", "items": INDEX},
        "noise_variance": _num(0),
        "signal_power_per_re": _num(0),
        "srs_re_per_symbol": INDEX,
        "ci16_scale": _num(0, 1e30, exclusive_lo=True),
        "ci16_backoff_db": _num(0, 200),
        "ci16_clipped": INDEX,
        "steering": STR,
        "impairments": _FREE,
        "rician": _FREE,
        "scatterers": _FREE,
        "trajectory": _FREE,
        "filter_half_length": INDEX,
        "seed": {"type": "integer"},
        "generator": STR,
        "scenario": _FREE,
        "time_domain_snr_in_srs_symbols_db": _opt({"type": "number"}),
        # several UEs (docs/multi_ue.md): each by its SRS resource id
        "ues": {"type": "array", "items": UE_TRUTH, "maxItems": 64},
    }
)

EXTENSION = _obj({"name": STR, "version": STR, "optional": BOOL}, required=("name",))
_EXT_KEY = {"^(?!core:|srsaoa:)[A-Za-z0-9_]+:": _FREE}  # keys of a declared extension

GLOBAL = _obj(
    {
        "core:datatype": {"enum": ["cf32_le", "ci16_le"]},
        "core:sample_rate": _num(1e3, 1e10),
        "core:version": {"type": "string", "pattern": "^1\\.[0-9]+\\.[0-9]+$"},
        "core:num_channels": _int(1, MAX_CHANNELS),
        "core:sha512": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
        "core:offset": INDEX,
        "core:description": STR,
        "core:author": STR,
        "core:meta_doi": STR,
        "core:data_doi": STR,
        "core:recorder": STR,
        "core:license": STR,
        "core:hw": STR,
        "core:dataset": STR,
        "core:trailing_bytes": INDEX,
        "core:metadata_only": BOOL,
        "core:collection": STR,
        "core:geolocation": {"type": "object"},
        "core:extensions": {"type": "array", "items": EXTENSION, "maxItems": 64},
        "srsaoa:carrier": CARRIER,
        "srsaoa:srs": SRS,
        "srsaoa:array": ARRAY,
        "srsaoa:channel": _int(0, MAX_CHANNELS - 1),
        "srsaoa:truth": TRUTH,
        "srsaoa:ci16_scale": _num(0, 1e30, exclusive_lo=True),
        "srsaoa:scale": _num(0),
    },
    required=("core:datatype", "core:sample_rate", "srsaoa:carrier", "srsaoa:srs"),
    patternProperties=_EXT_KEY,
)

CAPTURE = _obj(
    {
        "core:sample_start": INDEX,
        "core:global_index": INDEX,
        "core:header_bytes": INDEX,
        "core:frequency": _num(0, 1e12),
        "core:datetime": {"type": "string", "maxLength": 64},
    },
    patternProperties=_EXT_KEY,
)

ANNOTATION = _obj(
    {
        "core:sample_start": INDEX,
        "core:sample_count": INDEX,
        "core:freq_lower_edge": {"type": "number"},
        "core:freq_upper_edge": {"type": "number"},
        "core:label": STR,
        "core:comment": STR,
        "core:generator": STR,
        "core:uuid": STR,
        "srsaoa:aoa_deg": AOA,
        "srsaoa:occasion": INDEX,
        "srsaoa:n_slot": _int(0, 79),
        "srsaoa:n_frame": _int(0, 1023),
        "srsaoa:resource": RESOURCE_ID,
    },
    required=("core:sample_start",),
    patternProperties=_EXT_KEY,
)

META = _obj(
    {
        "global": GLOBAL,
        "captures": {"type": "array", "items": CAPTURE, "maxItems": 1 << 16},
        "annotations": {"type": "array", "items": ANNOTATION, "maxItems": 1 << 22},
    },
    required=("global",),
)

# a stream name is a file stem in the collection's own folder: no separators, no "..", no
# leading dot
STREAM_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,200}$"}
COLLECTION = _obj(
    {
        "collection": _obj(
            {
                "core:version": {"type": "string", "pattern": "^1\\.[0-9]+\\.[0-9]+$"},
                "core:description": STR,
                "core:author": STR,
                "core:collection_doi": STR,
                "core:license": STR,
                "core:extensions": {"type": "array", "items": EXTENSION, "maxItems": 64},
                "core:streams": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_CHANNELS,
                    "items": _obj(
                        {
                            "name": STREAM_NAME,
                            "hash": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
                        },
                        required=("name",),
                    ),
                },
            },
            required=("core:streams",),
            patternProperties=_EXT_KEY,
        )
    },
    required=("collection",),
)

# MoD-DNN architecture (moddnn.config.ModelConfig): bounded so a model file cannot ask for
# unbounded time or memory (iterations, grid size, layer widths)
MODEL_CONFIG = _obj(
    {
        "num_elements": _int(2, MAX_CHANNELS),
        "spacing_wavelengths": _num(0, 1, exclusive_lo=True),
        "num_subcarriers": _int(1, 3300),
        "subcarrier_bands": BOOL,
        "hidden": _int(1, 4096),
        "frequency_diverse": BOOL,
        "num_subregions": _int(1, 64),
        "grid_start_deg": _num(-90, 90),
        "grid_stop_deg": _num(-90, 90),
        "grid_step_deg": _num(0.005, 10),
        "cnn_kernel": _int(1, 512),
        "cnn_channels": {"type": "array", "items": _int(1, 256), "minItems": 1, "maxItems": 16},
        "outer_iterations": _int(1, 50),
        "cg_iterations": _int(1, 1000),
        "cg_tol": _num(0, 1),
        "lam": _num(0, 1e6, exclusive_lo=True),
        "train_lam": BOOL,
        "eps": _num(0, 1e6, exclusive_lo=True),
        "mu": _num(0, 1e6, exclusive_lo=True),
        "sparsity": BOOL,
        "rhs": {"enum": ["observed", "iterate"]},
        "peak_halfwidth_deg": _num(0, 90),
        "labels": {"enum": ["interpolated", "nearest"]},
        "nonnegative": BOOL,
        "dictionary": {"enum": ["nominal", "calibrated"]},
    }
)

_VALIDATORS: dict[int, Any] = {}


def _validator(schema: dict) -> Any:
    v = _VALIDATORS.get(id(schema))
    if v is None:
        jsonschema.Draft7Validator.check_schema(schema)
        v = jsonschema.Draft7Validator(schema)
        _VALIDATORS[id(schema)] = v
    return v


def _field(path: Any) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "top level"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(
    doc: Any, schema: dict, where: str, error: type[Exception] = SrsaoaError, prefix: str = ""
) -> None:
    """Raise ``error`` with one line ``where: field: problem`` at the first violation."""
    errors = list(_validator(schema).iter_errors(doc))
    if not errors:
        return
    e = min(errors, key=lambda x: (len(x.absolute_path), str(list(x.absolute_path))))
    raise error(f"{where}: {describe(e, prefix)}")


def describe(e: jsonschema.ValidationError, prefix: str = "") -> str:
    """One line ``field: problem`` for a jsonschema error (also the ``sigmf`` package's)."""
    # the deepest cause of a oneOf/anyOf is the clearer message
    while e.context:
        e = min(e.context, key=lambda x: -len(x.absolute_path))
    field = _field([*([prefix] if prefix else []), *e.absolute_path])
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        known = ", ".join(sorted(e.schema.get("properties", {})))
        msg = f"unknown key(s) {extra}" + (f"; known: {known}" if len(known) < 400 else "")
    elif e.validator == "required":
        msg = e.message.replace(" is a required property", " is required")
    elif e.validator == "type":
        msg = f"{_short(e.instance)} is not of type {e.validator_value}"
    elif e.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        lo = e.schema.get("minimum", e.schema.get("exclusiveMinimum"))
        hi = e.schema.get("maximum", e.schema.get("exclusiveMaximum"))
        msg = f"{_short(e.instance)} is outside [{lo}, {hi}]"
    elif e.validator == "enum":
        choices = ", ".join(repr(v) for v in e.validator_value)
        msg = f"{_short(e.instance)} is not supported (use one of {choices})"
    elif e.validator == "pattern":
        msg = f"{_short(e.instance)} is not an allowed value"
    else:
        msg = " ".join(e.message.split())
        if len(msg) > 160:
            msg = msg[:157] + "..."
    return f"{field}: {msg}"


def check_array(d: dict, where: str, error: type[Exception] = SrsaoaError) -> None:
    """srsaoa:array beyond the schema: the spacing against the wavelength (0.05 .. 4)."""
    fc = float(d["carrier_frequency_hz"])
    spacing = d.get("spacing_m")
    if spacing is not None:
        r = float(spacing) * fc / 299_792_458.0
        if not 0.05 <= r <= 4.0:
            raise error(
                f"{where}: spacing_m: {spacing} m is {r:.3g} wavelengths at {fc:g} Hz "
                "(expected 0.05 to 4)"
            )


def check_datetime(text: str, where: str, error: type[Exception] = SrsaoaError) -> float:
    """Seconds since 1970 of an ISO 8601 UTC ``core:datetime`` in 1970 .. 9999."""
    t = str(text).strip().replace("Z", "+00:00")
    if "." in t:
        head, rest = t.split(".", 1)
        k = 0
        while k < len(rest) and rest[k].isdigit():
            k += 1
        t = head + rest[k:]
    try:
        d = _dt.datetime.fromisoformat(t)
    except ValueError:
        raise error(f"{where}: core:datetime {text!r} is not ISO 8601") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    s = d.timestamp()
    if not (math.isfinite(s) and s >= 0):
        raise error(f"{where}: core:datetime {text!r} is before 1970 (not a radio time)")
    return s
