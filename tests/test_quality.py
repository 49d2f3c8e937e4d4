"""Quality gates: ruff lint + format and clang-format on C++."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_check():
    proc = _run([str(RUFF), "check", "."])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format():
    proc = _run([str(RUFF), "format", "--check", "."])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_clang_format():
    clang_format = shutil.which("clang-format")
    if clang_format is None:
        pytest.fail("clang-format not installed (scripts/bootstrap.sh installs it)")
    files = sorted(
        str(p.relative_to(ROOT))
        for d in ("include", "lib", "python/srsaoa/bindings")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".h", ".cc")
    )
    assert files
    proc = _run([clang_format, "--dry-run", "--Werror", *files])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_modtool_leftovers():
    bad = []
    for d in ("grc", "include", "lib", "python"):
        for p in (ROOT / d).rglob("*"):
            if p.suffix in (".yml", ".h", ".cc", ".py") and p.is_file():
                text = p.read_text(errors="replace")
                if "FIX ME" in text or "<+description+>" in text:
                    bad.append(str(p.relative_to(ROOT)))
    assert not bad, f"modtool placeholders in {bad}"


def test_math_packages_do_not_import_gnuradio():
    """DESIGN section 2: nr, array, estimation, moddnn, sim, io stay plain."""
    offenders = []
    for pkg in ("nr", "array", "estimation", "moddnn", "sim", "io", "position"):
        for p in (ROOT / "python" / "srsaoa" / pkg).rglob("*.py"):
            for line in p.read_text().splitlines():
                s = line.strip()
                if s.startswith(
                    ("import pmt", "from gnuradio import gr", "import gnuradio.gr")
                ) or (
                    s.startswith("from gnuradio")
                    and "import" in s
                    and " gr" in s.split("import")[1]
                ):
                    offenders.append(f"{p.relative_to(ROOT)}: {s}")
    assert not offenders, offenders


def test_math_packages_import_without_gnuradio_runtime():
    """The layering is a boundary, not a convention: importing every math package in a fresh
    interpreter loads neither GNU Radio's runtime (gnuradio.gr) nor pmt; the blocks load on
    first use of one of them."""
    code = (
        "import sys\n"
        "import gnuradio.srsaoa.nr, gnuradio.srsaoa.array, gnuradio.srsaoa.estimation\n"
        "import gnuradio.srsaoa.moddnn, gnuradio.srsaoa.sim, gnuradio.srsaoa.io\n"
        "import gnuradio.srsaoa.position\n"
        "from gnuradio.srsaoa.estimation import calibrated, doa\n"
        "from gnuradio.srsaoa.array import manifold\n"
        "print(sorted(m for m in ('gnuradio.gr', 'pmt') if m in sys.modules))\n"
        "from gnuradio import srsaoa\n"
        "srsaoa.doa_estimator\n"
        "print('gnuradio.gr' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before, after = r.stdout.split("\n")[:2]
    assert before == "[]" and after == "True"
