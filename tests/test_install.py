"""The bootstrapped environment works without activation (DESIGN section 8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent


def _run(cmd):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}  # nothing activated, no PYTHONPATH
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_module_imports_without_activation():
    proc = _run(
        [
            str(VENV / "bin/python"),
            "-c",
            "from gnuradio import srsaoa; print(srsaoa.covariance_accumulator)",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert "covariance_accumulator" in proc.stdout


def test_srsaoa_command_runs():
    proc = _run([str(VENV / "bin/srsaoa"), "version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gr-srsaoa ")


def test_srsaoa_command_bad_usage_is_one_clear_error():
    proc = _run([str(VENV / "bin/srsaoa"), "no-such-command"])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_grc_blocks_installed():
    installed = VENV / "share/gnuradio/grc/blocks"
    for yml in (ROOT / "grc").glob("*.block.yml"):
        assert (installed / yml.name).is_file(), f"{yml.name} not installed in {installed}"


def test_numpy_is_the_system_one():
    import numpy

    assert numpy.__version__.startswith("1."), "GNU Radio 3.10.5 needs numpy 1.x"


def test_grc_tools_work_as_documented():
    """The README's GRC commands: `.venv/bin/grcc` (used by every example test through
    tests/grc_tools.py) and `.venv/bin/gnuradio-companion`, whose GUI toolkit is installed."""
    import subprocess
    import sys
    from pathlib import Path

    bindir = Path(sys.executable).parent
    for tool in ("grcc", "gnuradio-companion"):
        assert (bindir / tool).is_file(), f"{tool} wrapper missing from {bindir}"
    r = subprocess.run(
        [str(bindir / "gnuradio-companion"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, "GTK 3 for GNU Radio Companion: " + r.stderr
