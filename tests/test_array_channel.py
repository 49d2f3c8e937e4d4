"""array_channel block: in a real flowgraph it produces the same samples as the
offline simulator for the same seed and scenario, also with small chunks."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import sim

SCENARIO = dict(
    paths=[
        {"aoa_deg": 25.0, "phase_rad": 0.7},
        {"aoa_deg": -33.0, "delay_s": 81.4e-9, "power_db": -4.0, "phase_rad": 2.1},
    ],
    impairments="default",
    snr_db=15.0,
    cfo_hz=900.0,
    num_slots=3,
    start_offset_samples=300,
    srs={"c_srs": 12, "n_srs_id": 7},
    seed=5,
)


def _run(blk, x, max_items=None, tags=()):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist(), False, 1, list(tags))
    sinks = [blocks.vector_sink_c() for _ in range(4)]
    tb.connect(src, blk)
    for m, s in enumerate(sinks):
        tb.connect((blk, m), s)
    if max_items is not None:  # small work calls: the block sees the stream in chunks
        blk.set_max_noutput_items(max_items)
    tb.run()
    return np.array([s.data() for s in sinks], dtype=np.complex64), sinks


@pytest.mark.parametrize("max_items", [None, 777])
def test_same_samples_as_the_offline_simulator(max_items):
    sc = sim.Scenario.from_dict(SCENARIO)
    rec = sim.simulate(sc)
    blk = srsaoa.array_channel.from_scenario(sc)
    calls = []  # observe the work-call sizes (the model itself is untouched)
    process = blk._chan.process
    blk._chan.process = lambda chunk: calls.append(len(chunk)) or process(chunk)
    tx = sim.transmit_stream(sc)
    x = np.concatenate([tx, np.zeros(blk.latency(), np.complex64)])  # flush the delay line
    y, _ = _run(blk, x, max_items)
    if max_items is not None:
        assert len(calls) > x.size // max_items and max(calls) <= max_items
    n = rec.num_samples
    assert y.shape[1] == x.size - blk.latency() == n
    # identical arithmetic except float32 storage: |error| far below the noise (sigma ~ 0.2)
    assert np.allclose(y, rec.samples, rtol=0, atol=1e-5)


def test_run_time_setters_match_a_scenario_with_those_values():
    sc = sim.Scenario.from_dict(SCENARIO)
    blk = srsaoa.array_channel.from_scenario(sc)
    blk.set_aoa_deg(-41.5)
    blk.set_snr_db(3.0)
    blk.set_cfo_hz(-2500.0)
    paths = [dict(SCENARIO["paths"][0], aoa_deg=-41.5), SCENARIO["paths"][1]]
    sc2 = sc.copy(paths=paths, snr_db=3.0, cfo_hz=-2500.0)
    rec = sim.simulate(sc2)
    x = np.concatenate([sim.transmit_stream(sc2), np.zeros(blk.latency(), np.complex64)])
    y, _ = _run(blk, x, 1000)
    assert np.allclose(y, rec.samples, rtol=0, atol=1e-5)


def test_tags_keep_their_sample_index():
    blk = srsaoa.array_channel(aoa_deg=10.0, noise=False)
    x = np.zeros(5000, np.complex64)
    x[1234] = 1.0
    tag = gr.tag_utils.python_to_tag((1234, pmt.intern("srs_start"), pmt.PMT_T, pmt.intern("t")))
    y, sinks = _run(blk, x, 500, tags=[tag])
    for s in sinks:
        offs = [t.offset for t in s.tags() if pmt.symbol_to_string(t.key) == "srs_start"]
        assert offs == [1234]
    # the impulse comes out at the same index, scaled by the steering vector (no noise)
    a = np.exp(2j * np.pi * 0.5 * np.arange(4) * np.sin(np.radians(10.0)))
    assert np.allclose(y[:, 1234], a, atol=1e-6)
    assert np.allclose(np.delete(y, 1234, axis=1), 0, atol=1e-6)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(num_channels=1), "num_channels"),
        (dict(spacing_m=-1.0), "spacing_m"),
        (dict(snr_db=float("nan")), "snr_db"),
        (dict(rho=-0.5), "rho"),
        (dict(seed=-1), "seed"),
        (dict(extra_paths=[{"delay_s": 1e-9}]), "extra_paths"),
        (dict(aoa_deg=90.0), "aoa_deg"),
        (dict(impairments="/nonexistent/profile.json"), "impairments"),
        (dict(filter_half_length=0), "half_length"),
    ],
)
def test_constructor_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        srsaoa.array_channel(**kw)


def test_old_num_elements_keyword_still_works_with_a_deprecation_warning():
    """num_elements=, the name before num_channels (the other blocks' name), still sets the
    number of outputs, with a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match="num_elements= is deprecated, use num_channels="):
        blk = srsaoa.array_channel(num_elements=3, noise=False)
    assert blk.output_signature().max_streams() == 3
    assert srsaoa.array_channel(num_channels=3).output_signature().max_streams() == 3
    with pytest.raises(TypeError, match="not both"):
        srsaoa.array_channel(num_channels=3, num_elements=3)
