"""``srsaoa demo`` on arrays other than the default 4 elements: the model-based branches run,
MoD-DNN (the shipped model knows only 4 elements) is skipped with a note, and the plots
are drawn; asking for MoD-DNN explicitly on such an array is one clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCENARIO = """name: demo{m}
seed: 5
carrier: {{subcarrier_spacing: 30, n_size_grid: 24, fft_size: 512}}
srs: {{c_srs: 5, n_srs_id: 3}}
array: {{num_elements: {m}, carrier_frequency_hz: 3.5e9}}
impairments: ideal
paths:
  - {{aoa_deg: -20.0}}
trajectory:
  times_s: [0.0, 0.005]
  aoa_deg: [-20.0, 20.0]
snr_db: 15.0
num_slots: 10
datatype: cf32_le
"""


def _demo(*args):
    return subprocess.run(
        [sys.executable, "-m", "gnuradio.srsaoa.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("m", [3, 8])
def test_demo_on_other_element_counts(tmp_path, m):
    sc = tmp_path / "s.yaml"
    sc.write_text(SCENARIO.format(m=m))
    r = _demo("--scenario", str(sc), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "MoD-DNN skipped" in r.stderr and f"has {m}" in r.stderr
    assert "esprit" in r.stdout + r.stderr
    assert (tmp_path / "out" / "aoa_vs_time.png").stat().st_size > 10_000
    assert list((tmp_path / "out").glob("spectrum_*.png"))
    r = _demo("--scenario", str(sc), "--out", str(tmp_path / "o2"), "--method", "moddnn")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "trained for 4" in r.stderr
