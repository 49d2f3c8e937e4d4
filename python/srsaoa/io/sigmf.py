"""SigMF recordings of the array (DESIGN section 5): reader, writer and validation.

A capture is a SigMF 1.x Collection ``NAME.sigmf-collection`` whose ``core:streams`` list one
single-channel recording per array element (``NAME_ch<m>.sigmf-meta/.sigmf-data``), or one
recording with ``core:num_channels = M`` (samples interleaved by channel), or raw GNU Radio
file-sink output (``.cfile`` / ``.dat``, complex64) with the fields given as arguments.

Metadata goes through the ``sigmf`` package where it serves (docs/recordings.md): every
``.sigmf-meta`` is validated against the official SigMF schema (``sigmf.validate``), a
``.sigmf-collection`` is read with ``sigmf.SigMFCollection`` and its ``core:streams`` hashes are
computed with ``sigmf.hashing``. The samples are this module's own: memory-mapped and read in
blocks, their ``core:sha512`` checked in 1 MiB reads (possibly deferred, see
:func:`open_recording`), and the ``srsaoa:*`` fields are checked by :mod:`.schemas`. Every
violation, including any error from the ``sigmf`` package, raises :class:`RecordingError` with
one line saying what is wrong and where.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..array.geometry import ULA
from ..errors import RecordingError

SIGMF_VERSION = "1.2.0"
EXTENSION = {"name": "srsaoa", "version": "1.0.0", "optional": True}
DATATYPES = ("cf32_le", "ci16_le")
CI16_FULL_SCALE = 32767.0
RAW_SUFFIXES = (".cfile", ".dat", ".fc32", ".cf32")


def _nr():
    from .. import nr  # imported late: nr is a sibling package

    return nr


def carrier_from_dict(d: dict) -> Any:
    """CarrierConfig from its DESIGN section 4 dict."""
    return _nr().CarrierConfig.from_dict(dict(d))


def srs_from_dict(d: dict) -> Any:
    """SRSConfig from its DESIGN section 4 dict."""
    return _nr().SRSConfig.from_dict(dict(d))


def config_to_dict(obj: Any) -> dict:
    """A CarrierConfig / SRSConfig as the plain JSON dict of DESIGN section 4."""
    return json.loads(json.dumps(obj.to_dict(), default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


@dataclass
class Recording:
    """An M-channel capture of the array with its configuration and optional ground truth.

    ``samples`` is complex64 [M, N]: row m is array element m (DESIGN section 3).
    ``truth`` follows DESIGN section 5 (``paths``, ``snr_db``, ``cfo_hz``, ``first_slot_sample``,
    ``srs_slot_sample_starts`` and the simulator's extra fields) or is None for a real capture.
    ``annotations`` are SigMF annotation dicts (``core:sample_start``, ``core:sample_count``,
    ``srsaoa:aoa_deg``, ...). ``datatype`` is the datatype it was read from / is to be written in.
    """

    samples: NDArray[np.complex64]
    sample_rate: float
    center_frequency_hz: float
    carrier: Any
    srs: Any
    array: ULA
    truth: dict | None = None
    annotations: list[dict] = field(default_factory=list)
    datatype: str = "cf32_le"
    description: str = ""
    captures: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = np.asarray(self.samples)
        if s.ndim == 1:
            s = s[np.newaxis, :]
        if s.ndim != 2:
            raise ValueError(f"samples must be [M, N], got shape {s.shape}")
        self.samples = np.ascontiguousarray(s, dtype=np.complex64)
        if self.datatype not in DATATYPES:
            raise ValueError(f"datatype must be one of {DATATYPES}, got {self.datatype!r}")

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])

    def read(self, start: int = 0, count: int | None = None) -> NDArray[np.complex64]:
        """Samples [M, count] from ``start`` (the same call as RecordingReader.read)."""
        start = max(0, int(start))
        stop = self.num_samples if count is None else start + int(count)
        return self.samples[:, start:stop]

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    def validate(self, where: str = "recording") -> None:
        """Raise RecordingError if this recording breaks DESIGN section 5."""
        _check_consistency(
            where,
            self.sample_rate,
            self.carrier,
            self.array,
            self.num_channels,
        )
        if not np.all(np.isfinite(self.samples.view(np.float32))):
            bad = np.nonzero(~np.isfinite(self.samples).all(axis=0))[0]
            raise RecordingError(
                f"{where}: {bad.size} non-finite (NaN/Inf) sample(s), first at sample {bad[0]}"
            )


def _check_consistency(where: str, sample_rate: float, carrier: Any, array: ULA, m: int) -> None:
    expected = carrier.sample_rate
    if not np.isclose(float(sample_rate), expected, rtol=0, atol=1e-3):
        raise RecordingError(
            f"{where}: sample rate {sample_rate:g} Hz does not match the carrier "
            f"(fft_size {carrier.fft_size} x {carrier.scs_hz:g} Hz = {expected:g} Hz)"
        )
    if array.num_elements != m:
        raise RecordingError(
            f"{where}: srsaoa:array says {array.num_elements} elements but there are {m} channels"
        )


# ----------------------------------------------------------------------------------- writing


def ci16_scale_for(samples: NDArray[np.complexfloating], backoff_db: float) -> float:
    """Scale that puts the RMS complex amplitude of the loudest channel ``backoff_db`` dB
    below the ci16 full scale (32767)."""
    if not (np.isfinite(backoff_db) and backoff_db >= 0):
        raise ValueError(f"backoff_db must be >= 0 dB, got {backoff_db}")
    rms = float(np.sqrt(np.max(np.mean(np.abs(samples) ** 2, axis=-1))))
    if rms == 0:
        return 1.0
    return CI16_FULL_SCALE * 10 ** (-backoff_db / 20) / rms


def quantize_ci16(
    samples: NDArray[np.complexfloating], scale: float
) -> tuple[NDArray[np.int16], int]:
    """Interleaved int16 I/Q of ``samples * scale`` (rounded, clipped); (data, clipped count)."""
    x = np.asarray(samples) * scale
    iq = np.stack([x.real, x.imag], axis=-1)
    iq = np.rint(iq)
    clipped = int(np.count_nonzero(np.abs(iq) > CI16_FULL_SCALE))
    iq = np.clip(iq, -CI16_FULL_SCALE, CI16_FULL_SCALE).astype("<i2")
    return iq, clipped


def dequantize_ci16(iq: NDArray[np.int16], scale: float) -> NDArray[np.complex64]:
    iq = np.asarray(iq, dtype=np.float32)
    return ((iq[..., 0] + 1j * iq[..., 1]) / np.float32(scale)).astype(np.complex64)


def _sha512_file(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _global(rec: Recording, datatype: str, num_channels: int) -> dict:
    g: dict[str, Any] = {
        "core:datatype": datatype,
        "core:sample_rate": float(rec.sample_rate),
        "core:version": SIGMF_VERSION,
        "core:num_channels": int(num_channels),
        "core:description": rec.description or "gr-srsaoa recording",
        "core:recorder": "gr-srsaoa",
        "core:extensions": [dict(EXTENSION)],
        "srsaoa:carrier": config_to_dict(rec.carrier),
        "srsaoa:srs": config_to_dict(rec.srs),
        "srsaoa:array": rec.array.to_dict(),
    }
    if rec.truth is not None:
        g["srsaoa:truth"] = json.loads(json.dumps(rec.truth, default=_json_default))
    return g


def write_recording(
    path_base: str | os.PathLike,
    recording: Recording,
    datatype: str = "cf32_le",
    *,
    interleaved: bool = False,
    ci16_scale: float | None = None,
    ci16_backoff_db: float = 15.0,
) -> Path:
    """Write ``recording`` as a SigMF collection (DESIGN section 5) and return its path.

    ``path_base`` is ``DIR/NAME``: the files are ``NAME.sigmf-collection`` and
    ``NAME_ch<m>.sigmf-meta/.sigmf-data``. With ``interleaved=True`` a single
    ``NAME.sigmf-meta/.sigmf-data`` with ``core:num_channels = M`` is written instead (and its
    meta path returned). ``ci16_le`` scales by ``ci16_scale`` (default: RMS of the loudest
    channel ``ci16_backoff_db`` below full scale); the scale is stored in
    ``srsaoa:truth.ci16_scale`` (or ``srsaoa:ci16_scale`` without truth) so the reader gives
    back the simulator's units.
    """
    if datatype not in DATATYPES:
        raise ValueError(f"datatype must be one of {DATATYPES}, got {datatype!r}")
    base = Path(path_base)
    name = base.name
    if name.endswith(".sigmf-collection"):
        name = name[: -len(".sigmf-collection")]
    if not name:
        raise ValueError(f"path_base {str(path_base)!r} has no file name")
    base.parent.mkdir(parents=True, exist_ok=True)
    rec = copy.copy(recording)
    rec.truth = copy.deepcopy(recording.truth)
    x = rec.samples
    m = x.shape[0]

    scale = None
    clipped = 0
    if datatype == "ci16_le":
        if ci16_scale is None and rec.truth is not None and "ci16_scale" in rec.truth:
            ci16_scale = rec.truth["ci16_scale"]  # already quantised by the simulator
        scale = float(ci16_scale) if ci16_scale is not None else ci16_scale_for(x, ci16_backoff_db)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"ci16_scale must be > 0, got {scale}")
        if rec.truth is not None:
            rec.truth["ci16_scale"] = scale

    def payload(rows: NDArray[np.complex64]) -> bytes:
        nonlocal clipped
        # rows [C, N] -> time-major interleaved [N, C] samples
        t = np.ascontiguousarray(rows.T)
        if datatype == "cf32_le":
            return t.astype("<c8").tobytes()
        iq, c = quantize_ci16(t, scale)
        clipped += c
        return iq.tobytes()

    captures = [dict(c) for c in rec.captures] or [{"core:sample_start": 0}]
    captures[0]["core:frequency"] = float(rec.center_frequency_hz)
    annotations = json.loads(json.dumps(rec.annotations, default=_json_default))

    from .safeio import AtomicFiles

    files = AtomicFiles()  # every file is renamed into place only when all are written

    def write_pair(stem: str, rows: NDArray[np.complex64], channel: int | None) -> Path:
        data_path = files.path(base.parent / f"{stem}.sigmf-data")
        data_path.write_bytes(payload(rows))
        g = _global(rec, datatype, rows.shape[0])
        if channel is not None:
            g["srsaoa:channel"] = channel
        if scale is not None and rec.truth is None:
            g["srsaoa:ci16_scale"] = scale
        g["core:sha512"] = _sha512_file(data_path)
        meta = {"global": g, "captures": captures, "annotations": annotations}
        meta_path = files.path(base.parent / f"{stem}.sigmf-meta")
        meta_path.write_text(json.dumps(meta, indent=2))
        return meta_path

    with files:
        if interleaved:
            write_pair(name, x, None)
            files.commit()
            return base.parent / f"{name}.sigmf-meta"
        streams = []
        for ch in range(m):
            stem = f"{name}_ch{ch}"
            meta_path = write_pair(stem, x[ch : ch + 1], ch)
            streams.append({"name": stem, "hash": _sha512_file(meta_path)})
        coll = {
            "collection": {
                "core:version": SIGMF_VERSION,
                "core:description": rec.description or "gr-srsaoa recording",
                "core:extensions": [dict(EXTENSION)],
                "core:streams": streams,
            }
        }
        coll_path = base.parent / f"{name}.sigmf-collection"
        files.path(coll_path).write_text(json.dumps(coll, indent=2))
        files.commit()
    return coll_path


# ----------------------------------------------------------------------------------- reading


def _load_json(path: Path, what: str) -> dict:
    from .safeio import MAX_META_BYTES, load_document

    d = load_document(path, what, "json", MAX_META_BYTES, RecordingError)
    if not isinstance(d, dict):
        raise RecordingError(f"{path}: top level is not a JSON object")
    return d


def _sigmf_package() -> Any:
    """The ``sigmf`` package (imported on first use: it takes ~0.1 s)."""
    try:
        import sigmf
        import sigmf.hashing
        import sigmf.validate
    except ImportError as exc:
        raise RecordingError(
            f"the sigmf package is needed to read SigMF metadata ({exc}); run make setup"
        ) from None
    return sigmf


@contextlib.contextmanager
def _sigmf_errors(path: Path, what: str) -> Iterator[None]:
    """Any error of the ``sigmf`` package inside becomes one RecordingError line."""
    import jsonschema

    from . import schemas

    try:
        with warnings.catch_warnings():
            # sigmf warns about extension namespaces missing from core:extensions; the
            # project's schema (schemas.META) decides which keys are allowed
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    except RecordingError:
        raise
    except jsonschema.ValidationError as exc:
        raise RecordingError(f"{path}: {what}: {schemas.describe(exc)}") from None
    except Exception as exc:  # the package's own errors (SigMFError, KeyError, ...), OSError
        text = " ".join(str(exc).split())
        if len(text) > 200:
            text = text[:197] + "..."
        raise RecordingError(f"{path}: {what}: {text or type(exc).__name__}") from None


def _validate_sigmf_meta(d: dict, path: Path) -> None:
    """``d`` against the official SigMF metadata schema (``sigmf.validate.validate``:
    required ``core:version`` and ``captures``, core field types, captures and annotations
    sorted by ``core:sample_start``); a missing ``annotations`` list counts as empty."""
    pkg = _sigmf_package()
    if "annotations" not in d:
        # required by the standard but empty in most captures, and nothing here needs it:
        # a hand-written meta file without it is read as having none, not refused
        d = {**d, "annotations": []}
    with _sigmf_errors(path, f"not valid SigMF {pkg.__specification__} metadata"):
        pkg.validate.validate(d)


def _meta_sha512(meta_path: Path) -> str:
    """SHA-512 of a (small) metadata file, as ``sigmf.SigMFCollection`` computes it."""
    pkg = _sigmf_package()
    with _sigmf_errors(meta_path, "cannot hash the metadata file"):
        return pkg.hashing.calculate_sha512(filename=meta_path)


def _require(d: dict, key: str, path: Path) -> Any:
    if key not in d:
        raise RecordingError(f"{path}: missing required field {key!r}")
    return d[key]


class _Meta:
    """One parsed .sigmf-meta with its data file (not yet read)."""

    def __init__(self, meta_path: Path, expected_hash: str | None = None) -> None:
        from . import schemas
        from .safeio import regular_file

        self.meta_path = meta_path
        regular_file(meta_path, "channel metadata file", RecordingError)
        if expected_hash is not None:
            got = _meta_sha512(meta_path)
            if got != expected_hash.lower():
                raise RecordingError(
                    f"{meta_path}: sha512 does not match the collection's core:streams hash "
                    "(the metadata file was changed after the collection was written)"
                )
        d = _load_json(meta_path, "channel metadata file")
        schemas.validate(d, schemas.META, str(meta_path), RecordingError)
        _validate_sigmf_meta(d, meta_path)
        if "srsaoa:array" in d["global"]:
            schemas.check_array(
                d["global"]["srsaoa:array"], f"{meta_path}: srsaoa:array", RecordingError
            )
        for c in d.get("captures") or []:
            if "core:datetime" in c:
                schemas.check_datetime(c["core:datetime"], str(meta_path), RecordingError)
        self.g = _require(d, "global", meta_path)
        self.captures = d.get("captures", []) or []
        self.annotations = d.get("annotations", []) or []
        self.datatype = _require(self.g, "core:datatype", meta_path)
        if self.datatype not in DATATYPES:
            raise RecordingError(
                f"{meta_path}: core:datatype {self.datatype!r} is not supported "
                f"(use one of {', '.join(DATATYPES)})"
            )
        self.sample_rate = float(_require(self.g, "core:sample_rate", meta_path))
        self.num_channels = int(self.g.get("core:num_channels", 1))
        if self.num_channels < 1:
            raise RecordingError(f"{meta_path}: core:num_channels must be >= 1")
        self.data_path = meta_path.with_name(meta_path.name[: -len(".sigmf-meta")] + ".sigmf-data")
        for key in ("srsaoa:carrier", "srsaoa:srs", "srsaoa:array"):
            _require(self.g, key, meta_path)
        self.frequency = None
        if self.captures and "core:frequency" in self.captures[0]:
            self.frequency = float(self.captures[0]["core:frequency"])
        self._mm: np.ndarray | None = None  # the data file, mapped on first use

    CHUNK_SAMPLES = 1 << 20

    def check_data(self, check_hash: bool | str = True) -> int:
        """Validate the data file (exists, whole samples, sha512) reading it in chunks;
        returns the number of samples per channel."""
        from .safeio import regular_file

        if not self.data_path.exists():
            raise RecordingError(
                f"{self.meta_path.name}: its data file {self.data_path} does not exist"
            )
        regular_file(self.data_path, "data file", RecordingError)
        size = self.data_path.stat().st_size
        item = (8 if self.datatype == "cf32_le" else 4) * self.num_channels
        if size % item != 0:
            raise RecordingError(
                f"{self.data_path}: truncated data: {size} bytes is not a whole number of "
                f"{item}-byte samples ({self.datatype} x {self.num_channels} channel(s))"
            )
        if check_hash and check_hash != "defer":
            self.verify_hash()
        self.num_samples = size // item
        return self.num_samples

    def verify_hash(self) -> None:
        """Compare the data file's SHA-512 with core:sha512 (if given); RecordingError."""
        want = self.g.get("core:sha512")
        if want and _sha512_file(self.data_path) != str(want).lower():
            raise RecordingError(
                f"{self.data_path}: sha512 hash mismatch with core:sha512 in "
                f"{self.meta_path.name} (data corrupted or replaced)"
            )

    def _map(self) -> np.ndarray:
        if self._mm is None:
            if self.num_samples == 0:
                shape = (0, self.num_channels) if self.datatype == "cf32_le" else (0, 1, 2)
                self._mm = np.zeros(shape, "<c8" if self.datatype == "cf32_le" else "<i2")
            elif self.datatype == "cf32_le":
                self._mm = np.memmap(
                    self.data_path, "<c8", "r", shape=(self.num_samples, self.num_channels)
                )
            else:
                self._mm = np.memmap(
                    self.data_path, "<i2", "r", shape=(self.num_samples, self.num_channels, 2)
                )
        return self._mm

    def read_block(self, start: int, count: int) -> NDArray[np.complex64]:
        """Samples [num_channels, count] from sample ``start`` (after check_data)."""
        mm = self._map()
        part = mm[start : start + count]
        if self.datatype == "cf32_le":
            x = np.asarray(part, dtype=np.complex64)
        else:
            x = dequantize_ci16(np.asarray(part), self.ci16_scale)
        return np.ascontiguousarray(x.T)

    def read(self, check_hash: bool = True) -> NDArray[np.complex64]:
        """Samples [num_channels, N]."""
        n = self.check_data(check_hash)
        return self.read_block(0, n)

    @property
    def ci16_scale(self) -> float:
        truth = self.g.get("srsaoa:truth") or {}
        if "ci16_scale" in truth:
            return float(truth["ci16_scale"])
        if "srsaoa:ci16_scale" in self.g:
            return float(self.g["srsaoa:ci16_scale"])
        return 32768.0


def _configs(meta: _Meta) -> tuple[Any, Any, ULA]:
    where = meta.meta_path
    try:
        carrier = carrier_from_dict(meta.g["srsaoa:carrier"])
        srs = srs_from_dict(meta.g["srsaoa:srs"])
    except (TypeError, ValueError, KeyError) as exc:
        raise RecordingError(f"{where}: invalid srsaoa:carrier / srsaoa:srs: {exc}") from exc
    try:
        array = ULA.from_dict(meta.g["srsaoa:array"])
    except (TypeError, ValueError, KeyError) as exc:
        raise RecordingError(f"{where}: invalid srsaoa:array: {exc}") from exc
    return carrier, srs, array


def _metadata(where: str, meta: _Meta, carrier: Any, srs: Any, array: ULA) -> dict:
    fc = meta.frequency if meta.frequency is not None else array.carrier_frequency_hz
    truth = meta.g.get("srsaoa:truth")
    return dict(
        sample_rate=meta.sample_rate,
        center_frequency_hz=fc,
        carrier=carrier,
        srs=srs,
        array=array,
        truth=copy.deepcopy(truth) if truth is not None else None,
        annotations=list(meta.annotations),
        datatype=meta.datatype,
        description=str(meta.g.get("core:description", "")),
        captures=[dict(c) for c in meta.captures],
    )


class RecordingReader:
    """A validated recording whose samples stay on disk (memory-mapped) until read.

    Same metadata attributes as :class:`Recording` (``sample_rate``, ``carrier``, ``srs``,
    ``array``, ``truth``, ``annotations``, ``datatype``, ...), plus ``num_channels``,
    ``num_samples`` and ``read(start, count) -> complex64 [M, count]``. Opening checks every
    DESIGN section 5 rule, reading the data once in chunks (hashes, non-finite samples).
    ``samples`` is None (the samples stay on disk): use ``read`` or ``to_recording``.
    """

    samples = None

    def __init__(self, where: str, metas: list[_Meta], info: dict, check_finite: bool) -> None:
        self.where = where
        self._metas = metas
        for k, v in info.items():
            setattr(self, k, v)
        self.num_channels = sum(m.num_channels for m in metas)
        self.num_samples = int(metas[0].num_samples)
        self.num_nonfinite = 0  # time samples with a NaN/Inf in some channel (check_finite "count")
        self.first_nonfinite: int | None = None
        if check_finite == "count" and self.datatype == "cf32_le":
            step = _Meta.CHUNK_SAMPLES
            for start in range(0, self.num_samples, step):
                ok = np.isfinite(self.read(start, step).view(np.float32)).all(axis=0)
                ok = ok.reshape(-1, 2).all(axis=1)
                bad = int(ok.size - np.count_nonzero(ok))
                if bad and self.first_nonfinite is None:
                    self.first_nonfinite = start + int(np.argmin(ok))
                self.num_nonfinite += bad
            if self.num_samples and self.num_nonfinite == self.num_samples:
                raise RecordingError(f"{where}: every sample is non-finite (NaN/Inf)")
        elif check_finite and self.datatype == "cf32_le":
            step = _Meta.CHUNK_SAMPLES
            for start in range(0, self.num_samples, step):
                x = self.read(start, step)
                ok = np.isfinite(x.view(np.float32)).all(axis=0)
                if not ok.all():
                    first = start + int(np.argmin(ok)) // 2
                    bad = int(np.count_nonzero(~np.isfinite(x).all(axis=0)))
                    raise RecordingError(
                        f"{where}: {bad} non-finite (NaN/Inf) sample(s), first at sample {first}"
                    )

    @property
    def files(self) -> list[Path]:
        """Every file of the recording (collection, metadata and data files)."""
        out = [Path(self.where)]
        for m in self._metas:
            out += [m.meta_path, m.data_path]
        return out

    def read(self, start: int = 0, count: int | None = None) -> NDArray[np.complex64]:
        """Samples [M, count] from ``start`` (fewer at the end of the recording)."""
        start = max(0, int(start))
        if count is None:
            count = self.num_samples - start
        rows = [m.read_block(start, int(count)) for m in self._metas]
        return np.concatenate(rows, axis=0)

    @property
    def data_files(self) -> list[Path]:
        """The data files in channel order (one per channel, or one interleaved file)."""
        return [m.data_path for m in self._metas]

    @property
    def ci16_scale(self) -> float:
        return self._metas[0].ci16_scale

    def verify_data_hashes(self) -> None:
        """Check every data file against its core:sha512 (the part of
        ``open_recording(check_hash="defer")`` left for later); RecordingError."""
        for m in self._metas:
            m.verify_hash()

    def to_recording(self) -> Recording:
        return Recording(
            samples=self.read(),
            sample_rate=self.sample_rate,
            center_frequency_hz=self.center_frequency_hz,
            carrier=self.carrier,
            srs=self.srs,
            array=self.array,
            truth=self.truth,
            annotations=self.annotations,
            datatype=self.datatype,
            description=self.description,
            captures=self.captures,
        )


def _open_collection(path: Path, check_hash: bool | str, check_finite: bool) -> RecordingReader:
    from . import schemas

    d = _load_json(path, "collection file")
    # the project's schema (stream names stay in the folder, hashes are hex): the collection
    # schema shipped with sigmf 1.14 describes core:streams as arrays of strings, which
    # contradicts the SigMF specification and sigmf's own SigMFCollection output
    schemas.validate(d, schemas.COLLECTION, str(path), RecordingError)
    pkg = _sigmf_package()
    with _sigmf_errors(path, "not a valid SigMF collection"):
        # a copy: SigMFCollection sets core:version to the package's specification
        coll = pkg.SigMFCollection(
            metadata=copy.deepcopy(d), base_path=path.parent, skip_checksums=True
        )
        names = coll.get_stream_names()
        streams = coll.get_collection_field("core:streams", [])
    if not names:
        raise RecordingError(f"{path}: core:streams is empty")
    metas: list[_Meta] = []
    for i, (stem, s) in enumerate(zip(names, streams, strict=True)):
        if not stem:
            raise RecordingError(f"{path}: core:streams[{i}] has no name")
        meta_path = path.parent / f"{stem}.sigmf-meta"
        if meta_path.resolve().parent != path.parent.resolve():
            raise RecordingError(f"{path}: core:streams[{i}].name {stem!r} leaves the folder")
        if not meta_path.exists():
            raise RecordingError(
                f"{path}: missing channel {i}: metadata file {meta_path.name} does not exist"
            )
        metas.append(_Meta(meta_path, s.get("hash") if check_hash else None))
    first = metas[0]
    carrier, srs, array = _configs(first)
    m = len(metas)
    _check_consistency(str(first.meta_path), first.sample_rate, carrier, array, m)
    for i, meta in enumerate(metas):
        if meta.num_channels != 1:
            raise RecordingError(
                f"{meta.meta_path}: a collection stream must have core:num_channels = 1"
            )
        if meta.datatype != first.datatype:
            raise RecordingError(
                f"{meta.meta_path}: core:datatype {meta.datatype} differs from channel 0's "
                f"{first.datatype}"
            )
        if meta.sample_rate != first.sample_rate:
            raise RecordingError(
                f"{meta.meta_path}: sample rate {meta.sample_rate:g} Hz differs from channel "
                f"0's {first.sample_rate:g} Hz"
            )
        for key in ("srsaoa:carrier", "srsaoa:srs", "srsaoa:array"):
            if meta.g[key] != first.g[key]:
                raise RecordingError(f"{meta.meta_path}: {key} differs from channel 0's")
        ch = meta.g.get("srsaoa:channel", i)
        if int(ch) != i:
            raise RecordingError(
                f"{meta.meta_path}: srsaoa:channel is {ch} but it is stream {i} of the collection"
            )
        meta.check_data(check_hash)
    lengths = [meta.num_samples for meta in metas]
    if len(set(lengths)) != 1:
        desc = ", ".join(f"ch{i}={n}" for i, n in enumerate(lengths))
        raise RecordingError(f"{path}: channels have unequal lengths ({desc} samples)")
    info = _metadata(str(path), first, carrier, srs, array)
    return RecordingReader(str(path), metas, info, check_finite)


def _open_meta(path: Path, check_hash: bool | str, check_finite: bool) -> RecordingReader:
    meta = _Meta(path)
    carrier, srs, array = _configs(meta)
    _check_consistency(str(path), meta.sample_rate, carrier, array, meta.num_channels)
    meta.check_data(check_hash)
    info = _metadata(str(path), meta, carrier, srs, array)
    return RecordingReader(str(path), [meta], info, check_finite)


def open_recording(
    path: str | os.PathLike, *, check_hash: bool | str = True, check_finite: bool | str = True
) -> RecordingReader:
    """Validate a SigMF recording (``NAME.sigmf-collection``, ``NAME.sigmf-meta`` or ``NAME``)
    without loading it: samples are memory-mapped and read with ``reader.read(start, count)``.
    Raises RecordingError like :func:`read_recording`. ``check_hash="defer"`` checks the
    metadata hashes now and leaves the data files' SHA-512 to
    ``reader.verify_data_hashes()`` (a source streaming the data checks it alongside)."""
    p = Path(path)
    name = p.name
    if name.endswith(".sigmf-collection"):
        if not p.is_file():
            raise RecordingError(f"collection file {p} does not exist")
        return _open_collection(p, check_hash, check_finite)
    if name.endswith(".sigmf-meta"):
        return _open_meta(p, check_hash, check_finite)
    if name.endswith(".sigmf-data"):
        return _open_meta(
            p.with_name(name[: -len(".sigmf-data")] + ".sigmf-meta"), check_hash, check_finite
        )
    for suffix in (".sigmf-collection", ".sigmf-meta"):
        cand = p.with_name(name + suffix)
        if cand.is_file():
            return open_recording(cand, check_hash=check_hash, check_finite=check_finite)
    raise RecordingError(
        f"{p}: no such SigMF recording (expected NAME.sigmf-collection or NAME.sigmf-meta)"
    )


def read_raw(
    path: str | os.PathLike,
    *,
    num_channels: int,
    carrier: Any,
    srs: Any,
    array: ULA | None = None,
    sample_rate: float | None = None,
    center_frequency_hz: float | None = None,
) -> Recording:
    """Raw complex64 GNU Radio file-sink output, channels interleaved (one file) or a list of
    per-channel files given as ``path`` = ``[ch0, ch1, ...]``. ``carrier`` / ``srs`` are
    config objects or their DESIGN section 4 dicts."""
    try:
        if isinstance(carrier, dict):
            carrier = carrier_from_dict(carrier)
        if isinstance(srs, dict):
            srs = srs_from_dict(srs)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"invalid carrier / SRS configuration for a raw file: {exc}") from exc
    if isinstance(path, (list, tuple)):
        paths = [Path(p) for p in path]
    else:
        paths = [Path(path)]
    if array is None:
        array = ULA(num_elements=num_channels)
    if sample_rate is None:
        sample_rate = carrier.sample_rate
    _check_consistency(str(paths[0]), sample_rate, carrier, array, num_channels)
    rows: list[NDArray[np.complex64]] = []
    for p in paths:
        if not p.is_file():
            raise RecordingError(f"raw recording {p} does not exist")
        raw = p.read_bytes()
        per = num_channels if len(paths) == 1 else 1
        if len(raw) % (8 * per):
            raise RecordingError(
                f"{p}: truncated data: {len(raw)} bytes is not a whole number of complex64 "
                f"samples x {per} channel(s)"
            )
        x = np.frombuffer(raw, dtype="<c8").reshape(-1, per).T
        rows.extend(list(x))
    if len(rows) != num_channels:
        raise RecordingError(f"{len(rows)} raw channel file(s) given for {num_channels} channels")
    lengths = {r.size for r in rows}
    if len(lengths) != 1:
        raise RecordingError(f"raw channel files have unequal lengths {sorted(lengths)}")
    rec = Recording(
        samples=np.stack(rows),
        sample_rate=float(sample_rate),
        center_frequency_hz=float(
            center_frequency_hz if center_frequency_hz is not None else array.carrier_frequency_hz
        ),
        carrier=carrier,
        srs=srs,
        array=array,
        datatype="cf32_le",
    )
    rec.validate(str(paths[0]))
    return rec


