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


def _meta(i):
    return {
        K.SRS_OCCASION: i,
        K.SAMPLE_INDEX: 0,
        K.SUBCARRIERS: SUB.astype(np.int32),
        K.SCS_HZ: SCS,
    }


def test_los_edge_reads_the_earliest_path_on_its_leading_edge():
    """With ``los_edge`` the earliest path's angle is estimation.los.leading_edge_angle of
    the same CFR at the subspace estimate (the oracle); the other paths, the order and the
    delays are those without it; meta and JSON say the edge was used. A reflection 2 deg
    away arriving 60 ns later (about half the 9.2 MHz band's resolution) biases the
    subspace angle of the LOS; the edge angle is closer to the truth."""
    from gnuradio.srsaoa.estimation import los

    rng = np.random.default_rng(11)
    paths = [(10.0, 0.0, 1.0), (12.0, 60e-9, 10 ** (-3 / 20))]
    cfrs = [_cfr(rng, paths, snr_db=30.0, s=8) for _ in range(6)]
    plain = run_until_done(
        srsaoa.doa_estimator("2d-esprit", 0.5, 1),
        [make_cfr_pdu(h, _meta(i)) for i, h in enumerate(cfrs)],
    )
    blk = srsaoa.doa_estimator("2d-esprit", 0.5, 1, los_edge=True)
    edge = run_until_done(blk, [make_cfr_pdu(h, _meta(i)) for i, h in enumerate(cfrs)])
    assert len(plain) == len(edge) == 6
    err_plain, err_edge = [], []
    for h, p, e in zip(cfrs, plain, edge, strict=True):
        i = int(p[K.LOS_INDEX])
        assert int(e[K.LOS_INDEX]) == i and e[K.LOS_EDGE] is True
        a, d = float(p[K.AOA_DEG][i]), float(p[K.DELAY_S][i])
        want = los.leading_edge_angle(h.astype(complex), FREQS, a, d, 0.5)
        assert abs(float(e[K.AOA_DEG][i]) - want) < 1e-3
        np.testing.assert_allclose(e[K.DELAY_S], p[K.DELAY_S])
        err_plain.append(a - 10.0)
        err_edge.append(float(e[K.AOA_DEG][i]) - 10.0)
        assert estimate_record(e, 30.72e6)["los_edge"] is True
    assert np.sqrt(np.mean(np.square(err_edge))) < np.sqrt(np.mean(np.square(err_plain)))


def test_los_edge_keeps_the_subspace_angle_when_the_edge_is_noisy():
    """At -5 dB per RE with 4 symbols the edge's own predicted noise exceeds 0.25 deg: the
    subspace angle is kept and meta ``los_edge`` is False."""
    rng = np.random.default_rng(12)
    h = _cfr(rng, [(-20.0, 0.0, 1.0)], snr_db=-5.0)
    (p,) = run_until_done(srsaoa.doa_estimator("2d-esprit", 0.5, 1), [make_cfr_pdu(h, _meta(0))])
    (e,) = run_until_done(
        srsaoa.doa_estimator("2d-esprit", 0.5, 1, los_edge=True), [make_cfr_pdu(h, _meta(0))]
    )
    assert e[K.LOS_EDGE] is False
    np.testing.assert_array_equal(e[K.AOA_DEG], p[K.AOA_DEG])


def test_run_los_edge_flag(tmp_path):
    """`srsaoa run --los-edge` on the reference two-path recording: every 2d-esprit line
    marks its earliest path and says whether its angle came from the edge."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    rec = Path(__file__).parent / "data/recordings/two_paths_period2.sigmf-collection"
    out = tmp_path / "e.jsonl"
    srsaoa_cmd = str(Path(sys.executable).parent / "srsaoa")
    proc = subprocess.run(
        [srsaoa_cmd, "run", "-i", str(rec), "--method", "2d-esprit", "--los-edge", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines and all(isinstance(x["los_edge"], bool) and "los_index" in x for x in lines)
