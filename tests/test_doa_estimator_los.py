"""doa_estimator marks the earliest significant path (``los_index``) of estimates with delays:
positioning needs the direct path, which in a cluttered room need not be the strongest."""

from __future__ import annotations

import numpy as np
from gnuradio import srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu
from gnuradio.srsaoa.blocks.result_sink import estimate_record
from msg_tools import run_until_done

SCS = 30e3
SUB = np.arange(0, 2 * 153, 2)  # comb-2 grid indices: 153 SRS columns, 9.2 MHz
FREQS = SUB * SCS


def _cfr(rng, paths, snr_db=25.0, m=4, s=4):
    h = np.zeros((m, s, SUB.size), complex)
    for theta, tau, gain in paths:
        a = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.deg2rad(theta)))
        g = gain * np.exp(2j * np.pi * rng.uniform())
        h += g * a[:, None, None] * np.exp(-2j * np.pi * FREQS * tau)[None, None, :]
    sigma = 10 ** (-snr_db / 20)
    h += sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    return h.astype(np.complex64)


def test_earliest_path_is_marked_when_a_later_one_is_stronger():
    """The direct path at -25 deg arrives first, 3 dB weaker than a reflection at +30 deg
    200 ns later: the estimate lists the reflection first (strongest) and ``los_index``
    points at the direct path, in the PDU and in the JSON line."""
    rng = np.random.default_rng(4)
    paths = [(-25.0, 0.0, 1.0), (30.0, 200e-9, 10 ** (3 / 20))]
    meta = {K.SRS_OCCASION: 0, K.SAMPLE_INDEX: 0, K.SUBCARRIERS: SUB.astype(np.int32)}
    msgs = [
        make_cfr_pdu(_cfr(rng, paths), {**meta, K.SRS_OCCASION: i, K.SCS_HZ: SCS}) for i in range(3)
    ]
    out = run_until_done(srsaoa.doa_estimator("2d-esprit", 0.5, 2), msgs)
    assert len(out) == 3
    for m in out:
        aoa = np.asarray(m[K.AOA_DEG], float)
        assert abs(aoa[0] - 30.0) < 0.5  # strongest first
        i = int(m[K.LOS_INDEX])
        assert abs(aoa[i] + 25.0) < 0.5
        assert estimate_record(m, 30.72e6)["los_index"] == i


def test_single_path_marks_itself_and_no_delays_no_mark():
    rng = np.random.default_rng(5)
    meta = {
        K.SRS_OCCASION: 0,
        K.SAMPLE_INDEX: 0,
        K.SUBCARRIERS: SUB.astype(np.int32),
        K.SCS_HZ: SCS,
    }
    h = _cfr(rng, [(12.0, 0.0, 1.0)])
    (m,) = run_until_done(srsaoa.doa_estimator("2d-esprit", 0.5, 1), [make_cfr_pdu(h, meta)])
    assert int(m[K.LOS_INDEX]) == 0
    (m,) = run_until_done(srsaoa.doa_estimator("esprit", 0.5, 1), [make_cfr_pdu(h, meta)])
    assert K.LOS_INDEX not in m  # no delays: nothing to order by
