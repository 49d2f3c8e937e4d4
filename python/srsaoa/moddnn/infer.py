"""Inference helpers shared by the block, ``srsaoa run`` and ``srsaoa evaluate``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike

from .model import MoDDNN, peak_aoa, prepare_cfr


@torch.no_grad()
def estimate_batch(net: MoDDNN, cfrs: Sequence[ArrayLike]) -> list[tuple[float, float]]:
    """(AoA deg, spectrum peak) for each CFR [M, S, K] of a list (one network batch).

    CFRs with different S are run in groups of equal S.
    """
    net.eval()
    out: list[tuple[float, float] | None] = [None] * len(cfrs)
    x = [prepare_cfr(h, net.cfg) for h in cfrs]
    groups: dict[int, list[int]] = {}
    for i, xi in enumerate(x):
        groups.setdefault(int(xi.shape[1]), []).append(i)
    hw = net.cfg.peak_halfwidth_deg / net.cfg.grid_step_deg
    for idx in groups.values():
        s = net.full_spectrum(net(torch.cat([x[i] for i in idx]).to(net.grid.device))).cpu()
        aoa = peak_aoa(s, net.grid, hw)
        peak = s.max(-1).values.numpy()
        for j, i in enumerate(idx):
            out[i] = (float(aoa[j]), float(peak[j]))
    return [o for o in out if o is not None]


def estimate(net: MoDDNN, cfr: ArrayLike) -> np.ndarray:
    """AoA (deg) of a batch of CFRs [B, M, S, K]."""
    return net.estimate(cfr)
