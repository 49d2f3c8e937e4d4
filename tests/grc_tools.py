"""Compile GRC flowgraphs with grcc and import what it generates (shared by the tests)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def compile_grc(
    flowgraphs: list[str | Path], out_dir: Path, timeout: float = 240
) -> dict[str, Path]:
    """Compile .grc files (paths, or example names) in one grcc run with the README's command,
    the module's own `grcc` wrapper in the venv (the system grcc run by the venv's interpreter,
    the installed blocks on GRC_BLOCKS_PATH); {name: generated .py}. Fails the test with
    grcc's output if anything goes wrong."""
    grcc = Path(sys.executable).parent / "grcc"
    assert grcc.is_file(), f"{grcc} not installed (apps/CMakeLists.txt; `make setup`)"
    paths = [Path(f) if str(f).endswith(".grc") else EXAMPLES / f"{f}.grc" for f in flowgraphs]
    env = {k: v for k, v in os.environ.items() if k != "GRC_BLOCKS_PATH"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run(  # one grcc run: the block library is loaded once
        [str(grcc), "-o", str(out_dir), *map(str, paths)],
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
