"""nr against the independent reference vectors in tests/data/srs (see its README).

Indices must match exactly. Symbols are stored as complex64, so they agree to float32
rounding: unit-modulus values carry an error <= ~2^-24 per component, we allow 1e-6.
Waveforms are compared up to one complex scale (the README allows a different
normalisation); the stored float32 samples carry a relative error ~1e-7 after an FFT of
log2(N) stages, so a relative residual of 1e-5 is a generous bound that still fails on
any wrong subcarrier, symbol, CP length or sign (those give residuals of order 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import nr

DATA = Path(__file__).resolve().parent / "data"
CASES = sorted((DATA / "srs").glob("srs_*.json"))


def _load(path):
    cfg = json.loads(path.read_text())
    ref = np.load(path.with_suffix(".npz"))
    return cfg, ref


def test_vectors_present():
    assert len(CASES) == 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_against_reference(path):
    cfg, ref = _load(path)
    carrier = nr.CarrierConfig.from_dict(cfg["carrier"])
    srs = nr.SRSConfig.from_dict(cfg["srs"])
    # dict round trip with exactly the stored keys and values
    assert carrier.to_dict() == cfg["carrier"]
    assert srs.to_dict() == cfg["srs"]

    idx = nr.srs_indices(carrier, srs)
    np.testing.assert_array_equal(idx, ref["indices"])

    sym = nr.srs_symbols(carrier, srs)
    assert sym.shape == ref["symbols"].shape
    assert np.max(np.abs(sym - ref["symbols"])) < 1e-6

    wave = nr.srs_slot_waveform(carrier, srs)
    want = ref["waveform"]
    assert wave.dtype == np.complex64
    assert wave.shape == want.shape
    assert wave.shape[0] == carrier.samples_per_slot()
    w, r = wave.ravel().astype(np.complex128), want.ravel().astype(np.complex128)
    scale = np.vdot(w, r) / np.vdot(w, w)
    assert np.linalg.norm(scale * w - r) / np.linalg.norm(r) < 1e-5
