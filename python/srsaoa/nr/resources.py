"""Several SRS resources (UEs) at one receiver (docs/multi_ue.md).

A resource list is ``resources: [{id: ue1, srs: {<SRSConfig fields>}}, ...]`` (DESIGN
section 9); the carrier comes from the recording. ``separate_cyclic_shift`` splits the LS
CFR of UEs that share a comb by their cyclic shifts (TS 38.211 6.4.1.4.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .srs import SRSConfig

MAX_RESOURCES = 32
RESOURCE_KEYS = ("id", "srs")


def parse_resources(doc: Any, where: str = "resources") -> list[tuple[str, SRSConfig]]:
    """[(id, SRSConfig), ...] of a ``{resources: [{id, srs}, ...]}`` mapping (or the list);
    ValueError naming the entry on anything else (unknown keys, repeated ids, bad SRS)."""
    items = doc.get("resources") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and set(doc) - {"resources"}:
        raise ValueError(f"{where}: unknown keys {sorted(set(doc) - {'resources'})}")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_RESOURCES:
        raise ValueError(f"{where}: 'resources' must be a list of 1 to {MAX_RESOURCES} entries")
    out: list[tuple[str, SRSConfig]] = []
    for i, r in enumerate(items):
        if not isinstance(r, dict) or set(r) - set(RESOURCE_KEYS) or "id" not in r:
            raise ValueError(f"{where}[{i}]: must be {{id: NAME, srs: {{...}}}}")
        rid = r["id"]
        if not isinstance(rid, str) or not rid or len(rid) > 64:
            raise ValueError(f"{where}[{i}]: id must be a non-empty string (at most 64)")
        if rid in (o[0] for o in out):
            raise ValueError(f"{where}[{i}]: id {rid!r} repeats")
        try:
            srs = SRSConfig.from_dict(dict(r.get("srs") or {}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}[{i}] ({rid}): srs: {exc}") from exc
        out.append((rid, srs))
    return out


def resources_from_truth(truth: dict | None) -> list[tuple[str, SRSConfig]]:
    """The resources of a simulated several-UE recording (``truth["ues"]``); [] if none."""
    ues = (truth or {}).get("ues") or []
    if not ues:
        return []
    return parse_resources([{"id": u["id"], "srs": u["srs"]} for u in ues], "truth ues")


def cyclic_shift_window(
    h: NDArray[np.complexfloating], n_cs: int, n_cs_max: int, others: tuple[int, ...] = ()
) -> tuple[NDArray[np.complex128], float]:
    """Keep the delay window of cyclic shift ``n_cs`` of an LS CFR ``h`` [..., K] taken on
    one comb (after division by this UE's base sequence with its own shift removed).

    A UE with shift n' appears in ``h`` multiplied by exp(j 2 pi (n' - n_cs) k / n_cs_max):
    in the K-point delay domain of the comb's subcarriers it is moved by (n' - n_cs) K /
    n_cs_max bins. The window keeps the K / n_cs_max bins around delay 0 (a quarter of them
    before it for timing error and the filter's pre-echo), the rest goes. Returns the
    windowed CFR and the fraction of ``h``'s energy removed in the windows of ``others``
    (the shifts of the other UEs on the comb, their leakage-free estimate of interference).
    """
    h = np.asarray(h, dtype=np.complex128)
    k = h.shape[-1]
    if not 1 <= n_cs_max <= k:
        raise ValueError(f"n_cs_max must be in [1, {k}], got {n_cs_max}")
    width = k // n_cs_max
    pre = width // 4
    g = np.fft.ifft(h, axis=-1)
    keep = np.zeros(k, dtype=bool)
    keep[np.arange(-pre, width - pre) % k] = True
    removed = 0.0
    total = float(np.sum(np.abs(g) ** 2)) or 1.0
    for o in others:
        shift = ((o - n_cs) % n_cs_max) * k / n_cs_max
        idx = (np.arange(-pre, width - pre) + int(round(shift))) % k
        removed += float(np.sum(np.abs(g[..., idx]) ** 2))
    return np.fft.fft(np.where(keep, g, 0), axis=-1), removed / total
