"""Scenario -> M-channel SRS recording with ground truth (DESIGN sections 3 and 5)."""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import nr
from ..array.geometry import ULA
from ..array.impairments import ImpairmentProfile
from ..io.sigmf import Recording, ci16_scale_for, config_to_dict, dequantize_ci16, quantize_ci16
from .channel import NOISE_KEY, OFFSET_KEY, SCATTER_KEY, ArrayChannel, Path, child_rng
from .scenario import Scenario

GENERATOR = "gr-srsaoa sim"


def srs_re_power(carrier: Any, srs: Any) -> float:
    """Mean power of the transmitted SRS resource elements (ports summed, as transmitted)."""
    grid = nr.srs_grid(carrier, srs).sum(axis=2)
    idx = nr.srs_indices(carrier, srs)
    re = np.unique(idx[:, :2], axis=0)
    return float(np.mean(np.abs(grid[re[:, 0], re[:, 1]]) ** 2))


def _tx_slot(carrier: Any, srs: Any) -> NDArray[np.complex128]:
    w = np.asarray(nr.srs_slot_waveform(carrier, srs), dtype=np.complex128)
    return w.sum(axis=1) if w.ndim == 2 else w


def slot_plan(scenario: Scenario) -> dict:
    """Slot layout of the recording: first slot sample, per-slot starts / lengths / SRS flags."""
    carrier = scenario.carrier_config()
    srs = scenario.srs_config()
    start = scenario.start_offset_samples
    if start is None:
        start = int(child_rng(scenario.seed, OFFSET_KEY).integers(0, carrier.samples_per_slot()))
    starts, lengths, is_srs, carriers = [], [], [], []
    pos = int(start)
    for i in range(int(scenario.num_slots)):
        c = carrier.advanced(i)
        n = c.samples_per_slot()
        starts.append(pos)
        lengths.append(n)
        is_srs.append(bool(srs.is_srs_slot(c)))
        carriers.append(c)
        pos += n
    return {
        "first_slot_sample": int(start),
        "starts": starts,
        "lengths": lengths,
        "is_srs": is_srs,
        "carriers": carriers,
        "num_samples": pos,
    }


def transmit_stream(scenario: Scenario) -> NDArray[np.complex64]:
    """The UE's transmitted stream over the whole recording (the input of ``array_channel``):
    zeros before the first slot and in non-SRS slots, the SRS slot waveform in SRS slots."""
    plan = slot_plan(scenario)
    srs = scenario.srs_config()
    x = np.zeros(plan["num_samples"], dtype=np.complex128)
    for s, n, flag, c in zip(plan["starts"], plan["lengths"], plan["is_srs"], plan["carriers"]):
        if flag:
            x[s : s + n] = _tx_slot(c, srs)
    return x.astype(np.complex64)


def los_aoa_at(scenario: Scenario, t_s: float) -> float:
    """AoA of path 0 (deg) at time ``t_s`` from the recording start, per ``trajectory``."""
    aoa0 = float(scenario.paths[0]["aoa_deg"])
    tr = scenario.trajectory
    if tr is None:
        return aoa0
    if "rate_deg_per_s" in tr:
        a = aoa0 + float(tr["rate_deg_per_s"]) * t_s
    else:
        a = float(
            np.interp(t_s, np.asarray(tr["times_s"], float), np.asarray(tr["aoa_deg"], float))
        )
    if abs(a) >= 90:
        raise ValueError(f"the trajectory leaves (-90, 90) deg at t = {t_s:.6f} s ({a:.2f} deg)")
    return a


def _scatterers(
    scenario: Scenario, rng: np.random.Generator, los_aoa: float, spec_power: float
) -> list[Path]:
    r = scenario.rician
    k_lin = 10 ** (float(r["k_factor_db"]) / 10)
    ns = int(r.get("num_scatterers", 16))
    spread = float(r.get("angle_spread_deg", 20.0))
    max_delay = float(r.get("max_excess_delay_s", 200e-9))
    power_db = 10 * np.log10(spec_power / (k_lin * ns))
    aoa = np.clip(los_aoa + rng.uniform(-spread, spread, ns), -89.9, 89.9)
    delay = rng.uniform(0, max_delay, ns)
    phase = rng.uniform(0, 2 * np.pi, ns)
    return [
        Path(float(a), float(d), float(power_db), float(p)) for a, d, p in zip(aoa, delay, phase)
    ]


