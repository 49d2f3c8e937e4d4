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
TAPER_BETA = 3.0  # Kaiser beta when a neighbouring cyclic shift is taken (docs/multi_ue.md)
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


COMB_KEYS = (
    "k_tc",
    "k_bar_tc",
    "c_srs",
    "b_srs",
    "frequency_start",
    "n_rrc",
    "symbol_start",
    "num_srs_symbols",
)
SEQUENCE_KEYS = ("n_srs_id", "group_seq_hopping")


def same_base_sequence(a: SRSConfig, b: SRSConfig) -> bool:
    """Whether two SRS resources use the same base sequence r_{u,v} (TS 38.211 6.4.1.4.2).
    Without group or sequence hopping u = n_ID^SRS mod 30 and v = 0: n_srs_id 0 and 30 are
    the same sequence. With hopping, the same configuration."""
    if a.group_seq_hopping == b.group_seq_hopping == "neither":
        return a.n_srs_id % 30 == b.n_srs_id % 30
    return all(getattr(a, k) == getattr(b, k) for k in SEQUENCE_KEYS)


def comb_plan(resources: list[tuple[str, SRSConfig]]) -> dict[str, dict]:
    """Per resource id: ``share`` (other resources on the same REs: the same comb, offset,
    band and symbols), ``n_cs`` / ``n_cs_max`` and ``orthogonal`` (the cyclic shifts of the
    sharing resources with the same base sequence: orthogonal to this one, TS 38.211
    6.4.1.4.2). Resources that share REs with a different sequence are separated only by
    their sequences: they stay in this UE's CFR as interference."""
    out = {}
    for rid, srs in resources:
        share = [
            (oid, o)
            for oid, o in resources
            if oid != rid and all(getattr(o, k) == getattr(srs, k) for k in COMB_KEYS)
        ]
        same_seq = [(oid, o) for oid, o in share if same_base_sequence(o, srs)]
        out[rid] = {
            "share": [oid for oid, _ in share],
            "n_cs": int(srs.cyclic_shift),
            "n_cs_max": int(srs.n_cs_max),
            "orthogonal": tuple(
                int(o.cyclic_shift) for _, o in same_seq if o.cyclic_shift != srs.cyclic_shift
            ),
            # the same REs and sequence, other shifts: one timing for the group (srs_sync group)
            "group": [oid for oid, o in same_seq if o.cyclic_shift != srs.cyclic_shift],
            # the same REs, sequence and shift: the receiver cannot tell these UEs apart
            "clash": [oid for oid, o in same_seq if o.cyclic_shift == srs.cyclic_shift],
            # a neighbouring shift taken: taper against the sidelobes of its window
            "taper": TAPER_BETA
            if any(
                min(
                    (o.cyclic_shift - srs.cyclic_shift) % srs.n_cs_max,
                    (srs.cyclic_shift - o.cyclic_shift) % srs.n_cs_max,
                )
                == 1
                for _, o in same_seq
            )
            else 0.0,
        }
    return out


def _window(k: int, n_cs_max: int, offset: int = 0) -> NDArray[np.int64]:
    """Delay bins of one cyclic shift's window: K / n_cs_max bins from a quarter of them
    before ``offset`` (timing error, the filters' pre-echo)."""
    width = max(k // n_cs_max, 1)
    pre = width // 4
    return (np.arange(-pre, width - pre) + offset) % k


def separate_cyclic_shift(
    h: NDArray[np.complexfloating],
    n_cs: int,
    n_cs_max: int,
    orthogonal: tuple[int, ...] = (),
    window: bool = True,
    decimate: bool = False,
    taper: float = 0.0,
) -> tuple[NDArray[np.complex128], float]:
    """One UE's LS CFR ``h`` [..., K] (K subcarriers of its comb, divided by its own
    sequence, its cyclic shift ``n_cs`` included) freed of the UEs on the same comb.

    A UE with shift n' and the same base sequence appears multiplied by
    exp(j 2 pi (n' - n_cs) k / n_cs_max): in the K-point delay domain it sits (n' - n_cs) K /
    n_cs_max bins away. ``window``: keep this UE's window (K / n_cs_max bins around delay 0)
    and transform back; ``decimate`` then keeps every n_cs_max-th subcarrier (when K is a
    multiple of n_cs_max), which carries the whole window with independent noise, so
    estimators that count subcarriers as snapshots keep the right CRB. A UE with another sequence spreads over every delay: the window
    keeps about 1 / n_cs_max of it.

    Returns (CFR, SNR in dB per RE): signal = the energy in this UE's window less its
    noise share; noise + interference = the mean energy of the delay bins outside this
    UE's window and the windows of the ``orthogonal`` shifts (the other UEs with the same
    sequence), so the residual of UEs separated only by sequence counts against the SNR.
    NaN when no bin is left to measure it. ``taper``: Kaiser beta of a taper over the K
    subcarriers before the transform (0 = none), which the output keeps: it cuts the
    sidelobes that UEs a fraction of a bin off leak into this UE's window.
    """
    h = np.asarray(h, dtype=np.complex128)
    k = h.shape[-1]
    if not 1 <= n_cs_max <= k:
        raise ValueError(f"n_cs_max must be in [1, {k}], got {n_cs_max}")
    if taper:
        h = h * np.kaiser(k, float(taper))
    g = np.fft.ifft(h, axis=-1)
    own = _window(k, n_cs_max)
    busy = np.zeros(k, dtype=bool)
    busy[own] = True
    for o in orthogonal:
        busy[_window(k, n_cs_max, int(round(((o - n_cs) % n_cs_max) * k / n_cs_max)))] = True
    e = np.abs(g) ** 2
    if busy.all():
        snr_db = float("nan")
    else:
        p_n = float(np.mean(e[..., ~busy]))  # per delay bin: sigma^2 / K
        p_s = float(np.mean(np.sum(e[..., own], axis=-1))) - own.size * p_n
        snr_db = 10 * np.log10(max(p_s, 1e-30) / (k * p_n)) if p_n > 0 else float("inf")
    if window:
        keep = np.zeros(k, dtype=bool)
        keep[own] = True
        h = np.fft.fft(np.where(keep, g, 0), axis=-1)
        if decimate and k % n_cs_max == 0:
            # the window spans K / n_cs_max delay bins: every n_cs_max-th subcarrier holds
            # all of it, with independent noise (estimators count snapshots right)
            h = h[..., ::n_cs_max]
    return h, float(snr_db)
