"""The receiver flowgraph of ``examples/rx_file.grc`` (and ``rx_n310.grc``), built in Python.

``srsaoa run`` and the demo use :class:`rx_flowgraph`; the GRC examples wire the same
blocks the same way:

    source (SigMF file | UHD) -> srs_sync -> cfr_extractor --CFR PDUs-->
        covariance_accumulator -> esprit_estimator (C++: AIC + ESPRIT) ---------------+
        covariance_accumulator -> order_estimator (AIC) -> doa_estimator (1-D method) -+
        doa_estimator (2d-esprit, 2d-ml; dbf/music/ml with a manifold) --------------+-> result_sink
        moddnn_doa ------------------------------------------------------------------+

Flow control (docs/performance.md): from a recording the CFR extractor holds the source
back while ``flow_window`` CFRs are unacknowledged by the branches' result sinks (every
stage announces the occasions it finishes without an output on ``skipped``): nothing is
dropped and memory stays bounded. Live (``live=True``) the source cannot wait: every
message queue is bounded by ``max_queue`` and the oldest PDUs of a branch that falls behind
are dropped, counted (``dropped()``, JSON key ``dropped``) and logged once per burst.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gnuradio import blocks, gr

from . import constants as K
from .blocks.cfr_extractor import cfr_extractor
from .blocks.doa_estimator import doa_estimator
from .blocks.order_estimator import order_estimator
from .blocks.resource_separator import resource_separator
from .blocks.result_sink import result_sink
from .blocks.srs_sync import srs_sync
from .nr.receiver import frontend_params
from .nr.resources import comb_plan
from .srsaoa_python import covariance_accumulator, esprit_estimator

METHODS = ("esprit", "music", "root-music", "dbf", "2d-esprit", "ml", "2d-ml", "moddnn")
FLOW_WINDOW = 32  # CFRs in flight per branch from a recording (about 3 MB at 61.44 Msps)
MAX_QUEUE = 64  # live: messages allowed to wait at each stage before the oldest go
CFR_METHODS = ("2d-esprit", "2d-ml", "moddnn")
# with a sweep (manifold) calibration these search the manifold on CFR PDUs directly
CALIBRATED_METHODS = ("dbf", "music", "ml", "2d-ml")


def _srs_config(srs: Any) -> Any:
    from .nr import SRSConfig

    return SRSConfig.from_dict(srs) if isinstance(srs, dict) else srs


def stacks_cfrs(method: str, manifold: object | None) -> bool:
    """True when ``method``'s branch estimates from CFRs (``doa_estimator``: 2d-esprit,
    2d-ml, and dbf / music / ml on a sweep calibration's ``manifold``; ``moddnn_doa``): its
    occasions per estimate are stacked CFRs, at most ``MAX_STACKED_OCCASIONS``, not an
    accumulated covariance."""
    return method in CFR_METHODS or (manifold is not None and method in CALIBRATED_METHODS)


class rx_flowgraph(gr.top_block):  # noqa: N801 - GNU Radio naming
    """Receiver chain from ``num_channels`` complex streams to JSON lines.

    ``source`` is a block with ``num_channels`` complex outputs (``sigmf_source``, a UHD
    ``usrp_source``, ``array_channel``...). ``carrier`` / ``srs`` are CarrierConfig /
    SRSConfig objects or DESIGN dicts; ``spacing_wavelengths`` is d/lambda of the array.
    Every method in ``methods`` gets its own branch, ending in its own ``result_sink``
    (all writing the one ``out`` file, or "-" for stdout); ``keep_estimates`` also keeps
    the estimate PDUs in memory (for a summary of stdout output; a live run would grow).
    One sink per branch matters: GNU Radio finishes a message-only block at the first
    "done" of any upstream block, so a sink fed by several branches would drop the
    estimates of the slower ones at the end of a recording.

    ``resources`` (several UEs, docs/multi_ue.md): [(id, SRSConfig or dict), ...]; each
    resource gets its own srs_sync + cfr_extractor (correlating against its own waveform, all
    fed by the same streams) and its own branches; its sinks write ``"resource": id``. None:
    one resource ``srs`` without an id.

    ``occasions_per_estimate``: SRS occasions per estimate: accumulated into one covariance
    (covariance_accumulator) for the 1-D methods, their CFRs stacked along the symbol axis
    (``doa_estimator(occasions=...)``, ``moddnn_doa(occasions=...)``) for the CFR methods
    (``stacks_cfrs``) and MoD-DNN.

    ``los_edge``: the CFR methods with delays (2d-esprit, 2d-ml) read their earliest path's
    angle on its leading edge (``doa_estimator(los_edge=True)``, docs/channels.md).

    ``live`` False (a recording): credit-based flow control, ``flow_window`` CFRs in flight
    at most, nothing dropped. ``live`` True (a radio): no credits, every queue bounded by
    ``max_queue`` with the oldest dropped and counted. ESPRIT on covariances runs in C++
    (``esprit_estimator``); the other methods in their Python blocks.
    """

    def __init__(
        self,
        source: Any,
        num_channels: int,
        carrier: Any,
        srs: Any,
        spacing_wavelengths: float,
        sample_rate: float,
        methods: tuple[str, ...] = ("esprit",),
        out: str = "-",
        model: str = "default",
        calibration: str = "",
        occasions_per_estimate: int = 1,
        forward_backward: bool = True,
        order: int = 0,
        log_level: str = "off",
        keep_estimates: bool = False,
        live: bool = False,
        flow_window: int = FLOW_WINDOW,
        max_queue: int = MAX_QUEUE,
        resources: list[tuple[str, Any]] | None = None,
        los_edge: bool = False,
    ) -> None:
        gr.top_block.__init__(self, "srsaoa rx", catch_exceptions=False)
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ValueError(f"methods must be chosen from {METHODS}, got {list(methods)}")
        if len(set(methods)) != len(methods):
            raise ValueError(f"methods must not repeat, got {list(methods)}")
        for name, v, lo in (("flow_window", flow_window, 1), ("max_queue", max_queue, 1)):
            if isinstance(v, bool) or int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        self.live = bool(live)
        q = int(max_queue) if self.live else 0  # a recording is held back, never dropped
        manifold = None
        if calibration:
            from .array.manifold import load_calibration_file

            _, manifold = load_calibration_file(calibration)  # CalibrationError: a ValueError
        self.source = source
        if resources is None:
            resources = [("", srs)]
        resources = list(resources)
        ids = [str(r[0]) for r in resources]
        if not resources or len(set(ids)) != len(ids) or (len(ids) > 1 and "" in ids):
            raise ValueError(f"resources need distinct, non-empty ids, got {ids}")
        self.resources = ids
        self.syncs: list[Any] = []
        self.cfrs: list[Any] = []
        self.sinks: list[Any] = []
        self.stores: list[Any] = []
        self.store_resources: list[str] = []
        self.branches: dict[str, Any] = {}
        self.stages: dict[str, list[Any]] = {}  # every block of a branch, CFR side first
        est_port = K.PORT_ESTIMATE
        self.separators: dict[str, Any] = {}
        plan = comb_plan([(r, _srs_config(c)) for r, c in resources]) if len(ids) > 1 else {}
        group_syncs: dict[tuple[str, ...], Any] = {}
        for rid, rsrs in resources:
            # one srs_sync + cfr_extractor per SRS resource, each correlating against its own
            # resource's waveform, all fed by the same source streams (docs/multi_ue.md)
            group = plan[rid]["group"] if rid in plan else []
            key = tuple(sorted([rid, *group]))
            new_sync = key not in group_syncs
            if new_sync:
                # UEs of one comb and sequence share one timing: a weaker UE's own
                # correlator could lock on a stronger one's cyclically shifted peak
                srsd = dict(resources)
                sync = srs_sync(
                    num_channels,
                    carrier,
                    rsrs,
                    num_resources=len(ids),
                    group=[srsd[g] for g in group],
                )
                group_syncs[key] = sync
            sync = group_syncs[key]
            others = [
                b
                for oid, osrs in resources
                if oid != rid
                for b in frontend_params(carrier, osrs).subcarrier_bins.tolist()
            ]
            cfr = cfr_extractor(
                num_channels, carrier, rsrs, True, -1, calibration, noise_exclude=others
            )
            for m in range(num_channels):
                if new_sync:
                    self.connect((source, m), (sync, m))
                self.connect((sync, m), (cfr, m))
            if new_sync:
                self.syncs.append(sync)
            self.cfrs.append(cfr)
            cfr_out = cfr
            if rid in plan:
                p = plan[rid]
                if p["clash"]:
                    raise ValueError(
                        f"resources {rid!r} and {p['clash']} use the same REs, sequence and "
                        "cyclic shift: the receiver cannot tell them apart"
                    )
                # UEs on the same comb: every UE on these REs fitted with its sequence, the
                # others subtracted (nr.separation), this UE's cyclic-shift window kept; on
                # other combs only the SNR (the noise REs may all be taken by the other combs)
                cfr_out = resource_separator(
                    p["n_cs"],
                    p["n_cs_max"],
                    list(p["orthogonal"]),
                    bool(p["share"]),
                    p["taper"],
                    carrier,
                    rsrs,
                    [dict(resources)[o] for o in p["share"]],
                )
                self.msg_connect((cfr, K.PORT_CFR), (cfr_out, K.PORT_CFR))
                self.separators[rid] = cfr_out
            for method in methods:
                key = f"{method}[{rid}]" if rid else method
                est, stages = self._branch(
                    method,
                    num_channels,
                    spacing_wavelengths,
                    order,
                    calibration,
                    manifold,
                    model,
                    occasions_per_estimate,
                    forward_backward,
                    q,
                    los_edge,
                )
                if len(stages) > 1:
                    self.branches[key + ":covariance"] = tuple(stages[:-1])
                self.msg_connect((cfr_out, K.PORT_CFR), (stages[0], K.PORT_CFR))
                for a, b in zip(stages[:-1], stages[1:]):
                    self.msg_connect((a, K.PORT_COVARIANCE), (b, K.PORT_COVARIANCE))
                sink = result_sink(out, sample_rate, log_level, q, rid)
                self.msg_connect((est, est_port), (sink, est_port))
                # occasions a stage finishes without an output go down the branch (so every
                # block keeps one upstream block) to the sink, which acknowledges them
                for a, b in zip(stages[:-1], stages[1:]):
                    self.msg_connect((a, K.PORT_SKIPPED), (b, K.PORT_COVARIANCE))
                self.msg_connect((est, K.PORT_SKIPPED), (sink, est_port))
                self.msg_connect((sink, K.PORT_ACK), (cfr, K.PORT_ACK))
                self.sinks.append(sink)
                if keep_estimates:
                    store = blocks.message_debug()
                    self.msg_connect((est, est_port), (store, "store"))
                    self.stores.append(store)
                    self.store_resources.append(rid)
                self.branches[key] = est
                self.stages[key] = [*stages, sink]
            if not self.live:
                cfr.set_flow_control(int(flow_window), len(methods))
        self.sync = self.syncs[0]
        self.cfr = self.cfrs[0]

    @staticmethod
    def _branch(
        method,
        num_channels,
        spacing_wavelengths,
        order,
        calibration,
        manifold,
        model,
        occasions_per_estimate,
        forward_backward,
        q,
        los_edge=False,
    ) -> tuple[Any, list[Any]]:
        """The estimator blocks of one method's branch: (estimator, stages CFR side first)."""
        if method == "moddnn":
            from .blocks.moddnn_doa import moddnn_doa

            est = moddnn_doa(model, 32, q, calibration or "", occasions_per_estimate)
            return est, [est]
        if stacks_cfrs(method, manifold):
            # CFRs (stacked over the occasions of one estimate); a manifold needs the
            # subcarriers (per-band covariances)
            est = doa_estimator(
                method,
                spacing_wavelengths,
                order,
                calibration=calibration,
                max_queue=q,
                los_edge=los_edge,
                occasions=occasions_per_estimate,
            )
            return est, [est]
        cov = covariance_accumulator(num_channels, occasions_per_estimate, forward_backward, 0.0)
        cov.set_max_queue(q)
        if method == "esprit":  # AIC + ESPRIT in C++ at line rate
            est = esprit_estimator(spacing_wavelengths, order, "aic", 0, True, -90.0, 90.0, q)
            return est, [cov, est]
        ordr = order_estimator("aic", 0, 0.0, q)
        est = doa_estimator(
            method, spacing_wavelengths, order, calibration=calibration, max_queue=q
        )
        return est, [cov, ordr, est]

    def num_detections(self) -> int:
        """SRS occasions found, over every resource."""
        return sum(int(s.num_detections()) for s in self.syncs)

    def num_missed(self) -> int:
        """SRS occasions the trackers expected but did not detect, over every resource."""
        return sum(int(s.num_missed()) for s in self.syncs)

    def num_resyncs(self) -> int:
        """rx_time gaps (overflow, capture gap) the front end resynchronised after."""
        return max((int(s.num_resyncs()) for s in self.syncs), default=0)

    def num_gap_samples(self) -> int:
        """Samples missing in those gaps."""
        return max((int(s.num_gap_samples()) for s in self.syncs), default=0)

    def num_cfrs(self) -> int:
        """CFRs extracted, over every resource."""
        return sum(int(c.num_cfrs()) for c in self.cfrs)

    def num_estimates(self) -> int:
        """Estimate lines written by the result sinks, over every branch."""
        return sum(s.num_written() for s in self.sinks)

    def dropped(self) -> dict[str, int]:
        """PDUs dropped by the bounded queues of each branch so far (live runs only)."""
        out = {}
        for method, stages in self.stages.items():
            n = 0
            for b in stages:
                n += int(b.num_dropped())
            out[method] = n
        return out

    def estimate_messages(self) -> list[Any]:
        """The estimate PDUs, when built with ``keep_estimates`` (else empty)."""
        return [s.get_message(i) for s in self.stores for i in range(s.num_messages())]

    def estimate_messages_by_resource(self) -> list[tuple[str, Any]]:
        """(resource id, estimate PDU) pairs, when built with ``keep_estimates``."""
        return [
            (rid, s.get_message(i))
            for s, rid in zip(self.stores, self.store_resources)
            for i in range(s.num_messages())
        ]


