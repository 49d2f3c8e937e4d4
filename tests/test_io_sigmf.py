"""SigMF recordings: the reference recordings read correctly, our recordings
round-trip, and every kind of bad recording gives its own clear RecordingError."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import io, nr, sim
from gnuradio.srsaoa.errors import RecordingError

REF = Path(__file__).resolve().parent / "data" / "recordings"


def _steering(m: int, d_over_lambda: float, theta_deg: np.ndarray) -> np.ndarray:
    """DESIGN section 3, written out here: a_m = exp(+j 2 pi m (d/lambda) sin(theta))."""
    return np.exp(
        2j * np.pi * d_over_lambda * np.outer(np.arange(m), np.sin(np.radians(theta_deg)))
    )


def _srs_cfr(rec: io.Recording, start: int) -> np.ndarray:
    c = rec.carrier
    slot = rec.samples[:, start : start + c.samples_per_slot()]
    grid = np.stack([nr.ofdm_demodulate(c, row) for row in slot])
    idx = nr.srs_indices(c, rec.srs)
    return grid[:, idx[:, 0], idx[:, 1]] / nr.srs_symbols(c, rec.srs)


def test_reads_reference_los_recording():
    rec = io.read_recording(REF / "los_23deg_10db.sigmf-collection")
    t = rec.truth
    assert rec.samples.shape == (4, 154429) and rec.samples.dtype == np.complex64
    assert rec.datatype == "ci16_le" and rec.sample_rate == 30.72e6
    assert rec.center_frequency_hz == 3.5e9 and rec.array.num_elements == 4
    assert rec.carrier.fft_size == 1024 and rec.srs.n_srs_id == 100
    assert t["first_slot_sample"] == 829 and len(t["srs_slot_sample_starts"]) == 10
    assert [a["core:sample_start"] for a in rec.annotations] == t["srs_slot_sample_starts"]
    # noise-only samples before the first slot: mean power = noise_variance; 829*4 complex
    # samples give a relative standard deviation 1/sqrt(3316) = 1.7 %, allow 5 sigma
    p = np.mean(np.abs(rec.samples[:, :800]) ** 2)
    assert p == pytest.approx(t["noise_variance"], rel=5 / np.sqrt(3200))
    # the samples are in the reference's own units: the AoA from the SRS REs is the truth
    h = np.concatenate([_srs_cfr(rec, s) for s in t["srs_slot_sample_starts"][:3]], axis=1)
    r = h @ h.conj().T / h.shape[1]
    grid = np.arange(-89.0, 89.0, 0.01)
    a = _steering(4, rec.array.spacing_wavelengths, grid)
    spec = np.real(np.einsum("ml,mn,nl->l", a.conj(), r, a))
    # CRB of a 4-element ULA at 10 dB with 3456 snapshots is ~0.02 deg; DBF peak bias for one
    # source is zero. 0.2 deg covers the 0.01 deg grid and ~10 sigma.
    assert grid[np.argmax(spec)] == pytest.approx(23.4, abs=0.2)


def test_reads_reference_recording_by_name_and_period():
    rec = io.read_recording(REF / "two_paths_period2")
    assert rec.srs.srs_period in ((2, 0), [2, 0])
    assert rec.truth["num_srs_occasions"] == 6 and rec.samples.shape[0] == 4


def _small_recording(datatype="cf32_le", seed=3) -> io.Recording:
    sc = sim.Scenario(
        paths=[{"aoa_deg": -12.0}],
        num_slots=2,
        snr_db=15,
        start_offset_samples=37,
        seed=seed,
        datatype=datatype,
    )
    return sim.simulate(sc)


@pytest.mark.parametrize("datatype", ["cf32_le", "ci16_le"])
@pytest.mark.parametrize("interleaved", [False, True])
def test_round_trip(tmp_path, datatype, interleaved):
    rec = _small_recording(datatype)
    p = io.write_recording(tmp_path / "rt", rec, datatype=datatype, interleaved=interleaved)
    back = io.read_recording(p)
    # cf32 is bit exact; the simulator already quantised ci16 samples, so they are exact too
    assert np.array_equal(back.samples, rec.samples)
    assert back.truth["first_slot_sample"] == 37
    assert back.annotations == rec.annotations
    assert back.carrier == rec.carrier and back.srs == rec.srs and back.array == rec.array
    assert back.datatype == datatype


def test_ci16_quantisation_of_float_samples(tmp_path):
    rec = _small_recording("cf32_le")
    p = io.write_recording(tmp_path / "q", rec, datatype="ci16_le", ci16_backoff_db=15)
    back = io.read_recording(p)
    scale = back.truth["ci16_scale"]
    # rounding error per component is at most 0.5 LSB, plus float32 rounding of the values
    tol = 0.5 / scale + 4 * np.finfo(np.float32).eps * np.max(np.abs(rec.samples))
    assert np.max(np.abs(back.samples.real - rec.samples.real)) <= tol
    assert np.max(np.abs(back.samples.imag - rec.samples.imag)) <= tol
    rms = np.sqrt(np.max(np.mean(np.abs(rec.samples) ** 2, axis=1)))
    assert rms * scale == pytest.approx(32767 * 10 ** (-15 / 20), rel=1e-9)


def test_raw_cfile(tmp_path):
    rec = _small_recording()
    raw = tmp_path / "x.cfile"
    rec.samples.T.astype("<c8").tofile(raw)  # GNU Radio interleaved-by-channel file sink
    back = io.read_recording(raw, num_channels=4, carrier=rec.carrier, srs=rec.srs)
    assert np.array_equal(back.samples, rec.samples)
    as_dicts = io.read_recording(
        raw,
        num_channels=4,
        carrier=io.config_to_dict(rec.carrier),
        srs=io.config_to_dict(rec.srs),
    )
    assert np.array_equal(as_dicts.samples, rec.samples)
    (tmp_path / "odd.dat").write_bytes(raw.read_bytes()[:-8])  # 3 of 4 channels of a sample
    with pytest.raises(RecordingError, match="truncated data"):
        io.read_recording(tmp_path / "odd.dat", num_channels=4, carrier=rec.carrier, srs=rec.srs)
    with pytest.raises(RecordingError, match="needs the number of channels"):
        io.read_recording(raw)


# ----------------------------------------------------------------------------- bad recordings


def _copy_ref(tmp_path: Path) -> Path:
    for f in REF.glob("los_23deg_10db*"):
        shutil.copy(f, tmp_path / f.name)
        (tmp_path / f.name).chmod(0o644)
    return tmp_path / "los_23deg_10db.sigmf-collection"


def _edit_meta(coll: Path, ch: int, fn) -> None:
    """Edit channel ch's meta and re-sign it in the collection (so only the edit is wrong)."""
    meta = coll.parent / f"los_23deg_10db_ch{ch}.sigmf-meta"
    d = json.loads(meta.read_text())
    fn(d)
    meta.write_text(json.dumps(d, indent=2))
    c = json.loads(coll.read_text())
    c["collection"]["core:streams"][ch]["hash"] = hashlib.sha512(meta.read_bytes()).hexdigest()
    coll.write_text(json.dumps(c))


