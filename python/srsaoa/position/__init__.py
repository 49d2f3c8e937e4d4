"""Positioning from AoA estimates and UWB ranges: plain numpy/scipy, no GNU Radio.

- ``anchors``: the anchors YAML (DESIGN section 9), the positioning frame and the AoA/range
  measurement models with their Jacobians
- ``solve``: single-anchor AoA + range (closed form), multi-anchor WLS with outlier rejection
- ``crb``: position Cramer-Rao bound, error ellipses and error percentiles of a Gaussian
- ``tracker``: constant-velocity EKF with gated AoA/range updates
- ``epochs``: estimate/range JSON lines -> epochs -> positions (shared by ``srsaoa locate``
  and the ``position_estimator`` block)
- ``plot``: the map (anchors, bearing rays, range circles, track, truth, error ellipses)

See docs/positioning.md.
"""

from .anchors import (
    Anchor,
    anchor_map,
    anchors_from_dict,
    aoa_deg,
    in_front,
    range_m,
    read_anchors,
    write_anchors,
)
from .crb import error_cdf, error_ellipse, error_quantile, position_crb, rms_bound
from .epochs import (
    Epoch,
    EpochAssembler,
    Locator,
    assemble,
    infer_epoch_s,
    read_estimates,
    read_ranges,
)
from .solve import AOA, RANGE, Fix, Measurement, single_anchor, solve
from .tracker import PositionTracker

__all__ = [
    "AOA",
    "RANGE",
    "Anchor",
    "Epoch",
    "EpochAssembler",
    "Fix",
    "Locator",
    "Measurement",
    "PositionTracker",
    "anchor_map",
    "anchors_from_dict",
    "aoa_deg",
    "assemble",
    "error_cdf",
    "error_ellipse",
    "error_quantile",
    "in_front",
    "infer_epoch_s",
    "position_crb",
    "range_m",
    "read_anchors",
    "read_estimates",
    "read_ranges",
    "rms_bound",
    "single_anchor",
    "solve",
    "write_anchors",
]
