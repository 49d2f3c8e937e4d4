"""GRC integration gates.

For every grc/*.block.yml: the id starts with srsaoa_, the category lies under
[SRS AoA], every parameter appears in the make template, the parameter ids match the
constructor's arguments (Python blocks: inspect.signature; C++ blocks: the pybind
``__init__`` docstring), and the block can be instantiated from the yml defaults.
Every examples/*.grc compiles with grcc.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np  # noqa: F401 - yml defaults may use np
import pytest
import yaml
from gnuradio import srsaoa
from grc_tools import compile_grc

ROOT = Path(__file__).resolve().parent.parent
YMLS = sorted((ROOT / "grc").glob("*.block.yml"))
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))


def _load(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _make_call(block: dict) -> tuple[str, str]:
    """(callable name after 'srsaoa.', argument text) of the make template."""
    make = block["templates"]["make"]
    m = re.match(
        r"\s*srsaoa\.(\w+)\((.*)\)\s*$", make.split("\n")[0] if "\n" in make else make, re.S
    )
    assert m, f"make template must call srsaoa.<name>(...): {make!r}"
    return m.group(1), m.group(2)


def _constructor_params(name: str) -> list[str]:
    obj = getattr(srsaoa, name)
    try:
        sig = inspect.signature(obj)
        return [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        pass
    # pybind11 class: "__init__(self: ..., a: int, b: float) -> None"
    doc = (obj.__init__.__doc__ or "").strip().splitlines()[0]
    m = re.match(r"__init__\((.*)\)\s*->", doc)
    assert m, f"no pybind __init__ signature for srsaoa.{name}: {doc!r}"
    args = [a.split(":")[0].strip() for a in m.group(1).split(", ")]
    return [a for a in args if a != "self"]


def test_some_blocks_exist():
    assert YMLS, "no grc/*.block.yml found"


@pytest.mark.parametrize("path", YMLS, ids=[p.name for p in YMLS])
def test_block_yml(path: Path):
    block = _load(path)
    assert path.name == f"{block['id']}.block.yml"
    assert block["id"].startswith("srsaoa_")
    assert block["category"].startswith("[SRS AoA]"), block["category"]
    assert block.get("file_format") == 1, "GRC 3.10 needs 'file_format: 1'"
    assert block.get("documentation", "").strip(), "block needs documentation"
    doc = block["documentation"]
    assert "FIX ME" not in yaml.safe_dump(block) and "<+" not in doc
    assert block["templates"]["imports"].strip().startswith("from gnuradio import srsaoa")

    params = [p["id"] for p in block.get("parameters", [])]
    name, args = _make_call(block)
    for pid in params:
        assert "${" + pid + "}" in args or "${ " + pid + " }" in args, f"{pid} not in make"
    assert block["id"] == f"srsaoa_{name}"
    assert params == _constructor_params(name), "yml parameters != constructor arguments"

    # GRC reads callbacks under templates (a top-level 'callbacks' key would be ignored)
    assert "callbacks" not in block, "callbacks belong under templates:"
    for cb in (block.get("templates") or {}).get("callbacks") or []:
        method = cb.split("(")[0].strip()
        assert hasattr(getattr(srsaoa, name), method), f"callback {method} missing"


@pytest.mark.parametrize("path", YMLS, ids=[p.name for p in YMLS])
def test_block_instantiates_from_defaults(path: Path):
    block = _load(path)
    name, _ = _make_call(block)
    kwargs = {}
    for p in block.get("parameters", []):
        default = str(p.get("default", ""))
        if p.get("dtype", "raw") in ("string", "file_open", "file_save"):
            kwargs[p["id"]] = default  # GRC quotes string parameters itself
        else:  # every other dtype (and enum options) is a Python expression
            kwargs[p["id"]] = eval(default, {"np": np, "srsaoa": srsaoa})  # noqa: S307
    blk = getattr(srsaoa, name)(**kwargs)
    assert blk is not None


@pytest.mark.skipif(not EXAMPLES, reason="no examples/*.grc yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_compiles(path: Path, tmp_path: Path):
    compile_grc([path], tmp_path, timeout=120)
