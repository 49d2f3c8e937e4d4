"""Multichannel SRS simulator: scenarios -> recordings with ground truth.

Plain numpy; never imports GNU Radio (DESIGN section 2). See docs/simulator.md.
"""

from .channel import ArrayChannel, Path, child_rng, kaiser_sinc, path_taps
from .scenario import Scenario, ScenarioError
from .simulate import (
    cfr_snapshots,
    los_aoa_at,
    simulate,
    slot_plan,
    srs_re_power,
    sweep,
    sweep_label,
    transmit_stream,
)

__all__ = [
    "ArrayChannel",
    "Path",
    "Scenario",
    "ScenarioError",
    "cfr_snapshots",
    "child_rng",
    "kaiser_sinc",
    "los_aoa_at",
    "path_taps",
    "simulate",
    "slot_plan",
    "srs_re_power",
    "sweep",
    "sweep_label",
    "transmit_stream",
]