class _StandardChannel:
    """A scenario's TR 38.901 ``channel`` as the simulator uses it: the current draw, its
    Doppler shifts, the element pattern, and paths at a time."""

    def __init__(self, scenario: Scenario, ula: ULA) -> None:
        from .standard import spec_doppler

        self.scenario = scenario
        self.ula = ula
        self.spec = scenario.channel
        self.pattern = self.spec.get("element_pattern", "3gpp")
        self.tilt = float(self.spec.get("tilt_deg") or 0.0)
        self.per_occasion = self.spec.get("redraw", "recording") == "occasion"
        self._spec_doppler = spec_doppler
        self.redraw(0)

    def redraw(self, index: int) -> None:
        self.draw = self.scenario.channel_draw(self.ula, draw=index)
        self.doppler = self._spec_doppler(self.spec, self.draw, self.ula.carrier_frequency_hz)

    def paths(self, t_s: float = 0.0) -> list[Path]:
        return self.draw.paths(self.pattern, self.tilt, t_s, self.doppler)

    def truth(self) -> dict:
        return self.draw.truth(self.pattern, self.tilt)

    def truth_paths(self) -> list[Path]:
        """paths[0]: the UE direction with the LOS ray's received power (-200 dB: no LOS
        ray); then one entry per cluster: centre cone angle, delay, received power."""
        d = self.draw
        p = d.received_powers(self.pattern, self.tilt)
        los = d.ray_cluster == -1
        p0 = float(p[los].sum())
        phase = float(d.ray_phase_rad[los][0]) if los.any() else 0.0
        out = [Path(d.los_aoa_deg, 0.0, 10 * np.log10(p0) if p0 > 0 else -200.0, phase)]
        from .standard import ula_angle_deg

        c = d.clusters
        for i in range(c["delay_s"].size):
            pc = float(p[d.ray_cluster == i].sum())
            if pc <= 0:
                continue
            aoa = float(ula_angle_deg(c["azimuth_deg"][i], c["zenith_deg"][i]))
            out.append(Path(aoa, float(c["delay_s"][i]), 10 * np.log10(pc), 0.0))
        return out[:64]


