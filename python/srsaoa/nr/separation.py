"""Joint separation of the UEs that share SRS resource elements (docs/multi_ue.md).

Several UEs on the same REs (same comb, comb offset, band and symbols) reach the receiver
summed: Y[m, s, k] = sum_v x_v[s, k] h_v[m, s, k] + n, where x_v is UE v's known SRS
sequence (TS 38.211 6.4.1.4.2, its cyclic shift included) and h_v its channel. A UE's
channel occupies a short span of delays, so over the K subcarriers of the comb it lies in
a low-dimensional subspace: the discrete prolate spheroidal (Slepian) sequences of its
delay band, shifted to the band's centre. With B_v such basis vectors per UE, the model
Y = A c + n with A = [diag(x_v) Phi_v]_v (K x sum B_v, the same for every element and,
when the sequences repeat, every symbol) is solved by least squares for every UE at once.

- UEs with the same base sequence and another cyclic shift: their columns are orthogonal
  to this UE's (delay bands K / n_cs_max apart), nothing is lost; their Dirichlet
  sidelobes (a UE timed a fraction of a delay bin off) are modelled, not left to leak into
  this UE's window.
- UEs with another sequence ID: pseudo-random to this UE's sequence, their columns are
  nearly orthogonal to this UE's (cross-correlation about 1 / sqrt(K)); their channel is
  estimated and subtracted. The price is noise: this UE's signal loses the part that lies in
  the others' column space, a fraction of about sum_{v != u} B_v / K.

Cramer-Rao bound. With white noise of variance sigma^2 and the other UEs' channels
unknown (nuisance parameters in their subspaces), the Fisher information for this UE's
angle is the single-UE one with the signal projected off the others' columns:
J = (2 / sigma^2) Re{d mu^H P_o^perp d mu}. The angle derivative acts on the element
index only, so d mu lies in this UE's signal subspace and J = J_single * rho with
rho = ||P_o^perp s_u||^2 / ||s_u||^2 (s_u = x_u h_u). The bound is the single-UE CRB at
the SNR rho * P_u / sigma^2: ``separate_joint`` reports that SNR (``sigma^2`` measured on
the least-squares residual, so whatever the models leave of the other UEs counts as noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

DETECT_DB = 10.0  # a UE's delay tap must stand this far above the despread floor
BAND_MARGIN_BINS = 2.0  # half-band margin beyond the detected taps (fractional delays)
EXTRA_VECTORS = 3  # basis vectors beyond 2 NW (the path's representation error ~1e-4)
MAX_FILL = 0.75  # refuse models whose columns fill more than this fraction of K
PATH_DB = 30.0  # a path found on the residual is within this of the UE's strongest tap
CACHE_MODELS = 16  # factorised models kept per separator
ITERATIONS = 3  # band refinements on the residual (weaker paths, once the others are out)


@dataclass
class JointResult:
    """What ``separate_joint`` found for UE 0 (the UE whose CFR is given)."""

    h: NDArray[np.complex128]  # [M, S, K] this UE's CFR with the other UEs removed
    snr_db: float  # this UE's SNR per RE at which the single-UE CRB is its CRB
    sinr_before_db: float  # this UE's SINR per RE before separation (others as noise)
    noise_var: float  # sigma^2 per RE (least-squares residual)
    rho: float  # fraction of this UE's signal energy outside the others' column space
    bands: list = field(default_factory=list)  # per UE: (centre bin, half width) modelled
    found: list = field(default_factory=list)  # per UE: seen above the floor


def _window_bins(k: int, n_cs_max: int) -> NDArray[np.int64]:
    """The delay bins searched for a UE (its cyclic-shift window around delay 0: K / n_cs_max
    bins from a quarter of them before 0), as signed offsets."""
    width = max(k // n_cs_max, 1)
    pre = width // 4
    return np.arange(-pre, width - pre)


def search_bins(k: int, n_cs_max: int, spread_bins: int) -> NDArray[np.int64]:
    """Signed delay bins to look for a UE timed up to ``spread_bins`` before or after this one
    (e.g. the CP, for UEs without timing advance): its window widened by that on both sides,
    at most K / 2 either way. Only for a UE whose base sequence no other UE on the REs
    uses: a cyclic shift of the same sequence would otherwise be found in its place."""
    w = _window_bins(k, n_cs_max)
    lo = max(int(w[0]) - int(spread_bins), -(k // 2) + 1)
    hi = min(int(w[-1]) + int(spread_bins), k // 2)
    return np.arange(lo, hi + 1)


@lru_cache(maxsize=64)
def _dpss(k: int, nw2: int, count: int) -> NDArray[np.float64]:
    """[K, count] orthonormal Slepian sequences of half-bandwidth NW = nw2 / 2 bins."""
    from scipy.signal.windows import dpss

    v = dpss(k, nw2 / 2.0, count, return_ratios=False)
    v = np.atleast_2d(v).T
    return v / np.linalg.norm(v, axis=0, keepdims=True)


def _taps(
    y: NDArray[np.complexfloating],
    x: NDArray[np.complexfloating],
    n_cs_max: int,
    detect_db: float,
    min_power: float = 0.0,
    search: NDArray[np.int64] | None = None,
) -> tuple[float, float, float, float]:
    """(first, last, strongest) delay tap of the UE with sequence ``x`` standing
    ``detect_db`` above the floor of its despread profile within its window; NaN for first
    and last when none does. ``min_power``: a tap must also reach this power. Fourth: the
    strongest tap's power. ``search``: the signed delay bins searched instead of the
    window."""
    k = y.shape[-1]
    g = np.fft.ifft(y / x, axis=-1)
    p = np.sum(np.abs(g) ** 2, axis=tuple(range(g.ndim - 1)))
    floor = float(np.median(p))
    offs = _window_bins(k, n_cs_max) if search is None else np.asarray(search)
    pw = p[offs % k]
    peak = float(offs[int(np.argmax(pw))])
    thr = max(floor * 10 ** (detect_db / 10), min_power)
    if not floor > 0 or pw.max() < thr:
        return float("nan"), float("nan"), peak, float(pw.max())
    hit = offs[pw >= thr]
    return float(hit.min()), float(hit.max()), peak, float(pw.max())


def delay_band(
    y: NDArray[np.complexfloating],
    x: NDArray[np.complexfloating],
    n_cs_max: int,
    detect_db: float = DETECT_DB,
) -> tuple[float, float] | None:
    """(centre, half width) in delay bins of the UE with sequence ``x`` [S, K] in the received
    REs ``y`` [M, S, K]: its taps standing ``detect_db`` above the floor (the median tap:
    the other UEs and the noise spread over every delay) within its cyclic-shift window,
    with a margin for fractional delays; None when no tap does (the UE is absent)."""
    lo, hi, _, _ = _taps(y, x, n_cs_max, detect_db)
    if np.isnan(lo):
        return None
    return _band(lo, hi)


def _band(lo: float, hi: float) -> tuple[float, float]:
    return (lo + hi) / 2.0, (hi - lo) / 2.0 + BAND_MARGIN_BINS


@lru_cache(maxsize=512)
def _basis(k: int, centre: float, half: float) -> NDArray[np.complex128]:
    """[K, B] orthonormal basis of channels with delays in centre +- half bins (a delay of d
    bins is exp(-j 2 pi k d / K) over the K subcarriers). Cached: do not modify."""
    nw2 = int(np.ceil(2 * half))
    count = min(nw2 + EXTRA_VECTORS, k)
    v = _dpss(k, nw2, count)
    kk = np.arange(k)
    out = v * np.exp(-2j * np.pi * kk * centre / k)[:, None]
    out.flags.writeable = False
    return out


@dataclass
class _Fit:
    parts: NDArray[np.complex128]  # [V, M, S, K] each UE's fitted contribution x_v h_v
    resid: NDArray[np.complex128]  # [M, S, K] what no model explains
    n_cols: int
    n_own: int
    sig_e: float  # energy of UE 0's fit
    sig_perp_e: float  # ... off the others' column space


def _fit(
    y: NDArray,
    seqs: list[NDArray],
    extents: list[tuple[float, float]],
    cache: dict | None = None,
) -> _Fit:
    """Joint least squares of every UE in its band (extents: first and last tap). ``cache``
    (for one set of sequences): the factorised model per set of bands, reused while the
    UEs' delays stay put from one occasion to the next."""
    m, s, k = y.shape
    key = tuple(extents)
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        hit = _model(seqs, extents, k)
        if cache is not None:
            if len(cache) >= CACHE_MODELS:
                cache.pop(next(iter(cache)))
            cache[key] = hit
    owner_a, n_oth, same, factors = hit
    n_cols = owner_a.size
    parts = np.zeros((len(seqs), m, s, k), np.complex128)
    resid = np.empty_like(y)
    sig_e = sig_perp_e = 0.0
    for si, (a, q, r) in enumerate(factors):
        sel = slice(None) if same else slice(si, si + 1)
        ys = y[:, sel, :].reshape(-1, k).T  # [K, M * S']
        z = q.conj().T @ ys  # [N, M * S']
        c = solve_triangular(r, z)
        total = np.zeros_like(ys)
        for v in range(len(seqs)):
            mine = owner_a == v
            fv = a[:, mine] @ c[mine]
            parts[v][:, sel, :] = fv.T.reshape(m, -1, k)
            total += fv
        resid[:, sel, :] = (ys - total).T.reshape(m, -1, k)
        sig_e += float(np.sum(np.abs(parts[0][:, sel, :]) ** 2))
        # this UE's fit off the others' span: the last rows of Q^H y
        sig_perp_e += float(np.sum(np.abs(z[n_oth:]) ** 2))
    return _Fit(parts, resid, n_cols, n_cols - n_oth, sig_e, sig_perp_e)


