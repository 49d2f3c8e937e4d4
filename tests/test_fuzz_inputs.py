"""a seeded fuzz suite of hostile inputs (bounded time).

Outcome classes: every mutation of a SigMF recording, a scenario, a model config or a
configuration document either loads or raises the project's one-line ``SrsaoaError`` (never
another exception = an "internal error", never a hang); mutations that make nonsense of a
validated field (wrong type, non-finite, out of range, unknown key) are always refused. The
end-to-end cases run ``srsaoa`` and check exit status, one error line, no traceback or
'internal error', and that no earlier results or inputs are clobbered.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import io
from gnuradio.srsaoa.errors import SrsaoaError
from gnuradio.srsaoa.io import safeio, schemas
from gnuradio.srsaoa.moddnn.config import ModelConfig
from gnuradio.srsaoa.sim import Scenario

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "recordings"
LOS = "los_23deg_10db"
SRSAOA = Path(sys.executable).parent / "srsaoa"
OUTCOMES: dict[str, int] = {}

NONSENSE = [None, True, "x", [], {}, float("inf"), float("nan"), 1e308, -1e308, 10**30, -1]


def _count(kind: str) -> None:
    OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1


def _paths(doc, prefix=()):
    """Every (path, value) in a JSON document."""
    out = [(prefix, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc, path, value):
    node = doc
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        if isinstance(node, dict):
            del node[path[-1]]
        else:
            node.pop(path[-1])
    else:
        node[path[-1]] = value


_DELETE = object()


def _mutations(doc, rng, n):
    """n seeded (description, mutated doc, nonsense?) triples."""
    paths = [p for p, _ in _paths(doc) if p]
    for _ in range(n):
        path = paths[rng.integers(len(paths))]
        d = copy.deepcopy(doc)
        op = rng.integers(4)
        if op == 0:
            value = NONSENSE[rng.integers(len(NONSENSE))]
        elif op == 1:
            value = _DELETE
        elif op == 2:  # an unknown key next to this one
            parent = path[:-1]
            node = d
            for p in parent:
                node = node[p]
            if isinstance(node, dict):
                node["srsaoa:bogus" if not parent else "bogus_key"] = 1
                yield f"{'.'.join(map(str, parent))}+bogus", d, True
                continue
            value = NONSENSE[rng.integers(len(NONSENSE))]
        else:  # deep nesting
            value = json.loads("[" * 40 + "1" + "]" * 40)
        original = d
        for p in path:
            original = original[p]
        _set(d, path, value)
        yield ".".join(map(str, path)), d, _is_nonsense(original, value)


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"  # True and False are the same kind (a flag defaulting to False may be set)
    if v is None:
        return "None"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def _is_nonsense(original, value) -> bool:
    """A value of another JSON type than the original, or a non-finite number."""
    if value is _DELETE:
        return False
    if isinstance(value, float) and not np.isfinite(value):
        return True
    if original is None or value is None:
        return False  # optional fields are nullable
    return _kind(original) != _kind(value)


def _validated(path) -> bool:
    """Fields whose every nonsense value must be refused (not free-form record keeping)."""
    text = ".".join(map(str, path))
    free = ("impairments", "rician", "scatterers", "trajectory", "scenario", "geolocation")
    return not any(f in text for f in free) and "core:description" not in text


@pytest.fixture(scope="module")
def recording_copy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz_rec")
    for p in DATA.glob(f"{LOS}*"):
        shutil.copy(p, tmp / p.name)
    return tmp


def test_fuzz_sigmf_metadata(recording_copy):
    """300 seeded mutations of the channel metadata and the collection."""
    rng = np.random.default_rng(14)
    tmp = recording_copy
    coll = tmp / f"{LOS}.sigmf-collection"
    metas = [tmp / f"{LOS}_ch{c}.sigmf-meta" for c in range(4)]
    originals = [p.read_text() for p in metas]
    coll_text = coll.read_text()
    base = json.loads(originals[0])
    base["global"]["srsaoa:truth"]["srs_slot_sample_starts"] = base["global"]["srsaoa:truth"][
        "srs_slot_sample_starts"
    ][:3]
    base["annotations"] = base["annotations"][:3]
    refused = 0
    try:
        for where, doc, nonsense in _mutations(base, rng, 240):
            for c, p in enumerate(metas):
                d = copy.deepcopy(doc)
                if isinstance(d.get("global"), dict) and "srsaoa:channel" in d["global"]:
                    d["global"]["srsaoa:channel"] = c
                p.write_text(json.dumps(d))
            try:
                io.open_recording(coll, check_hash=False)
                _count("sigmf: loaded")
                assert not (nonsense and _validated(where.split("."))), f"accepted {where}"
            except SrsaoaError as exc:
                assert "\n" not in str(exc)
                refused += 1
                _count("sigmf: clean error")
        cdoc = json.loads(coll_text)
        for _where, doc, _ in _mutations(cdoc, rng, 60):
            coll.write_text(json.dumps(doc))
            try:
                io.open_recording(coll, check_hash=False)
                _count("collection: loaded")
            except SrsaoaError:
                _count("collection: clean error")
        for name in ("../../x", "/etc/passwd", ".hidden", "a/b"):
            doc = json.loads(coll_text)
            doc["collection"]["core:streams"][0]["name"] = name
            coll.write_text(json.dumps(doc))
            with pytest.raises(SrsaoaError):
                io.open_recording(coll, check_hash=False)
            _count("collection: path escape refused")
    finally:
        for p, t in zip(metas, originals):
            p.write_text(t)
        coll.write_text(coll_text)
    assert refused > 100


def test_fuzz_scenarios():
    rng = np.random.default_rng(7)
    base = {
        "name": "fz",
        "num_slots": 2,
        "snr_db": 10.0,
        "array": {"num_elements": 4, "carrier_frequency_hz": 3.5e9},
        "paths": [{"aoa_deg": 10.0}],
        "rician": {"k_factor_db": 6.0, "num_scatterers": 4},
        "sweep": {"aoa_deg": {"start": -10, "stop": 10, "step": 5}},
        "carrier": {"subcarrier_spacing": 30, "n_size_grid": 51},
        "srs": {"c_srs": 12},
    }
    for _where, doc, _ in _mutations(base, rng, 150):
        try:
            Scenario.from_dict(doc)
            _count("scenario: loaded")
        except SrsaoaError as exc:
            assert "\n" not in str(exc)
            _count("scenario: clean error")
    for bad in (
        {"num_slots": 10**9},
        {"rician": {"k_factor_db": 0, "num_scatterers": 10**7}},
        {"sweep": {"aoa_deg": {"start": -60, "stop": 60, "step": 0.001}}},
        {"filter_half_length": 10**5},
        {"ci16_backoff_db": 200},
        {"snr_db": 1e308},
        {"array": {"num_element": 3}},
        {"array": {"num_elements": 4, "spacing_m": True}},
        {"array": {"num_elements": 4, "spacing_m": 1e-9}},
        {"array": {"num_elements": 4, "carrier_frequency_hz": 1}},
    ):
        with pytest.raises(SrsaoaError):
            Scenario.from_dict({**base, **bad})
        _count("scenario: nonsense refused")


def test_fuzz_model_config():
    rng = np.random.default_rng(11)
    base = ModelConfig().to_dict()
    for where, doc, nonsense in _mutations(base, rng, 150):
        try:
            schemas.validate(doc, schemas.MODEL_CONFIG, "m.json", SrsaoaError, "config")
            ModelConfig.from_dict(doc)
            _count("model config: loaded")
            assert not nonsense, f"accepted {where}"
        except (SrsaoaError, ValueError, TypeError) as exc:
            # the loader wraps ModelConfig's ValueError/TypeError in ModelFileError
            assert "\n" not in str(exc)
            _count("model config: clean error")


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("[" * 100000 + "]" * 100000, "json"),
        ("a: " + "[" * 100000 + "]" * 100000, "yaml"),
        ('{"a": NaN}', "json"),
        ('{"a": Infinity}', "json"),
        ("a: .inf\n", "yaml"),
        ("a: &a [1, 2]\nb: [*a, *a, *a]\n", "yaml"),
        ("a: 2001-01-01\n", "yaml"),
        ("{1: 2}\n", "yaml"),
        ("\xff\xfe", "json"),
    ],
)
def test_hostile_documents(tmp_path, text, fmt):
    p = tmp_path / f"doc.{fmt}"
    p.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(SrsaoaError):
        safeio.load_document(p, "config", fmt)
    _count("document: refused")


def test_special_files_refused(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for p in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(SrsaoaError):
            safeio.load_document(p, "config", "json")
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(safeio.MAX_CONFIG_BYTES + 1)
    with pytest.raises(SrsaoaError, match="too large"):
        safeio.load_document(big, "config", "json")
    _count("special file: refused")


def test_outputs_never_clobber_inputs(tmp_path):
    inp = tmp_path / "in.json"
    inp.write_text("{}")
    hard = tmp_path / "hard"
    os.link(inp, hard)
    soft = tmp_path / "soft"
    soft.symlink_to(inp)
    for out in (inp, hard, soft, "/dev/full", "/dev/shm/x", tmp_path):
        with pytest.raises(SrsaoaError):
            safeio.check_output(out, [inp])
    target = tmp_path / "results.jsonl"
    target.write_text("earlier\n")
    with pytest.raises(RuntimeError), safeio.atomic_path(target) as t:
        t.write_text("partial")
        raise RuntimeError("failed half-way")
    assert target.read_text() == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hard",
        "in.json",
        "results.jsonl",
        "soft",
    ]
    _count("output: refused or atomic")


def _srsaoa(*args, timeout=120):
    return subprocess.run(
        [str(SRSAOA), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _clean_failure(proc):
    assert proc.returncode not in (0, 2) and proc.returncode > 0, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("srsaoa ")]) == 1


def test_end_to_end_hostile_runs(recording_copy, tmp_path):
    """The CLI cases of the issue: clean failures, earlier results untouched."""
    coll = recording_copy / f"{LOS}.sigmf-collection"
    results = tmp_path / "results.jsonl"
    results.write_text("earlier\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data0 = recording_copy / f"{LOS}_ch0.sigmf-data"
    before = data0.read_bytes()
    hard = tmp_path / "hard"
    os.link(data0, hard)
    cases = [
        ("run", "--input", "", "--out", str(results)),
        ("run", "--input", str(coll), "--out", "/dev/full"),
        ("run", "--input", str(coll), "--out", str(hard)),
        ("run", "--input", str(coll), "--calibration", str(fifo), "--out", str(results)),
        ("run", "--input", str(coll), "--occasions", "100000", "--out", str(results)),
        ("run", "--input", str(coll), "--method", "moddnn", "--model", str(fifo)),
    ]
    for args in cases:
        _clean_failure(_srsaoa(*args))
        _count("cli: clean failure")
    assert results.read_text() == "earlier\n"
    assert data0.read_bytes() == before
    # a recording whose truth is a number: refused by the schema, not a thread crash
    metas = sorted(recording_copy.glob(f"{LOS}_ch*.sigmf-meta"))
    texts = [p.read_text() for p in metas]
    try:
        for p in metas:
            d = json.loads(p.read_text())
            d["global"]["srsaoa:truth"] = 5
            p.write_text(json.dumps(d))
        proc = _srsaoa("run", "--input", str(coll), "--no-hash-check", "--out", str(results))
        _clean_failure(proc)
        assert "srsaoa:truth" in proc.stderr
    finally:
        for p, t in zip(metas, texts):
            p.write_text(t)
    assert results.read_text() == "earlier\n"
    proc = _srsaoa("run", "--input", str(coll), "--out", str(results), "-q")
    assert proc.returncode == 0, proc.stderr
    assert len(results.read_text().splitlines()) == 20


def test_report_outcomes():
    """Prints the outcome counts of this module's campaign (pytest -s shows them)."""
    print("fuzz outcomes:", json.dumps(OUTCOMES, indent=1, sort_keys=True))
    assert sum(OUTCOMES.values()) >= 600 or not OUTCOMES
