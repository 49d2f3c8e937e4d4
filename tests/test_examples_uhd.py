"""The USRP examples: examples/tx_srs_usrp.grc (srs_source -> USRP sink, the UE)
and examples/rx_n310.grc (4-channel N310 -> the receiver chain -> JSON lines, log, ZMQ).

They are compiled with grcc; the generated Python is checked for the UHD settings
(channels, sample rate, master clock, references and PPS time, identical timed tune, LO
source, timed start, ZMQ address) by walking its syntax tree; it must import without a
radio. The non-radio part of each generated flowgraph - exactly the statements GRC
generated, minus the UHD block - is then run on real data: the transmitter's srs_source
stream, and the receiver chain fed with a simulated 4-channel capture, whose estimates
must arrive in the JSON lines file and on the ZMQ socket with the right angle.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
import socket
import textwrap
import threading
from pathlib import Path

import numpy as np
import pmt
import pytest
import zmq
from gnuradio import blocks, gr, srsaoa
from gnuradio.srsaoa.array.calibration import Calibration
from gnuradio.srsaoa.estimation.crb import crb_deterministic
from gnuradio.srsaoa.nr import CarrierConfig, SRSConfig
from grc_tools import compile_grc
from msg_tools import WAIT_S, post

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    return compile_grc(["tx_srs_usrp", "rx_n310"], tmp_path_factory.mktemp("grcc"))


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _calls(tree: ast.AST, obj: str) -> list[tuple[str, tuple[str, ...]]]:
    """(method, unparsed args) of every call obj.method(...) in the tree, in source order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if ast.unparse(node.func.value) == obj:
                args = tuple(ast.unparse(a) for a in node.args)
                out.append(((node.lineno, node.col_offset), node.func.attr, args))
    return [(m, a) for _, m, a in sorted(out)]


def _ctor(tree: ast.AST, func: str) -> ast.Call:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == func]
    assert len(calls) == 1, f"expected one {func}(...) call"
    return calls[0]


def _build_without_radio(mod, cls_name: str, radio: str, tb: gr.top_block, **params):
    """Run the generated __init__ of cls_name on ``tb``, minus the statements that touch
    the UHD block ``radio``: every other block, variable and connection as generated."""
    cls = getattr(mod, cls_name)
    fn = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__))).body[0]
    fn.body = [
        s
        for s in fn.body
        if radio not in ast.unparse(s) and "top_block.__init__" not in ast.unparse(s)
    ]
    fn.name = "_build"
    ns = dict(vars(mod))
    exec(compile(ast.Module([fn], []), f"<{cls_name}>", "exec"), ns)  # noqa: S102
    ns["_build"](tb, **params)
    return tb


class _Gate(gr.sync_block):
    """M complex streams passed through unchanged, but only once ``opened`` is set: holds a
    finite capture back until the test's ZMQ subscriber is known to be subscribed."""

    def __init__(self, m: int) -> None:
        sig = [np.complex64] * m
        gr.sync_block.__init__(self, name="gate", in_sig=sig, out_sig=sig)
        self.set_tag_propagation_policy(gr.TPP_ONE_TO_ONE)
        self.opened = threading.Event()

    def work(self, input_items, output_items):
        if not self.opened.wait(WAIT_S):
            return -1  # WORK_DONE: the test has failed already
        for x, y in zip(input_items, output_items):
            y[:] = x
        return len(output_items[0])


def _subscribe(pub, sub) -> bool:
    """Post probe messages to the flowgraph's ZMQ publisher ``pub`` until ``sub`` receives
    one: from then on the publisher knows the subscription (ZMQ PUB drops what it sends
    before that). False if none arrived within WAIT_S."""
    for _ in range(int(WAIT_S / 0.1)):
        post(pub, "in", pmt.intern("probe"))
        if sub.poll(100) and pmt.is_symbol(pmt.deserialize_str(sub.recv())):
            return True
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ tx_srs_usrp


