"""srs_source with several SRS resources (several UEs; docs/multi_ue.md).

Each resource's stream is the single-resource math (nr.srs_slot_waveform in its SRS slots,
zeros elsewhere) times its scale; summed, the outputs are the sum of those. The block adds
float32 products of complex64 samples: we allow 1e-6 of the peak.
"""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import nr

CARRIER = nr.CarrierConfig(n_size_grid=24, n_frame=1023, n_slot=18)
RESOURCES = [
    # one comb, two sequence IDs, every 2nd slot (offsets 0 and 1)
    {"id": "ue1", "srs": {"c_srs": 3, "srs_period": [2, 0]}, "scale": 0.5},
    {"id": "ue2", "srs": {"c_srs": 3, "n_srs_id": 7, "srs_period": [2, 1]}},
    # comb 4 offset 1, group hopping, every 5th slot
    {
        "id": "ue3",
        "srs": {
            "c_srs": 3,
            "k_tc": 4,
            "k_bar_tc": 1,
            "group_seq_hopping": "groupHopping",
            "srs_period": [5, 3],
        },
        "scale": 2.0,
    },
]
SLOTS = 7  # crosses the frame wrap 1023 -> 0


def expected(carrier, srs, num_slots, scale=1.0):
    parts, starts, pos = [], [], 0
    for t in range(num_slots):
        c = carrier.advanced(t)
        n = c.samples_per_slot()
        if srs.is_srs_slot(c):
            parts.append(nr.srs_slot_waveform(c, srs).reshape(n, -1)[:, 0] * scale)
            starts.append(pos)
        else:
            parts.append(np.zeros(n, np.complex64))
        pos += n
    return np.concatenate(parts), starts


def run(src, total, outputs):
    tb = gr.top_block()
    sinks = []
    for p in range(outputs):
        head = blocks.head(gr.sizeof_gr_complex, total)
        sink = blocks.vector_sink_c()
        tb.connect((src, p), head, sink)
        sinks.append(sink)
    tb.run()
    out = np.stack([np.array(s.data(), dtype=np.complex64) for s in sinks])
    return out, [s.tags() for s in sinks]


def srs_tags(tags):
    got = [t for t in tags if pmt.symbol_to_string(t.key) == "srs_start"]
    return [(t.offset, pmt.to_python(t.value)) for t in got]


def _each():
    return [
        expected(CARRIER, nr.SRSConfig.from_dict(r["srs"]), SLOTS, r.get("scale", 1.0))
        for r in RESOURCES
    ]


def test_summed_resources():
    each = _each()
    want = sum(w for w, _ in each)
    src = srsaoa.srs_source.from_configs(CARRIER, resources=RESOURCES, scale=0.25)
    out, tags = run(src, want.size, 1)
    np.testing.assert_allclose(out[0], 0.25 * want, rtol=0, atol=1e-6 * np.abs(want).max())
    got = srs_tags(tags[0])
    for r, (_, starts) in zip(RESOURCES, each):
        mine = [(off, v) for off, v in got if v["resource"] == r["id"]]
        assert [off for off, _ in mine] == starts
        assert [v["occasion"] for _, v in mine] == list(range(len(starts)))
    assert len(got) == sum(len(s) for _, s in each)
    # every resource sounded at least twice in 7 slots (ue3's offset 3 of 5: slots 18, 3)
    assert all(len(s) >= 2 for _, s in each)


def test_separate_outputs():
    each = _each()
    src = srsaoa.srs_source.from_configs(CARRIER, resources=RESOURCES, separate_outputs=True)
    out, tags = run(src, each[0][0].size, len(RESOURCES))
    for i, (r, (w, starts)) in enumerate(zip(RESOURCES, each)):
        np.testing.assert_allclose(out[i], w, rtol=0, atol=1e-6 * np.abs(w).max())
        got = srs_tags(tags[i])
        assert [off for off, _ in got] == starts
        assert {v["resource"] for _, v in got} == {r["id"]}


