"""examples/gui_spectrum.grc and its aoa_series block.

- aoa_series in a flowgraph: estimate PDUs in, one float per PDU out.
- gui_spectrum.grc compiled with grcc; its generated QT top block runs offscreen on the
  simulated loopback: the spectra peak at the UE's angle, follow the angle slider, the AoA
  series stays within the Cramer-Rao bound, and the QT vector sink really draws them; the
  numeric AoA / SNR readouts show the estimates, the axes span the field of view, the window
  fits its plots, and the UE sliders show only on the simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pmt
import pytest
import yaml
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import make_pdu
from gnuradio.srsaoa.estimation.crb import crb_stochastic
from grc_tools import compile_grc, load_generated
from msg_tools import VectorCollector, post, post_done
from qt_tools import close_top_block, run_events_until

# QT widgets and GNU Radio's QT sinks leave state behind that has crashed later tests in
# the same process (a segfault importing torch afterwards): run in their own process.
pytestmark = pytest.mark.qt

ROOT = Path(__file__).resolve().parent.parent
GRC = ROOT / "examples" / "gui_spectrum.grc"


# --------------------------------------------------------------------------- aoa_series


def run_series(blk, msgs):
    """Queue estimate PDUs and the system "done" message, run the flowgraph to its end;
    (values, tags)."""
    tb = gr.top_block()
    snk = VectorCollector()
    tb.connect(blk, snk)
    for msg in msgs:
        post(blk, K.PORT_ESTIMATE, msg)
    post_done(blk)  # queued before the start: handled after everything above
    tb.run()
    return snk.data(), snk.tags()


def estimate_pdu(aoa, occasion=None, snr_db=None):
    meta = {K.METHOD: "esprit", K.ORDER: len(aoa), K.AOA_DEG: np.asarray(aoa, np.float32)}
    if snr_db is not None:
        meta[K.SNR_DB] = snr_db
    if occasion is not None:
        meta[K.SRS_OCCASION] = occasion
    return make_pdu(meta, None)


def test_aoa_series_one_value_per_estimate():
    rng = np.random.default_rng(4)
    aoas = [rng.uniform(-80, 80, 1 + i % 3) for i in range(30)] + [np.zeros(0)]
    msgs = [estimate_pdu(a, i) for i, a in enumerate(aoas)]
    for index in (0, 1):
        out, tags = run_series(srsaoa.aoa_series(index), msgs)
        want = [a[index] if index < a.size else np.nan for a in aoas]
        np.testing.assert_allclose(out, np.asarray(want, np.float32), equal_nan=True)
        assert tags == [(i, i) for i in range(len(aoas))]


def test_aoa_series_snr_quantity():
    msgs = [estimate_pdu([10.0], 0, 12.5), estimate_pdu([], 1, -3.0), estimate_pdu([5.0], 2)]
    out, tags = run_series(srsaoa.aoa_series(0, K.SNR_DB), msgs)
    np.testing.assert_allclose(out, np.asarray([12.5, -3.0, np.nan], np.float32), equal_nan=True)
    assert tags == [(0, 0), (1, 1), (2, 2)]
    with pytest.raises(ValueError):
        srsaoa.aoa_series(0, "power")


def test_aoa_series_drops_malformed_and_validates():
    msgs = [
        pmt.intern("no pdu"),
        make_pdu({K.METHOD: "esprit"}, None),  # no aoa_deg
        make_pdu({K.METHOD: "esprit", K.AOA_DEG: "north"}, None),  # not numeric: dropped
        # an occasion that is not an integer: a malformed PDU, dropped (it once ended the
        # block's thread when the tag was made)
        make_pdu({K.METHOD: "esprit", K.AOA_DEG: [3.0], K.SRS_OCCASION: "first"}, None),
        estimate_pdu([12.5]),
    ]
    out, tags = run_series(srsaoa.aoa_series(0), msgs)
    np.testing.assert_array_equal(out, [12.5])
    assert tags == []
    for bad in (-1, 0.5, True):
        with pytest.raises(ValueError):
            srsaoa.aoa_series(bad)
    blk = srsaoa.aoa_series()
    with pytest.raises(ValueError):
        blk.set_path_index(-2)
    blk.set_path_index(2)


# --------------------------------------------------------------------------- the QT GUI


@pytest.fixture(scope="module")
def gui_module(tmp_path_factory):
    out = tmp_path_factory.mktemp("gui")
    py = compile_grc([GRC], out, timeout=120)["gui_spectrum"]
    return load_generated(py), out


def _peaks(sink, grid):
    d = np.asarray(sink.data()).reshape(-1, grid.size)
    return grid[d.argmax(1)] if d.size else np.zeros(0)


def _red_rows(widget) -> int:
    """Rows of a grabbed widget that contain pure red pixels (the MUSIC curve's colour)."""
    from PyQt5 import Qt

    img = widget.grab().toImage().convertToFormat(Qt.QImage.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    red = (px[..., 2] > 200) & (px[..., 1] < 60) & (px[..., 0] < 60)  # BGRA
    return int(np.count_nonzero(red.any(axis=1)))


def _readout(widget, unit: str) -> list[float]:
    """The values a QT number sink shows, in input order (its labels read "<value> <unit>")."""
    from PyQt5 import Qt

    texts = [lab.text() for lab in widget.findChildren(Qt.QLabel)]
    return [float(t[: -len(unit)]) for t in texts if t.endswith(" " + unit)]


def _grc_params() -> dict[str, dict]:
    with open(GRC) as f:
        return {b["name"]: b["parameters"] for b in yaml.safe_load(f)["blocks"]}


def test_gui_spectrum_axes_span_the_field_of_view():
    """The plots' angle axes are in degrees over the spectrum grid (the field of view), the
    level axes in dB / deg, every slider within the field of view too."""
    p = _grc_params()
    assert p["spectrum_plot"]["x_start"] == "fov_min"
    assert p["spectrum_plot"]["x_step"] == "grid_step"
    assert "(deg)" in p["spectrum_plot"]["x_axis_label"]
    assert "(dB)" in p["spectrum_plot"]["y_axis_label"]
    assert (p["aoa_plot"]["ymin"], p["aoa_plot"]["ymax"]) == ("fov_min", "fov_max")
    assert p["aoa_plot"]["yunit"] == '"deg"'
    assert (p["aoa_deg"]["start"], p["aoa_deg"]["stop"]) == ("fov_min", "fov_max")
    assert (p["aoa_readout"]["min"], p["aoa_readout"]["max"]) == ("fov_min", "fov_max")
    assert p["aoa_readout"]["unit1"] == p["aoa_readout"]["unit2"] == '"deg"'
    assert p["snr_readout"]["unit1"] == p["snr_readout"]["unit2"] == '"dB"'


def test_gui_spectrum_runs_offscreen(gui_module, qt_app):
    import torch

    # the application owns torch's thread pool (as srsaoa run and demo): one intra-op
    # thread; with torch's default pool, the MoD-DNN spectrum hung in a process that had
    # run the loopback flowgraph before
    torch.set_num_threads(1)
    mod, out = gui_module
    tb = mod.gui_spectrum(recording="", speed=0.01, model="default")
    grid = tb.spec_dbf.grid_deg()
    sinks = {n: blocks.vector_sink_f(grid.size) for n in ("spec_dbf", "spec_music", "spec_moddnn")}
    for name, snk in sinks.items():
        tb.connect(getattr(tb, name), snk)
    esprit = blocks.vector_sink_f()
    tb.connect(tb.series_esprit, esprit)
    # Tolerances: per-RE SNR 10 dB, one covariance per occasion from S*K = 4*306 CFR
    # snapshots; the stochastic CRB of a single source then is about 0.06 deg. Angles
    # within 5 CRB; spectrum peaks on the 0.5-degree grid within half a step more.
    n = 4 * 306
    truth = float(tb.get_aoa_deg())
    assert truth == 20.0 and tb.get_snr_db() == 10.0
    assert tb.get_fov_min() == grid[0] and tb.get_fov_max() == grid[-1]
    mod.snippets_main_after_init(tb)  # as the generated main() does
    tb.resize(1000, 1000)  # the size it opens at
    tb.start()
    tb.show()
    assert not tb._aoa_deg_win.isHidden() and not tb._snr_db_win.isHidden()
    try:
        assert run_events_until(lambda: len(esprit.data()) >= 15, 60.0)
        crb = crb_stochastic([truth], n, source_covariance=[[10.0]])[0]
        for name in ("spec_dbf", "spec_music"):
            peaks = _peaks(sinks[name], grid)
            assert peaks.size >= 10, name
            np.testing.assert_array_less(np.abs(peaks - truth), 0.25 + 5 * crb)
        aoa = np.asarray(esprit.data())
        np.testing.assert_array_less(np.abs(aoa - truth), 5 * crb)
        # move the UE with the slider's callback: the spectra follow
        done = len(esprit.data())
        tb.set_aoa_deg(-35.0)
        crb = crb_stochastic([-35.0], n, source_covariance=[[10.0]])[0]

        def moved() -> bool:
            peaks = _peaks(sinks["spec_dbf"], grid)
            return peaks.size >= done + 10 and np.all(np.abs(peaks[-5:] + 35.0) < 1.0)

        assert run_events_until(moved, 60.0)
        for name in ("spec_dbf", "spec_music"):
            peaks = _peaks(sinks[name], grid)[-5:]
            np.testing.assert_array_less(np.abs(peaks + 35.0), 0.25 + 5 * crb)
        np.testing.assert_array_less(np.abs(np.asarray(esprit.data())[-5:] + 35.0), 5 * crb)

        # every spectrum block gives one vector per occasion, so the 3-input sink keeps going;
        # the MoD-DNN branch starts late (torch import, model load), so let it catch up
        def counts() -> list[int]:
            return [len(s.data()) // grid.size for s in sinks.values()]

        assert run_events_until(lambda: counts()[2] >= counts()[0] - 2, 120.0), counts()
        # the numeric readouts: ESPRIT and MUSIC AoA at the UE, SNR near the channel's 10 dB
        # (estimated from R with one occasion: within 1 dB)
        assert run_events_until(
            lambda: np.all(np.abs(np.asarray(_readout(tb._aoa_readout_win, "deg")) + 35.0) < 1.0),
            60.0,
        ), _readout(tb._aoa_readout_win, "deg")
        aoa_shown = _readout(tb._aoa_readout_win, "deg")
        snr_shown = _readout(tb._snr_readout_win, "dB")
        assert len(aoa_shown) == 2 and len(snr_shown) == 2
        np.testing.assert_array_less(np.abs(np.asarray(snr_shown) - 10.0), 1.0)
        # the window fits its plots: no scroll bars at the size it opens at
        assert not tb.top_scroll.horizontalScrollBar().isVisible()
        assert not tb.top_scroll.verticalScrollBar().isVisible()
        # the plot shows the MUSIC peak: a red curve over most of the dB range, not a flat
        # line (which is what GNU Radio's vector sink draws without the x2 repeat)
        win = tb._spectrum_plot_win
        assert run_events_until(lambda: _red_rows(win) > 0.3 * win.height(), 60.0, 100), _red_rows(
            win
        )
        png = out / "gui_spectrum.png"
        assert tb.grab().save(str(png)) and png.stat().st_size > 0
    finally:
        close_top_block(tb)


def test_gui_spectrum_replays_a_recording(gui_module, qt_app):
    """The recording parameter switches the source: tests/data/recordings/los_23deg_10db
    (LOS at +23.4 deg, 10 dB per RE, README there) looped through the same receiver."""
    mod, _ = gui_module
    rec = ROOT / "tests" / "data" / "recordings" / "los_23deg_10db.sigmf-collection"
    tb = mod.gui_spectrum(recording=str(rec), speed=0.01, model="default")
    grid = tb.spec_music.grid_deg()
    music = blocks.vector_sink_f(grid.size)
    tb.connect(tb.spec_music, music)
    esprit = blocks.vector_sink_f()
    tb.connect(tb.series_esprit, esprit)
    truth = 23.4
    crb = crb_stochastic([truth], 4 * 306, source_covariance=[[10.0]])[0]  # as above
    mod.snippets_main_after_init(tb)  # as the generated main() does
    tb.start()
    tb.show()
    try:
        # the UE sliders do nothing on a recording: hidden
        assert tb._aoa_deg_win.isHidden() and tb._snr_db_win.isHidden()
        assert run_events_until(lambda: len(esprit.data()) >= 5, 60.0)

        def shown() -> bool:
            aoa = _readout(tb._aoa_readout_win, "deg")
            snr = _readout(tb._snr_readout_win, "dB")
            return (
                len(aoa) == 2
                and np.all(np.abs(np.asarray(aoa) - truth) < 1.0)
                and (len(snr) == 2 and np.all(np.isfinite(snr)))
            )

        assert run_events_until(shown, 60.0), _readout(tb._aoa_readout_win, "deg")
    finally:
        close_top_block(tb)
    peaks = _peaks(music, grid)
    assert peaks.size >= 5
    np.testing.assert_array_less(np.abs(peaks - truth), 0.25 + 5 * crb)
    np.testing.assert_array_less(np.abs(np.asarray(esprit.data()) - truth), 5 * crb)
