"""examples/rx_n310.grc on the real N310: compiled with grcc, run as a program (its own
process, as a user runs it) on the bench carrier, with the estimates read back from its
ZMQ PUB socket and its JSON lines file. Skipped like the rest of tests/hil.

Runs after test_hil.py, whose module-scoped receiver has released the N310 by then.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pmt
import pytest
import zmq
from grc_tools import compile_grc

from . import stats

pytestmark = pytest.mark.hil

ROOT = Path(__file__).resolve().parents[2]
RUN_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rx_n310_example_publishes_estimates(hil_cfg, bench, ue, tmp_path):
    carrier, srs = bench
    compile_grc(["rx_n310"], tmp_path)
    port = _free_port()
    out = tmp_path / "estimates.jsonl"
    cmd = [
        sys.executable,
        str(tmp_path / "rx_n310.py"),
        "--dev-args", hil_cfg.rx_args,
        "--freq", repr(hil_cfg.freq_hz),
        "--gain", repr(hil_cfg.rx_gain_db),
        "--clock-source", hil_cfg.clock_source,
        "--time-source", hil_cfg.time_source,
        "--lo-source", hil_cfg.lo_source,
        "--n-size-grid", str(carrier.n_size_grid),
        "--c-srs", str(srs.c_srs),
        "--spacing-wl", repr(hil_cfg.spacing_wl),
        "--zmq-address", f"tcp://127.0.0.1:{port}",
        "--out", str(out),
    ]  # fmt: skip
    if hil_cfg.calibration:
        cmd += ["--calibration", hil_cfg.calibration]
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.connect(f"tcp://127.0.0.1:{port}")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    aoa = []
    try:
        deadline = time.monotonic() + RUN_S + 5.0  # PPS sync, tune and start delay first
        while time.monotonic() < deadline and proc.poll() is None:
            if sub.poll(200):
                meta = pmt.to_python(pmt.car(pmt.deserialize_str(sub.recv())))
                aoa.append(float(np.asarray(meta["aoa_deg"])[0]))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            log, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate()
        sub.close(0)
    assert aoa, f"no estimate on ZMQ in {RUN_S:.0f} s; the example's log:\n{log[-3000:]}"
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert len(lines) >= len(aoa), "the JSON lines file misses estimates sent on ZMQ"
    assert all(np.isfinite(a) for a in aoa)
    if hil_cfg.calibration:  # without one the N310's random phases make any angle valid
        st = stats.aoa_error_stats(aoa, hil_cfg.truth_deg)
        assert st["p90_abs"] <= hil_cfg.aoa_tol_deg, st
