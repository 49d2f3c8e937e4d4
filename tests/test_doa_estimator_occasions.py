"""doa_estimator(occasions=N): the CFRs of N consecutive SRS occasions stacked along the
symbol axis into one estimate (the CFR-input counterpart of covariance_accumulator), and
``srsaoa run --occasions N`` for the CFR methods."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_cfr_pdu, parse_pdu
from msg_tools import post, post_done, run_until_done

SCS = 30e3
SUB = np.arange(0, 2 * 153, 2)  # comb-2 grid indices: 153 SRS columns
FREQS = SUB * SCS
ROOT = Path(__file__).resolve().parent.parent
REC = ROOT / "tests" / "data" / "recordings" / "los_23deg_10db.sigmf-collection"


def _cfr(rng, theta=17.0, snr_db=5.0, m=4, s=4, k=SUB.size):
    a = np.exp(1j * np.pi * np.arange(m) * np.sin(np.deg2rad(theta)))
    f = FREQS[:k]
    h = np.exp(2j * np.pi * rng.uniform()) * a[:, None, None] * np.exp(-2j * np.pi * f * 40e-9)
    h = np.broadcast_to(h, (m, s, k)) * np.exp(2j * np.pi * rng.uniform(size=(1, s, 1)))
    sigma = 10 ** (-snr_db / 20)
    h = h + sigma * (rng.standard_normal((m, s, k)) + 1j * rng.standard_normal((m, s, k))) / 2**0.5
    return h.astype(np.complex64)


def _meta(i, k=SUB.size):
    return {
        K.SRS_OCCASION: i,
        K.SAMPLE_INDEX: 1000 * i,
        K.SUBCARRIERS: SUB[:k].astype(np.int32),
        K.SCS_HZ: SCS,
    }


def _run_with_skips(blk, msgs):
    """(estimate metas, skip notice metas) of ``blk`` fed ``msgs`` on its cfr port."""
    tb = gr.top_block()
    est, skip = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(blk, K.PORT_ESTIMATE, est, "store")
    tb.msg_connect(blk, K.PORT_SKIPPED, skip, "store")
    for m in msgs:
        post(blk, K.PORT_CFR, m)
    post_done(blk)
    tb.run()
    metas = [parse_pdu(est.get_message(i))[0] for i in range(est.num_messages())]
    skips = [parse_pdu(skip.get_message(i))[0] for i in range(skip.num_messages())]
    return metas, skips


@pytest.mark.parametrize("method", ["2d-esprit", "music"])
def test_stacked_occasions_equal_one_estimate_on_the_stacked_cfr(method):
    """Eight CFRs with occasions=4: two estimates, each exactly the block's estimate (with
    occasions=1) of the four CFRs concatenated along the symbol axis, with the last
    occasion's index and meta ``occasions`` = 4; the six held CFRs are announced as
    "accumulated" skips, so a result sink acknowledges every occasion."""
    rng = np.random.default_rng(21)
    hs = [_cfr(rng) for _ in range(8)]
    msgs = [make_cfr_pdu(h, _meta(i)) for i, h in enumerate(hs)]
    out, skips = _run_with_skips(srsaoa.doa_estimator(method, 0.5, 1, occasions=4), msgs)
    assert len(out) == 2 and len(skips) == 6
    assert all(str(s[K.SKIPPED]) == "accumulated" for s in skips)
    assert [int(s[K.SRS_OCCASION]) for s in skips] == [0, 1, 2, 4, 5, 6]
    for j, m in enumerate(out):
        stacked = np.concatenate(hs[4 * j : 4 * j + 4], axis=1)
        meta = {**_meta(4 * j + 3)}
        (want,) = run_until_done(
            srsaoa.doa_estimator(method, 0.5, 1), [make_cfr_pdu(stacked, meta)]
        )
        assert int(m[K.SRS_OCCASION]) == 4 * j + 3
        assert int(m[K.OCCASIONS]) == 4
        assert K.OCCASIONS not in want
        np.testing.assert_array_equal(np.asarray(m[K.AOA_DEG]), np.asarray(want[K.AOA_DEG]))


def test_stacking_lowers_the_bound_and_the_error():
    """16 occasions per estimate at -5 dB per RE: 16 times the snapshots, so the reported
    sqrt(CRB) is a quarter of one occasion's, and the 2D-ESPRIT RMSE over 12 estimates is
    within 3 x that bound and under half the RMSE of 12 single-occasion estimates."""
    rng = np.random.default_rng(22)
    theta = 17.0
    hs = [_cfr(rng, theta, snr_db=-5.0) for _ in range(16 * 12)]
    msgs = [make_cfr_pdu(h, _meta(i)) for i, h in enumerate(hs)]
    stacked = run_until_done(srsaoa.doa_estimator("2d-esprit", 0.5, 1, occasions=16), msgs)
    single = run_until_done(srsaoa.doa_estimator("2d-esprit", 0.5, 1), msgs[:12])
    assert len(stacked) == 12
    crb16 = np.median([float(np.asarray(m[K.CRB_DEG])[0]) for m in stacked])
    crb1 = np.median([float(np.asarray(m[K.CRB_DEG])[0]) for m in single])
    assert crb16 == pytest.approx(crb1 / 4, rel=0.2)
    err16 = np.sqrt(np.mean([(float(np.asarray(m[K.AOA_DEG])[0]) - theta) ** 2 for m in stacked]))
    err1 = np.sqrt(np.mean([(float(np.asarray(m[K.AOA_DEG])[0]) - theta) ** 2 for m in single]))
    assert err16 < 3 * crb16
    assert err16 < err1 / 2


def test_a_cfr_of_another_band_starts_a_new_stack():
    """Three CFRs, then one with fewer subcarriers (another SRS bandwidth), then three
    more of that band, occasions=3: the first three make an estimate, the odd one starts
    a stack that the next two complete; the last is held (announced)."""
    rng = np.random.default_rng(23)
    msgs = [make_cfr_pdu(_cfr(rng), _meta(i)) for i in range(3)]
    msgs += [make_cfr_pdu(_cfr(rng, k=100), _meta(3 + i, 100)) for i in range(4)]
    out, skips = _run_with_skips(srsaoa.doa_estimator("2d-esprit", 0.5, 1, occasions=3), msgs)
    assert [int(m[K.SRS_OCCASION]) for m in out] == [2, 5]
    assert [int(s[K.SRS_OCCASION]) for s in skips] == [0, 1, 3, 4, 6]


@pytest.mark.parametrize("bad", [0, -1, 257, 2.5, True])
def test_occasions_are_validated(bad):
    with pytest.raises(ValueError, match="occasions"):
        srsaoa.doa_estimator("2d-esprit", 0.5, 0, occasions=bad)
    blk = srsaoa.doa_estimator("2d-esprit", 0.5, 0)
    with pytest.raises(ValueError, match="occasions"):
        blk.set_occasions(bad)


def test_skip_notices_from_upstream_pass_through_a_stack():
    """An upstream stage's skip notice goes on at once, in order, and does not count as
    an occasion of the stack."""
    rng = np.random.default_rng(24)
    notice = pmt.cons(
        pmt.dict_add(pmt.make_dict(), pmt.intern(K.SKIPPED), pmt.intern("no SRS")),
        pmt.init_c32vector(0, []),
    )
    msgs = [make_cfr_pdu(_cfr(rng), _meta(0)), notice, make_cfr_pdu(_cfr(rng), _meta(1))]
    out, skips = _run_with_skips(srsaoa.doa_estimator("2d-esprit", 0.5, 1, occasions=2), msgs)
    assert len(out) == 1 and int(out[0][K.OCCASIONS]) == 2
    assert [str(s[K.SKIPPED]) for s in skips] == ["accumulated", "no SRS"]


def _srsaoa(*args):
    exe = Path(sys.executable).parent / "srsaoa"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


def test_run_stacks_occasions_for_2d_esprit(tmp_path):
    """``srsaoa run --method 2d-esprit --occasions 5`` on the 10-occasion reference
    recording: two estimate lines, each saying it combined 5 occasions, the run ends (flow
    control counts the held occasions as done) and the angle is the recording's 23 deg."""
    out = tmp_path / "r.jsonl"
    proc = _srsaoa(
        "run", "--input", str(REC), "--method", "2d-esprit", "--occasions", "5", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert len(recs) == 2
    for r in recs:
        assert r["occasions"] == 5 and r["method"] == "2d-esprit"
        assert abs(r["aoa_deg"][r.get("los_index", 0)] - 23.0) < 1.0


def test_run_refuses_too_many_stacked_occasions(tmp_path):
    proc = _srsaoa(
        "run", "--input", str(REC), "--method", "2d-esprit", "--occasions", "300", "--out", "-"
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "at most 256" in proc.stderr