def simulate(scenario: Scenario | dict, progress: bool = False) -> Recording:
    """Simulate ``scenario``; returns the recording with samples [M, N] and its ground truth.

    The UE stream (``transmit_stream``) passes through the streaming channel model
    (``ArrayChannel``: paths, impairments, CFO, noise), slot by slot; path 0 follows the
    trajectory and Rician scatterers are redrawn per SRS occasion when asked, the new channel
    taking effect at each slot start. With ``datatype: ci16_le`` the samples are quantised
    (RMS of the loudest channel ``ci16_backoff_db`` below full scale) and read back.
    """
    if isinstance(scenario, dict):
        scenario = Scenario.from_dict(scenario)
    if scenario.ues:
        return _simulate_ues(scenario, progress)
    carrier = scenario.carrier_config()
    srs = scenario.srs_config()
    ula = scenario.ula()
    profile = scenario.profile(ula)
    plan = slot_plan(scenario)
    fs = float(carrier.sample_rate)
    x = transmit_stream(scenario)
    p_x = srs_re_power(carrier, srs)

    base_paths = scenario.path_list()
    spec_power = float(sum(10 ** (p.power_db / 10) for p in base_paths))
    ref_power = spec_power
    scatter_rng = child_rng(scenario.seed, SCATTER_KEY)
    rician = scenario.rician
    per_occasion = rician is not None and rician.get("redraw", "recording") == "occasion"
    if rician is not None:
        ref_power = spec_power * (1 + 10 ** (-float(rician["k_factor_db"]) / 10))
    scatter: list[Path] = []
    if rician is not None:
        scatter = _scatterers(scenario, scatter_rng, base_paths[0].aoa_deg, spec_power)
    std = _StandardChannel(scenario, ula) if scenario.channel is not None else None
    if std is not None:
        per_occasion = std.per_occasion
        ref_power = 1.0  # ray powers sum to 1 (TDL: in expectation)
        base_paths = std.truth_paths()

    def paths_for(slot: int) -> tuple[list[Path], float]:
        nonlocal scatter
        t = (plan["starts"][slot] - plan["first_slot_sample"]) / fs
        aoa = los_aoa_at(scenario, t)
        if std is not None:
            occasion = int(sum(plan["is_srs"][:slot]))
            if per_occasion and plan["is_srs"][slot]:
                std.redraw(occasion)
            return std.paths(t), aoa
        ps = scenario.path_list(aoa0_deg=aoa)
        if per_occasion and slot > 0 and plan["is_srs"][slot]:
            scatter = _scatterers(scenario, scatter_rng, aoa, spec_power)
        return ps + scatter, aoa

    paths0, _ = paths_for(0)
    chan = ArrayChannel(
        ula,
        profile,
        paths0,
        fs,
        scenario.snr_db,
        scenario.cfo_hz,
        seed=scenario.seed,
        signal_power_per_re=p_x,
        half_length=scenario.filter_half_length,
        reference_power=ref_power,
    )
    time_varying = scenario.trajectory is not None or per_occasion
    time_varying = time_varying or (std is not None and std.doppler is not None)
    d = chan.delay
    # segment boundaries in input samples: the channel of slot i applies from output
    # sample starts[i], i.e. from input sample starts[i] + D
    bounds = [0] + [s + d for s in plan["starts"][1:]] + [x.size]
    bounds = [min(b, x.size) for b in bounds]
    aoas = [paths0[0].aoa_deg]
    out = []
    it = range(len(bounds) - 1)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"simulate {scenario.name}", unit="slot")
    scatter_log = [[p.to_dict() for p in scatter]] if scatter else []
    if std is not None:
        scatter_log = [std.truth()]
    for i in it:
        if i > 0:
            if time_varying:
                ps, aoa = paths_for(i)
                chan.set_paths(ps)
                if per_occasion and plan["is_srs"][i]:
                    if std is not None:
                        scatter_log.append(std.truth())
                    else:
                        scatter_log.append([p.to_dict() for p in scatter])
            else:
                aoa = aoas[-1]
            aoas.append(aoa)
        out.append(chan.process(x[bounds[i] : bounds[i + 1]]))
    out.append(chan.flush())
    y = np.concatenate(out, axis=1)
    assert y.shape[1] == x.size

    truth: dict[str, Any] = {
        "paths": [p.to_dict() for p in base_paths],
        "snr_db": scenario.snr_db,
        "cfo_hz": float(scenario.cfo_hz),
        "first_slot_sample": plan["first_slot_sample"],
        "los_path": 0,
        "los_aoa_deg": float(base_paths[0].aoa_deg),
        "num_slots": int(scenario.num_slots),
        "num_srs_occasions": int(sum(plan["is_srs"])),
        "srs_slot_sample_starts": [s for s, f in zip(plan["starts"], plan["is_srs"]) if f],
        "slot_sample_starts": list(plan["starts"]),
        "noise_variance": chan.noise_variance,
        "signal_power_per_re": p_x * ref_power,
        "srs_re_per_symbol": int(nr.srs_indices(carrier, srs).shape[0])
        // (srs.num_srs_symbols * srs.num_srs_ports),
        "steering": profile.steering,
        "impairments": profile.to_dict(),
        "rician": copy.deepcopy(rician),
        # with a TR 38.901 channel: one record per draw (sim.standard.ChannelDraw.truth)
        "scatterers": scatter_log,
        "trajectory": copy.deepcopy(scenario.trajectory),
        "filter_half_length": int(scenario.filter_half_length),
        "seed": int(scenario.seed),
        "generator": GENERATOR,
        "scenario": scenario.to_dict(),
    }
    annotations = []
    occ = 0
    for i, (s, n, flag, c) in enumerate(
        zip(plan["starts"], plan["lengths"], plan["is_srs"], plan["carriers"])
    ):
        if not flag:
            continue
        annotations.append(
            {
                "core:sample_start": int(s),
                "core:sample_count": int(n),
                "core:label": "SRS",
                "srsaoa:aoa_deg": float(aoas[i]),
                "srsaoa:occasion": occ,
                "srsaoa:n_slot": int(c.n_slot),
                "srsaoa:n_frame": int(c.n_frame),
            }
        )
        occ += 1

    datatype = scenario.datatype
    if datatype == "ci16_le":
        scale = ci16_scale_for(y, scenario.ci16_backoff_db)
        iq, clipped = quantize_ci16(y, scale)
        y = dequantize_ci16(iq, scale)
        truth["ci16_scale"] = scale
        truth["ci16_backoff_db"] = float(scenario.ci16_backoff_db)
        truth["ci16_clipped"] = clipped
    return Recording(
        samples=y,
        sample_rate=fs,
        center_frequency_hz=ula.carrier_frequency_hz,
        carrier=carrier,
        srs=srs,
        array=ula,
        truth=truth,
        annotations=annotations,
        datatype=datatype,
        description=scenario.description or f"gr-srsaoa simulation {scenario.name}",
    )