@dataclass
class RawRecording:
    """A raw complex64 recording (GNU Radio file sink, channels interleaved) left on disk:
    the metadata of :class:`Recording` from the command line, ``data_files`` and
    ``num_samples`` from the file size (see :func:`open_raw`)."""

    path: Path
    num_channels: int
    num_samples: int
    sample_rate: float
    center_frequency_hz: float
    carrier: Any
    srs: Any
    array: ULA
    truth: dict | None = None
    annotations: list[dict] = field(default_factory=list)
    captures: list[dict] = field(default_factory=list)
    datatype: str = "cf32_le"
    ci16_scale: float = 1.0
    description: str = ""

    @property
    def data_files(self) -> list[Path]:
        return [self.path]

    @property
    def files(self) -> list[Path]:
        return [self.path]

    def read(self, start: int = 0, count: int | None = None) -> NDArray[np.complex64]:
        """Samples [M, count] from ``start`` (memory-mapped)."""
        start = max(0, int(start))
        stop = self.num_samples if count is None else min(self.num_samples, start + int(count))
        if stop <= start:
            return np.zeros((self.num_channels, 0), np.complex64)
        mm = np.memmap(self.path, "<c8", "r", shape=(self.num_samples, self.num_channels))
        return np.ascontiguousarray(np.asarray(mm[start:stop], np.complex64).T)