@dataclass
class LiveSource:
    """What the receiver needs to know about a live radio (the counterpart of io.Recording)."""

    num_channels: int
    carrier: Any
    srs: Any
    array: Any
    sample_rate: float
    truth: dict | None = None
    annotations: list = field(default_factory=list)
    samples: Any = None
    num_samples: int = 0


def usrp_source(
    device_args: str,
    num_channels: int,
    sample_rate: float,
    freq_hz: float,
    gain_db: float,
    clock_source: str = "internal",
    time_source: str = "internal",
    lo_source: str = "internal",
    start_delay_s: float = 0.5,
) -> Any:
    """A phase-coherent multi-channel UHD source set up as in examples/rx_n310.grc.

    Clock and time sources (PPS-aligned device time when the time source is external),
    shared LO where the device offers the source, one timed tune of all channels (so the
    N310's inter-channel phase is set by a single command), and a timed stream start.
    """
    from gnuradio import uhd

    src = uhd.usrp_source(
        device_args,
        uhd.stream_args(cpu_format="fc32", otw_format="sc16", channels=list(range(num_channels))),
    )
    src.set_clock_source(clock_source, 0)
    src.set_time_source(time_source, 0)
    if time_source == "internal":
        src.set_time_now(uhd.time_spec(0.0), 0)
    else:
        src.set_time_unknown_pps(uhd.time_spec(0.0))
    src.set_samp_rate(sample_rate)
    for ch in range(num_channels):
        src.set_gain(gain_db, ch)
        src.set_antenna("RX2", ch)
        for name in src.get_lo_names(ch):
            if lo_source in src.get_lo_sources(name, ch):
                src.set_lo_source(lo_source, name, ch)
    t = src.get_time_now() + uhd.time_spec(0.2)
    src.set_command_time(t)
    req = uhd.tune_request(freq_hz)
    for ch in range(num_channels):
        src.set_center_freq(req, ch)
    src.clear_command_time()
    time.sleep(0.3)
    src.set_start_time(src.get_time_now() + uhd.time_spec(start_delay_s))
    return src