def _simulate_ues(scenario: Scenario, progress: bool = False) -> Recording:
    """Several UEs (``scenario.ues``), each with its own SRS resource, paths, power, CFO and
    timing offset: each UE's noise-free recording through the same array, scaled to its SNR,
    delayed by its timing offset and summed; then one noise. The noise variance is that of a
    unit-power UE at the scenario's ``snr_db`` (P_x = 1, sum |alpha|^2 = 1), so a UE's
    ``snr_db`` is its own per-element, per-RE SNR (DESIGN section 3) without the others.

    The truth's top-level fields describe the first UE; ``truth["ues"]`` lists every UE by id
    (its SRS resource, paths, SNR, CFO, timing offset and SRS slot starts), and every SRS
    annotation names its UE in ``srsaoa:resource``.
    """
    ula = scenario.ula()
    profile = scenario.profile(ula).to_dict()  # one array for all UEs
    plan = slot_plan(scenario)
    start = plan["first_slot_sample"]
    sigma2 = 0.0 if scenario.snr_db is None else 10 ** (-float(scenario.snr_db) / 10)
    total: NDArray[np.complex128] | None = None
    ue_truth: list[dict] = []
    annotations: list[dict] = []
    first: Recording | None = None
    for u in scenario.ue_list():
        sub = scenario.copy(
            srs=u["srs"],
            paths=u["paths"],
            cfo_hz=u["cfo_hz"],
            snr_db=None,
            ues=None,
            impairments=profile,
            start_offset_samples=start,
            datatype="cf32_le",
            # a UE's phases depend on its id, not on the others: the same UE alone is the
            # same realisation (the benchmark's reference)
            seed=int(scenario.seed) + zlib.crc32(u["id"].encode()),
            name=f"{scenario.name}_{u['id']}",
        )
        rec = simulate(sub, progress=progress)
        t = rec.truth
        p_sig = float(t["signal_power_per_re"])
        if u["snr_db"] is not None:
            g2 = 10 ** (u["snr_db"] / 10) * sigma2 / p_sig
        else:
            g2 = 10 ** (u["power_db"] / 10)
        y = rec.samples.astype(np.complex128) * np.sqrt(g2)
        d = int(u["timing_offset_samples"])
        if d:
            y = np.concatenate([np.zeros((y.shape[0], d)), y[:, :-d]], axis=1)
        total = y if total is None else total + y
        first = first or rec
        ue_truth.append(
            {
                "id": u["id"],
                "srs": config_to_dict(rec.srs),
                "paths": t["paths"],
                "los_aoa_deg": t["los_aoa_deg"],
                "snr_db": u["snr_db"],
                "signal_power_per_re": p_sig * g2,
                "cfo_hz": u["cfo_hz"],
                "timing_offset_samples": d,
                "num_srs_occasions": t["num_srs_occasions"],
                "srs_slot_sample_starts": [s + d for s in t["srs_slot_sample_starts"]],
            }
        )
        for a in rec.annotations:
            a = dict(a)
            a["core:sample_start"] = int(a["core:sample_start"]) + d
            a["core:label"] = f"SRS {u['id']}"
            a["srsaoa:resource"] = u["id"]
            annotations.append(a)
    assert total is not None and first is not None
    if sigma2 > 0:
        w = child_rng(scenario.seed, NOISE_KEY).standard_normal((*total.shape, 2))
        total = total + np.sqrt(sigma2 / 2) * (w[..., 0] + 1j * w[..., 1])
    y = total.astype(np.complex64)
    annotations.sort(key=lambda a: a["core:sample_start"])
    truth = dict(first.truth)
    truth.update(
        snr_db=ue_truth[0]["snr_db"],
        noise_variance=sigma2,
        signal_power_per_re=ue_truth[0]["signal_power_per_re"],
        seed=int(scenario.seed),
        scenario=scenario.to_dict(),
        ues=ue_truth,
    )
    datatype = scenario.datatype
    if datatype == "ci16_le":
        scale = ci16_scale_for(y, scenario.ci16_backoff_db)
        iq, clipped = quantize_ci16(y, scale)
        y = dequantize_ci16(iq, scale)
        truth["ci16_scale"] = scale
        truth["ci16_backoff_db"] = float(scenario.ci16_backoff_db)
        truth["ci16_clipped"] = clipped
    return Recording(
        samples=y,
        sample_rate=first.sample_rate,
        center_frequency_hz=first.center_frequency_hz,
        carrier=first.carrier,
        srs=first.srs,
        array=first.array,
        truth=truth,
        annotations=annotations,
        datatype=datatype,
        description=scenario.description or f"gr-srsaoa simulation {scenario.name}",
    )


