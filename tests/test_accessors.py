"""One accessor convention (docs/developing.md, "Accessors").

GNU Radio blocks (C++ and Python, and the ``rx_flowgraph`` top block: everything a
flowgraph holds) expose their state and counters as getter methods, as GNU Radio's own
blocks do (``message_debug.num_messages()``): ``blk.num_dropped()``, never a plain
attribute or a property. Plain math kernels (the C++ ``*_kernel`` classes, the
``recording_reader``, and their Python twins such as ``CovarianceAccumulator``) expose
theirs as read-only properties: ``kernel.num_snapshots``.
"""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path

import pytest
from gnuradio import gr, srsaoa
from gnuradio.srsaoa import blocks
from gnuradio.srsaoa.estimation.covariance import CovarianceAccumulator
from gnuradio.srsaoa.flowgraph import rx_flowgraph

cpp = srsaoa.srsaoa_python

PY_BLOCKS = {name: getattr(blocks, name) for name in blocks.__all__}
CPP_BLOCKS = {
    name: c
    for name, c in vars(cpp).items()
    if isinstance(c, type) and issubclass(c, gr.gr_python.basic_block)
}
BLOCK_CLASSES = {**PY_BLOCKS, **CPP_BLOCKS, "rx_flowgraph": rx_flowgraph}
KERNEL_CLASSES = {
    **{n: c for n, c in vars(cpp).items() if isinstance(c, type) and n.endswith("_kernel")},
    "recording_reader": cpp.recording_reader,
    "CovarianceAccumulator": CovarianceAccumulator,
}

# counters and state each block must offer as methods (a regression list, not exhaustive)
EXPECTED_METHODS = {
    "cfr_extractor": ("num_channels", "num_cfrs", "num_dropped", "num_held", "num_in_flight"),
    "doa_estimator": ("num_estimates", "num_skipped", "num_dropped"),
    "moddnn_doa": ("num_skipped", "num_dropped"),
    "order_estimator": ("num_dropped",),
    "position_estimator": (
        "num_estimates",
        "num_received",
        "num_hellos",
        "num_ranges",
        "num_positions",
        "num_dropped",
        "records",
    ),
    "publish_gate": ("num_passed", "num_hellos", "failed"),
    "range_source": ("num_ranges", "num_bad"),
    "resource_separator": ("num_cfrs", "num_unseparated", "sinr_before_db"),
    "result_sink": ("num_written", "num_skipped", "num_dropped"),
    "sigmf_source": ("num_channels", "num_nonfinite"),
    "spatial_spectrum": ("grid_deg",),
    "array_channel": ("latency", "noise_variance"),
    "srs_sync": ("num_detections", "num_missed", "num_resyncs", "num_gap_samples", "state"),
    "rx_flowgraph": ("num_detections", "num_cfrs", "num_estimates", "num_missed"),
    "covariance_accumulator": ("num_dropped",),
    "esprit_estimator": ("num_estimates", "num_skipped", "num_dropped"),
    "cfr_extractor_core": ("num_cfrs", "num_dropped", "num_gap_dropped", "num_retunes"),
    "srs_sync_core": ("num_detections", "num_missed", "num_resyncs", "state"),
    "recording_source": ("num_samples", "num_streamed", "num_nonfinite"),
}
EXPECTED_PROPERTIES = {
    "covariance_kernel": ("num_elements", "num_snapshots", "num_occasions"),
    "CovarianceAccumulator": ("num_elements", "num_snapshots", "num_occasions"),
    "srs_sync_kernel": ("num_channels", "fed", "decided", "state", "missed"),
    "cfr_kernel": ("num_channels", "num_symbols", "num_subcarriers", "span_end"),
    "recording_reader": ("num_channels", "num_samples", "num_nonfinite"),
}


def _public(cls: type, prefix: str = "") -> list[str]:
    return sorted(n for n in dir(cls) if n.startswith(prefix) and not n.startswith("_"))


def _own_properties(cls: type) -> list[str]:
    """Public properties defined by gr-srsaoa's Python classes in cls's MRO."""
    return sorted(
        name
        for k in cls.__mro__
        if k.__module__.startswith("gnuradio.srsaoa") and not k.__module__.endswith("_python")
        for name, v in vars(k).items()
        if isinstance(v, property) and not name.startswith("_")
    )


