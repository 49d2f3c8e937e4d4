"""Example flowgraphs are readable in GNU Radio Companion: no two blocks overlap.

GRC sizes a block from its text (gnuradio/grc/gui/canvas/block.py): the title, then one
line "Label: value" per parameter shown on the block (hide 'none'; the id too for
variables and the options block), the value truncated to max(27 - len(label), 3)
characters; 7 px padding on every side; at least the height its ports need; then
rounded up to the 8 px grid. The estimate below follows that with generous font metrics
(Sans 8 bold title, Sans 7.5 parameters at 96 dpi), so a layout that passes here has
room to spare on screen.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))
BLOCK_DIRS = [ROOT / "grc", Path("/usr/share/gnuradio/grc/blocks")]

TITLE_CHAR_PX, TITLE_LINE_PX = 7.0, 14.0
PARAM_CHAR_PX, PARAM_LINE_PX = 5.5, 13.0
PADDING, LABEL_SEPARATION = 7, 3
PORT_BORDER, PORT_SEPARATION, PORT_PX = 8, 32, 16
GRID = 8
ALWAYS_SHOWN_ID = ("options", "variable", "parameter", "import")


def _defs() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for d in BLOCK_DIRS:
        for path in sorted(d.glob("*.block.yml")):
            with open(path) as f:
                blk = yaml.safe_load(f)
            out.setdefault(blk["id"], blk)
    return out


DEFS = _defs() if EXAMPLES else {}


def _hide(spec: dict, values: dict[str, str]) -> str:
    """A parameter's hide value; a template is rendered with the block's parameter values
    as written (an error, or anything but 'all' / 'part', counts as shown)."""
    hide = str(spec.get("hide", "none")).strip()
    if "${" in hide:
        try:
            from mako.template import Template

            hide = Template(hide).render(**values).strip()
        except Exception:  # noqa: BLE001 - a guess: show it (the larger block)
            return "none"
    return hide.strip("'\"")


def _value_text(spec: dict, value: str) -> str:
    options = [str(o) for o in spec.get("options") or []]
    labels = [str(o) for o in spec.get("option_labels") or []]
    if value in options and len(labels) == len(options):
        return labels[options.index(value)]
    label = str(spec.get("label", spec["id"]))
    max_len = max(27 - len(label), 3)
    return value if len(value) <= max_len else value[:max_len]


def _ports(specs: list[dict], values: dict[str, str], variables: dict[str, str]) -> int:
    n = 0
    for p in specs or []:
        if str(p.get("hide", "False")).strip() in ("True", "true"):
            continue
        mult = str(p.get("multiplicity", "1"))
        if "${" in mult:
            name = mult.replace("${", "").replace("}", "").strip()
            mult = values.get(name, "4")
            mult = variables.get(mult, mult)
        try:
            n += int(float(mult))
        except ValueError:
            n += 4  # an expression: as for the usual four channels
    return n


def _ports_height(n: int) -> float:
    return 0 if n == 0 else 2 * PORT_BORDER + (n - 1) * PORT_SEPARATION + PORT_PX


def block_box(entry: dict, variables: dict[str, str]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a flowgraph block as GRC draws it (estimate, see the module doc)."""
    key = entry["id"]
    values = {k: str(v) for k, v in (entry.get("parameters") or {}).items()}
    spec = DEFS.get(key) or DEFS.get(key + "_", {})  # GRC files say import for import_
    lines = []
    if key == "options" or key.startswith(ALWAYS_SHOWN_ID):
        lines.append(f"ID: {entry['name']}")
    for p in spec.get("parameters") or []:
        if p["id"] not in values or _hide(p, values) in ("all", "part"):
            continue
        lines.append(f"{p.get('label', p['id'])}: {_value_text(p, values[p['id']])}")
    title = str(spec.get("label", key))
    width = max(len(title) * TITLE_CHAR_PX, max((len(s) for s in lines), default=0) * PARAM_CHAR_PX)
    height = TITLE_LINE_PX + (LABEL_SEPARATION + len(lines) * PARAM_LINE_PX if lines else 0)
    width, height = width + 2 * PADDING, height + 2 * PADDING
    height = max(
        height,
        _ports_height(_ports(spec.get("inputs"), values, variables)),
        _ports_height(_ports(spec.get("outputs"), values, variables)),
    )
    width, height = (math.ceil(v / GRID) * GRID for v in (width, height))
    states = entry.get("states") or {}
    if int(states.get("rotation", 0)) % 180:
        width, height = height, width
    x, y = states.get("coordinate", (0, 0))
    return (x, y, x + width, y + height)


def _flowgraph(path: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    with open(path) as f:
        fg = yaml.safe_load(f)
    entries = [{"id": "options", "name": fg["options"]["parameters"]["id"], **fg["options"]}]
    entries += fg.get("blocks") or []
    variables = {
        b["name"]: str((b.get("parameters") or {}).get("value", ""))
        for b in entries
        if b["id"].startswith(("variable", "parameter"))
    }
    return [(b["name"], block_box(b, variables)) for b in entries]


def test_block_model_knows_the_blocks():
    for path in EXAMPLES:
        with open(path) as f:
            fg = yaml.safe_load(f)
        unknown = {b["id"] for b in fg.get("blocks") or []} - set(DEFS) - {"import"}
        assert not unknown, f"{path.name}: no block definition for {sorted(unknown)}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_no_two_blocks_overlap(path):
    boxes = _flowgraph(path)
    bad = [
        f"{a} {ra} / {b} {rb}"
        for (a, ra), (b, rb) in itertools.combinations(boxes, 2)
        if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]
    ]
    assert not bad, f"{path.name}: overlapping blocks (x0, y0, x1, y1):\n" + "\n".join(bad)


def test_the_overlap_check_sees_an_overlap():
    """Two blocks of the same kind two grid steps apart overlap; far apart they do not."""
    entry = {"id": "variable", "name": "a", "parameters": {"value": "1"}}
    near = block_box({**entry, "states": {"coordinate": [0, 0]}}, {})
    far = block_box({**entry, "states": {"coordinate": [0, 400]}}, {})
    moved = block_box({**entry, "states": {"coordinate": [16, 16]}}, {})
    assert near[2] > 16 and near[3] > 16  # a variable block is bigger than two grid steps
    assert far[1] >= near[3] and moved[0] < near[2] and moved[1] < near[3]


def test_config_dicts_are_not_on_the_block_face():
    """GRC shows a parameter's value cut to 27 - len(label) characters, a carrier or SRS
    dict as {'s...: None}: such parameters appear only in the properties dialog."""
    for path in sorted((ROOT / "grc").glob("*.block.yml")):
        with open(path) as f:
            blk = yaml.safe_load(f)
        for p in blk.get("parameters") or []:
            default = str(p.get("default", "")).strip()
            is_dict = p.get("dtype") == "raw" and default.startswith(("{", "[{"))
            if is_dict or p["id"] in ("carrier", "srs", "sharers"):
                assert p.get("hide") in ("part", "all"), f"{path.name}: {p['id']} on the block face"