def usrp_source_from_args(args: Any) -> tuple[Any, LiveSource]:
    """``srsaoa run --usrp ...``: the source and its LiveSource description."""
    from .array.geometry import ULA
    from .errors import SrsaoaError
    from .io.mapping import read_mapping
    from .nr import CarrierConfig, SRSConfig

    resources = getattr(args, "resources", None)  # several UEs: --srs-resources R.yaml
    if not (args.num_channels and args.carrier and (args.srs or resources)):
        raise SrsaoaError(
            "--usrp needs --num-channels, --carrier C.json/yaml and --srs S.json/yaml "
            "(or --srs-resources R.yaml)"
        )
    carrier = CarrierConfig.from_dict(read_mapping(args.carrier))
    srs = SRSConfig.from_dict(read_mapping(args.srs)) if args.srs else resources[0][1]
    ula = ULA(args.num_channels, args.spacing_m, args.frequency)
    try:
        src = usrp_source(
            args.usrp,
            args.num_channels,
            carrier.sample_rate,
            args.frequency,
            args.gain,
            args.clock_source,
            args.time_source,
        )
    except RuntimeError as exc:
        raise SrsaoaError(f"USRP {args.usrp!r}: {' '.join(str(exc).split())}") from None
    return src, LiveSource(args.num_channels, carrier, srs, ula, carrier.sample_rate)


