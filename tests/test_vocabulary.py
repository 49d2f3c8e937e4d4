"""One vocabulary for block parameters (docs/developing.md, "Vocabulary").

Every grc/*.block.yml names the same thing the same way: the number of streams a block
reads or writes is ``num_channels`` (never ``num_elements``, which is the array's element
count in recordings, ``srsaoa:array.num_elements``), the angle range is ``fov_min_deg`` /
``fov_max_deg`` with ``grid_step_deg`` (never ``grid_start_deg`` / ``grid_stop_deg``).
The flowgraphs in examples/ and tests/data/ use only parameter ids their blocks have
(GRC keeps parameters by id, so a renamed one would silently fall back to its default),
and the old keywords of Python blocks still work, with a DeprecationWarning.
(tests/test_grc_yaml.py checks that each yml's parameters match the constructor.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml
from gnuradio import srsaoa

ROOT = Path(__file__).resolve().parent.parent
YMLS = sorted((ROOT / "grc").glob("*.block.yml"))
FLOWGRAPHS = sorted((ROOT / "examples").glob("*.grc")) + sorted(
    (ROOT / "tests" / "data").glob("*.grc")
)

# the settled name -> names that must not be used for it in a block's parameters
SYNONYMS = {
    "num_channels": (
        "num_elements",
        "n_elements",
        "num_elems",
        "n_channels",
        "num_chans",
        "nchan",
        "nchannels",
    ),
    "fov_min_deg": ("grid_start_deg", "grid_min_deg", "angle_min_deg", "min_angle_deg"),
    "fov_max_deg": ("grid_stop_deg", "grid_end_deg", "grid_max_deg", "angle_max_deg"),
    "grid_step_deg": ("step_deg", "angle_step_deg", "grid_resolution_deg"),
    "sample_rate": ("samp_rate", "fs", "sampling_rate"),
}
FORBIDDEN = {old: new for new, olds in SYNONYMS.items() for old in olds}

# Python block constructors' old keywords: (block, old, new, value)
DEPRECATED_KEYWORDS = [
    ("array_channel", "num_elements", "num_channels", 3),
    ("spatial_spectrum", "grid_start_deg", "fov_min_deg", -30.0),
    ("spatial_spectrum", "grid_stop_deg", "fov_max_deg", 30.0),
]

# parameters GRC adds to every block of a .grc file
GRC_COMMON = {"alias", "comment", "affinity", "maxoutbuf", "minoutbuf"}


def _params(path: Path) -> list[str]:
    with open(path) as f:
        return [p["id"] for p in yaml.safe_load(f).get("parameters", [])]


def _yml_params() -> dict[str, set[str]]:
    out = {}
    for path in YMLS:
        with open(path) as f:
            block = yaml.safe_load(f)
        out[block["id"]] = {p["id"] for p in block.get("parameters", [])}
    return out


def test_synonym_table_is_consistent():
    assert not set(FORBIDDEN) & set(SYNONYMS), "a settled name is listed as a synonym"


@pytest.mark.parametrize("path", YMLS, ids=[p.name for p in YMLS])
def test_block_parameters_use_the_settled_names(path: Path):
    bad = {pid: FORBIDDEN[pid] for pid in _params(path) if pid in FORBIDDEN}
    assert not bad, f"{path.name}: rename {bad} (docs/developing.md, Vocabulary)"


def test_the_settled_names_are_in_use():
    """Guards the table above against drift: each settled name of a block parameter is used
    by at least one block (sample_rate included), so a rename in the other direction
    fails here too."""
    used = set().union(*_yml_params().values())
    missing = [name for name in SYNONYMS if name not in used]
    assert not missing, f"no block has {missing}; update SYNONYMS and docs/developing.md"


def test_no_two_blocks_spell_one_parameter_two_ways():
    """Across all blocks, at most one spelling of each synonym group is in use."""
    used = set().union(*_yml_params().values())
    for new, olds in SYNONYMS.items():
        spellings = sorted(used & {new, *olds})
        assert len(spellings) <= 1, f"blocks use {spellings} for one thing; use {new}"


@pytest.mark.parametrize("path", FLOWGRAPHS, ids=[p.name for p in FLOWGRAPHS])
def test_flowgraphs_use_only_existing_parameter_ids(path: Path):
    """GRC stores parameters by id: a .grc written before a rename keeps the old id, and
    GRC drops it (the block then runs with the default)."""
    known = _yml_params()
    with open(path) as f:
        blocks = yaml.safe_load(f)["blocks"]
    for blk in blocks:
        if blk["id"] not in known:
            continue
        unknown = set(blk.get("parameters") or {}) - known[blk["id"]] - GRC_COMMON
        assert not unknown, f"{path.name}: block {blk['name']} ({blk['id']}) has {unknown}"


@pytest.mark.parametrize(
    "block, old, new, value",
    DEPRECATED_KEYWORDS,
    ids=[f"{b}.{o}" for b, o, _, _ in DEPRECATED_KEYWORDS],
)
def test_old_keywords_still_work_with_a_deprecation_warning(block, old, new, value):
    cls = getattr(srsaoa, block)
    with pytest.warns(DeprecationWarning, match=f"{old}= is deprecated, use {new}="):
        cls(**{old: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        cls(**{new: value})
    with pytest.raises(TypeError, match="not both"):
        cls(**{old: value, new: value})


def test_cpp_covariance_accumulator_takes_num_channels():
    blk = srsaoa.covariance_accumulator(
        num_channels=4, n_occasions=1, forward_backward=False, forgetting=0.0
    )
    assert blk is not None
    with pytest.raises(ValueError, match="num_channels"):
        srsaoa.covariance_accumulator(0, 1, False, 0.0)