def test_tx_uhd_settings(generated):
    tree = ast.parse(generated["tx_srs_usrp"].read_text())
    sink = _ctor(tree, "uhd.usrp_sink")
    stream_args = ast.unparse(sink.args[1])
    assert (
        "channels=list(range(0, 1))" in stream_args
        and 'cpu_format="fc32"' in stream_args.replace("'", '"')
    )
    assert ast.unparse(sink.args[0]).startswith("','.join((uhd_args")
    calls = _calls(tree, "self.uhd_usrp_sink_0")
    assert ("set_samp_rate", ("samp_rate",)) in calls
    assert ("set_center_freq", ("freq", "0")) in calls
    assert ("set_gain", ("gain", "0")) in calls
    assert ("set_antenna", ("antenna", "0")) in calls
    mod = _import(generated["tx_srs_usrp"])  # imports without a radio
    opts = mod.argument_parser().parse_args([])
    assert (opts.freq, opts.gain, opts.n_size_grid, opts.subcarrier_spacing) == (2.45e9, 30, 51, 30)
    opts = mod.argument_parser().parse_args(["-a", "type=e3xx", "-f", "3.5G", "--c-srs", "9"])
    assert (opts.dev_args, opts.freq, opts.c_srs) == ("type=e3xx", 3.5e9, 9)


def test_tx_flowgraph_streams_the_srs(generated):
    """The generated transmitter minus the radio: 30.72 Msps (fft 1024 x 30 kHz), master
    clock = sample rate in the device args, and the srs_source stream peaks at -3 dBFS
    (the scale variable) with one srs_start tag per slot."""
    mod = _import(generated["tx_srs_usrp"])
    tb = _build_without_radio(
        mod, "tx_srs_usrp", "uhd_usrp_sink_0", gr.top_block(), dev_args="type=e3xx"
    )
    assert tb.samp_rate == 30.72e6
    assert tb.uhd_args == "type=e3xx,master_clock_rate=30720000"
    slot = CarrierConfig(subcarrier_spacing=30, n_size_grid=51).samples_per_slot(0)
    head = blocks.head(gr.sizeof_gr_complex, 3 * slot)
    sink = blocks.vector_sink_c()
    tb.connect(tb.srsaoa_srs_source_0, head, sink)
    tb.run()
    x = np.asarray(sink.data())
    assert abs(np.abs(x).max() - 10 ** (-3 / 20)) < 1e-5
    tags = [t for t in sink.tags() if pmt.symbol_to_string(t.key) == "srs_start"]
    assert [t.offset for t in tags] == [0, slot, 2 * slot]


# ------------------------------------------------------------------ rx_n310


def test_rx_uhd_settings(generated):
    tree = ast.parse(generated["rx_n310"].read_text())
    src = _ctor(tree, "uhd.usrp_source")
    assert "channels=list(range(0, num_channels))" in ast.unparse(src.args[1])
    assert 'otw_format="sc16"' in ast.unparse(src.args[1]).replace("'", '"')
    calls = _calls(tree, "self.uhd_usrp_source_0")
    assert ("set_samp_rate", ("samp_rate",)) in calls
    assert ("set_clock_source", ("clock_source", "0")) in calls
    assert ("set_time_source", ("time_source", "0")) in calls
    assert ("set_time_unknown_pps", ("uhd.time_spec(0)",)) in calls  # time 0 at a PPS edge
    for ch in range(4):  # identical requests on every channel
        assert ("set_center_freq", ("freq", str(ch))) in calls
        assert ("set_gain", ("gain", str(ch))) in calls
        assert ("set_antenna", ("'RX2'", str(ch))) in calls or (
            "set_antenna",
            ('"RX2"', str(ch)),
        ) in calls
    # the snippet: LO source on every LO of every channel, one timed tune, timed start
    snip = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("snipfcn_")
    )
    u = _calls(snip, "_u")
    methods = [m for m, _ in u]
    assert ("set_lo_source", ("self.lo_source", "_name", "_ch")) in u
    assert ("set_center_freq", ("_req", "_ch")) in u
    i_cmd, i_tune, i_clear = (
        methods.index("set_command_time"),
        methods.index("set_center_freq"),
        methods.index("clear_command_time"),
    )
    assert i_cmd < i_tune < i_clear < methods.index("set_start_time")
    assert "_uhd.tune_request(self.freq)" in ast.unparse(snip)
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    assert "snippets_main_after_init(tb)" in ast.unparse(main)
    assert ast.unparse(main).index("snippets_main_after_init") < ast.unparse(main).index(
        "tb.start()"
    )
    zmq_sink = _ctor(tree, "zeromq.pub_msg_sink")
    assert [ast.unparse(a) for a in zmq_sink.args] == ["zmq_address", "100", "True"]  # bind

    mod = _import(generated["rx_n310"])  # imports without a radio
    opts = mod.argument_parser().parse_args([])
    assert opts.zmq_address == "tcp://127.0.0.1:5555"  # localhost only by default
    assert (opts.dev_args, opts.freq, opts.n_size_grid, opts.c_srs) == (
        "addr=192.168.10.2",
        2.45e9,
        133,
        33,
    )
    assert (opts.lo_source, opts.clock_source, opts.time_source) == ("internal",) * 3