def test_the_tables_name_known_classes():
    assert set(EXPECTED_METHODS) <= set(BLOCK_CLASSES)
    assert set(EXPECTED_PROPERTIES) <= set(KERNEL_CLASSES)
    assert len(PY_BLOCKS) >= 15 and len(CPP_BLOCKS) >= 5


@pytest.mark.parametrize("name", sorted(BLOCK_CLASSES))
def test_block_counters_are_methods(name):
    cls = BLOCK_CLASSES[name]
    for attr in sorted({*_public(cls, "num_"), *EXPECTED_METHODS.get(name, ())}):
        assert hasattr(cls, attr), f"{name}.{attr}() is missing"
        static = inspect.getattr_static(cls, attr)
        assert not isinstance(static, property), f"{name}.{attr} is a property: make it a method"
        assert callable(static), f"{name}.{attr} must be a getter method"


@pytest.mark.parametrize("name", sorted({*PY_BLOCKS, "rx_flowgraph"}))
def test_python_blocks_define_no_properties(name):
    props = _own_properties(BLOCK_CLASSES[name])
    assert not props, f"{name}: {props} are properties; a block's state is read by methods"


def _self_num_assignments(path: Path) -> list[str]:
    """``self.num_x = ...`` (public, plain or annotated) anywhere in a module."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for t in targets:
            if (
                isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id == "self"
                and t.attr.startswith("num_")
            ):
                bad.append(f"{path.name}:{node.lineno} self.{t.attr}")
    return bad


def test_block_modules_assign_no_public_counter():
    """Catches a counter kept as a plain attribute in any block, even one not built below."""
    modules = [inspect.getsourcefile(c) for c in (*PY_BLOCKS.values(), rx_flowgraph)]
    bad = [b for m in sorted(set(modules)) for b in _self_num_assignments(Path(m))]
    assert not bad, f"counters kept as attributes (use self._x and a num_x() method): {bad}"


@pytest.mark.parametrize("name", sorted(PY_BLOCKS))
def test_block_instances_read_counters_by_calling(name, caplog):
    caplog.set_level(logging.CRITICAL)
    blk = PY_BLOCKS[name]()  # every Python block builds with its defaults
    plain = sorted(k for k in vars(blk) if k.startswith("num_"))
    assert not plain, f"{name}: {plain} are instance attributes; make them methods"
    for attr in _public(type(blk), "num_"):
        value = getattr(blk, attr)()
        if isinstance(value, dict):  # per-anchor counters (position_estimator)
            assert all(isinstance(v, int) and v >= 0 for v in value.values()), (attr, value)
        else:
            assert int(value) == value and value >= 0, (name, attr, value)


def test_position_estimator_counts_every_anchor():
    pe = srsaoa.position_estimator()
    names = {a.name for a in pe.anchors}
    for attr in ("num_estimates", "num_received", "num_hellos"):
        assert getattr(pe, attr)() == dict.fromkeys(names, 0)
    counts = pe.num_received()
    counts[next(iter(names))] = 99  # a copy: the block's counter is not touched
    assert set(pe.num_received().values()) == {0}
    assert pe.records() == [] and pe.num_positions() == 0


@pytest.mark.parametrize("name", sorted(KERNEL_CLASSES))
def test_kernel_state_is_read_only_properties(name):
    cls = KERNEL_CLASSES[name]
    for attr in sorted({*_public(cls, "num_"), *EXPECTED_PROPERTIES.get(name, ())}):
        static = inspect.getattr_static(cls, attr)
        assert isinstance(static, property), f"{name}.{attr} must be a read-only property"
        assert static.fset is None, f"{name}.{attr} must be read-only"


@pytest.mark.parametrize(
    "kernel",
    [lambda: CovarianceAccumulator(4, True, 0.5), lambda: cpp.covariance_kernel(4, True, 0.5)],
    ids=["python twin", "C++"],
)
def test_covariance_kernels_read_alike(kernel):
    k = kernel()
    assert (k.num_elements, k.num_snapshots, k.num_occasions) == (4, 0.0, 0)
    assert (k.forward_backward, k.forgetting) == (True, 0.5)
    for attr in ("num_elements", "num_snapshots", "num_occasions"):
        with pytest.raises(AttributeError):
            setattr(k, attr, 1)
