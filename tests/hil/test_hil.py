"""Hardware-in-the-loop tests on the bench of docs/hil.md: UE (E312/B2xx running
srs_source) -> cable/splitter or antennas -> N310 running the project's receiver.

Skipped unless SRSAOA_USRP_RX (and, for the UE, SRSAOA_USRP_TX) are set. The pass/fail
logic lives in checks.py (also run on simulated captures by tests/test_hil_logic.py);
docs/hil.md explains the expected numbers and how to read a failure.
"""

from __future__ import annotations

import pytest
from gnuradio.srsaoa.array.calibration import load_calibration

from . import checks

pytestmark = pytest.mark.hil

SNAPSHOT_S = 0.01  # 20 slots at 30 kHz SCS per snapshot (the Spanos testbed used 6 ms)


def test_channel_coherence(hil_cfg, bench, ue, rx, record_property):
    caps = rx.snapshots(int(hil_cfg.seconds) + 1, SNAPSHOT_S, 1.0)
    assert all(c.rx_time_s is not None for c in caps), "no rx_time tag: the timed start failed"
    rep = checks.check_coherence(caps, *bench, hil_cfg)
    record_property("coherence", repr(rep))


def test_calibration_residual(hil_cfg, bench, ue, rx, record_property):
    cap_a = rx.capture(SNAPSHOT_S)
    cap_b = rx.snapshots(2, SNAPSHOT_S, 1.0)[-1]
    rep = checks.check_calibration(cap_a, cap_b, *bench, hil_cfg)
    record_property("calibration", repr(rep))


def test_srs_detection(hil_cfg, bench, ue, rx, record_property):
    rep = checks.check_detection(rx.capture(0.2), *bench)
    record_property("detection", repr(rep))


def test_aoa_known_angle(hil_cfg, bench, ue, rx, record_property):
    if hil_cfg.calibration:
        cal = load_calibration(hil_cfg.calibration)
    else:
        cal = checks.calibrate(rx.capture(SNAPSHOT_S), *bench, hil_cfg)
    rep = checks.check_aoa(rx.capture(0.05), cal, *bench, hil_cfg)
    record_property("aoa", repr(rep))