def _model(seqs: list[NDArray], extents: list[tuple[float, float]], k: int):
    """(owner of each column, number of the others' columns, one model for every symbol,
    [(A, Q, R)] per symbol or once): A = [diag(x_v) Phi_v]_v, the others first."""
    s = seqs[0].shape[0]
    # the others' columns first, this UE's last: the first columns of Q span the others
    cols: list[NDArray] = []
    owner: list[int] = []
    for v in [*range(1, len(seqs)), 0]:
        phi = _basis(k, *_band(*extents[v]))
        cols.append(phi)
        owner.extend([v] * phi.shape[1])
    owner_a = np.asarray(owner)
    n_cols = owner_a.size
    if n_cols > MAX_FILL * k:
        raise ValueError(
            f"{len(seqs)} UEs' delay bands need {n_cols} of {k} dimensions: too many UEs "
            "or too long channels on these REs to separate"
        )
    phi_all = np.concatenate(cols, axis=1)  # [K, N]
    n_oth = int((owner_a != 0).sum())
    same = all(np.allclose(sq, sq[:1]) for sq in seqs)
    factors = []
    for si in [0] if same else range(s):
        xs = np.stack([sq[si] for sq in seqs])  # [V, K]
        a = xs[owner_a].T * phi_all  # [K, N]: column j = x_owner(j) * phi_j
        q, r = np.linalg.qr(a)
        factors.append((a, q, r))
    return owner_a, n_oth, same, factors


