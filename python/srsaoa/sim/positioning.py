"""Positioning scenarios: a UE trajectory seen by several anchors, with UWB ranges.

A positioning scenario (YAML, docs/positioning.md) places anchors (DESIGN section 9), walks a
UE along waypoints at a constant speed, and gives every anchor one AoA estimate per period
(the JSON lines ``srsaoa run`` writes) and selected anchors UWB ranges with Gaussian noise.
The AoA of each estimate is either drawn at its stochastic CRB (``aoa_model: crb``) or
estimated by a model-based estimator on simulated array snapshots at the scenario's SNR
(``root-music``, ``esprit``, ``music``, ``dbf``); either way ``crb_deg`` is the stochastic CRB of
the true angle. ``anchor_recordings`` turns the same geometry into one SigMF recording per
anchor with the existing SRS simulator (a moving-AoA trajectory per anchor, one shared
truth). Plain numpy; never imports GNU Radio.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from ..errors import SrsaoaError
from ..position.anchors import Anchor, anchors_from_dict, aoa_deg, in_front, range_m
from ..position.anchors import write_anchors as _write_anchors

AOA_MODELS = ("crb", "root-music", "esprit", "music", "dbf")
KEYS = (
    "name",
    "seed",
    "anchors",
    "ue",
    "period_s",
    "duration_s",
    "array",
    "snr_db",
    "n_snapshots",
    "aoa_model",
    "fov_deg",
    "ranges",
    "recordings",
)


@dataclass
class PositioningScenario:
    """See the module docstring and docs/positioning.md for the fields."""

    anchors: list[Anchor]
    ue: dict = field(default_factory=lambda: {"waypoints_m": [[10.0, 0.0]], "height_m": 0.0})
    period_s: float = 0.1
    duration_s: float | None = None
    array: dict = field(default_factory=lambda: {"num_elements": 4, "spacing_wavelengths": 0.5})
    snr_db: float = 10.0
    n_snapshots: int = 1152
    aoa_model: str = "crb"
    fov_deg: float = 80.0
    ranges: dict | None = None
    recordings: dict | None = None
    seed: int = 0
    name: str = "positioning"

    def __post_init__(self) -> None:
        if not self.anchors:
            raise SrsaoaError("positioning scenario needs anchors")
        wp = np.asarray(self.ue.get("waypoints_m", []), dtype=np.float64)
        if wp.ndim != 2 or wp.shape[1] != 2 or wp.shape[0] < 1 or not np.all(np.isfinite(wp)):
            raise SrsaoaError("ue.waypoints_m must be a list of [x, y] points (m)")
        speed = float(self.ue.get("speed_m_s", 1.4))
        if not (speed >= 0 and math.isfinite(speed)):
            raise SrsaoaError("ue.speed_m_s must be >= 0")
        if not (self.period_s > 0):
            raise SrsaoaError("period_s must be > 0")
        if self.aoa_model not in AOA_MODELS:
            raise SrsaoaError(f"aoa_model must be one of {AOA_MODELS}, got {self.aoa_model!r}")
        if int(self.array.get("num_elements", 4)) < 2:
            raise SrsaoaError("array.num_elements must be >= 2")
        if not (0 < self.fov_deg < 90):
            raise SrsaoaError("fov_deg must lie in (0, 90)")
        if int(self.n_snapshots) < 1:
            raise SrsaoaError("n_snapshots must be >= 1")
        if self.ranges is not None:
            names = self.ranges.get("anchors", "all")
            if names != "all":
                unknown = set(names) - {a.name for a in self.anchors}
                if unknown:
                    raise SrsaoaError(f"ranges.anchors: unknown anchors {sorted(unknown)}")
            if not (float(self.ranges.get("sigma_m", 0.1)) > 0):
                raise SrsaoaError("ranges.sigma_m must be > 0")

    @property
    def ue_height_m(self) -> float:
        return float(self.ue.get("height_m", 0.0))

    @classmethod
    def from_dict(cls, d: dict) -> PositioningScenario:
        unknown = sorted(set(d) - set(KEYS))
        if unknown:
            raise SrsaoaError(f"positioning scenario: unknown keys {', '.join(unknown)}")
        kw = {k: v for k, v in d.items() if k != "anchors"}
        return cls(anchors=anchors_from_dict({"anchors": d.get("anchors")}, "scenario"), **kw)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PositioningScenario:
        try:
            doc = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise SrsaoaError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(doc, dict):
            raise SrsaoaError(f"{path}: expected a mapping")
        return cls.from_dict(doc)

    def times(self) -> NDArray[np.float64]:
        dur = self.duration_s
        if dur is None:
            wp = np.asarray(self.ue["waypoints_m"], dtype=np.float64)
            length = float(np.sum(np.linalg.norm(np.diff(wp, axis=0), axis=1)))
            speed = float(self.ue.get("speed_m_s", 1.4))
            dur = length / speed if speed > 0 and length > 0 else 10 * self.period_s
        n = int(math.floor(dur / self.period_s + 1e-9)) + 1
        return np.arange(n) * self.period_s

    def position(self, t: NDArray) -> NDArray[np.float64]:
        """[N, 2] UE positions at times t (constant speed along the waypoints, then stops)."""
        wp = np.asarray(self.ue["waypoints_m"], dtype=np.float64)
        if wp.shape[0] == 1:
            return np.repeat(wp, np.size(t), axis=0)
        seg = np.linalg.norm(np.diff(wp, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        dist = np.clip(float(self.ue.get("speed_m_s", 1.4)) * np.asarray(t), 0.0, s[-1])
        return np.column_stack([np.interp(dist, s, wp[:, 0]), np.interp(dist, s, wp[:, 1])])


@dataclass
class PositioningSimulation:
    scenario: PositioningScenario
    truth: NDArray[np.float64]  # [N, 3] t_s, x_m, y_m
    estimates: dict[str, list[dict]]
    ranges: list[dict]


def _aoa_estimate(
    theta: float, sc: PositioningScenario, rng: np.random.Generator
) -> tuple[float, float]:
    """(estimated AoA, stochastic CRB) in degrees for one occasion."""
    from ..estimation import crb as _crb
    from ..estimation import doa as _doa

    m = int(sc.array.get("num_elements", 4))
    d = float(sc.array.get("spacing_wavelengths", 0.5))
    n = int(sc.n_snapshots)
    crb = float(_crb.crb_stochastic([theta], n, sc.snr_db, m, d)[0])
    if sc.aoa_model == "crb":
        return theta + crb * float(rng.standard_normal()), crb
    a = np.exp(2j * np.pi * d * np.arange(m) * math.sin(math.radians(theta)))
    snr = 10 ** (sc.snr_db / 10)
    s = math.sqrt(snr) * np.exp(2j * np.pi * rng.random(n))
    noise = (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / math.sqrt(2)
    x = a[:, None] * s[None, :] + noise
    r = x @ x.conj().T / n
    est = _doa.estimate(sc.aoa_model, covariance=r, order=1, spacing_wavelengths=d, n_snapshots=n)
    if est.aoa_deg.size == 0:
        return math.nan, crb
    return float(est.aoa_deg[0]), crb


def simulate_positioning(sc: PositioningScenario) -> PositioningSimulation:
    """Truth, per-anchor estimate records and range records of the scenario (seeded)."""
    rng = np.random.default_rng(sc.seed)
    t = sc.times()
    p = sc.position(t)
    h = sc.ue_height_m
    est: dict[str, list[dict]] = {a.name: [] for a in sc.anchors}
    fs = 30.72e6
    for k, (tk, pk) in enumerate(zip(t, p, strict=True)):
        for a in sc.anchors:
            if range_m(a, pk, h) == 0 or not in_front(a, pk, h):
                continue
            theta = aoa_deg(a, pk, h)
            if abs(theta) > sc.fov_deg:
                continue
            aoa, crb = _aoa_estimate(theta, sc, rng)
            if not math.isfinite(aoa):
                continue
            est[a.name].append(
                {
                    "t_s": float(tk),
                    "sample_index": int(round(tk * fs)),
                    "srs_occasion": k,
                    "method": sc.aoa_model,
                    "order": 1,
                    "aoa_deg": [aoa],
                    "delay_s": None,
                    "snr_db": float(sc.snr_db),
                    "power": [1.0],
                    "crb_deg": [crb],
                }
            )
    ranges: list[dict] = []
    if sc.ranges is not None:
        names = sc.ranges.get("anchors", "all")
        chosen = [a for a in sc.anchors if names == "all" or a.name in names]
        sigma = float(sc.ranges.get("sigma_m", 0.1))
        period = float(sc.ranges.get("period_s", sc.period_s))
        offset = float(sc.ranges.get("offset_s", 0.0))
        tr = np.arange(offset, t[-1] + 1e-9, period)
        pr = sc.position(tr)
        for tk, pk in zip(tr, pr, strict=True):
            for a in chosen:
                r = range_m(a, pk, h) + sigma * float(rng.standard_normal())
                ranges.append(
                    {"t_s": float(tk), "anchor": a.name, "range_m": max(r, 0.0), "sigma_m": sigma}
                )
    truth = np.column_stack([t, p])
    return PositioningSimulation(sc, truth, est, ranges)


def _write_lines(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, separators=(", ", ": ")) + "\n" for r in records))


def write_positioning(sim: PositioningSimulation, out: str | Path) -> dict[str, Path]:
    """OUT_anchors.yaml, OUT_<anchor>.jsonl (estimates), OUT_ranges.jsonl, OUT_truth.jsonl."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"anchors": out.with_name(f"{out.name}_anchors.yaml")}
    _write_anchors(files["anchors"], sim.scenario.anchors)
    for name, recs in sim.estimates.items():
        files[name] = out.with_name(f"{out.name}_{name}.jsonl")
        _write_lines(files[name], recs)
    files["ranges"] = out.with_name(f"{out.name}_ranges.jsonl")
    _write_lines(files["ranges"], sim.ranges)
    files["truth"] = out.with_name(f"{out.name}_truth.jsonl")
    _write_lines(
        files["truth"],
        [{"t_s": float(r[0]), "x_m": float(r[1]), "y_m": float(r[2])} for r in sim.truth],
    )
    return files


