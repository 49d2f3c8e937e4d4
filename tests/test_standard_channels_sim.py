"""TR 38.901 channels in scenarios, ``sim.simulate``, ``array_channel`` and ``srsaoa simulate``:
the time-domain recording carries the draw's CFR, the truth records the LOS
direction and the clusters, the block gives the same samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import io, nr, sim
from gnuradio.srsaoa.sim import standard as S

BASE = dict(
    paths=[{"aoa_deg": 20.0}],
    channel={"model": "UMi", "los": True, "distance_m": 40.0},
    snr_db=None,
    num_slots=2,
    start_offset_samples=50,
    seed=3,
)


def _cfr(rec, start: int) -> np.ndarray:
    c = rec.carrier.advanced(0)
    grid = np.stack(
        [nr.ofdm_demodulate(c, row[start : start + c.samples_per_slot()]) for row in rec.samples]
    )
    idx = nr.srs_indices(c, rec.srs)
    h = grid[:, idx[:, 0], idx[:, 1]] / nr.srs_symbols(c, rec.srs)
    f = (idx[:, 0] - c.num_subcarriers // 2) * c.scs_hz
    return h, f


@pytest.mark.parametrize(
    "channel",
    [
        {"model": "UMi", "los": True, "distance_m": 40.0},
        {"model": "CDL-B", "delay_spread_s": 100e-9, "element_pattern": "omni"},
        {"model": "TDL-E", "delay_spread_s": 100e-9},  # last tap 2.07 us < CP
    ],
)
def test_recording_carries_the_draw(channel):
    """Noise-free LS CFR of the time-domain recording = the draw's CFR. Integer delays are
    exact; a fractional delay's Kaiser-sinc filter errs by -55 to -70 dB over the SRS band
    relative to the ray's amplitude (test_sim holds two paths to -55 dB), and the errors of
    rays at different fractional delays add in power: -50 dB rms of the channel is allowed."""
    sc = sim.Scenario.from_dict({**BASE, "channel": channel})
    rec = sim.simulate(sc)
    h, f = _cfr(rec, 50)
    draw = sc.channel_draw(sc.ula())
    spec = sc.channel
    ref = draw.cfr(sc.ula(), f, pattern=spec["element_pattern"])
    err_db = 10 * np.log10(np.mean(np.abs(ref - h) ** 2) / np.mean(np.abs(h) ** 2))
    assert err_db < -50
    t = rec.truth
    assert t["los_aoa_deg"] == pytest.approx(20.0)
    assert t["paths"][0]["aoa_deg"] == pytest.approx(20.0)
    rays = t["scatterers"][0]["rays"]
    assert len(rays) == draw.num_rays
    assert sum(10 ** (r["power_db"] / 10) for r in rays) == pytest.approx(1.0)
    assert t["scatterers"][0]["model"] == channel["model"]
    # per-RE SNR refers to the draw's total received power (1): sigma^2 = P_x / SNR
    noisy = sim.simulate(sc.copy(snr_db=10.0))
    p_x = sim.srs_re_power(sc.carrier_config(), sc.srs_config())
    assert noisy.truth["noise_variance"] == pytest.approx(p_x / 10.0)


def test_truth_round_trip_and_clusters(tmp_path):
    sc = sim.Scenario.from_dict({**BASE, "snr_db": 10.0})
    rec = sim.simulate(sc)
    path = io.write_recording(tmp_path / "umi", rec)
    back = io.read_recording(path)
    t = back.truth
    draw = sc.channel_draw(sc.ula())
    c = t["scatterers"][0]
    assert c["los"] is True and c["los_aoa_deg"] == pytest.approx(20.0)
    assert c["los_zenith_deg"] == pytest.approx(90 + np.degrees(np.arctan2(8.5, 40.0)))
    assert len(c["clusters"]) == draw.clusters["delay_s"].size == len(t["paths"]) - 1
    assert [p["delay_s"] for p in t["paths"][1:]] == pytest.approx(list(draw.clusters["delay_s"]))
    assert c["lsp"]["K"] == pytest.approx(draw.lsp["K"])


def test_redraw_per_occasion_and_doppler():
    sc = sim.Scenario.from_dict(
        {**BASE, "num_slots": 3, "channel": {"model": "CDL-C", "redraw": "occasion"}}
    )
    rec = sim.simulate(sc)
    assert len(rec.truth["scatterers"]) == 3
    ph = [d["rays"][5]["phase_rad"] for d in rec.truth["scatterers"]]
    assert len(set(ph)) == 3
    # UE motion: the LOS ray of TDL-D turns by 2 pi f_D t between SRS slots
    moving = {"model": "TDL-D", "ue_speed_mps": 30.0, "ue_direction_deg": 20.0 + 180.0}
    sc2 = sim.Scenario.from_dict({**BASE, "num_slots": 2, "channel": moving})
    rec2 = sim.simulate(sc2)
    h0, _ = _cfr(rec2, 50)
    h1, _ = _cfr(rec2, 50 + rec2.carrier.samples_per_slot())
    still = sim.simulate(sc2.copy(channel={"model": "TDL-D"}))
    s0, _ = _cfr(still, 50)
    s1, _ = _cfr(still, 50 + still.carrier.samples_per_slot())
    assert np.allclose(s0, s1, atol=1e-4)
    assert not np.allclose(h0, h1, atol=1e-2)


def test_scenario_errors():
    for change, msg in (
        ({"rician": {"k_factor_db": 3}}, "replaces paths"),
        ({"paths": [{"aoa_deg": 0}, {"aoa_deg": 5}]}, "replaces paths"),
        (
            {
                "channel": {"model": "UMi", "los": True, "distance_m": 3.0},
                "paths": [{"aoa_deg": 85}],
            },
            "cannot appear",
        ),
        ({"channel": {"model": "UMi", "colour": 1}}, "unknown keys"),
        ({"trajectory": {"rate_deg_per_s": 1.0}}, "trajectory"),
    ):
        with pytest.raises(sim.ScenarioError, match=msg):
            sim.Scenario.from_dict({**BASE, **change})


def test_array_channel_block_reproduces_the_simulator():
    sc = sim.Scenario.from_dict({**BASE, "snr_db": 12.0, "channel": {"model": "CDL-D"}})
    rec = sim.simulate(sc)
    blk = srsaoa.array_channel.from_scenario(sc)
    x = np.concatenate([sim.transmit_stream(sc), np.zeros(blk.latency(), np.complex64)])
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist(), False)
    sinks = [blocks.vector_sink_c() for _ in range(4)]
    tb.connect(src, blk)
    for m, s in enumerate(sinks):
        tb.connect((blk, m), s)
    blk.set_max_noutput_items(999)
    tb.run()
    y = np.array([s.data() for s in sinks], dtype=np.complex64)
    assert np.allclose(y, rec.samples, rtol=0, atol=1e-5)
    # a model name or a JSON object is accepted as well; bad ones are refused
    srsaoa.array_channel(channel="UMa", aoa_deg=10.0)
    srsaoa.array_channel(channel=json.dumps({"model": "InH", "los": True}), aoa_deg=-5.0)
    with pytest.raises(ValueError, match="channel.model"):
        srsaoa.array_channel(channel="UMx")
    with pytest.raises(ValueError, match="not both"):
        srsaoa.array_channel(channel="UMi", extra_paths=[(5.0, 1e-7, -3.0, 0.0)])


def test_srsaoa_simulate_channel_option(tmp_path, capsys):
    from gnuradio.srsaoa import cli

    sc = tmp_path / "s.yaml"
    sc.write_text("paths: [{aoa_deg: -12}]\nnum_slots: 2\nsnr_db: 15\n")
    assert (
        cli.main(
            ["simulate", "--scenario", str(sc), "--channel", "RMa", "--out", str(tmp_path / "r")]
        )
        == 0
    )
    assert "RMa channel" in capsys.readouterr().out
    rec = io.read_recording(tmp_path / "r.sigmf-collection")
    assert rec.truth["scatterers"][0]["model"] == "RMa"
    assert rec.truth["los_aoa_deg"] == pytest.approx(-12.0)
    arg = json.dumps({"model": "InF", "los": True, "subscenario": "SH", "distance_m": 30})
    assert (
        cli.main(
            ["simulate", "--scenario", str(sc), "--channel", arg, "--out", str(tmp_path / "f")]
        )
        == 0
    )


def test_ula_convention_with_elevation():
    """sin(AoA_ula) = cos(elevation) sin(azimuth): a UMi UE 10 m away below a 10 m mast is
    42 deg below the horizon, so a 60 deg cone angle needs a wider azimuth."""
    d = S.stochastic_draw("UMi", np.random.default_rng(0), 40.0, distance_m=10.0, los=True)
    el = np.degrees(np.arctan2(8.5, 10.0))
    assert np.sin(np.radians(40.0)) == pytest.approx(
        np.cos(np.radians(el)) * np.sin(np.radians(d.los_azimuth_deg))
    )


def test_impaired_array_cfr_matches_the_recording():
    """The draw's CFR through an impaired manifold (profile.manifold per ray) equals the
    time-domain recording of the same scenario with impairments: default. With mutual
    coupling every ray is realised as M coupled terms, each with its own fractional-delay
    filter (docs/simulator.md); their errors add in power, 10 log10(4) = 6 dB above the
    ideal array's -50 dB budget: -44 dB."""
    sc = sim.Scenario.from_dict({**BASE, "channel": {"model": "CDL-D"}, "impairments": "default"})
    rec = sim.simulate(sc)
    h, f = _cfr(rec, 50)
    ref = sc.channel_draw(sc.ula()).cfr(sc.ula(), f, profile=sc.profile())
    err_db = 10 * np.log10(np.mean(np.abs(ref - h) ** 2) / np.mean(np.abs(h) ** 2))
    assert err_db < -44