def sweep(
    scenario: Scenario | dict,
    angles: ArrayLike | None = None,
    progress: bool = False,
) -> Iterator[tuple[float, Recording]]:
    """The anechoic-chamber sweep (MoD-DNN Section 6.1): one recording per angle of
    ``angles`` (default: the scenario's ``sweep.aoa_deg`` grid), same array (impairment
    profile), LOS path at that angle, independent noise (seed + index)."""
    if isinstance(scenario, dict):
        scenario = Scenario.from_dict(scenario)
    grid = scenario.sweep_angles() if angles is None else np.asarray(angles, float).ravel()
    profile = scenario.profile().to_dict()  # one array for the whole sweep
    for i, a in enumerate(grid):
        paths = copy.deepcopy(scenario.paths)
        paths[0]["aoa_deg"] = float(a)
        sc = scenario.copy(
            paths=paths,
            impairments=profile,
            seed=int(scenario.seed) + i,
            sweep=None,
            trajectory=None,
            name=f"{scenario.name}_{sweep_label(a)}",
        )
        yield float(a), simulate(sc, progress=progress)


def sweep_label(aoa_deg: float) -> str:
    """File-name label of a sweep angle, e.g. -12.5 -> 'aoa_m012p5'."""
    sign = "m" if aoa_deg < 0 else "p"
    return f"aoa_{sign}{abs(aoa_deg):05.1f}".replace(".", "p")


def cfr_snapshots(
    ula: ULA,
    profile: ImpairmentProfile,
    aoa_deg: float,
    snr_db: float | None,
    subcarriers_hz: ArrayLike,
    num_snapshots: int,
    rng: np.random.Generator,
    paths: Sequence[Path | dict] | None = None,
    los_phase_rad: float | None = None,
) -> NDArray[np.complex64]:
    """Least-squares CFR snapshots H [M, S, K] without the time domain, same physics as
    ``simulate``: H[m, s, k] = sum_l alpha_l b_m(theta_l, f_k) exp(-j 2 pi f_k tau_l) + n,
    b = profile.manifold(ula, ...), n ~ CN(0, sum_l |alpha_l|^2 / 10^(snr_db/10)) (the SNR of
    DESIGN section 3 for unit-amplitude SRS symbols); ``snr_db=None``: noise-free.

    The LOS path is at ``aoa_deg`` with delay 0, power 0 dB and phase ``los_phase_rad``
    (random from ``rng`` when None); ``paths`` adds multipath components (Path or dicts with
    aoa_deg, delay_s, power_db, phase_rad). The channel is the same for all S snapshots, the
    noise independent.
    """
    if int(num_snapshots) != num_snapshots or num_snapshots < 1:
        raise ValueError(f"num_snapshots must be an integer >= 1, got {num_snapshots}")
    f = np.asarray(subcarriers_hz, dtype=np.float64).ravel()
    phase = rng.uniform(0, 2 * np.pi) if los_phase_rad is None else float(los_phase_rad)
    all_paths = [Path(float(aoa_deg), 0.0, 0.0, phase)]
    for p in paths or []:
        if isinstance(p, dict):
            p = Path(
                p["aoa_deg"], p.get("delay_s", 0.0), p.get("power_db", 0.0), p.get("phase_rad", 0.0)
            )
        all_paths.append(p)
    h = np.zeros((ula.num_elements, f.size), dtype=np.complex128)
    for p in all_paths:
        b = profile.manifold(ula, p.aoa_deg, f)  # [M, K]
        h += p.amplitude * b * np.exp(-2j * np.pi * f * p.delay_s)[None, :]
    out = np.repeat(h[:, None, :], int(num_snapshots), axis=1)
    if snr_db is not None:
        power = sum(10 ** (p.power_db / 10) for p in all_paths)
        var = power / 10 ** (float(snr_db) / 10)
        w = rng.standard_normal((*out.shape, 2))
        out = out + np.sqrt(var / 2) * (w[..., 0] + 1j * w[..., 1])
    return out.astype(np.complex64)