@dataclass(frozen=True)
class RecordingInfo:
    """What a GRC flowgraph needs to configure the receiver for a recording."""

    num_channels: int
    carrier: dict
    srs: dict
    spacing_wavelengths: float
    sample_rate: float
    center_frequency_hz: float


def recording_info(path: str) -> RecordingInfo:
    """Receiver settings of a recording (examples/rx_file.grc variables).

    An empty ``path`` describes the simulated demo recording that ``sigmf_source`` streams
    for an empty path.
    """
    from .io import config_to_dict, read_recording

    if path:
        rec = read_recording(path, check_hash=False)
        carrier, srs, ula, fs, fc = (
            rec.carrier,
            rec.srs,
            rec.array,
            rec.sample_rate,
            rec.center_frequency_hz,
        )
        m = rec.num_channels
    else:
        from .sim import Scenario

        sc = Scenario(name="demo")
        carrier, srs, ula = sc.carrier_config(), sc.srs_config(), sc.ula()
        fs, fc, m = carrier.sample_rate, ula.carrier_frequency_hz, ula.num_elements
    return RecordingInfo(
        m, config_to_dict(carrier), config_to_dict(srs), ula.spacing_wavelengths, fs, fc
    )


def recording_resources(path: str) -> list[dict]:
    """The SRS resources (UEs) of a several-UE recording for a GRC flowgraph
    (examples/rx_two_ues.grc; an empty ``path``: two UEs on one comb, cyclic shifts 0 and 4): per UE ``id``, ``srs`` (dict) and the resource_separator
    settings ``cyclic_shift``, ``n_cs_max``, ``orthogonal``, ``window``, ``taper``, ``sharers``
    (comb_plan) and the cfr_extractor's ``noise_exclude`` (the other resources' FFT bins).
    """
    from .io import config_to_dict, read_recording
    from .nr.resources import resources_from_truth

    if not path:  # GRC evaluates the variables without a recording: two UEs on one comb
        from .sim import Scenario, simulate

        two = [{"id": "ue1", "srs": {"c_srs": 12}}, {"id": "ue2", "srs": {"c_srs": 12}}]
        two[1]["srs"]["cyclic_shift"] = 4
        rec = simulate(Scenario(name="two_ues", num_slots=1, snr_db=None, ues=two))
    else:
        rec = read_recording(path, check_hash=False)
    res = resources_from_truth(rec.truth)
    if not res:
        raise ValueError(f"{path}: the recording lists no SRS resources (truth 'ues')")
    plan = comb_plan(res)
    return [
        {
            "id": rid,
            "srs": config_to_dict(srs),
            "cyclic_shift": plan[rid]["n_cs"],
            "n_cs_max": plan[rid]["n_cs_max"],
            "orthogonal": list(plan[rid]["orthogonal"]),
            "window": bool(plan[rid]["share"]),
            "taper": plan[rid]["taper"],
            "group": [config_to_dict(dict(res)[g]) for g in plan[rid]["group"]],
            # the resources on the same REs: the resource_separator's joint separation
            "sharers": [config_to_dict(dict(res)[o]) for o in plan[rid]["share"]],
            "noise_exclude": [
                b
                for oid, o in res
                if oid != rid
                for b in frontend_params(rec.carrier, o).subcarrier_bins.tolist()
            ],
        }
        for rid, srs in res
    ]