def separate_joint(
    h: NDArray[np.complexfloating],
    x_own: NDArray[np.complexfloating],
    x_others: list[NDArray[np.complexfloating]],
    n_cs_max: int,
    iterations: int = ITERATIONS,
    cache: dict | None = None,
    search: list | None = None,
) -> JointResult:
    """UE 0's LS CFR ``h`` [M, S, K] (the received REs divided by its sequence ``x_own``
    [S, K]) freed of the UEs with sequences ``x_others`` (each [S, K], cyclic shift
    included) on the same REs: every UE's channel is fitted in its delay band by joint least
    squares, the others' fits are subtracted. The bands come from each UE's despread delay
    profile (``delay_band``); then, ``iterations`` times, they grow to the taps that stand
    out of the residual despread by the UE's sequence (paths too weak to be seen above the
    other UEs at first, now above the noise). A UE not
    seen above the floor (absent in this slot, or too weak) is still modelled around its
    strongest tap: an absent one costs a few dimensions, a missed one would stay in this
    UE's CFR as interference. Returns the cleaned CFR (still divided by ``x_own``) and the
    SNR at which the single-UE CRB is this UE's CRB in the joint model (module docstring).
    ValueError when the bands need more than MAX_FILL of the K dimensions. ``cache``: a dict
    kept by the caller for these sequences (factorised models, reused across occasions).
    ``search``: per UE (this one first) the signed delay bins its band is looked for in,
    None for its cyclic-shift window (``search_bins`` gives a wider span for a UE with its
    own timing and a base sequence no other UE here uses)."""
    h = np.asarray(h, dtype=np.complex128)
    m, s, k = h.shape
    x_own = np.asarray(x_own, dtype=np.complex128)
    y = h * x_own
    seqs = [x_own] + [np.asarray(xo, dtype=np.complex128) for xo in x_others]
    search = list(search) if search is not None else [None] * len(seqs)
    if len(search) != len(seqs):
        raise ValueError(f"search: one entry per UE ({len(seqs)}), got {len(search)}")
    found = [False] * len(seqs)
    extents: list[tuple[float, float]] = []
    strongest: list[float] = []
    for v, xv in enumerate(seqs):
        lo, hi, peak, p_peak = _taps(y, xv, n_cs_max, DETECT_DB, 0.0, search[v])
        found[v] = not np.isnan(lo)
        extents.append((lo, hi) if found[v] else (peak, peak))
        strongest.append(p_peak)
    fit = _fit(y, seqs, extents, cache)
    for _ in range(iterations):
        grown = []
        for v, xv in enumerate(seqs):
            # paths of this UE no model explains stand out of the residual despread by its
            # sequence (the others' leftovers stay spread)
            # (and within PATH_DB of its strongest tap: not the models' own tiny errors)
            floor_path = strongest[v] * 10 ** (-PATH_DB / 10)
            lo, hi, _, _ = _taps(fit.resid, xv, n_cs_max, DETECT_DB, floor_path, search[v])
            if np.isnan(lo):
                grown.append(extents[v])
                continue
            found[v] = True
            grown.append((min(lo, extents[v][0]), max(hi, extents[v][1])))
        if grown == extents:
            break
        extents = grown
        fit = _fit(y, seqs, extents, cache)
    noise_var = float(np.sum(np.abs(fit.resid) ** 2)) / max(m * s * (k - fit.n_cols), 1)
    # this UE's fit holds its signal plus the noise of its own columns (n_own per m, s)
    p_sig = max(fit.sig_e - noise_var * m * s * fit.n_own, 0.0) / (m * s * k)
    rho = fit.sig_perp_e / fit.sig_e if fit.sig_e > 0 else 1.0
    snr_db = 10 * np.log10(max(rho * p_sig, 1e-30) / noise_var) if noise_var > 0 else np.inf
    p_all = float(np.mean(np.abs(y) ** 2))
    sinr_before = 10 * np.log10(max(p_sig, 1e-30) / max(p_all - p_sig, 1e-30))
    out = (y - np.sum(fit.parts[1:], axis=0)) / x_own
    bands = [_band(*e) for e in extents]
    return JointResult(out, float(snr_db), float(sinr_before), noise_var, rho, bands, found)