def test_single_resource_unchanged():
    """Without resources the block is the single UE of its SRS fields (no 'resource' in
    the tags)."""
    srs = nr.SRSConfig(c_srs=3, srs_period=(2, 1))
    want, starts = expected(CARRIER, srs, SLOTS)
    out, tags = run(srsaoa.srs_source.from_configs(CARRIER, srs), want.size, 1)
    np.testing.assert_allclose(out[0], want, rtol=0, atol=1e-6 * np.abs(want).max())
    got = srs_tags(tags[0])
    assert [off for off, _ in got] == starts and all("resource" not in v for _, v in got)


@pytest.mark.parametrize(
    "resources, kw, match",
    [
        ([{"id": "a", "srs": {}}, {"id": "a", "srs": {}}], {}, "repeats"),
        ([{"id": "a", "srs": {"k_tc": 3}}], {}, "resources\\[0\\]"),
        ([{"id": "a", "scale": "loud"}], {}, "scale"),
        ([{"id": "a", "srs": {"c_srs": 40}}], {}, "\\(a\\): SRS does not fit"),
        (
            [{"id": "a", "srs": {"c_srs": 3, "num_srs_ports": 2}}],
            {"separate_outputs": True},
            "single-port",
        ),
    ],
)
def test_bad_resources(resources, kw, match):
    with pytest.raises(ValueError, match=match):
        srsaoa.srs_source.from_configs(CARRIER, resources=resources, **kw)


def _grc(tmp_path, separate):
    """A flowgraph: srs_source with two resources -> head -> vector sink per output."""
    import yaml

    st = {"coordinate": [8, 8], "rotation": 0, "state": "enabled"}
    res = [
        {"id": "ue1", "srs": {"c_srs": 3}},
        {"id": "ue2", "srs": {"c_srs": 3, "n_srs_id": 7}, "scale": 0.5},
    ]
    n_out = 2 if separate else 1
    blocks_ = [
        {
            "name": "src",
            "id": "srsaoa_srs_source",
            "parameters": {
                "n_size_grid": "24",
                "resources": repr(res),
                "separate_outputs": str(separate),
            },
            "states": st,
        }
    ]
    conns = []
    for i in range(n_out):
        blocks_ += [
            {
                "name": f"head{i}",
                "id": "blocks_head",
                "parameters": {"type": "complex", "num_items": "15360", "vlen": "1"},
                "states": st,
            },
            {
                "name": f"sink{i}",
                "id": "blocks_vector_sink_x",
                "parameters": {"type": "complex", "vlen": "1", "reserve_items": "1024"},
                "states": st,
            },
        ]
        conns += [["src", str(i), f"head{i}", "0"], [f"head{i}", "0", f"sink{i}", "0"]]
    doc = {
        "options": {
            "parameters": {"id": "two_ue_source", "generate_options": "no_gui"},
            "states": st,
        },
        "blocks": blocks_,
        "connections": conns,
        "metadata": {"file_format": 1},
    }
    path = tmp_path / "two_ue_source.grc"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("separate", [False, True])
def test_grc_block_several_resources(tmp_path, separate):
    """The GRC block: the resource list and the outputs' multiplicity compile and run."""
    import importlib.util
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from grc_tools import compile_grc

    py = compile_grc([_grc(tmp_path, separate)], tmp_path)["two_ue_source"]
    spec = importlib.util.spec_from_file_location("two_ue_source", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tb = mod.two_ue_source()
    tb.run()
    c = nr.CarrierConfig(n_size_grid=24)
    w1 = nr.srs_slot_waveform(c, nr.SRSConfig(c_srs=3)).ravel()
    w2 = 0.5 * nr.srs_slot_waveform(c, nr.SRSConfig(c_srs=3, n_srs_id=7)).ravel()
    want = [w1, w2] if separate else [w1 + w2]
    for i, w in enumerate(want):
        w = np.tile(w, 2)  # two slots (SRS in every slot)
        got = np.array(getattr(tb, f"sink{i}").data(), np.complex64)
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-6 * np.abs(w).max())