def anchor_aoa_trajectory(
    sc: PositioningScenario, anchor: Anchor, times_s: NDArray
) -> NDArray[np.float64]:
    """True AoA (deg) of the UE seen from one anchor at the given times."""
    p = sc.position(np.asarray(times_s))
    return np.array([aoa_deg(anchor, q, sc.ue_height_m) for q in p])


def anchor_recordings(sc: PositioningScenario, base, out: str | Path, num_slots: int) -> dict:
    """One SigMF recording per anchor: ``base`` (a ``sim.Scenario``) with the LOS AoA
    following the UE as seen from that anchor over ``num_slots`` slots. The first slot of
    every recording starts at sample ``base.start_offset_samples`` (0 when the base leaves it
    random) and the UE is at ``sc.position(t)`` at t = (slot start - first slot start) /
    sample rate in all of them, so the anchors share one time base and one truth. The AoA
    trajectory is sampled at every slot start (the simulator holds it over the slot), with a
    per-anchor noise seed ``sc.seed * 1000 + anchor index``. Returns {anchor: path of the
    ``.sigmf-collection``}; SrsaoaError when the UE leaves an anchor's (-90, 90) deg."""
    from ..io import write_recording
    from .simulate import simulate

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    carrier = base.carrier_config()
    slot_s = 1e-3 * 15.0 / float(carrier.subcarrier_spacing)
    # slots are 1 ms * 15 kHz / scs long and start on that grid (TS 38.211 4.3.2)
    times = np.arange(max(int(num_slots), 1)) * slot_s
    ue = sc.position(times)
    aoas = []
    for a in sc.anchors:  # check every anchor before writing anything
        aoa = anchor_aoa_trajectory(sc, a, times)
        front = all(in_front(a, q, sc.ue_height_m) for q in ue)
        if not (front and np.all(np.abs(aoa) < 90)):
            raise SrsaoaError(
                f"anchor {a.name}: the UE leaves the array's field of view (behind it or "
                "on its axis) during the recording"
            )
        aoas.append(aoa)
    paths = {}
    for i, (a, aoa) in enumerate(zip(sc.anchors, aoas, strict=True)):
        sci = base.copy(
            name=f"{sc.name}_{a.name}",
            num_slots=num_slots,
            seed=int(sc.seed) * 1000 + i,
            trajectory={"times_s": times.tolist(), "aoa_deg": aoa.tolist()},
            start_offset_samples=base.start_offset_samples or 0,
        )
        rec = simulate(sci)
        paths[a.name] = write_recording(out.with_name(f"{out.name}_{a.name}"), rec)
    return paths