def test_rx_chain_runs_on_simulated_capture(generated, tmp_path, rng):
    """The generated receiver minus the radio, fed with a simulated N310 capture: 61.44 Msps
    (fft 2048 x 30 kHz, 133 RB), master clock 122.88 MHz; a UE at 25 deg seen through
    random channel gains; the calibration file given on the command line removes them.
    Every estimate (one per 10 occasions) arrives in the JSON lines and on ZMQ with the
    angle within 5 sigma, sigma^2 = 2 CRB (ESPRIT within a factor 2 of the CRB for one
    source, 4 elements); without the calibration the angle is wrong."""
    mod = _import(generated["rx_n310"])
    carrier = CarrierConfig(subcarrier_spacing=30, n_size_grid=133)
    srs = SRSConfig(c_srs=33)
    assert carrier.sample_rate == 61.44e6
    slot = carrier.samples_per_slot(0)
    n_slots, m, aoa, snr_db = 21, 4, 25.0, 10.0
    tb0 = gr.top_block()
    head = blocks.head(gr.sizeof_gr_complex, n_slots * slot)
    sink = blocks.vector_sink_c()
    src = srsaoa.srs_source.from_configs(carrier, srs)  # keep a reference: a Python block
    tb0.connect(src, head, sink)
    tb0.run()
    x = np.asarray(sink.data(), np.complex64)
    g = 10 ** (rng.uniform(-1, 1, m) / 20) * np.exp(1j * rng.uniform(-np.pi, np.pi, m))
    a = np.exp(2j * np.pi * 0.5 * np.arange(m) * np.sin(np.radians(aoa)))
    off = 4321
    y = np.zeros((m, off + x.size), np.complex128)
    y[:, off:] = (g * a)[:, None] * x[None, :]
    sigma = math.sqrt(10 ** (-snr_db / 10) / 2)
    y += sigma * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    y = y.astype(np.complex64)
    cal_path = tmp_path / "cal.json"
    Calibration(
        gain=np.abs(g / g[0]), phase_deg=np.degrees(np.angle(g / g[0])), delay_s=np.zeros(m)
    ).save(cal_path)

    def run(calibration: str, name: str):
        port = _free_port()
        out = tmp_path / f"{name}.jsonl"
        tb = _build_without_radio(
            mod,
            "rx_n310",
            "uhd_usrp_source_0",
            gr.top_block(),
            calibration=calibration,
            zmq_address=f"tcp://127.0.0.1:{port}",
            out=str(out),
        )
        assert tb.samp_rate == 61.44e6 and tb.uhd_args.endswith("master_clock_rate=122880000")
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.connect(f"tcp://127.0.0.1:{port}")
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sources = [blocks.vector_source_c(y[i].tolist(), False) for i in range(m)]
        gate = _Gate(m)  # the capture waits for the subscription
        for i, vs in enumerate(sources):
            tb.connect(vs, (gate, i), (tb.srsaoa_srs_sync_0, i))
        tb.start()
        subscribed = _subscribe(tb.zeromq_pub_msg_sink_0, sub)
        gate.opened.set()
        tb.wait()  # the finite capture ends the flowgraph
        assert subscribed, "the ZMQ subscriber never received a probe"
        got = []
        while len(got) < 2 and sub.poll(5000):
            msg = pmt.deserialize_str(sub.recv())
            if pmt.is_symbol(msg):
                continue  # a late probe
            meta = pmt.to_python(pmt.car(msg))
            got.append(float(np.asarray(meta["aoa_deg"])[0]))
        sub.close(0)
        lines = [json.loads(s) for s in out.read_text().splitlines()]
        return got, lines

    got, lines = run(str(cal_path), "cal")
    crb = float(crb_deterministic(aoa, 10 * 4 * 396, snr_db, m, 0.5)[0])  # 10 occasions
    tol = 5 * math.sqrt(2) * crb
    assert len(got) == 2 and len(lines) == 2, (got, lines)
    assert [ln["sample_index"] for ln in lines] == [off + 9 * slot, off + 19 * slot]
    for ln, z in zip(lines, got, strict=True):
        assert abs(ln["aoa_deg"][0] - aoa) < tol and abs(z - aoa) < tol, (got, tol)
    got_raw, _ = run("", "raw")
    assert got_raw and abs(got_raw[0] - aoa) > 10 * tol