def open_raw(
    path: str | os.PathLike,
    *,
    num_channels: int,
    carrier: Any,
    srs: Any,
    array: ULA | None = None,
    sample_rate: float | None = None,
    center_frequency_hz: float | None = None,
) -> RawRecording:
    """Validate a raw interleaved complex64 file like :func:`read_raw` without reading it
    (the samples stream from disk; non-finite ones are counted by the reader)."""
    from .safeio import regular_file

    try:
        if isinstance(carrier, dict):
            carrier = carrier_from_dict(carrier)
        if isinstance(srs, dict):
            srs = srs_from_dict(srs)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"invalid carrier / SRS configuration for a raw file: {exc}") from exc
    p = Path(path)
    if array is None:
        array = ULA(num_elements=num_channels)
    if sample_rate is None:
        sample_rate = carrier.sample_rate
    _check_consistency(str(p), sample_rate, carrier, array, num_channels)
    if not p.is_file():
        raise RecordingError(f"raw recording {p} does not exist")
    regular_file(p, "raw recording", RecordingError)
    size = p.stat().st_size
    if size % (8 * num_channels):
        raise RecordingError(
            f"{p}: truncated data: {size} bytes is not a whole number of complex64 "
            f"samples x {num_channels} channel(s)"
        )
    fc = center_frequency_hz if center_frequency_hz is not None else array.carrier_frequency_hz
    return RawRecording(
        p,
        int(num_channels),
        size // (8 * num_channels),
        float(sample_rate),
        float(fc),
        carrier,
        srs,
        array,
    )


