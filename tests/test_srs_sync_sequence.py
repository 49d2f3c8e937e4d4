"""srs_sync locks on its own UE's SRS only: another sequence group is rejected at any SNR.

The normalised correlation of two different low-PAPR SRS sequences is ~1/N_sc per lag, and
the timing search takes the largest over a slot of lags, so a noise-free foreign SRS
reaches a few /N_sc: above the noise-only threshold, below the floor 12/N_sc
(nr.receiver.cross_sequence_floor). These tests measure that for every other group.
"""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.srsaoa.nr import CarrierConfig, SRSConfig, srs_slot_waveform
from gnuradio.srsaoa.nr.receiver import SrsSyncTwin, cross_sequence_floor, frontend_params


def _slots(carrier: CarrierConfig, srs: SRSConfig, n: int = 2, m: int = 1) -> np.ndarray:
    w = np.asarray(srs_slot_waveform(carrier, srs), np.complex128)
    x = np.concatenate([np.zeros(500), *([w] * n), np.zeros(500)])
    return np.tile(x, (m, 1)) * np.exp(1j * np.pi * 0.3 * np.arange(m))[:, None]


@pytest.mark.parametrize(("n_size_grid", "c_srs", "k_tc"), [(51, 12, 2), (51, 12, 4), (24, 3, 2)])
def test_every_foreign_group_stays_below_the_floor(n_size_grid, c_srs, k_tc):
    carrier = CarrierConfig(subcarrier_spacing=30, n_size_grid=n_size_grid)
    ours = frontend_params(carrier, SRSConfig(n_srs_id=0, c_srs=c_srs, k_tc=k_tc))
    twin = SrsSyncTwin(ours, 1)
    floor = cross_sequence_floor(ours)
    assert floor == pytest.approx(12.0 / ours.num_subcarriers)
    own = twin.metric(_slots(carrier, SRSConfig(n_srs_id=0, c_srs=c_srs, k_tc=k_tc))).max()
    assert own > 0.99  # noise-free, our own SRS gives metric 1
    foreign = [
        twin.metric(_slots(carrier, SRSConfig(n_srs_id=g, c_srs=c_srs, k_tc=k_tc))).max()
        for g in range(1, 30)  # n_srs_id mod 30 is the sequence group without hopping
    ]
    # why the floor is needed: some foreign group clears the noise threshold by itself ...
    assert max(foreign) > twin.eta_acq
    # ... and the floor keeps at least a factor 1.5 above the worst one
    assert max(foreign) < floor / 1.5, (max(foreign) * ours.num_subcarriers, floor)


def test_block_rejects_a_foreign_ue_and_keeps_its_own():
    """The C++ block with the floor: no tag for another UE's SRS at 30 dB, every slot of ours."""
    from gnuradio import blocks, gr, srsaoa

    carrier = CarrierConfig(subcarrier_spacing=30, n_size_grid=51)
    rng = np.random.default_rng(3)
    tags = {}
    for ue_id in (100, 7):
        x = _slots(carrier, SRSConfig(n_srs_id=ue_id), n=6, m=4)
        x = x + 10 ** (-30 / 20) * (
            rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
        )
        tb = gr.top_block()
        sync = srsaoa.srs_sync(4, carrier.to_dict(), {"n_srs_id": 100, "c_srs": 12})
        sinks = []
        for m in range(4):
            src = blocks.vector_source_c(x[m].astype(np.complex64).tolist(), False)
            snk = blocks.vector_sink_c()
            tb.connect(src, (sync, m), snk)
            sinks.append(snk)
        tb.run()
        tags[ue_id] = [t.offset for t in sinks[0].tags() if str(t.key) == "srs_start"]
    slot = carrier.samples_per_slot()
    assert tags[100] == [500 + i * slot for i in range(6)]
    assert tags[7] == []
