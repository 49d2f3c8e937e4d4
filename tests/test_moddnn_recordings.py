"""MoD-DNN training data from SigMF recordings (the chamber-sweep workflow).

A simulated sweep of an ideal array at 30 dB: every CFR the front-end twins extract must
carry its recording's angle as label, and its inter-element phases must be the DESIGN
steering vector at that angle (to well inside the 30 dB noise: phase std per element of a
CFR averaged over 4 x 288 REs is ~0.001 rad; we allow 0.02 rad).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa.array.geometry import steering_vector
from gnuradio.srsaoa.errors import RecordingError
from gnuradio.srsaoa.io import write_recording
from gnuradio.srsaoa.moddnn.data import load_dir
from gnuradio.srsaoa.moddnn.recordings import cfr_dataset_from_recording
from gnuradio.srsaoa.sim import Scenario, sweep

ANGLES = [-50.0, -31.0, -12.5, 0.0, 17.0, 33.0, 55.0]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sweep")
    sc = Scenario.from_dict(
        {
            "name": "chamber",
            "seed": 3,
            "srs": {"c_srs": 12, "n_srs_id": 100},
            "impairments": "ideal",
            "paths": [{"aoa_deg": 0.0}],
            "snr_db": 30.0,
            "start_offset_samples": 500,
            "num_slots": 3,
        }
    )
    for i, (_, rec) in enumerate(sweep(sc, ANGLES)):
        write_recording(d / f"chamber_{i}", rec, datatype="cf32_le")
    return d


def test_train_reads_the_sweep_through_the_cpp_front_end(sweep_dir):
    """`srsaoa train --data` labels the CFRs of the receiver's C++ front end
    (commands.calibrate.sweep_dataset, as calibrate and run); the numpy twins of the
    GNU-Radio-free default are its oracle: same occasions, labels, frequencies, and CFRs and
    SNRs equal to float32 rounding accumulated over an FFT and the 4 x 288 REs (relative
    1e-5 of the CFR's rms; 1e-3 dB)."""
    from gnuradio.srsaoa.commands.calibrate import sweep_dataset

    cpp, twin = load_dir(sweep_dir, sweep_dataset), load_dir(sweep_dir)
    np.testing.assert_array_equal(cpp.aoa_deg, twin.aoa_deg)
    np.testing.assert_allclose(cpp.subcarriers_hz, twin.subcarriers_hz)
    rms = np.sqrt(np.mean(np.abs(twin.cfr) ** 2))
    assert np.max(np.abs(cpp.cfr - twin.cfr)) < 1e-5 * rms
    np.testing.assert_allclose(cpp.snr_db, twin.snr_db, atol=1e-3)


def test_labels_and_phases_match_the_sweep(sweep_dir):
    ds = load_dir(sweep_dir)
    assert len(ds) == 3 * len(ANGLES)  # every slot of every recording
    assert sorted(set(np.round(ds.aoa_deg, 6))) == sorted(ANGLES)
    for h, aoa in zip(ds.cfr, ds.aoa_deg, strict=True):
        # mean over REs of H_m / H_0 is the array response relative to element 0
        rel = np.mean(h / h[0:1], axis=(1, 2))
        a = steering_vector(4, 0.5, aoa)
        np.testing.assert_allclose(np.angle(rel * a.conj()), 0.0, atol=0.02)
    assert ds.subcarriers_hz.size == ds.cfr.shape[-1]
    assert np.all(ds.snr_db > 25.0)


def test_recording_without_truth_is_refused(sweep_dir, tmp_path):
    from gnuradio.srsaoa.io import read_recording

    rec = read_recording(next(sweep_dir.glob("*.sigmf-collection")))
    rec.truth = None
    rec.annotations = []
    write_recording(tmp_path / "blind", rec, datatype="cf32_le")
    with pytest.raises(RecordingError, match="truth"):
        cfr_dataset_from_recording(tmp_path / "blind.sigmf-collection")


def test_train_from_a_sweep_directory(sweep_dir, tmp_path):
    """`srsaoa train --data DIR` on SigMF recordings: a model comes out, split by angle."""
    out = tmp_path / "m"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "srsaoa"),
            "train",
            "--data",
            str(sweep_dir),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--ae-epochs",
            "1",
            "--grid-step",
            "2",
            "--no-progress",
            "--threads",
            "1",
            "--synthetic",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.with_suffix(".safetensors").is_file() and out.with_suffix(".json").is_file()
    # the sweep's manifold was fitted (on the training angles) and saved beside the model
    assert (tmp_path / "m.calibration.json").is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["training"]["num_synthetic"] == 300
    # trained from a sweep, the coarray dictionary is the fitted manifold's (--dictionary)
    assert meta["config"]["dictionary"] == "calibrated"
    assert meta["config"]["num_subregions"] == 1  # the default with a calibrated dictionary
    assert meta["config"]["nonnegative"] is True  # eta >= 0, likewise
