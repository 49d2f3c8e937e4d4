"""End to end on the simulator's ready scenarios (examples/scenarios): simulate -> srs_sync ->
cfr_extractor -> covariance_accumulator -> ESPRIT gives the true AoAs.

Tolerance: 5 x the deterministic CRB of the estimate (N = occasions x S x K snapshots,
source covariance from the path powers and the decorrelation of their delays across the
SRS band, noise variance from the truth) + 0.02 deg for float32 rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa import sim
from gnuradio.srsaoa.estimation.crb import crb_deterministic
from gnuradio.srsaoa.estimation.doa import esprit
from test_frontend import run

SCENARIOS = Path(__file__).resolve().parent.parent / "examples" / "scenarios"


def _crb(paths, meta, carrier, n_snap, noise_var, spacing, aoa):
    f = (meta[K.SUBCARRIERS] - 6 * carrier["n_size_grid"]) * meta[K.SCS_HZ]
    amp = np.array(
        [
            10 ** (q.get("power_db", 0.0) / 20) * np.exp(-2j * np.pi * f * q.get("delay_s", 0.0))
            for q in paths
        ]
    )
    p_src = amp @ amp.conj().T / f.size / noise_var
    return crb_deterministic(
        aoa, n_snap, num_elements=4, spacing_wavelengths=spacing, source_covariance=p_src
    )


@pytest.mark.parametrize("name,order", [("n310_los", 1), ("los_multipath", 3)])
def test_ready_scenario_aoa(name, order):
    sc = sim.Scenario.from_yaml(SCENARIOS / f"{name}.yaml").copy(num_slots=8)
    rec = sim.simulate(sc)
    truth = rec.truth
    carrier, srs = rec.carrier.to_dict(), rec.srs.to_dict()
    n_occ = len(truth["srs_slot_sample_starts"])
    r = run(rec.samples, carrier, srs, cov_occasions=n_occ)
    assert [t.offset for t in r["tags"][0]] == truth["srs_slot_sample_starts"]
    (meta, h), cov = r["pdus"][0], r["covs"][0][1]
    spacing = float(rec.array.spacing_wavelengths)
    paths = sorted(truth["paths"], key=lambda q: q["aoa_deg"])
    aoa = np.array([q["aoa_deg"] for q in paths])
    est = np.sort(esprit(cov, order, spacing))
    n_snap = n_occ * h.shape[1] * h.shape[2]
    crb = _crb(paths, meta, carrier, n_snap, truth["noise_variance"], spacing, aoa)
    assert np.all(np.abs(est - aoa) < 5 * crb + 0.02), (est, aoa, crb)


def test_moving_ue_track():
    """Every occasion's own CFR (S x K snapshots) gives that occasion's annotated AoA."""
    sc = sim.Scenario.from_yaml(SCENARIOS / "moving_ue.yaml").copy(num_slots=12)
    rec = sim.simulate(sc)
    carrier, srs = rec.carrier.to_dict(), rec.srs.to_dict()
    r = run(rec.samples, carrier, srs)
    ann = {a["core:sample_start"]: a["srsaoa:aoa_deg"] for a in rec.annotations}
    assert len(r["pdus"]) == len(rec.truth["srs_slot_sample_starts"])
    spacing = float(rec.array.spacing_wavelengths)
    noise = rec.truth["noise_variance"]
    for meta, h in r["pdus"]:
        aoa_los = ann[meta[K.SAMPLE_INDEX]]
        hm = h.reshape(4, -1)
        cov = hm @ hm.conj().T / hm.shape[1]
        paths = [dict(aoa_deg=aoa_los), rec.truth["paths"][1]]
        order_aoa = np.array([aoa_los, rec.truth["paths"][1]["aoa_deg"]])
        est = esprit(cov, 2, spacing)
        los_est = est[np.argmin(np.abs(est - aoa_los))]
        crb = _crb(paths, meta, carrier, hm.shape[1], noise, spacing, order_aoa)
        assert abs(los_est - aoa_los) < 5 * crb[0] + 0.02, (los_est, aoa_los, crb)
