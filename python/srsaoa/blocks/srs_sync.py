"""srs_sync: the SRS slot synchroniser configured from CarrierConfig / SRSConfig dicts.

A hier block around the C++ ``srs_sync_core``: the parameter translation (reference slot,
SRS symbol positions, period) is done here with ``nr.receiver.frontend_params``.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
from gnuradio import gr

from ..nr.receiver import FrontendParams, cross_sequence_floor, frontend_params


class SyncState(enum.IntEnum):
    """srs_sync's detector states (the C++ core's 0, 1, 2)."""

    ACQUISITION = 0  # searching every sample for the SRS
    CONFIRMING = 1  # one detection, waiting for the next one a period later
    TRACKING = 2  # following the occasions in a small window around each prediction


def _params(carrier: Any, srs: Any, port: int = 0) -> FrontendParams:
    return frontend_params({} if carrier is None else carrier, {} if srs is None else srs, port)


class srs_sync(gr.hier_block2):  # noqa: N801 - GNU Radio block naming
    """M streams in, the same M streams out, with an ``srs_start`` tag (dict: occasion,
    metric, cfo_hz, fractional_offset) on the first sample of every detected SRS slot.

    Acquisition: FFT cross-correlation with the known SRS symbols, normalised metric rho.
    Each threshold is the larger of two terms, both set here and both reported
    (``thresholds()``; measured Pfa and Pd in docs/frontend.md):

    - the noise (CFAR) threshold from ``pfa``, false detections per slot of noise;
    - the guard ``min_metric`` against other UEs' SRS sequences, which correlate with ours
      at a few /N_sc: None or a negative value = 12/N_sc divided by ``num_resources``
      (cross_sequence_floor); 0 = no guard. The guard is far above the noise threshold
      (0.042 against 0.0025 for 4 channels at 51 RB), so by default it sets the threshold
      and the false-alarm rate is far below ``pfa`` (``effective_pfa()``), at the price of
      about 12 dB of sensitivity; with one UE on its own band, ``min_metric=0`` makes
      ``pfa`` the operating point.

    Tracking: with the period of ``srs["srs_period"]`` (the pattern of unequal intervals
    for mu >= 2), only +-``track_window`` samples around each predicted start;
    ``max_misses`` misses in a row re-acquire. ``num_missed()`` counts the occasions the
    tracker expected but did not detect; ``num_resyncs()`` the rx_time gaps.
    ``num_resources``: SRS resources (UEs) in the signal (docs/multi_ue.md); the metric
    divides by the energy of all of them, so the guard against other sequences is divided
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
        min_metric: float | None = None,
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
        if min_metric is not None and not (
            isinstance(min_metric, (int, float, np.floating, np.integer))
            and not isinstance(min_metric, bool)
            and np.isfinite(min_metric)
            and float(min_metric) < 1.0
        ):
            raise ValueError(
                f"min_metric must be None, negative (automatic), 0 (no guard) or in (0, 1), "
                f"got {min_metric!r}"
            )
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
        if min_metric is None or float(min_metric) < 0.0:
            # several UEs: the metric divides by the energy of all of them (docs/multi_ue.md)
            guard = cross_sequence_floor(p) / int(num_resources)
        else:
            guard = float(min_metric)
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
            guard,
            [int(v) for v in p.period_pattern],
        )
        for i in range(m):
            self.connect((self, i), (self.core, i))
            self.connect((self.core, i), (self, i))
        self.logger.debug(
            f"srs_sync: {m} channels, fs {p.sample_rate / 1e6:.3f} Msps, period {p.period} "
            f"samples, thresholds {self.core.acquisition_threshold():.5f} / "
            f"{self.core.tracking_threshold():.5f} (noise {self.core.noise_acquisition_threshold():.5f}"
            f" / {self.core.noise_tracking_threshold():.5f} from pfa {float(pfa):g}, guard "
            f"{guard:.5f}; effective pfa per slot {self.core.effective_pfa():.3g})"
        )

    def num_detections(self) -> int:
        return int(self.core.num_detections())

    def state(self) -> SyncState:
        """The detector's state (an int enum: ACQUISITION 0, CONFIRMING 1, TRACKING 2)."""
        return SyncState(int(self.core.state()))

    def num_resyncs(self) -> int:
        """Acquisition restarts at rx_time discontinuities (overflow, capture gap)."""
        return int(self.core.num_resyncs())

    def num_missed(self) -> int:
        """Occasions the tracker expected (whole intervals after a detection, up to the end
        of the stream, including those inside gaps of known length) but did not detect."""
        return int(self.core.num_missed())

    def num_gap_samples(self) -> int:
        """Samples missing in the rx_time gaps seen so far."""
        return int(self.core.num_gap_samples())

    def effective_pfa(self) -> float:
        """False detections per slot of noise at the acquisition threshold in use (union
        bound): ``pfa`` when the noise threshold is in force, less under the guard."""
        return float(self.core.effective_pfa())

    def thresholds(self) -> dict[str, float]:
        """The thresholds in use and the two terms they come from."""
        c = self.core
        return {
            "acquisition": float(c.acquisition_threshold()),
            "tracking": float(c.tracking_threshold()),
            "noise_acquisition": float(c.noise_acquisition_threshold()),
            "noise_tracking": float(c.noise_tracking_threshold()),
            "min_metric": float(c.min_metric()),
            "effective_pfa": float(c.effective_pfa()),
        }
