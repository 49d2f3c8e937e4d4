"""Positioning math: frame, solvers, CRB, tracker, epochs; known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gnuradio.srsaoa.errors import SrsaoaError
from gnuradio.srsaoa.position import (
    AOA,
    RANGE,
    Anchor,
    EpochAssembler,
    Measurement,
    PositionTracker,
    anchors_from_dict,
    aoa_deg,
    assemble,
    error_cdf,
    error_ellipse,
    error_quantile,
    position_crb,
    range_m,
    read_anchors,
    single_anchor,
    solve,
)
from scipy.stats import chi2


def test_frame_convention():
    a = Anchor("a", [0, 0, 0], 0.0)
    assert aoa_deg(a, [10, 0]) == pytest.approx(0.0, abs=1e-12)
    assert aoa_deg(a, [10, 10]) == pytest.approx(45.0)  # element index grows towards +y
    assert aoa_deg(a, [10, -10]) == pytest.approx(-45.0)
    b = Anchor("b", [0, 0, 0], 90.0)  # broadside +y, array axis towards -x
    assert aoa_deg(b, [0, 10]) == pytest.approx(0.0, abs=1e-12)
    assert aoa_deg(b, [-10, 10]) == pytest.approx(45.0)
    # world azimuth = yaw + AoA in the horizontal plane
    c = Anchor("c", [1, 2, 0], 30.0)
    az = math.radians(30.0 + 20.0)
    assert aoa_deg(c, [1 + 7 * math.cos(az), 2 + 7 * math.sin(az)]) == pytest.approx(20.0)
    # height: the cone angle, sin(AoA) = (d . u) / |d|, smaller than the azimuth offset
    h = Anchor("h", [0, 0, 3], 0.0)
    assert aoa_deg(h, [4, 3]) == pytest.approx(math.degrees(math.asin(3 / math.sqrt(34))))
    assert range_m(h, [4, 3], ue_height_m=0.0) == pytest.approx(math.sqrt(34))


def test_single_anchor_known_answer():
    a = Anchor("a", [0, 0, 0], 0.0)
    r, s_t, s_r = 20.0, 0.5, 0.1
    fix = single_anchor(a, 0.0, s_t, r, s_r)
    np.testing.assert_allclose(fix.xy, [r, 0.0], atol=1e-12)
    # cov = diag(sigma_r^2, (r sigma_theta)^2) at broadside
    np.testing.assert_allclose(
        fix.cov, np.diag([s_r**2, (r * math.radians(s_t)) ** 2]), rtol=1e-9, atol=1e-15
    )
    assert fix.to_record()["method"] == "aoa+range" and fix.anchors == ["a"]


@pytest.mark.parametrize("height", [0.0, 6.0])
def test_single_anchor_inverts_the_model(height):
    a = Anchor("a", [3, -2, height], 120.0)
    for p in ([-10.0, 15.0], [0.0, 30.0], [-30.0, 2.0]):
        fix = single_anchor(a, aoa_deg(a, p, 1.5), 1.0, range_m(a, p, 1.5), 0.1, ue_height_m=1.5)
        np.testing.assert_allclose(fix.xy, p, atol=1e-9)
        crb = position_crb([a], p, 1.0, 0.1, ue_height_m=1.5)
        np.testing.assert_allclose(fix.cov, crb, rtol=1e-6)


def _three():
    return [
        Anchor("a", [0, 0, 0], 45.0),
        Anchor("b", [20, 0, 0], 135.0),
        Anchor("c", [10, 25, 0], -90.0),
    ]


def test_triangulation_known_answer():
    a, b = _three()[:2]
    p = np.array([10.0, 10.0])
    s = 0.5
    ms = [Measurement(AOA, x, aoa_deg(x, p), s) for x in (a, b)]
    fix = solve(ms)
    np.testing.assert_allclose(fix.xy, p, atol=1e-8)
    # perpendicular bearings at distance d: cov = (d sigma)^2 I
    d = math.hypot(10, 10)
    np.testing.assert_allclose(
        fix.cov, (d * math.radians(s)) ** 2 * np.eye(2), rtol=1e-6, atol=1e-12
    )
    np.testing.assert_allclose(fix.cov, position_crb([a, b], p, s), rtol=1e-9, atol=1e-15)
    assert fix.method == "aoa"


def test_wls_is_efficient_monte_carlo(rng):
    """Mean Mahalanobis error against the CRB is 2 (chi-square, 2 dof) for small noise."""
    anchors = _three()
    p = np.array([8.0, 11.0])
    s_aoa = {"a": 0.3, "b": 0.5, "c": 0.4}
    crb = position_crb(anchors, p, s_aoa, {"a": 0.1}, ue_height_m=0.0)
    n = 2000
    maha = np.empty(n)
    for i in range(n):
        ms = [
            Measurement(
                AOA, x, aoa_deg(x, p) + s_aoa[x.name] * rng.standard_normal(), s_aoa[x.name]
            )
            for x in anchors
        ]
        ms.append(Measurement(RANGE, anchors[0], range_m(anchors[0], p) + 0.1 * rng.normal(), 0.1))
        fix = solve(ms, outlier_alpha=None)
        e = fix.xy - p
        maha[i] = e @ np.linalg.solve(crb, e)
    # mean of chi2(2) over n trials: 2 +- 2/sqrt(n); 5 standard deviations
    assert abs(maha.mean() - 2.0) < 5 * 2 / math.sqrt(n)


def test_outlier_rejection():
    anchors = [*_three(), Anchor("d", [-5, 20, 0], -30.0)]
    p = np.array([9.0, 12.0])
    ms = [Measurement(AOA, x, aoa_deg(x, p), 0.5) for x in anchors]
    bad = Measurement(AOA, anchors[2], ms[2].value + 15.0, 0.5)
    ms[2] = bad
    fix = solve(ms)
    assert fix.rejected == [bad]
    assert "c" not in fix.anchors
    np.testing.assert_allclose(fix.xy, p, atol=1e-6)
    without = solve(ms, outlier_alpha=None)
    assert np.linalg.norm(without.xy - p) > 0.5


def test_unobservable_gives_none():
    a = Anchor("a", [0, 0, 0], 0.0)
    assert solve([Measurement(AOA, a, 10.0, 1.0)]) is None
    assert solve([]) is None


def test_error_ellipse_and_quantiles():
    cov = np.array([[4.0, 0.0], [0.0, 1.0]])
    major, minor, angle = error_ellipse(cov, 0.95)
    k = math.sqrt(chi2.ppf(0.95, 2))
    assert major == pytest.approx(2 * k) and minor == pytest.approx(k)
    assert abs(angle) == pytest.approx(0.0, abs=1e-9) or abs(angle) == pytest.approx(180.0)
    rot = error_ellipse([[1.0, 0.9], [0.9, 1.0]], 0.5)
    assert rot[2] % 180 == pytest.approx(45.0)
    # isotropic: |e| is Rayleigh, P(|e| <= r) = 1 - exp(-r^2 / (2 s^2))
    s2 = 0.25
    assert error_cdf(0.7, s2 * np.eye(2)) == pytest.approx(1 - math.exp(-0.49 / (2 * s2)))
    q80 = error_quantile(0.8, s2 * np.eye(2))
    assert q80 == pytest.approx(math.sqrt(-2 * s2 * math.log(0.2)), rel=1e-6)
    # a 1-D error (one tiny eigenvalue): quantile of |N(0, 4)|
    assert error_quantile(0.8, [[4.0, 0], [0, 1e-12]]) == pytest.approx(2 * 1.2815515655, 1e-4)


def test_tracker_beats_snapshots_on_straight_walk(rng):
    anchors = _three()
    tracker = PositionTracker(q_m2_s3=0.05)
    dt, v = 0.1, np.array([1.2, 0.5])
    err_snap, err_trk = [], []
    for k in range(300):
        t = k * dt
        p = np.array([4.0, 6.0]) + v * t
        ms = [
            Measurement(AOA, x, aoa_deg(x, p) + 0.5 * rng.standard_normal(), 0.5, t)
            for x in anchors
        ]
        snap = solve(ms, t_s=t)
        fix = tracker.update(ms, t)
        if k >= 50:
            err_snap.append(np.linalg.norm(snap.xy - p))
            err_trk.append(np.linalg.norm(fix.xy - p))
    assert np.percentile(err_trk, 80) < 0.5 * np.percentile(err_snap, 80)
    np.testing.assert_allclose(tracker.velocity, v, atol=0.2)


def test_tracker_gates_outliers(rng):
    a = Anchor("a", [0, 0, 0], 0.0)
    tr = PositionTracker(q_m2_s3=0.1)
    p = np.array([20.0, 3.0])
    for k in range(20):
        t = 0.1 * k
        ms = [
            Measurement(AOA, a, aoa_deg(a, p) + 0.2 * rng.standard_normal(), 0.2, t),
            Measurement(RANGE, a, range_m(a, p) + 0.1 * rng.standard_normal(), 0.1, t),
        ]
        fix = tr.update(ms, t)
    bad = Measurement(AOA, a, aoa_deg(a, p) + 30.0, 0.2, 2.0)
    fix = tr.update([bad, Measurement(RANGE, a, range_m(a, p), 0.1, 2.0)], 2.0)
    assert fix.rejected == [bad]
    assert np.linalg.norm(fix.xy - p) < 0.3


def test_epoch_assembler_streaming_equals_batch(rng):
    anchors = _three()
    t_occ = np.arange(40) * 0.005
    est = []
    for x in anchors:
        for t in t_occ:
            est.append(Measurement(AOA, x, 5.0, 0.5, float(t + 1e-5 * rng.standard_normal())))
    ranges = [Measurement(RANGE, anchors[0], 10.0, 0.1, float(t + 0.001)) for t in t_occ[::2]]
    batch = assemble(est, ranges, 0.005)
    assert len(batch) == t_occ.size
    assert all(len([m for m in e.measurements if m.kind == AOA]) == 3 for e in batch)
    # streaming: anchor c runs 5 epochs behind the others
    asm = EpochAssembler(0.005, expected=["a", "b", "c"], max_lag_s=1.0)
    for r in ranges:
        asm.add_range(r)
    order = sorted(est, key=lambda m: m.t_s + (0.025 if m.anchor.name == "c" else 0.0))
    stream = []
    for m in order:
        stream.extend(asm.add_estimate(m))
    stream.extend(asm.flush())
    assert [e.t_s for e in stream] == pytest.approx([e.t_s for e in batch])
    for s, b in zip(stream, batch, strict=True):
        assert sorted((m.anchor.name, m.kind, m.t_s) for m in s.measurements) == sorted(
            (m.anchor.name, m.kind, m.t_s) for m in b.measurements
        )


def test_epoch_assembler_does_not_wait_for_a_dead_anchor():
    a, b, c = _three()
    asm = EpochAssembler(0.01, expected=["a", "b", "c"], max_lag_s=0.05)
    out = []
    for k in range(20):
        out += asm.add_estimate(Measurement(AOA, a, 0.0, 1.0, 0.01 * k))
        out += asm.add_estimate(Measurement(AOA, b, 0.0, 1.0, 0.01 * k))
    assert len(out) >= 14  # all but the last max_lag bins


def test_anchor_yaml_errors(tmp_path):
    good = tmp_path / "a.yaml"
    good.write_text("anchors:\n- {name: gnb1, position_m: [0, 0, 3], yaw_deg: 90}\n")
    (a,) = read_anchors(good)
    assert a.name == "gnb1" and a.position_m == (0.0, 0.0, 3.0) and a.yaw_deg == 90.0
    cases = {
        "anchors: [\n": "not valid YAML",
        "foo: 1\n": "anchors",
        "anchors: []\n": "non-empty",
        "anchors:\n- {name: x, position_m: [0, 0], yaw_deg: 0}\n": "position_m",
        "anchors:\n- {name: x, position_m: [0, .nan, 0], yaw_deg: 0}\n": "finite",
        "anchors:\n- {name: x, position_m: [0, 0, 0]}\n": "yaw_deg",
        "anchors:\n- {name: x, position_m: [0, 0, 0], yaw_deg: 0}\n"
        "- {name: x, position_m: [1, 0, 0], yaw_deg: 0}\n": "duplicate",
        "anchors:\n- {name: x, position_m: [0, 0, 0], yaw_deg: 0, z: 1}\n": "unknown keys",
    }
    for text, needle in cases.items():
        p = tmp_path / "bad.yaml"
        p.write_text(text)
        with pytest.raises(SrsaoaError, match=needle):
            read_anchors(p)
    with pytest.raises(SrsaoaError, match="cannot read"):
        read_anchors(tmp_path / "missing.yaml")
    with pytest.raises(SrsaoaError):
        anchors_from_dict({"anchors": [{"name": "", "position_m": [0, 0, 0], "yaw_deg": 0}]})


def test_tracker_restarts_after_a_jump(rng):
    anchors = _three()
    tr = PositionTracker(q_m2_s3=0.1)
    for k in range(30):
        t = 0.1 * k
        p = np.array([8.0, 10.0]) if k < 15 else np.array([14.0, 6.0])
        ms = [
            Measurement(AOA, x, aoa_deg(x, p) + 0.3 * rng.standard_normal(), 0.3, t)
            for x in anchors
        ]
        fix = tr.update(ms, t)
    assert tr.restarts == 1
    assert np.linalg.norm(fix.xy - p) < 0.5