def read_recording(
    path: str | os.PathLike,
    *,
    check_hash: bool = True,
    num_channels: int | None = None,
    carrier: Any = None,
    srs: Any = None,
    array: ULA | None = None,
    sample_rate: float | None = None,
    center_frequency_hz: float | None = None,
) -> Recording:
    """Read a recording: ``NAME.sigmf-collection``, a (multi-channel) ``NAME.sigmf-meta``, or
    raw ``.cfile`` / ``.dat`` (then ``num_channels``, ``carrier`` and ``srs`` are required).

    ``NAME`` alone (no suffix) finds ``NAME.sigmf-collection`` or ``NAME.sigmf-meta``.
    Raises RecordingError with one clear line for every kind of bad recording.
    """
    p = Path(path)
    name = p.name
    if name.endswith((".sigmf-collection", ".sigmf-meta", ".sigmf-data")):
        return open_recording(p, check_hash=check_hash).to_recording()
    if p.suffix in RAW_SUFFIXES:
        if num_channels is None or carrier is None or srs is None:
            raise RecordingError(
                f"{p}: a raw file needs the number of channels, the carrier and the SRS "
                "configuration (they are not stored in it)"
            )
        return read_raw(
            p,
            num_channels=num_channels,
            carrier=carrier,
            srs=srs,
            array=array,
            sample_rate=sample_rate,
            center_frequency_hz=center_frequency_hz,
        )
    for suffix in (".sigmf-collection", ".sigmf-meta"):
        cand = p.with_name(name + suffix)
        if cand.is_file():
            return open_recording(cand, check_hash=check_hash).to_recording()
    raise RecordingError(
        f"{p}: no such recording (expected NAME.sigmf-collection, NAME.sigmf-meta, .cfile or .dat)"
    )
