"""Labelled CFRs from SigMF recordings: the chamber-sweep workflow of MoD-DNN Section 6.1.

Record the array on a turntable (one recording per known angle, `srsaoa simulate` with
`examples/scenarios/chamber_sweep.yaml` makes the simulated equivalent), then train with
`srsaoa train --data DIR`. Each recording goes through the receiver's own front end (the
numpy twins of srs_sync and cfr_extractor in nr.receiver, so this package stays free of
GNU Radio), and every CFR is labelled with the LOS angle of its slot from the recording's
truth (SigMF annotations `srsaoa:aoa_deg`, else `srsaoa:truth.los_aoa_deg`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RecordingError
from ..io import read_recording
from ..nr.receiver import (
    SrsSyncTwin,
    cfr_twin,
    cfr_windows,
    cross_sequence_floor,
    frontend_params,
)
from ..report import TruthTrack
from .data import CfrDataset


def cfr_dataset_from_recording(path: str | Path) -> CfrDataset:
    """All SRS occasions of one recording as a labelled CfrDataset."""
    rec = read_recording(path)
    p = frontend_params(rec.carrier, rec.srs)
    if abs(rec.sample_rate - p.sample_rate) > 1e-6 * p.sample_rate:
        raise RecordingError(
            f"{path}: sample rate {rec.sample_rate:g} Hz != fft_size * scs = {p.sample_rate:g} Hz"
        )
    truth = TruthTrack(rec.truth, rec.annotations)
    if not truth.known:
        raise RecordingError(
            f"{path}: no angle truth (srsaoa:truth or srsaoa:aoa_deg annotations) to label it with"
        )
    x = np.asarray(rec.samples)
    twin = SrsSyncTwin(p, rec.num_channels, min_metric=cross_sequence_floor(p))
    backoff = min(p.cp_lengths) // 4  # as cfr_extractor's default (cp_backoff = -1)
    cfrs, labels, snrs = [], [], []
    for det in twin.run(x):
        start = int(det["index"])
        if start - backoff < 0 or start + p.window_offsets[-1] + p.fft_size > x.shape[1]:
            continue
        aoa = truth.aoa_at(start)
        if aoa is None:
            continue
        h, snr = cfr_twin(cfr_windows(x, start, p, backoff), p, float(det["cfo_hz"]), backoff)
        cfrs.append(h.astype(np.complex64))
        labels.append(aoa)
        snrs.append(snr)
    if not cfrs:
        raise RecordingError(f"{path}: no SRS occasion found to train on")
    scs = p.scs_hz
    n_size_grid = int(rec.carrier.n_size_grid)
    freqs = (np.asarray(p.subcarriers, float) - 6 * n_size_grid) * scs
    return CfrDataset(np.stack(cfrs), np.asarray(labels, float), np.asarray(snrs, float), freqs)


def recording_paths(directory: str | Path) -> list[Path]:
    """The recordings of a sweep directory: every NAME.sigmf-collection, and every
    multi-channel NAME.sigmf-meta that no collection lists."""
    d = Path(directory)
    colls = sorted(d.glob("*.sigmf-collection"))
    listed = set()
    for c in colls:
        stem = c.name[: -len(".sigmf-collection")]
        listed |= {m.name for m in d.glob(f"{stem}_ch*.sigmf-meta")}
    metas = [m for m in sorted(d.glob("*.sigmf-meta")) if m.name not in listed]
    return colls + metas
