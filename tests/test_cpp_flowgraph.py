"""The C++ blocks in a C++ flowgraph: grcc's C++ output of tests/data/cpp_estimators.grc
(Covariance Accumulator -> ESPRIT Estimator -> Message Debug, fed by a finite stream's
probe) configured against the installed CMake package (find_package(gnuradio-srsaoa), target
gnuradio::gnuradio-srsaoa), built and run to its end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
VENV = Path(sys.executable).parent.parent


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cpp_flowgraph_builds_against_the_exported_package_and_runs(tmp_path):
    assert (VENV / "lib" / "cmake" / "gnuradio-srsaoa" / "gnuradio-srsaoaConfig.cmake").is_file()
    env = {k: v for k, v in os.environ.items() if k != "GRC_BLOCKS_PATH"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    gen = subprocess.run(
        [str(VENV / "bin" / "grcc"), "-o", str(tmp_path), str(DATA / "cpp_estimators.grc")],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert gen.returncode == 0, gen.stdout + gen.stderr
    src = tmp_path / "cpp_estimators"
    code = (src / "cpp_estimators.cpp").read_text()
    assert "gr::srsaoa::covariance_accumulator::make(4, 1, true, 0.0)" in code
    assert 'gr::srsaoa::esprit_estimator::make(0.5, 0, "aic", 0, true' in code
    build = src / "build"
    for cmd in (
        ["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={VENV}"],
        ["cmake", "--build", str(build), "-j2"],
    ):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, " ".join(cmd) + "\n" + p.stdout[-4000:] + p.stderr[-4000:]
    run = subprocess.run(
        [str(build / "cpp_estimators")], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "terminate" not in run.stderr
