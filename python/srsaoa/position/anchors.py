"""Anchors (gNB arrays) in the positioning frame and the AoA / range measurement models.

Frame (DESIGN section 9): world x, y, z in metres; an anchor's ``yaw_deg`` is the direction
of its array broadside, counter-clockwise from +x; element index increases towards
yaw + 90 deg. With broadside b = (cos yaw, sin yaw, 0) and array axis u = (-sin yaw, cos yaw, 0),
the AoA of a UE at p seen from an anchor at a, d = p - a, is

    sin(AoA) = (d . u) / |d|,

the angle between d and the plane normal to the array axis (the cone angle a horizontal ULA
measures). For a UE at the anchor's height this is world azimuth - yaw; for a height
difference h != 0 it is smaller in magnitude than the horizontal azimuth offset (the cone
opens downwards). A ULA cannot tell front from back: every solver assumes the UE lies on
the broadside side (d . b > 0). The UWB range is the slant range |d|.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from ..errors import SrsaoaError


@dataclass(frozen=True)
class Anchor:
    """One gNB array: ``name``, ``position_m`` (x, y, z) and broadside ``yaw_deg``."""

    name: str
    position_m: tuple[float, float, float]
    yaw_deg: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SrsaoaError(f"anchor name must be a non-empty string, got {self.name!r}")
        try:
            pos = tuple(float(v) for v in self.position_m)
        except (TypeError, ValueError):
            raise SrsaoaError(
                f"anchor {self.name}: position_m must be [x, y, z] in metres"
            ) from None
        if len(pos) != 3 or not all(math.isfinite(v) for v in pos):
            raise SrsaoaError(f"anchor {self.name}: position_m must be 3 finite numbers [x, y, z]")
        try:
            yaw = float(self.yaw_deg)
        except (TypeError, ValueError):
            raise SrsaoaError(f"anchor {self.name}: yaw_deg must be a number") from None
        if not math.isfinite(yaw):
            raise SrsaoaError(f"anchor {self.name}: yaw_deg must be finite")
        object.__setattr__(self, "position_m", pos)
        object.__setattr__(self, "yaw_deg", yaw)

    @property
    def xyz(self) -> NDArray[np.float64]:
        return np.asarray(self.position_m, dtype=np.float64)

    @property
    def broadside(self) -> NDArray[np.float64]:
        y = math.radians(self.yaw_deg)
        return np.array([math.cos(y), math.sin(y), 0.0])

    @property
    def axis(self) -> NDArray[np.float64]:
        """Unit vector along increasing element index (yaw + 90 deg)."""
        y = math.radians(self.yaw_deg)
        return np.array([-math.sin(y), math.cos(y), 0.0])

    def to_dict(self) -> dict:
        return {"name": self.name, "position_m": list(self.position_m), "yaw_deg": self.yaw_deg}


def anchors_from_dict(doc: object, source: str = "anchors") -> list[Anchor]:
    """Anchors from ``{"anchors": [{name, position_m, yaw_deg}, ...]}`` (DESIGN section 9)."""
    if not isinstance(doc, dict) or "anchors" not in doc:
        raise SrsaoaError(
            f"{source}: expected a mapping with 'anchors: [{{name, position_m, yaw_deg}}]'"
        )
    items = doc["anchors"]
    if not isinstance(items, list) or not items:
        raise SrsaoaError(f"{source}: 'anchors' must be a non-empty list")
    out: list[Anchor] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise SrsaoaError(f"{source}: anchors[{i}] must be a mapping")
        missing = [k for k in ("name", "position_m", "yaw_deg") if k not in item]
        if missing:
            raise SrsaoaError(f"{source}: anchors[{i}] lacks {', '.join(missing)}")
        unknown = sorted(set(item) - {"name", "position_m", "yaw_deg"})
        if unknown:
            raise SrsaoaError(f"{source}: anchors[{i}] has unknown keys {', '.join(unknown)}")
        try:
            out.append(Anchor(str(item["name"]), item["position_m"], item["yaw_deg"]))
        except SrsaoaError as exc:
            raise SrsaoaError(f"{source}: {exc}") from None
    names = [a.name for a in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SrsaoaError(f"{source}: duplicate anchor names {', '.join(dup)}")
    return out


def read_anchors(path: str | Path) -> list[Anchor]:
    """The anchors of a deployment YAML file; SrsaoaError (one line) when malformed."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SrsaoaError(f"cannot read anchors file {p}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).splitlines()[0].split())
        raise SrsaoaError(f"{p}: not valid YAML: {first}") from None
    return anchors_from_dict(doc, str(p))


def write_anchors(path: str | Path, anchors: Iterable[Anchor]) -> None:
    Path(path).write_text(
        yaml.safe_dump({"anchors": [a.to_dict() for a in anchors]}, sort_keys=False)
    )


def anchor_map(anchors: Sequence[Anchor]) -> dict[str, Anchor]:
    return {a.name: a for a in anchors}


def _d(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float) -> NDArray[np.float64]:
    p = np.asarray(p_xy, dtype=np.float64)
    return np.array([p[0], p[1], ue_height_m]) - anchor.xyz


def aoa_deg(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float = 0.0) -> float:
    """AoA (deg from broadside, positive towards increasing element index) of a UE at p."""
    d = _d(anchor, p_xy, ue_height_m)
    n = float(np.linalg.norm(d))
    if n == 0.0:
        raise ValueError("the UE sits on the anchor")
    return math.degrees(math.asin(max(-1.0, min(1.0, float(d @ anchor.axis) / n))))


def range_m(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float = 0.0) -> float:
    """Slant range (m) from the anchor to a UE at p."""
    return float(np.linalg.norm(_d(anchor, p_xy, ue_height_m)))


def in_front(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float = 0.0) -> bool:
    return float(_d(anchor, p_xy, ue_height_m) @ anchor.broadside) > 0.0


def aoa_jacobian(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float = 0.0) -> NDArray:
    """d AoA / d (x, y) in rad per metre."""
    d = _d(anchor, p_xy, ue_height_m)
    n = float(np.linalg.norm(d))
    s = float(d @ anchor.axis) / n
    ds = (anchor.axis - s * d / n) / n
    c = math.sqrt(max(1.0 - s * s, 1e-12))
    return ds[:2] / c


def range_jacobian(anchor: Anchor, p_xy: ArrayLike, ue_height_m: float = 0.0) -> NDArray:
    """d range / d (x, y), dimensionless."""
    d = _d(anchor, p_xy, ue_height_m)
    return d[:2] / float(np.linalg.norm(d))
