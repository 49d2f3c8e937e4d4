"""``srsaoa run`` end to end, and one clear line for every kind of bad input.

Every bad input must give a non-zero exit status and one error line on stderr that says
what is wrong, never a traceback, a hang or silently wrong angles.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "recordings"
SRSAOA = Path(sys.executable).parent / "srsaoa"
LOS = "los_23deg_10db"


def srsaoa(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SRSAOA), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _copy(tmp: Path, name: str = LOS) -> Path:
    for f in DATA.glob(f"{name}*"):
        shutil.copy(f, tmp / f.name)
    return tmp / f"{name}.sigmf-collection"


def _rehash(coll: Path) -> None:
    """Recompute the sha512s after an edit, so only the intended fault remains."""
    c = json.loads(coll.read_text())
    for s in c["collection"]["core:streams"]:
        meta = coll.parent / f"{s['name']}.sigmf-meta"
        m = json.loads(meta.read_text())
        data = meta.with_suffix(".sigmf-data")
        m["global"]["core:sha512"] = hashlib.sha512(data.read_bytes()).hexdigest()
        meta.write_text(json.dumps(m, indent=2))
        s["hash"] = hashlib.sha512(meta.read_bytes()).hexdigest()
    coll.write_text(json.dumps(c, indent=2))


def _one_clear_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Non-zero exit, and stderr is exactly one line (UHD's own banner aside) that names
    the problem."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [
        ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[INFO] [UHD]")
    ]
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0].lower(), lines[0]
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])


def test_run_writes_json_lines_and_summary(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = srsaoa(
        "run",
        "--input",
        str(DATA / f"{LOS}.sigmf-collection"),
        "--method",
        "esprit,music",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 20  # 10 occasions x 2 methods
    keys = {
        "t_s",
        "sample_index",
        "srs_occasion",
        "method",
        "order",
        "aoa_deg",
        "delay_s",
        "snr_db",
    }
    assert keys <= set(lines[0])
    assert "10 SRS occasions found" in proc.stdout
    assert "esprit" in proc.stdout and "RMSE" in proc.stdout


def test_run_to_stdout_is_pure_json(tmp_path):
    proc = srsaoa(
        "run",
        "--input",
        str(DATA / f"{LOS}.sigmf-collection"),
        "--method",
        "2d-esprit",
        "--out",
        "-",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 10
    for ln in lines:
        rec = json.loads(ln)
        assert rec["method"] == "2d-esprit" and rec["delay_s"] is not None


def test_missing_file(tmp_path):
    _one_clear_error(
        srsaoa("run", "--input", str(tmp_path / "nope.sigmf-collection")), "does not exist"
    )


def test_missing_channel_file(tmp_path):
    coll = _copy(tmp_path)
    (tmp_path / f"{LOS}_ch2.sigmf-data").unlink()
    _one_clear_error(srsaoa("run", "--input", str(coll)), "ch2")


def test_truncated_data(tmp_path):
    coll = _copy(tmp_path)
    data = tmp_path / f"{LOS}_ch1.sigmf-data"
    data.write_bytes(data.read_bytes()[:-6])  # not a whole number of ci16 samples, shorter
    _rehash(coll)
    _one_clear_error(srsaoa("run", "--input", str(coll)))


def test_hash_mismatch(tmp_path):
    coll = _copy(tmp_path)
    data = tmp_path / f"{LOS}_ch0.sigmf-data"
    b = bytearray(data.read_bytes())
    b[1000] ^= 0xFF
    data.write_bytes(bytes(b))
    _one_clear_error(srsaoa("run", "--input", str(coll)), "sha512")


def test_wrong_channel_count(tmp_path):
    _one_clear_error(
        srsaoa("run", "--input", str(DATA / f"{LOS}.sigmf-collection"), "--num-channels", "3"),
        "channels",
    )


def test_sample_rate_mismatch(tmp_path):
    coll = _copy(tmp_path)
    for m in tmp_path.glob("*.sigmf-meta"):
        d = json.loads(m.read_text())
        d["global"]["core:sample_rate"] = 61.44e6
        m.write_text(json.dumps(d))
    _rehash(coll)
    _one_clear_error(srsaoa("run", "--input", str(coll)), "rate")


@pytest.mark.parametrize("key", ["core:version", "core:datatype"])
def test_schema_invalid_metadata(tmp_path, key):
    """A .sigmf-meta the official SigMF schema (sigmf package) or the project's schema
    rejects: one line naming the file and the field."""
    coll = _copy(tmp_path)
    meta = tmp_path / f"{LOS}_ch1.sigmf-meta"
    d = json.loads(meta.read_text())
    del d["global"][key]
    meta.write_text(json.dumps(d))
    _rehash(coll)
    _one_clear_error(srsaoa("run", "--input", str(coll)), meta.name, key)


def test_non_finite_samples(tmp_path):
    from gnuradio.srsaoa.io import read_recording, write_recording

    rec = read_recording(DATA / f"{LOS}.sigmf-collection")
    rec.samples = np.array(rec.samples, dtype=np.complex64)
    base = tmp_path / "nan"
    write_recording(base, rec, datatype="cf32_le")
    data = tmp_path / "nan_ch3.sigmf-data"
    x = np.fromfile(data, dtype=np.complex64)
    x[5000:5010] = np.nan
    x.tofile(data)
    _rehash(tmp_path / "nan.sigmf-collection")
    # a burst in one channel skips the occasion it touches (counted), not the recording
    proc = srsaoa("run", "-i", str(tmp_path / "nan.sigmf-collection"), "-o", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "10 non-finite (NaN/Inf) sample(s) from sample 5000; " in proc.stderr
    assert re.search(r"[01] SRS occasion\(s\) skipped", proc.stderr), proc.stderr
    assert len((tmp_path / "r").read_text().splitlines()) >= 2 * 9  # esprit + 2d-esprit


def test_no_srs_present(tmp_path):
    from gnuradio.srsaoa.io import read_recording, write_recording

    rec = read_recording(DATA / f"{LOS}.sigmf-collection")
    rng = np.random.default_rng(5)
    shape = rec.samples.shape
    rec.samples = ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * 0.3).astype(
        np.complex64
    )
    write_recording(tmp_path / "noise", rec, datatype="cf32_le")
    _one_clear_error(srsaoa("run", "--input", str(tmp_path / "noise.sigmf-collection")), "no SRS")


def test_wrong_srs_configuration_finds_nothing(tmp_path):
    """Metadata naming another SRS sequence group than the UE sent: no detections (the
    cross-sequence floor of srs_sync), so one clear error instead of estimates."""
    coll = _copy(tmp_path)
    for m in tmp_path.glob("*.sigmf-meta"):
        d = json.loads(m.read_text())
        d["global"]["srsaoa:srs"]["n_srs_id"] = 7  # the UE used 100 (group 10; 7 is group 7)
        m.write_text(json.dumps(d))
    _rehash(coll)
    _one_clear_error(srsaoa("run", "--input", str(coll)), "no SRS")


@pytest.mark.parametrize("fault", ["missing", "bad_json", "truncated"])
def test_bad_model_file(tmp_path, fault):
    from gnuradio.srsaoa.moddnn.modelfile import model_paths

    w, j = model_paths("default")
    model = tmp_path / "m"
    mw, mj = model_paths(str(model))
    if fault != "missing":
        shutil.copy(w, mw)
        shutil.copy(j, mj)
    if fault == "bad_json":
        mj.write_text("{ not json")
    if fault == "truncated":
        mw.write_bytes(mw.read_bytes()[: mw.stat().st_size // 2])
    proc = srsaoa(
        "run",
        "--input",
        str(DATA / f"{LOS}.sigmf-collection"),
        "--method",
        "moddnn",
        "--model",
        str(model),
    )
    _one_clear_error(proc)


def test_unknown_method():
    _one_clear_error(
        srsaoa("run", "--input", str(DATA / f"{LOS}.sigmf-collection"), "--method", "capon"),
        "capon",
    )


def test_raw_cfile_needs_configuration(tmp_path):
    raw = tmp_path / "x.cfile"
    np.zeros(1000, np.complex64).tofile(raw)
    _one_clear_error(srsaoa("run", "--input", str(raw)), "--num-channels")


def test_raw_cfile_runs_with_configuration(tmp_path):
    """An interleaved raw capture with the fields on the command line gives the SigMF answer."""
    from gnuradio.srsaoa.io import read_recording

    rec = read_recording(DATA / f"{LOS}.sigmf-collection")
    raw = tmp_path / "cap.cfile"
    np.ascontiguousarray(rec.samples.T).astype(np.complex64).tofile(raw)  # interleaved by channel
    (tmp_path / "c.json").write_text(json.dumps(rec.carrier.to_dict()))
    (tmp_path / "s.json").write_text(json.dumps(rec.srs.to_dict()))
    out = tmp_path / "r.jsonl"
    proc = srsaoa(
        "run",
        "--input",
        str(raw),
        "--num-channels",
        "4",
        "--carrier",
        str(tmp_path / "c.json"),
        "--srs",
        str(tmp_path / "s.json"),
        "--method",
        "esprit",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    aoa = [json.loads(x)["aoa_deg"][0] for x in out.read_text().splitlines()]
    assert len(aoa) == 10
    # same estimator and data as the SigMF run: the truth's 23.4 deg within 0.3 deg (5 CRB)
    assert np.all(np.abs(np.array(aoa) - 23.4) < 0.3), aoa


def test_usrp_without_device_is_one_clear_error(tmp_path):
    (tmp_path / "c.json").write_text('{"subcarrier_spacing": 30, "n_size_grid": 51}')
    (tmp_path / "s.json").write_text('{"n_srs_id": 1}')
    proc = srsaoa(
        "run",
        "--usrp",
        "addr=127.0.0.1",
        "--num-channels",
        "4",
        "--carrier",
        str(tmp_path / "c.json"),
        "--srs",
        str(tmp_path / "s.json"),
        timeout=120,
    )
    _one_clear_error(proc, "USRP")


def test_closed_stdout_pipe_ends_quietly():
    """`srsaoa run --out - | head -2`: the reader leaves, the run ends without a crash."""
    cmd = f"{SRSAOA} run -q -i {DATA / (LOS + '.sigmf-collection')} --out - | head -2"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300
    )
    assert len(proc.stdout.splitlines()) == 2
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "terminate" not in proc.stderr


def test_out_must_not_overwrite_the_input(tmp_path):
    coll = _copy(tmp_path)
    data = tmp_path / f"{LOS}_ch3.sigmf-data"
    size = data.stat().st_size
    _one_clear_error(srsaoa("run", "--input", str(coll), "--out", str(data)), "input")
    assert data.stat().st_size == size


def test_order_out_of_range():
    _one_clear_error(
        srsaoa("run", "--input", str(DATA / f"{LOS}.sigmf-collection"), "--order", "9"), "--order"
    )


def test_model_for_another_array_is_refused(tmp_path):
    """The shipped model learnt a half-wavelength 4-element array; 0.35 lambda is another."""
    coll = _copy(tmp_path)
    for m in tmp_path.glob("*.sigmf-meta"):
        d = json.loads(m.read_text())
        d["global"]["srsaoa:array"]["spacing_m"] *= 0.7
        m.write_text(json.dumps(d))
    _rehash(coll)
    _one_clear_error(srsaoa("run", "--input", str(coll), "--method", "moddnn"), "trained for")


def test_calibration_from_another_frequency_is_refused(tmp_path):
    cal = {
        "format": "srsaoa-calibration",
        "num_elements": 4,
        "gain": [1, 1, 1, 1],
        "phase_deg": [0, 0, 0, 0],
        "delay_s": [0, 0, 0, 0],
        "radio": {"center_frequency_hz": 2.4e9, "sample_rate": 30.72e6},
    }
    from gnuradio.srsaoa.array import calibration

    cal["format"] = calibration.FORMAT
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal))
    proc = srsaoa(
        "run", "--input", str(DATA / f"{LOS}.sigmf-collection"), "--calibration", str(path)
    )
    _one_clear_error(proc, "calibrate again")


def test_simulate_and_waveform_refuse_bad_outputs(tmp_path):
    scen = ROOT / "examples" / "scenarios" / "n310_los.yaml"
    _one_clear_error(
        srsaoa("simulate", "--scenario", str(scen), "--out", f"{tmp_path}/"), "directory"
    )
    cfg = tmp_path / "w.yaml"
    cfg.write_text("carrier: {}\nsrs: {srs_period: [10, 5]}\n")
    _one_clear_error(
        srsaoa("waveform", "--config", str(cfg), "--out", str(tmp_path / "w"), "--slots", "2"),
        "no SRS",
    )


@pytest.mark.parametrize("args", [["--epochs", "-1"], ["--threads", "0"], ["--batch", "0"]])
def test_train_rejects_bad_numbers(tmp_path, args):
    _one_clear_error(srsaoa("train", "--scenario", "default", "--out", str(tmp_path / "m"), *args))