def _rehash_data(coll: Path, ch: int) -> None:
    data = coll.parent / f"los_23deg_10db_ch{ch}.sigmf-data"
    digest = hashlib.sha512(data.read_bytes()).hexdigest()
    _edit_meta(coll, ch, lambda d: d["global"].__setitem__("core:sha512", digest))


def test_missing_channel_file(tmp_path):
    coll = _copy_ref(tmp_path)
    (tmp_path / "los_23deg_10db_ch2.sigmf-meta").unlink()
    with pytest.raises(RecordingError, match="missing channel 2"):
        io.read_recording(coll)


def test_missing_data_file(tmp_path):
    coll = _copy_ref(tmp_path)
    (tmp_path / "los_23deg_10db_ch1.sigmf-data").unlink()
    with pytest.raises(RecordingError, match="data file .* does not exist"):
        io.read_recording(coll)


def test_missing_collection(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        io.read_recording(tmp_path / "nothing.sigmf-collection")


def test_sample_rate_mismatch(tmp_path):
    coll = _copy_ref(tmp_path)
    for ch in range(4):
        _edit_meta(coll, ch, lambda d: d["global"].__setitem__("core:sample_rate", 23.04e6))
    with pytest.raises(RecordingError, match="sample rate 2.304e\\+07 Hz does not match"):
        io.read_recording(coll)


def test_fft_size_mismatch(tmp_path):
    coll = _copy_ref(tmp_path)
    for ch in range(4):
        _edit_meta(coll, ch, lambda d: d["global"]["srsaoa:carrier"].__setitem__("fft_size", 2048))
    with pytest.raises(RecordingError, match="fft_size 2048"):
        io.read_recording(coll)


def test_channel_sample_rates_differ(tmp_path):
    coll = _copy_ref(tmp_path)
    _edit_meta(coll, 3, lambda d: d["global"].__setitem__("core:sample_rate", 30.72e6 + 1))
    with pytest.raises(RecordingError, match="differs from channel 0"):
        io.read_recording(coll)


def test_unequal_lengths(tmp_path):
    coll = _copy_ref(tmp_path)
    data = tmp_path / "los_23deg_10db_ch3.sigmf-data"
    data.write_bytes(data.read_bytes()[:-400])  # 100 whole ci16 samples fewer
    _rehash_data(coll, 3)
    with pytest.raises(RecordingError, match="unequal lengths .*ch3=154329"):
        io.read_recording(coll)


def test_hash_mismatch_data(tmp_path):
    coll = _copy_ref(tmp_path)
    data = tmp_path / "los_23deg_10db_ch0.sigmf-data"
    b = bytearray(data.read_bytes())
    b[1000] ^= 0x01
    data.write_bytes(bytes(b))
    with pytest.raises(RecordingError, match="sha512 hash mismatch"):
        io.read_recording(coll)


def test_hash_mismatch_meta(tmp_path):
    coll = _copy_ref(tmp_path)
    meta = tmp_path / "los_23deg_10db_ch1.sigmf-meta"
    meta.write_text(
        meta.read_text().replace('"core:recorder": "srsoracle"', '"core:recorder": "x"')
    )
    with pytest.raises(RecordingError, match="collection's core:streams hash"):
        io.read_recording(coll)


def test_truncated_data(tmp_path):
    coll = _copy_ref(tmp_path)
    data = tmp_path / "los_23deg_10db_ch2.sigmf-data"
    data.write_bytes(data.read_bytes()[:-3])  # not a whole 4-byte ci16 sample
    with pytest.raises(RecordingError, match="truncated data"):
        io.read_recording(coll)


def test_wrong_datatype(tmp_path):
    coll = _copy_ref(tmp_path)
    _edit_meta(coll, 0, lambda d: d["global"].__setitem__("core:datatype", "ri8"))
    with pytest.raises(RecordingError, match="core:datatype: 'ri8' is not supported"):
        io.read_recording(coll)


def test_wrong_channel_count(tmp_path):
    coll = _copy_ref(tmp_path)
    for ch in range(4):
        _edit_meta(coll, ch, lambda d: d["global"]["srsaoa:array"].__setitem__("num_elements", 3))
    with pytest.raises(RecordingError, match="3 elements but there are 4 channels"):
        io.read_recording(coll)


def test_non_finite_samples(tmp_path):
    rec = _small_recording()
    rec.samples[2, 500] = np.nan
    # the writer does not police samples; the reader must
    p = io.write_recording(tmp_path / "nan", rec)
    with pytest.raises(RecordingError, match="non-finite .* first at sample 500"):
        io.read_recording(p)


def test_invalid_json(tmp_path):
    coll = _copy_ref(tmp_path)
    coll.write_text("{not json")
    with pytest.raises(RecordingError, match="not valid JSON"):
        io.read_recording(coll)


@pytest.mark.parametrize("interleaved", [False, True])
def test_open_recording_reads_blocks_lazily(tmp_path, interleaved):
    rec = _small_recording("ci16_le")
    p = io.write_recording(tmp_path / "lazy", rec, datatype="ci16_le", interleaved=interleaved)
    reader = io.open_recording(p)
    assert (reader.num_channels, reader.num_samples) == rec.samples.shape
    assert reader.truth == rec.truth and reader.carrier == rec.carrier
    assert np.array_equal(reader.read(1000, 777), rec.samples[:, 1000:1777])
    assert np.array_equal(reader.read(rec.num_samples - 5, 100), rec.samples[:, -5:])
    assert np.array_equal(reader.to_recording().samples, rec.samples)


# ------------------------------------------------------- the official SigMF schema (sigmf package)


def _sigmf_valid(meta: Path) -> None:
    """``meta`` passes the sigmf package's validator with no warning (undeclared extension
    namespaces warn), and sigmf itself agrees with its core:sha512."""
    import warnings

    from sigmf import sigmffile, validate

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        validate.validate(json.loads(meta.read_text()))
        sigmffile.fromfile(meta, skip_checksum=False).validate()  # SigMFFileError on a bad hash


def _sigmf_collection_valid(coll: Path) -> list[Path]:
    """The collection reads with sigmf.SigMFCollection, which checks every core:streams hash;
    returns its metadata files."""
    from sigmf import sigmffile

    c = sigmffile.fromfile(coll, skip_checksum=False)
    assert isinstance(c, sigmffile.SigMFCollection)
    c.verify_stream_hashes()
    return [coll.parent / f"{name}.sigmf-meta" for name in c.get_stream_names()]


@pytest.mark.parametrize("datatype", ["cf32_le", "ci16_le"])
@pytest.mark.parametrize("interleaved", [False, True])
def test_writer_output_passes_the_sigmf_validator(tmp_path, datatype, interleaved):
    rec = _small_recording(datatype)
    p = io.write_recording(tmp_path / "w", rec, datatype=datatype, interleaved=interleaved)
    metas = [p] if interleaved else _sigmf_collection_valid(p)
    assert len(metas) == (1 if interleaved else 4)
    for meta in metas:
        _sigmf_valid(meta)


@pytest.mark.parametrize("name", ["los_23deg_10db", "two_paths_period2"])
def test_reference_recordings_pass_the_sigmf_validator(name):
    metas = _sigmf_collection_valid(REF / f"{name}.sigmf-collection")
    assert sorted(metas) == sorted(REF.glob(f"{name}_ch*.sigmf-meta"))
    for meta in metas:
        _sigmf_valid(meta)


def _edit(d: dict, path: str, value=None) -> None:
    """Set (or with value None delete) d[a][b]... for path 'a/b/...' (list indices as ints)."""
    *head, last = [int(k) if k.isdigit() else k for k in path.split("/")]
    for k in head:
        d = d[k]
    if value is None:
        del d[last]
    else:
        d[last] = value


@pytest.mark.parametrize(
    "path,value,words",
    [
        # caught by the project's schema (schemas.META) first
        ("global/core:sample_rate", "30.72e6", "core:sample_rate: '30.72e6' is not of type"),
        ("global/core:datatype", None, "'core:datatype' is required"),
        # only the official SigMF schema (sigmf.validate) requires or checks these
        ("global/core:version", None, "not valid SigMF .* metadata: global: 'core:version'"),
        ("captures", None, "not valid SigMF .* metadata: top level: 'captures' is"),
        ("captures/0/core:datetime", "yesterday", "captures\\[0\\].core:datetime: 'yesterday'"),
        ("annotations/0/core:sample_start", 10**9, "annotations has incorrect sample start"),
    ],
)
@pytest.mark.parametrize("through", ["collection", "meta"])
def test_schema_invalid_meta_is_one_clear_error(tmp_path, path, value, words, through):
    coll = _copy_ref(tmp_path)
    _edit_meta(coll, 2, lambda d: _edit(d, path, value))
    meta = tmp_path / "los_23deg_10db_ch2.sigmf-meta"
    with pytest.raises(RecordingError) as err:
        io.open_recording(coll if through == "collection" else meta)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{meta}: "), text
    assert re.search(words, text), text


def test_missing_annotations_read_as_none(tmp_path):
    """The standard requires an ``annotations`` list, but a capture without one (hand-written
    metadata) carries nothing this module needs: it is read as having no annotations."""
    coll = _copy_ref(tmp_path)
    _edit_meta(coll, 2, lambda d: _edit(d, "annotations", None))
    rec = io.open_recording(coll)
    assert rec.num_channels == 4


def test_sigmf_package_errors_become_recording_errors(tmp_path, monkeypatch):
    """Whatever the sigmf package raises (here its own SigMFError) is one RecordingError
    naming the file, not a traceback."""
    from sigmf import error, validate

    def broken(*_args, **_kwargs):
        raise error.SigMFError("something inside sigmf\nwent wrong")

    monkeypatch.setattr(validate, "validate", broken)
    coll = _copy_ref(tmp_path)
    with pytest.raises(RecordingError, match="ch0.sigmf-meta: not valid SigMF .*: something"):
        io.read_recording(coll)


def test_collection_stream_hash_uses_any_hex_case(tmp_path):
    coll = _copy_ref(tmp_path)
    c = json.loads(coll.read_text())
    for s in c["collection"]["core:streams"]:
        s["hash"] = s["hash"].upper()
    coll.write_text(json.dumps(c))
    assert io.open_recording(coll, check_hash=True).num_channels == 4
