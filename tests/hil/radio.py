"""GNU Radio flowgraphs of the HIL suite: the UE transmitter (srs_source -> USRP sink),
N310 captures (USRP source, shared tune, timed start -> memory) and the project's receiver
chain run on a capture (srs_sync -> cfr_extractor -> covariance_accumulator ->
doa_estimator). ``process_capture`` needs no radio and is tested on simulated captures in
tests/test_hil_logic.py; the rest needs the hardware of docs/hil.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pmt
from gnuradio import blocks, gr, srsaoa, uhd
from gnuradio.srsaoa.blocks.pdu import cfr_from_pdu, parse_pdu
from gnuradio.srsaoa.nr import CarrierConfig, SRSConfig, srs_slot_waveform

from .config import HilConfig

# The bench carrier: 30 kHz SCS, 51 RB (20 MHz), 30.72 Msps, SRS over 48 RB, comb 2,
# 4 symbols, every slot: what an E312/B2xx streams and an N310 receives at
# master clock 122.88 MHz / 4.
N310_MASTER_CLOCK = 122.88e6


def bench_configs(n_size_grid: int = 51, c_srs: int = 12) -> tuple[CarrierConfig, SRSConfig]:
    return CarrierConfig(subcarrier_spacing=30, n_size_grid=n_size_grid), SRSConfig(c_srs=c_srs)


@dataclass
class Capture:
    """Samples [M, N] of one snapshot and the device time of sample 0 (s, None if unknown)."""

    samples: np.ndarray
    sample_rate: float
    rx_time_s: float | None = None


@dataclass
class FrontendResult:
    """What the receiver chain made of a capture."""

    cfr: list[np.ndarray] = field(default_factory=list)  # H[M, S, K] per occasion
    cfr_meta: list[dict] = field(default_factory=list)
    estimates: list[dict] = field(default_factory=list)
    detections: int = 0
    freqs_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))  # of the CFR columns

    def cfr_series(self) -> np.ndarray:
        return np.stack(self.cfr) if self.cfr else np.zeros((0, 0, 0, 0), np.complex64)

    def sample_indices(self) -> np.ndarray:
        return np.array([m["sample_index"] for m in self.cfr_meta], dtype=np.int64)

    def snr_db(self) -> float:
        """Median per-RE SNR the CFR extractor measured (dB)."""
        return float(np.median([m["snr_db"] for m in self.cfr_meta]))

    def aoa_deg(self) -> np.ndarray:
        """First (strongest) AoA of every estimate."""
        return np.array([float(np.atleast_1d(e["aoa_deg"])[0]) for e in self.estimates])


def _messages(dbg: blocks.message_debug) -> list:
    return [dbg.get_message(i) for i in range(dbg.num_messages())]


def process_capture(
    cap: Capture,
    carrier: CarrierConfig,
    srs: SRSConfig,
    *,
    calibration: object = "",
    spacing_wl: float = 0.5,
    method: str = "esprit",
    n_occasions: int = 1,
    order: int = 1,
) -> FrontendResult:
    """Run the project's receiver on a capture: vector sources -> srs_sync ->
    cfr_extractor (with ``calibration``) -> covariance_accumulator -> doa_estimator,
    collecting CFR and estimate PDUs."""
    m, n = cap.samples.shape
    tb = gr.top_block("hil_frontend")
    sync = srsaoa.srs_sync(m, carrier.to_dict(), srs.to_dict())
    cfr = srsaoa.cfr_extractor(m, carrier.to_dict(), srs.to_dict(), True, -1, calibration)
    cov = srsaoa.covariance_accumulator(m, n_occasions, False, 0.0)
    doa = srsaoa.doa_estimator(method, spacing_wl, order, "aic", -90.0, 90.0, 0.5, True, False, 0)
    cfr_dbg, est_dbg = blocks.message_debug(), blocks.message_debug()
    for i in range(m):
        src = blocks.vector_source_c(np.ascontiguousarray(cap.samples[i]).tolist(), False)
        tb.connect(src, (sync, i))
        tb.connect((sync, i), (cfr, i))
    tb.msg_connect(cfr, "cfr", cfr_dbg, "store")
    tb.msg_connect(cfr, "cfr", cov, "cfr")
    tb.msg_connect(cov, "covariance", doa, "covariance")
    tb.msg_connect(doa, "estimate", est_dbg, "store")
    tb.run()
    # message passing finishes asynchronously after the streams end
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        n_cfr = cfr_dbg.num_messages()
        if est_dbg.num_messages() >= n_cfr // max(1, n_occasions):
            break
        time.sleep(0.05)
    out = FrontendResult(detections=sync.num_detections(), freqs_hz=cfr.subcarrier_frequencies_hz())
    for msg in _messages(cfr_dbg):
        meta, h = cfr_from_pdu(msg)
        out.cfr.append(h)
        out.cfr_meta.append(meta)
    for msg in _messages(est_dbg):
        meta, _ = parse_pdu(msg)
        out.estimates.append(meta)
    return out


def configure_rx(usrp: uhd.usrp_source, cfg: HilConfig, nchan: int, start_delay_s: float) -> None:
    """The N310 settings of examples/rx_n310.grc: references, time 0 at the next PPS, RX LO
    source on every channel, one identical tune request for all channels issued as a timed
    command, gains, then a timed stream start ``start_delay_s`` after the tune."""
    usrp.set_clock_source(cfg.clock_source, 0)
    usrp.set_time_source(cfg.time_source, 0)
    usrp.set_time_unknown_pps(uhd.time_spec(0.0))
    for ch in range(nchan):
        for name in usrp.get_lo_names(ch):
            if cfg.lo_source in usrp.get_lo_sources(name, ch):
                usrp.set_lo_source(cfg.lo_source, name, ch)
        usrp.set_gain(cfg.rx_gain_db, ch)
        usrp.set_antenna("RX2", ch)
    t_cmd = usrp.get_time_now() + uhd.time_spec(0.2)
    usrp.set_command_time(t_cmd)
    req = uhd.tune_request(cfg.freq_hz)
    for ch in range(nchan):
        usrp.set_center_freq(req, ch)
    usrp.clear_command_time()
    time.sleep(0.3)
    usrp.set_start_time(usrp.get_time_now() + uhd.time_spec(start_delay_s))


class StreamCapturer:
    """A source of ``nchan`` streams -> head -> vector sinks, rerun for every snapshot.

    The radio is tuned once (RxCapturer's constructor); snapshots restart streaming only,
    so the inter-channel phases of the tune hold across them (what calibration relies on).
    """

    def __init__(self, source: gr.basic_block, nchan: int, sample_rate: float) -> None:
        self.source = source
        self.nchan = nchan
        self.sample_rate = sample_rate
        self._tb: gr.top_block | None = None

    def capture(self, seconds: float) -> Capture:
        """One snapshot of ``seconds``: the same top block is rerun with its heads reset, so
        the radio streams only while a capture runs."""
        n = int(round(seconds * self.sample_rate))
        if self._tb is None:
            self._tb = gr.top_block("hil_capture")
            self._heads = [blocks.head(gr.sizeof_gr_complex, n) for _ in range(self.nchan)]
            self._sinks = [blocks.vector_sink_c() for _ in range(self.nchan)]
            for ch in range(self.nchan):
                self._tb.connect((self.source, ch), self._heads[ch], self._sinks[ch])
        for head, sink in zip(self._heads, self._sinks, strict=True):
            head.set_length(n)
            head.reset()
            sink.reset()
        self._tb.run()
        samples = np.stack([np.asarray(s.data(), np.complex64)[:n] for s in self._sinks])
        t0 = None
        times = [
            (t.offset, t.value)
            for t in self._sinks[0].tags()
            if pmt.symbol_to_string(t.key) == "rx_time"
        ]
        if times:  # the rx_time of the first tag, referred back to sample 0 of the capture
            off, v = min(times, key=lambda x: x[0])
            t_tag = pmt.to_uint64(pmt.tuple_ref(v, 0)) + pmt.to_double(pmt.tuple_ref(v, 1))
            t0 = t_tag - off / self.sample_rate
        return Capture(samples, self.sample_rate, t0)

    def close(self) -> None:
        """Release the device (UHD frees it when the last reference goes)."""
        if self._tb is not None:
            self._tb.disconnect_all()
        self._tb = None
        self.source = None

    def snapshots(self, count: int, seconds: float, every_s: float) -> list[Capture]:
        """``count`` captures of ``seconds`` each, one every ``every_s`` (the Spanos
        testbed's snapshot technique: 6 ms every second)."""
        out = []
        t_next = time.monotonic()
        for _ in range(count):
            time.sleep(max(0.0, t_next - time.monotonic()))
            t_next += every_s
            out.append(self.capture(seconds))
        return out


class RxCapturer(StreamCapturer):
    """The N310 of SRSAOA_USRP_RX at ``sample_rate`` (master clock 122.88 MHz), configured
    like examples/rx_n310.grc (configure_rx)."""

    def __init__(self, cfg: HilConfig, sample_rate: float, nchan: int = 4) -> None:
        args = ",".join(a for a in (cfg.rx_args, f"master_clock_rate={N310_MASTER_CLOCK:.0f}") if a)
        usrp = uhd.usrp_source(
            args, uhd.stream_args(cpu_format="fc32", otw_format="sc16", channels=list(range(nchan)))
        )
        usrp.set_samp_rate(sample_rate)
        configure_rx(usrp, cfg, nchan, start_delay_s=0.5)
        super().__init__(usrp, nchan, sample_rate)
        self.cfg = cfg


class TxUe:
    """The UE: srs_source -> USRP sink on SRSAOA_USRP_TX, running in the background
    (nothing when the transmitter is 'external', e.g. an E312 running tx_srs_usrp.py)."""

    def __init__(self, cfg: HilConfig, carrier: CarrierConfig, srs: SRSConfig) -> None:
        self.tb = None
        if cfg.tx_is_external or not cfg.has_tx:
            return
        fs = carrier.sample_rate
        scale = 10 ** (-3 / 20) / float(np.abs(srs_slot_waveform(carrier, srs)).max())
        tb = gr.top_block("hil_tx")
        src = srsaoa.srs_source.from_configs(carrier, srs, scale=scale)
        args = ",".join(a for a in (cfg.tx_args, f"master_clock_rate={fs:.0f}") if a)
        sink = uhd.usrp_sink(args, uhd.stream_args(cpu_format="fc32", otw_format="sc16"), "")
        sink.set_samp_rate(fs)
        sink.set_center_freq(cfg.freq_hz, 0)
        sink.set_gain(cfg.tx_gain_db, 0)
        sink.set_antenna("TX/RX", 0)
        tb.connect(src, sink)
        self.tb = tb
        self.blocks = (src, sink)  # a Python block must outlive the flowgraph's run

    def __enter__(self) -> TxUe:
        if self.tb is not None:
            self.tb.start()
            time.sleep(0.5)  # let the LO settle and the first slots leave
        return self

    def __exit__(self, *exc) -> None:
        if self.tb is not None:
            self.tb.stop()
            self.tb.wait()
