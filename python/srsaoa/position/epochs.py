"""From estimate and range JSON lines to measurement epochs, and from epochs to positions.

An epoch is a time bin: the estimate at time t belongs to bin k = floor(t / epoch_s + 1/2),
so estimates of the same SRS occasion from several anchors (which share a time base) fall in
one bin. Each epoch holds every AoA estimate of its bin (strongest path, sigma = the
estimate's ``crb_deg[0]``, at least ``aoa_sigma_floor_deg``; ``aoa_sigma_deg`` when it has
none) and, per anchor, the UWB range nearest in time within ``range_window_s``, in time then
anchor-name order whatever order they arrived in. Its time is the mean time of its estimates.

``EpochAssembler`` does this incrementally for the streaming block (``position_estimator``)
and in one pass for ``srsaoa locate``, so both give the same positions. A bin is complete
when every expected anchor has delivered an estimate of a later bin, or when the newest
estimate is ``max_lag_s`` past it (an anchor that stopped does not stall the others).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SrsaoaError
from .anchors import Anchor
from .solve import AOA, RANGE, Fix, Measurement, solve
from .tracker import PositionTracker


@dataclass
class Epoch:
    t_s: float
    measurements: list[Measurement] = field(default_factory=list)


def _finite(v: object, what: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SrsaoaError(f"{where}: {what} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise SrsaoaError(f"{where}: {what} is not finite ({v})")
    return f


def read_json_lines(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, object) of every non-empty line; SrsaoaError on the first bad one."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SrsaoaError(f"cannot read {p}: {exc.strerror or exc}") from None
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SrsaoaError(f"{p}:{i}: not a JSON object: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise SrsaoaError(f"{p}:{i}: expected a JSON object per line")
        out.append((i, obj))
    return out


def estimate_measurement(
    rec: Mapping,
    anchor: Anchor,
    where: str,
    aoa_sigma_deg: float = 1.0,
    aoa_sigma_floor_deg: float = 0.0,
    time_key: str = "t_s",
) -> Measurement | None:
    """The AoA measurement of one estimate record (strongest path); None when it has no
    angle (an estimator that found nothing writes null or [])."""
    if time_key not in rec or rec[time_key] is None:
        raise SrsaoaError(f"{where}: estimate has no {time_key}")
    t = _finite(rec[time_key], time_key, where)
    aoas = rec.get("aoa_deg")
    if not isinstance(aoas, list):
        raise SrsaoaError(f"{where}: aoa_deg must be a list (strongest path first)")
    if not aoas or aoas[0] is None:
        return None
    aoa = _finite(aoas[0], "aoa_deg[0]", where)
    sigma = float(aoa_sigma_deg)
    crb = rec.get("crb_deg")
    if isinstance(crb, list) and crb and crb[0] is not None:
        c = _finite(crb[0], "crb_deg[0]", where)
        if c > 0:
            sigma = c
    sigma = max(sigma, float(aoa_sigma_floor_deg))
    if not abs(aoa) < 90.0:
        raise SrsaoaError(f"{where}: aoa_deg[0] = {aoa} outside (-90, 90)")
    return Measurement(AOA, anchor, aoa, sigma, t)


def range_measurement(rec: Mapping, anchors: Mapping[str, Anchor], where: str) -> Measurement:
    """The range measurement of one {t_s, anchor, range_m, sigma_m} record."""
    missing = [k for k in ("t_s", "anchor", "range_m", "sigma_m") if k not in rec]
    if missing:
        raise SrsaoaError(f"{where}: range lacks {', '.join(missing)}")
    name = rec["anchor"]
    if not isinstance(name, str) or name not in anchors:
        raise SrsaoaError(
            f"{where}: unknown anchor {name!r} (anchors file has {', '.join(anchors)})"
        )
    t = _finite(rec["t_s"], "t_s", where)
    r = _finite(rec["range_m"], "range_m", where)
    s = _finite(rec["sigma_m"], "sigma_m", where)
    if r < 0 or s <= 0:
        raise SrsaoaError(f"{where}: range_m must be >= 0 and sigma_m > 0 (got {r}, {s})")
    return Measurement(RANGE, anchors[name], r, s, t)


def read_estimates(
    path: str | Path,
    anchor: Anchor,
    method: str | None = None,
    aoa_sigma_deg: float = 1.0,
    aoa_sigma_floor_deg: float = 0.0,
    time_key: str = "t_s",
) -> list[Measurement]:
    """AoA measurements of an estimates file written by ``srsaoa run`` (one method: ``method``,
    or the only one in the file)."""
    lines = read_json_lines(path)
    methods = sorted({str(o.get("method")) for _, o in lines})
    if method is None and len(methods) > 1:
        raise SrsaoaError(
            f"{path}: estimates of several methods ({', '.join(methods)}): give --method"
        )
    out = []
    for i, obj in lines:
        if method is not None and obj.get("method") != method:
            continue
        m = estimate_measurement(
            obj, anchor, f"{path}:{i}", aoa_sigma_deg, aoa_sigma_floor_deg, time_key
        )
        if m is not None:
            out.append(m)
    if method is not None and not out and lines:
        raise SrsaoaError(
            f"{path}: no estimates of method {method!r} (file has {', '.join(methods)})"
        )
    return out


def read_ranges(path: str | Path, anchors: Mapping[str, Anchor]) -> list[Measurement]:
    return [range_measurement(o, anchors, f"{path}:{i}") for i, o in read_json_lines(path)]


class EpochAssembler:
    """Groups AoA estimates into epochs and attaches ranges (see the module docstring)."""

    def __init__(
        self,
        epoch_s: float,
        range_window_s: float | None = None,
        expected: Iterable[str] | None = None,
        max_lag_s: float = 1.0,
    ) -> None:
        if not (math.isfinite(epoch_s) and epoch_s > 0):
            raise ValueError(f"epoch_s must be > 0, got {epoch_s}")
        self.epoch_s = float(epoch_s)
        self.range_window_s = self.epoch_s if range_window_s is None else float(range_window_s)
        if not (self.range_window_s >= 0):
            raise ValueError("range_window_s must be >= 0")
        if not (max_lag_s >= 0):
            raise ValueError("max_lag_s must be >= 0")
        self.expected = None if expected is None else set(expected)
        self.max_lag_bins = (
            None if math.isinf(max_lag_s) else max(1, int(math.ceil(max_lag_s / self.epoch_s)))
        )
        self._bins: dict[int, list[Measurement]] = {}
        self._last_bin: dict[str, int] = {}
        self._ranges: dict[str, tuple[list[float], list[Measurement]]] = {}
        self._done_below: int | None = None  # bins below this were emitted
        self.num_late = 0

    def bin_of(self, t: float) -> int:
        return int(math.floor(t / self.epoch_s + 0.5))

    def add_range(self, m: Measurement) -> None:
        times, ms = self._ranges.setdefault(m.anchor.name, ([], []))
        i = bisect.bisect_right(times, m.t_s)
        times.insert(i, m.t_s)
        ms.insert(i, m)

    def add_estimate(self, m: Measurement) -> list[Epoch]:
        """Add one AoA estimate; the epochs it completes, oldest first."""
        k = self.bin_of(m.t_s)
        if self._done_below is not None and k < self._done_below:
            self.num_late += 1  # its epoch was already emitted
            return []
        self._bins.setdefault(k, []).append(m)
        name = m.anchor.name
        self._last_bin[name] = max(k, self._last_bin.get(name, k))
        return self._ready()

    def _ready(self) -> list[Epoch]:
        if not self._bins:
            return []
        names = self.expected if self.expected is not None else set(self._last_bin)
        newest = max(self._last_bin.values())
        if all(n in self._last_bin for n in names):
            complete_below = min(self._last_bin[n] for n in names)
        else:
            complete_below = min(self._bins)
        limit = complete_below
        if self.max_lag_bins is not None:
            limit = max(limit, newest - self.max_lag_bins)
        return self._emit([k for k in sorted(self._bins) if k < limit])

    def flush(self) -> list[Epoch]:
        """Every epoch still open (end of data)."""
        return self._emit(sorted(self._bins))

    def _emit(self, keys: Sequence[int]) -> list[Epoch]:
        out = []
        for k in keys:
            # (time, anchor) order: the same epoch whatever order the anchors' estimates
            # arrived in (streaming from several processes) or were read in (locate)
            ms = sorted(self._bins.pop(k), key=lambda m: (m.t_s, m.anchor.name))
            t = float(np.mean([m.t_s for m in ms]))
            out.append(Epoch(t, ms + self._ranges_at(t)))
            self._done_below = k + 1 if self._done_below is None else max(self._done_below, k + 1)
        if out and self.max_lag_bins is not None:
            self._prune(out[-1].t_s - self.range_window_s - self.max_lag_bins * self.epoch_s)
        return out

    def _ranges_at(self, t: float) -> list[Measurement]:
        out = []
        for _, (times, ms) in sorted(self._ranges.items()):  # anchor order
            i = bisect.bisect_left(times, t)
            best = None
            for j in (i - 1, i):
                if 0 <= j < len(times) and abs(times[j] - t) <= self.range_window_s:
                    if best is None or abs(times[j] - t) < abs(times[best] - t):
                        best = j
            if best is not None:
                out.append(ms[best])
        return out

    def _prune(self, t_min: float) -> None:
        for times, ms in self._ranges.values():
            i = bisect.bisect_left(times, t_min)
            del times[:i]
            del ms[:i]


def assemble(
    estimates: Iterable[Measurement],
    ranges: Iterable[Measurement],
    epoch_s: float,
    range_window_s: float | None = None,
) -> list[Epoch]:
    """All epochs of recorded estimates and ranges (in time order)."""
    asm = EpochAssembler(epoch_s, range_window_s, expected=None, max_lag_s=math.inf)
    for r in ranges:
        asm.add_range(r)
    out: list[Epoch] = []
    for m in sorted(estimates, key=lambda m: m.t_s):
        out.extend(asm.add_estimate(m))
    out.extend(asm.flush())
    return out


def infer_epoch_s(estimates: Iterable[Measurement]) -> float:
    """The median interval between one anchor's successive estimate times (the SRS
    estimate period), the smallest over anchors; 1 s when no anchor has two."""
    by: dict[str, list[float]] = {}
    for m in estimates:
        by.setdefault(m.anchor.name, []).append(m.t_s)
    best = math.inf
    for ts in by.values():
        d = np.diff(np.unique(ts))
        if d.size:
            best = min(best, float(np.median(d)))
    return 1.0 if not math.isfinite(best) else best


class Locator:
    """Epochs -> positions: a WLS snapshot per epoch, or the EKF tracker."""

    def __init__(
        self,
        ue_height_m: float = 0.0,
        track: bool = False,
        outlier_alpha: float | None = 1e-3,
        q_m2_s3: float = 0.5,
    ) -> None:
        self.ue_height_m = float(ue_height_m)
        self.outlier_alpha = outlier_alpha
        self.tracker = PositionTracker(q_m2_s3=q_m2_s3, ue_height_m=ue_height_m) if track else None
        self.num_unsolved = 0

    def process(self, epoch: Epoch) -> Fix | None:
        if self.tracker is not None:
            fix = self.tracker.update(epoch.measurements, epoch.t_s)
        else:
            fix = solve(epoch.measurements, self.ue_height_m, epoch.t_s, self.outlier_alpha)
        if fix is None:
            self.num_unsolved += 1
        return fix
