"""Simulation scenarios: a documented dict / YAML schema (docs/simulator.md)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import yaml

from ..array.geometry import ULA
from ..array.impairments import ImpairmentProfile, profile_from_spec
from ..errors import SrsaoaError
from .channel import DEFAULT_HALF_LENGTH, PHASE_KEY, Path, child_rng

DATATYPES = ("cf32_le", "ci16_le")

KNOWN_KEYS = (
    "name",
    "description",
    "seed",
    "carrier",
    "srs",
    "array",
    "impairments",
    "paths",
    "rician",
    "channel",
    "snr_db",
    "cfo_hz",
    "start_offset_samples",
    "num_slots",
    "trajectory",
    "sweep",
    "datatype",
    "ci16_backoff_db",
    "filter_half_length",
    "ues",
)
UE_KEYS = ("id", "srs", "paths", "snr_db", "power_db", "cfo_hz", "timing_offset_samples")
MAX_UES = 32


class ScenarioError(SrsaoaError, ValueError):
    """A scenario that does not follow the schema of docs/simulator.md."""


# resource bounds (DESIGN section 9): a typo must not ask for hours or gigabytes
MAX_SLOTS = 20480  # one SFN cycle at 30 kHz
MAX_SCATTERERS = 1000
MAX_SWEEP_ANGLES = 10000
MAX_FILTER_HALF_LENGTH = 256
MAX_SAMPLES_BYTES = 2 << 30  # complex64 samples of all channels of one recording
ARRAY_KEYS = ("geometry", "num_elements", "spacing_m", "carrier_frequency_hz")


@dataclass
class Scenario:
    """Everything needed to simulate one recording (see docs/simulator.md for the schema).

    ``paths[0]`` is the LOS path; ``phase_rad = None`` draws a random phase from the seed.
    ``snr_db = None`` gives a noise-free recording. ``start_offset_samples = None`` draws the
    first slot start uniformly in [0, one slot) from the seed.
    """

    carrier: dict = field(default_factory=lambda: {"subcarrier_spacing": 30, "n_size_grid": 51})
    srs: dict = field(default_factory=lambda: {"c_srs": 12, "n_srs_id": 0})
    array: dict = field(default_factory=lambda: {"num_elements": 4})
    impairments: Any = "ideal"
    paths: list[dict] = field(default_factory=lambda: [{"aoa_deg": 0.0}])
    rician: dict | None = None
    channel: dict | None = None
    snr_db: float | None = 20.0
    cfo_hz: float = 0.0
    start_offset_samples: int | None = 0
    num_slots: int = 10
    trajectory: dict | None = None
    sweep: dict | None = None
    datatype: str = "cf32_le"
    ci16_backoff_db: float = 15.0
    filter_half_length: int = DEFAULT_HALF_LENGTH
    ues: list[dict] | None = None
    seed: int = 0
    name: str = "scenario"
    description: str = ""

    def __post_init__(self) -> None:
        try:
            self.validate()
        except ScenarioError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ScenarioError(f"scenario {self.name!r}: invalid value: {exc}") from exc

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        def bad(msg: str) -> ScenarioError:
            return ScenarioError(f"scenario {self.name!r}: {msg}")

        try:
            self.carrier_config()
            self.srs_config()
        except (TypeError, ValueError) as exc:
            raise bad(f"carrier/srs: {exc}") from exc
        from ..io import schemas

        if not isinstance(self.array, dict):
            raise bad("array must be a mapping")
        unknown = set(self.array) - set(ARRAY_KEYS)
        if unknown:
            raise bad(f"array has unknown keys {sorted(unknown)}; known: {list(ARRAY_KEYS)}")
        try:
            ula = self.ula()
            schemas.validate(
                ula.to_dict(), schemas.ARRAY, f"scenario {self.name!r}", ScenarioError, "array"
            )
            schemas.check_array(ula.to_dict(), f"scenario {self.name!r}: array", ScenarioError)
        except (TypeError, ValueError, KeyError) as exc:
            if isinstance(exc, ScenarioError):
                raise
            raise bad(f"array: {exc}") from exc
        if isinstance(self.impairments, str) and self.impairments not in ("ideal", "default"):
            from ..io.safeio import read_bytes

            read_bytes(self.impairments, "impairment profile", error=ScenarioError)
        try:
            self.profile(ula)
        except (TypeError, ValueError, OSError) as exc:
            raise bad(f"impairments: {exc}") from exc
        if not isinstance(self.paths, list) or not self.paths:
            raise bad("paths must be a non-empty list (paths[0] is the LOS path)")
        for i, p in enumerate(self.paths):
            if not isinstance(p, dict) or "aoa_deg" not in p:
                raise bad(f"paths[{i}] must be a dict with at least aoa_deg")
            unknown = set(p) - {"aoa_deg", "delay_s", "power_db", "phase_rad"}
            if unknown:
                raise bad(f"paths[{i}] has unknown keys {sorted(unknown)}")
            try:
                Path(p["aoa_deg"], p.get("delay_s", 0.0), p.get("power_db", 0.0), 0.0)
            except (TypeError, ValueError) as exc:
                raise bad(f"paths[{i}]: {exc}") from exc
        for key in ("snr_db", "cfo_hz", "ci16_backoff_db", "seed"):
            v = getattr(self, key)
            if key == "snr_db" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(f"{key} must be a number, got {v!r}")
        if self.snr_db is not None and not (np.isfinite(self.snr_db) and -50 <= self.snr_db <= 100):
            raise bad(f"snr_db must be in [-50, 100] dB or null, got {self.snr_db}")
        if not (np.isfinite(self.cfo_hz) and abs(self.cfo_hz) <= 1e6):
            raise bad(f"cfo_hz must be within +-1 MHz, got {self.cfo_hz}")
        if (
            isinstance(self.num_slots, bool)
            or int(self.num_slots) != self.num_slots
            or not 1 <= self.num_slots <= MAX_SLOTS
        ):
            raise bad(f"num_slots must be an integer in [1, {MAX_SLOTS}], got {self.num_slots}")
        if self.start_offset_samples is not None and (
            int(self.start_offset_samples) != self.start_offset_samples
            or self.start_offset_samples < 0
        ):
            raise bad("start_offset_samples must be an integer >= 0 or null")
        if self.datatype not in DATATYPES:
            raise bad(f"datatype must be one of {DATATYPES}, got {self.datatype!r}")
        if not (np.isfinite(self.ci16_backoff_db) and 0 <= self.ci16_backoff_db <= 60):
            # beyond ~60 dB the signal quantises to zeros (16-bit range is 90 dB)
            raise bad(f"ci16_backoff_db must be in [0, 60] dB, got {self.ci16_backoff_db}")
        if (
            int(self.filter_half_length) != self.filter_half_length
            or not 1 <= self.filter_half_length <= MAX_FILTER_HALF_LENGTH
        ):
            raise bad(f"filter_half_length must be an integer in [1, {MAX_FILTER_HALF_LENGTH}]")
        carrier = self.carrier_config()
        need = 8 * ula.num_elements * self.num_slots * carrier.fft_size * 15 * 2
        if need > MAX_SAMPLES_BYTES:
            raise bad(
                f"num_slots {self.num_slots} x {ula.num_elements} channels needs about "
                f"{need / 2**30:.1f} GiB (at most {MAX_SAMPLES_BYTES / 2**30:g}): fewer slots"
            )
        if self.rician is not None:
            r = self.rician
            unknown = set(r) - {
                "k_factor_db",
                "num_scatterers",
                "angle_spread_deg",
                "max_excess_delay_s",
                "redraw",
            }
            if unknown:
                raise bad(f"rician has unknown keys {sorted(unknown)}")
            if "k_factor_db" not in r or not np.isfinite(r["k_factor_db"]):
                raise bad("rician.k_factor_db is required")
            ns = r.get("num_scatterers", 16)
            if isinstance(ns, bool) or int(ns) != ns or not 1 <= ns <= MAX_SCATTERERS:
                raise bad(f"rician.num_scatterers must be an integer in [1, {MAX_SCATTERERS}]")
            if r.get("redraw", "recording") not in ("recording", "occasion"):
                raise bad("rician.redraw must be 'recording' or 'occasion'")
            if (
                float(r.get("angle_spread_deg", 20.0)) < 0
                or float(r.get("max_excess_delay_s", 200e-9)) < 0
            ):
                raise bad("rician spreads must be >= 0")
        if self.channel is not None:
            self._validate_channel(bad)
        if self.ues is not None:
            self._validate_ues(bad)
        if self.trajectory is not None:
            t = self.trajectory
            if "times_s" in t or "aoa_deg" in t:
                ts = np.asarray(t.get("times_s", []), float)
                aa = np.asarray(t.get("aoa_deg", []), float)
                if ts.size < 1 or ts.size != aa.size or np.any(np.diff(ts) <= 0):
                    raise bad("trajectory needs increasing times_s and as many aoa_deg values")
                if np.any(np.abs(aa) >= 90):
                    raise bad("trajectory aoa_deg must stay inside (-90, 90)")
            elif "rate_deg_per_s" in t:
                if not np.isfinite(t["rate_deg_per_s"]):
                    raise bad("trajectory.rate_deg_per_s must be finite")
            else:
                raise bad("trajectory needs times_s + aoa_deg, or rate_deg_per_s")
        if self.sweep is not None:
            try:
                self.sweep_angles()
            except (TypeError, ValueError, KeyError) as exc:
                raise bad(f"sweep: {exc}") from exc

    def _validate_ues(self, bad: Any) -> None:
        """``ues``: several UEs, each with its own SRS resource (docs/multi_ue.md)."""
        if not isinstance(self.ues, list) or not 1 <= len(self.ues) <= MAX_UES:
            raise bad(f"ues must be a list of 1 to {MAX_UES} UEs")
        if self.rician is not None or self.channel is not None or self.trajectory is not None:
            raise bad("ues: give each UE its paths; rician, channel and trajectory are not used")
        if self.sweep is not None:
            raise bad("ues and sweep do not go together")
        ids = set()
        for i, u in enumerate(self.ues):
            if not isinstance(u, dict):
                raise bad(f"ues[{i}] must be a mapping")
            unknown = set(u) - set(UE_KEYS)
            if unknown:
                raise bad(f"ues[{i}] has unknown keys {sorted(unknown)}; known: {list(UE_KEYS)}")
            uid = u.get("id")
            if not isinstance(uid, str) or not uid or len(uid) > 64:
                raise bad(f"ues[{i}].id must be a non-empty string")
            if uid in ids:
                raise bad(f"ues[{i}].id {uid!r} repeats")
            ids.add(uid)
            if "snr_db" in u and "power_db" in u:
                raise bad(f"ues[{i}]: give snr_db or power_db, not both")
            if "snr_db" in u and self.snr_db is None:
                raise bad(f"ues[{i}].snr_db needs the scenario's snr_db (the noise level)")
            for key, lo, hi in (
                ("snr_db", -50, 100),
                ("power_db", -100, 100),
                ("cfo_hz", -1e6, 1e6),
            ):
                v = u.get(key, 0.0)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                    raise bad(f"ues[{i}].{key} must be a number in [{lo}, {hi}], got {v!r}")
            t = u.get("timing_offset_samples", 0)
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 1 << 20:
                raise bad(f"ues[{i}].timing_offset_samples must be an integer in [0, 2^20]")
            try:
                self.copy(srs=u.get("srs", self.srs), paths=u.get("paths", self.paths), ues=None)
            except ScenarioError as exc:
                raise bad(f"ues[{i}] ({uid}): {exc}") from exc

    def ue_list(self) -> list[dict]:
        """The UEs with every field filled in (top-level srs / paths / cfo as defaults)."""
        out = []
        for u in self.ues or ():
            snr = u.get("snr_db")
            power = u.get("power_db", 0.0)
            if snr is None and self.snr_db is not None:
                snr = float(self.snr_db) + float(power)
            out.append(
                {
                    "id": u["id"],
                    "srs": copy.deepcopy(u.get("srs", self.srs)),
                    "paths": copy.deepcopy(u.get("paths", self.paths)),
                    "snr_db": snr,
                    "power_db": float(power) if snr is None else None,
                    "cfo_hz": float(u.get("cfo_hz", self.cfo_hz)),
                    "timing_offset_samples": int(u.get("timing_offset_samples", 0)),
                }
            )
        return out

    def _validate_channel(self, bad: Any) -> None:
        """``channel``: a TR 38.901 model (docs/channels.md) replaces paths[1:] and rician."""
        from .standard import check_spec

        try:
            self.channel = check_spec(self.channel)
        except (TypeError, ValueError) as exc:
            raise bad(str(exc)) from exc
        if self.rician is not None or len(self.paths) > 1:
            raise bad("channel replaces paths[1:] and rician: give paths[0] (the UE) only")
        if self.trajectory is not None:
            raise bad("channel with a trajectory is not supported (the draw is static)")
        p0 = self.paths[0]
        if p0.get("delay_s", 0.0) or p0.get("power_db", 0.0):
            raise bad("with channel, paths[0] gives only the UE direction aoa_deg")
        try:  # the UE direction must be reachable at the model's LOS elevation
            self.channel_draw(self.ula())
        except ValueError as exc:
            raise bad(f"channel: {exc}") from exc

    def channel_draw(self, ula: ULA | None = None, aoa0_deg: float | None = None, draw: int = 0):
        """Realisation ``draw`` (0 = the recording's first) of ``channel`` with the UE at
        paths[0].aoa_deg (or ``aoa0_deg``); seeded by the scenario seed."""
        from .channel import SCATTER_KEY
        from .standard import draw_from_spec

        ula = ula or self.ula()
        rng = np.random.default_rng(
            np.random.SeedSequence(int(self.seed), spawn_key=(SCATTER_KEY, int(draw)))
        )
        aoa = self.paths[0]["aoa_deg"] if aoa0_deg is None else aoa0_deg
        return draw_from_spec(self.channel, rng, float(aoa), ula.carrier_frequency_hz)

    # ------------------------------------------------------------------ derived objects
    def carrier_config(self):
        from ..io.sigmf import carrier_from_dict

        return carrier_from_dict(self.carrier)

    def srs_config(self):
        from ..io.sigmf import srs_from_dict

        return srs_from_dict(self.srs)

    def ula(self) -> ULA:
        a = dict(self.array)
        a.setdefault("carrier_frequency_hz", 3.5e9)
        a.setdefault("num_elements", 4)
        return ULA.from_dict({"geometry": "ula", **a})

    def profile(self, ula: ULA | None = None) -> ImpairmentProfile:
        ula = ula or self.ula()
        # a relative profile path was made relative to the YAML's folder by from_yaml
        return profile_from_spec(self.impairments, ula.num_elements, ula.spacing_wavelengths)

    def path_list(self, aoa0_deg: float | None = None) -> list[Path]:
        """Paths with the seed's random phases filled in; ``aoa0_deg`` overrides paths[0]."""
        rng = child_rng(self.seed, PHASE_KEY)
        phases = rng.uniform(0, 2 * np.pi, len(self.paths))
        out = []
        for i, p in enumerate(self.paths):
            ph = p.get("phase_rad")
            aoa = p["aoa_deg"] if (i > 0 or aoa0_deg is None) else aoa0_deg
            out.append(
                Path(
                    aoa,
                    p.get("delay_s", 0.0),
                    p.get("power_db", 0.0),
                    phases[i] if ph is None else ph,
                )
            )
        return out

    def sweep_angles(self) -> np.ndarray:
        """The sweep grid in degrees: ``sweep.aoa_deg`` as a list or {start, stop, step}."""
        if self.sweep is None:
            raise ValueError("scenario has no sweep")
        g = self.sweep["aoa_deg"]
        if isinstance(g, dict):
            start, stop, step = float(g["start"]), float(g["stop"]), float(g["step"])
            if not (np.isfinite([start, stop, step]).all() and step > 0 and stop >= start):
                raise ValueError("sweep needs finite start <= stop and step > 0")
            if (stop - start) / step + 1 > MAX_SWEEP_ANGLES:
                raise ValueError(f"sweep gives more than {MAX_SWEEP_ANGLES} angles: a larger step")
            angles = start + step * np.arange(int(np.floor((stop - start) / step + 1e-9)) + 1)
        else:
            angles = np.asarray(g, dtype=float).ravel()
        if angles.size == 0 or np.any(np.abs(angles) >= 90):
            raise ValueError("sweep angles must be non-empty and inside (-90, 90)")
        return angles

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        d = {k: copy.deepcopy(getattr(self, k)) for k in KNOWN_KEYS}
        if isinstance(d["impairments"], ImpairmentProfile):
            d["impairments"] = d["impairments"].to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict, base_dir: str | None = None) -> Scenario:
        if not isinstance(d, dict):
            raise ScenarioError("a scenario must be a mapping")
        unknown = set(d) - set(KNOWN_KEYS)
        if unknown:
            raise ScenarioError(
                f"scenario {d.get('name', '?')!r}: unknown key(s) {sorted(unknown)}; "
                f"known: {sorted(KNOWN_KEYS)}"
            )
        d = copy.deepcopy(d)
        imp = d.get("impairments", "ideal")
        if isinstance(imp, ImpairmentProfile):
            d["impairments"] = imp.to_dict()
        if isinstance(imp, str) and imp not in ("ideal", "default") and base_dir:
            if not os.path.isabs(imp):
                d["impairments"] = str(FsPath(base_dir) / imp)
        try:
            return cls(**d)
        except TypeError as exc:
            raise ScenarioError(f"scenario: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Scenario:
        from ..io.safeio import load_document

        p = FsPath(path)
        # a regular file of bounded size; no YAML aliases, bounded depth, finite numbers
        d = load_document(p, "scenario file", "yaml", error=ScenarioError)
        if isinstance(d, dict):
            d.setdefault("name", p.stem)
        return cls.from_dict(d, base_dir=str(p.parent))

    def to_yaml(self, path: str | os.PathLike) -> None:
        FsPath(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def copy(self, **changes: Any) -> Scenario:
        d = self.to_dict()
        d.update(changes)
        return Scenario.from_dict(d)
