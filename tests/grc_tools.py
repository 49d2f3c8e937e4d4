"""Compile GRC flowgraphs with grcc and import what it generates (shared by the tests)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def compile_grc(
    flowgraphs: list[str | Path], out_dir: Path, timeout: float = 240
) -> dict[str, Path]:
    """Compile .grc files (paths, or example names) in one grcc run, our blocks from grc/;
    {name: generated .py}. Fails the test with grcc's output if anything goes wrong."""
    grcc = shutil.which("grcc")
    assert grcc, "grcc not found (Debian package gnuradio)"
    paths = [Path(f) if str(f).endswith(".grc") else EXAMPLES / f"{f}.grc" for f in flowgraphs]
    env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "grc"), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(  # one grcc run: the block library is loaded once
        [sys.executable, grcc, "-o", str(out_dir), *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {p.stem: Path(out_dir) / f"{p.stem}.py" for p in paths}
    for py in out.values():
        assert py.is_file(), f"grcc wrote no {py.name}: " + proc.stdout + proc.stderr
    return out


def load_generated(path: Path) -> ModuleType:
    """Import a grcc-generated flowgraph module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