def run_with_progress(
    tb: rx_flowgraph, duration_s: float | None, show: bool, stop_after_s: float | None = None
) -> None:
    """Run ``tb`` to its end (or for ``stop_after_s`` on a radio), with a progress line.

    The line counts SRS occasions and estimates against the recording's length; Ctrl-C
    stops the flowgraph cleanly. An exception in a Python block's thread (caught and logged
    by the block, blocks/_guard.py) stops the flowgraph and is raised here as SrsaoaError.
    """
    import sys
    import threading

    from .blocks import _guard
    from .errors import SrsaoaError

    _guard.clear()
    done = threading.Event()
    t0 = time.monotonic()

    def line(final: bool = False) -> None:
        n, e = tb.num_detections(), tb.num_estimates()
        extra = f" of a {duration_s:.3f} s recording" if duration_s else ""
        print(
            f"  {time.monotonic() - t0:6.1f} s: {n} SRS occasions, {e} estimates{extra}   ",
            end="\n" if final else "\r",
            file=sys.stderr,
        )

    def ticker() -> None:
        while not done.wait(0.5):
            line()

    def watcher() -> None:  # stop the flowgraph at the first block failure
        while not done.is_set():
            if _guard.failed.wait(0.1):
                tb.stop()
                return

    thread = threading.Thread(target=ticker, daemon=True) if show else None
    watch = threading.Thread(target=watcher, daemon=True)
    tb.start()
    watch.start()
    if thread:
        thread.start()
    try:
        if stop_after_s:
            time.sleep(stop_after_s)
            tb.stop()
        tb.wait()
    except KeyboardInterrupt:
        tb.stop()
        tb.wait()
    finally:
        done.set()
        watch.join()
    if thread:
        thread.join()
        line(final=True)
    failures = _guard.failures()
    if failures:
        more = f" (and {len(failures) - 1} more, see the log)" if len(failures) > 1 else ""
        raise SrsaoaError(f"stopped: {failures[0]}{more}")
