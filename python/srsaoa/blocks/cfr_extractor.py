"""cfr_extractor: CFR PDUs from tagged SRS slots, configured from CarrierConfig / SRSConfig.

A hier block around the C++ ``cfr_extractor_core``; the standard-dependent parameters
(FFT bins, known sequence, CP positions) come from ``nr.receiver.frontend_params``, the
calibration from ``array.calibration``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from gnuradio import gr

from .. import constants as K
from ..array.calibration import calibration_multipliers
from ..nr.receiver import frontend_params


class cfr_extractor(gr.hier_block2):  # noqa: N801 - GNU Radio block naming
    """M streams in (tagged by srs_sync), one CFR PDU per SRS occasion out on ``cfr``:
    H[m, s, k] by least squares on the SRS resource elements (DESIGN section 6).

    ``calibration``: '' (none), a JSON file written by ``srsaoa calibrate``, or M complex
    multipliers. ``cp_backoff``: samples the FFT window starts inside the CP (-1 = a quarter
    of the CP); its phase ramp is removed, so H refers to the slot start either way.

    Flow control for recordings (docs/performance.md): with ``flow_window`` > 0 the block
    holds the stream (and so the source) back while ``flow_window`` or more of its CFRs
    are not yet acknowledged on ``ack`` by each of ``flow_consumers`` result sinks (one per
    estimator branch). 0 (a live radio) never holds back.

    ``noise_exclude``: FFT bins that are not to be taken as noise (several UEs,
    docs/multi_ue.md: the bins of the other SRS resources on other comb offsets). When no
    noise RE is left the CFR's ``snr_db`` is NaN.
    """

    def __init__(
        self,
        num_channels: int = 4,
        carrier: Any = None,
        srs: Any = None,
        cfo_correction: bool = True,
        cp_backoff: int = -1,
        calibration: Any = "",
        flow_window: int = 0,
        flow_consumers: int = 1,
        noise_exclude: Any = (),
    ) -> None:
        if isinstance(num_channels, bool) or int(num_channels) != num_channels or num_channels < 1:
            raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
        m = int(num_channels)
        gr.hier_block2.__init__(
            self,
            "cfr_extractor",
            gr.io_signature(m, m, gr.sizeof_gr_complex),
            gr.io_signature(0, 0, 0),
        )
        from .. import srsaoa_python as cpp

        p = frontend_params({} if carrier is None else carrier, {} if srs is None else srs)
        if len(noise_exclude):
            # several UEs: the REs of the other resources carry their SRS, not noise
            drop = np.isin(p.noise_bins, np.asarray(list(noise_exclude), dtype=np.int64))
            p = dataclasses.replace(p, noise_bins=p.noise_bins[~drop])
        self.params = p
        self._num_channels = m
        min_cp = min(p.cp_lengths)
        backoff = min_cp // 4 if int(cp_backoff) == -1 else int(cp_backoff)
        if not 0 <= backoff <= min_cp:
            raise ValueError(f"cp_backoff must be -1 (auto) or in [0, {min_cp}], got {cp_backoff}")
        self.cp_backoff = backoff
        self.message_port_register_hier_out(K.PORT_CFR)
        self.message_port_register_hier_in(K.PORT_ACK)
        self.core = cpp.cfr_extractor_core(
            m,
            p.fft_size,
            list(p.window_offsets),
            p.subcarriers.astype(int).tolist(),
            p.subcarrier_bins.astype(int).tolist(),
            p.sequence.ravel().tolist(),
            p.noise_bins.astype(int).tolist(),
            backoff,
            p.scs_hz,
            p.sample_rate,
            bool(cfo_correction),
            self._multipliers(calibration),
        )
        for i in range(m):
            self.connect((self, i), (self.core, i))
        self.msg_connect(self.core, K.PORT_CFR, self, K.PORT_CFR)
        self.msg_connect(self, K.PORT_ACK, self.core, K.PORT_ACK)
        self.set_flow_control(flow_window, flow_consumers)

    def set_flow_control(self, flow_window: int, flow_consumers: int = 1) -> None:
        """Credits for a recording: at most ``flow_window`` CFRs unacknowledged by the
        ``flow_consumers`` result sinks (0 = off, a live radio)."""
        for name, v in (("flow_window", flow_window), ("flow_consumers", flow_consumers)):
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        if flow_window and flow_consumers < 1:
            raise ValueError("flow_consumers must be >= 1 with a flow_window")
        self.core.set_flow_control(int(flow_window), int(flow_consumers))

    def num_channels(self) -> int:
        """Number of input streams (antenna channels)."""
        return self._num_channels

    def num_in_flight(self) -> int:
        """CFRs published and not yet acknowledged by every consumer."""
        return int(self.core.num_in_flight())

    def max_in_flight(self) -> int:
        """The most CFRs ever in flight with flow control on."""
        return int(self.core.max_in_flight())

    def num_held(self) -> int:
        """Work calls that held the stream back for want of credit."""
        return int(self.core.num_held())

    def _multipliers(self, calibration: Any) -> list[complex]:
        mult = calibration_multipliers(
            calibration, self._num_channels, self.subcarrier_frequencies_hz()
        )
        return [] if mult is None else np.asarray(mult, np.complex64).ravel().tolist()

    def subcarrier_frequencies_hz(self) -> np.ndarray:
        """Baseband frequency of each CFR column: the FFT bin as a signed index times scs."""
        n = self.params.fft_size
        b = self.params.subcarrier_bins.astype(np.int64)
        return np.where(b < n // 2, b, b - n) * self.params.scs_hz

    def set_calibration(self, calibration: Any) -> None:
        """Replace the calibration at run time ('' removes it)."""
        self.core.set_calibration(self._multipliers(calibration))

    def set_cfo_correction(self, on: bool) -> None:
        self.core.set_cfo_correction(bool(on))

    def num_cfrs(self) -> int:
        return int(self.core.num_cfrs())

    def num_dropped(self) -> int:
        return int(self.core.num_dropped())

    def num_gap_dropped(self) -> int:
        """Occasions dropped because an rx_time discontinuity lies inside them."""
        return int(self.core.num_gap_dropped())

    def num_retunes(self) -> int:
        """rx_freq changes seen (each one invalidates the phase calibration)."""
        return int(self.core.num_retunes())
