"""srs_sync: the SRS slot synchroniser configured from CarrierConfig / SRSConfig dicts.

A hier block around the C++ ``srs_sync_core``: the parameter translation (reference slot,
SRS symbol positions, period) is done here with ``nr.receiver.frontend_params``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gnuradio import gr

from ..nr.receiver import FrontendParams, cross_sequence_floor, frontend_params


def _params(carrier: Any, srs: Any, port: int = 0) -> FrontendParams:
    return frontend_params({} if carrier is None else carrier, {} if srs is None else srs, port)


class srs_sync(gr.hier_block2):  # noqa: N801 - GNU Radio block naming
    """M streams in, the same M streams out, with an ``srs_start`` tag (dict: occasion,
    metric, cfo_hz, fractional_offset) on the first sample of every detected SRS slot.

    Acquisition: FFT cross-correlation with the known SRS symbols, normalised metric, a
    threshold set from ``pfa`` (false detections per slot of noise, docs/frontend.md).
    Tracking: with the period of ``srs["srs_period"]``, only +-``track_window`` samples
    around each predicted start; ``max_misses`` misses in a row re-acquire.
    ``num_resources``: SRS resources (UEs) in the signal (docs/multi_ue.md); the metric
    divides by the energy of all of them, so the floor against other sequences is divided
    by this number. ``group``: SRS configs of other UEs on the same REs with the same
    sequence and other cyclic shifts; the reference is the sum of all their waveforms and
    one detection gives the group's common timing.
    """

    def __init__(
        self,
        num_channels: int = 4,
        carrier: Any = None,
        srs: Any = None,
        ref_channel: int = -1,
        pfa: float = 1e-6,
        track_window: int = 2,
        max_misses: int = 3,
        num_resources: int = 1,
        group: Any = (),
    ) -> None:
        if isinstance(num_channels, bool) or int(num_channels) != num_channels or num_channels < 1:
            raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
        m = int(num_channels)
        if not -1 <= int(ref_channel) < m:
            raise ValueError(f"ref_channel must be -1 (all) or in [0, {m}), got {ref_channel}")
        if not 0.0 < float(pfa) < 0.5:
            raise ValueError(f"pfa must be in (0, 0.5), got {pfa}")
        if int(track_window) < 0:
            raise ValueError(f"track_window must be >= 0, got {track_window}")
        if int(max_misses) < 1:
            raise ValueError(f"max_misses must be >= 1, got {max_misses}")
        if (
            isinstance(num_resources, bool)
            or int(num_resources) != num_resources
            or not (1 <= num_resources <= 64)
        ):
            raise ValueError(f"num_resources must be an integer in [1, 64], got {num_resources}")
        gr.hier_block2.__init__(
            self,
            "srs_sync",
            gr.io_signature(m, m, gr.sizeof_gr_complex),
            gr.io_signature(m, m, gr.sizeof_gr_complex),
        )
        from .. import srsaoa_python as cpp

        self.logger = gr.logger("srs_sync")
        self.params = _params(carrier, srs)
        p = self.params
        reference = np.asarray(p.reference, np.complex128)
        for other in group or ():
            # UEs on the same REs and sequence with other cyclic shifts: correlate against
            # the sum of their waveforms, so the group's common timing wins over the
            # cyclically shifted copies of a stronger member (docs/multi_ue.md)
            q = _params(carrier, other)
            if q.reference.size != reference.size or q.segment_starts != p.segment_starts:
                raise ValueError("group: every SRS config must use the same symbols and slot")
            reference = reference + q.reference
        self.core = cpp.srs_sync_core(
            m,
            reference.astype(np.complex64).tolist(),
            list(p.segment_starts),
            list(p.segment_lengths),
            int(ref_channel),
            int(p.period),
            float(pfa),
            int(track_window),
            int(max_misses),
            float(p.sample_rate),
            # several UEs: the metric divides by the energy of all of them (docs/multi_ue.md)
            cross_sequence_floor(p) / int(num_resources),
        )
        for i in range(m):
            self.connect((self, i), (self.core, i))
            self.connect((self.core, i), (self, i))
        self.logger.debug(
            f"srs_sync: {m} channels, fs {p.sample_rate / 1e6:.3f} Msps, period {p.period} "
            f"samples, thresholds {self.core.acquisition_threshold():.5f} / "
            f"{self.core.tracking_threshold():.5f}"
        )

    def num_detections(self) -> int:
        return int(self.core.num_detections())

    def state(self) -> int:
        """0 acquisition, 1 confirming the period, 2 tracking."""
        return int(self.core.state())

    def num_resyncs(self) -> int:
        return int(self.core.num_resyncs())
