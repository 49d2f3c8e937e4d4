"""The line-of-sight path in rich multipath: the earliest significant path of a
joint angle-delay estimate, and the channel order from the frequency-smoothed covariance.

Positioning needs the direct path, which in a LOS channel is the first to arrive but not
always the strongest (TR 38.901 UMi LOS draws K ~ N(9, 5) dB: the LOS ray is below the sum of
the clusters in about 4 % of the drops, and behind an element pattern or a weak LOS it is often
below its own first cluster). A 2D-ESPRIT (or joint angle-delay ML) estimate carries a delay per
path, so the direct path is the earliest one that is really there.

**Which paths count** (``earliest_path``). A path counts when its power is within
``threshold_db`` (default 10 dB) of the strongest path. Why 10 dB: (a) spurious components
from noise or an over-estimated order carry about the noise power spread over the M K S
observations (-45 dB at 10 dB SNR per RE, 4 elements, 816 REs), and a true path split by model
mismatch (unresolved rays) into a dominant and a weak part leaves the weak part typically more
than 10 dB down; (b) in TR 38.901 NLOS the first cluster has the largest expected power
(P_n ~ exp(-tau_n (r_tau - 1) / (r_tau DS))) and falls below the strongest only through the
per-cluster shadowing zeta = 3 dB, so 10 dB (3.3 zeta) keeps it; in LOS the LOS ray is kept
down to K = -10 dB relative to the strongest cluster (3.8 sigma below the UMi mean). Delays are
compared relative to the strongest path and wrapped into one period 1/df of the comb when
``delay_period_s`` is given (2D-ESPRIT's delays are modulo 1/df).

**Angle of the first arrival** (``leading_edge_angle``, ``estimate_los(edge=True)``). In a
LOS channel everything else arrives after the direct path, so its angle is read on the
leading edge of its delay response (Gaussian taper, 1/B before the arrival), where paths a
fraction of 1/B later are attenuated several times more than the direct one. Rays at the
direct path's own delay (TR 38.901 puts half of cluster 1 there) stay: no delay processing
separates them, and with four elements no angle processing resolves rays a few degrees apart.

**Order** (``order_frequency_smoothing``). With frequency smoothing the CFR of K subcarriers
becomes K - P + 1 shifted space-frequency vectors of length M P (the 2D-ESPRIT stack), whose
covariance has one eigenvalue per path resolvable in angle *or* delay: up to min(P (M-1),
(P-1) M) paths, where the spatial covariance alone allows M - 1 and coherent paths collapse.
AIC/MDL (Wax and Kailath 1985) run on its eigenvalues with N = S (K - P + 1) snapshots, and the
Marchenko-Pastur guard of ``order.guard_order`` keeps noise eigenvalues out (the overlapping
Hankel columns are not independent, which makes the noise eigenvalues spread wider than for
N independent snapshots; the guard's 3 dB margin above the edge absorbs that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import doa as _doa
from . import order as _order

DEFAULT_THRESHOLD_DB = 10.0
LOS_INDEX_KEY = "los_index"  # estimate PDU meta / JSON key (DESIGN section 6)


def earliest_path(
    est: _doa.Estimate,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    delay_period_s: float | None = None,
    resolution_s: float = 0.0,
) -> int | None:
    """Index (into ``est.aoa_deg`` etc., strongest first) of the earliest path whose power is
    within ``threshold_db`` of the strongest; None without paths, 0 without delays.

    Paths whose delays lie within ``resolution_s`` of the earliest one (the delay resolution
    1/B of the band: their delay order is not measurable) form the first arrival; the
    strongest of them is returned (an estimator that splits one arrival into several nearby
    components puts most of its power on the component nearest the true direction)."""
    if not (np.isfinite(threshold_db) and threshold_db >= 0):
        raise ValueError(f"threshold_db must be >= 0, got {threshold_db}")
    n = int(np.size(est.aoa_deg))
    if n == 0:
        return None
    if est.delay_s is None or n == 1:
        return 0
    p = np.asarray(est.power, dtype=np.float64)
    d = np.asarray(est.delay_s, dtype=np.float64)
    strongest = int(np.argmax(p))
    rel = d - d[strongest]
    if delay_period_s is not None and delay_period_s > 0:
        rel = (rel + delay_period_s / 2) % delay_period_s - delay_period_s / 2
    ok = np.isfinite(p) & np.isfinite(rel) & (p >= p[strongest] * 10 ** (-threshold_db / 10))
    cand = np.flatnonzero(ok)
    first = rel[cand].min()
    group = cand[rel[cand] <= first + max(float(resolution_s), 0.0)]
    return int(group[np.argmax(p[group])])


def order_frequency_smoothing(
    cfr: ArrayLike,
    smoothing: int | None = None,
    method: str = "mdl",
    max_order: int | None = None,
    guard: bool = True,
) -> int:
    """Number of paths from the eigenvalues of the frequency-smoothed (2D-ESPRIT) covariance
    of H [M, S, K] (module docstring); 0 <= order <= min(P (M-1), (P-1) M, max_order)."""
    h = np.asarray(cfr)
    if h.ndim == 2:
        h = h[:, None, :]
    if h.ndim != 3 or not np.all(np.isfinite(h)):
        raise ValueError(f"CFR must be a finite [M, S, K] or [M, K] array, got {np.shape(cfr)}")
    m, s, k = h.shape
    p = _doa.default_smoothing(m, k) if smoothing is None else int(smoothing)
    if not 2 <= p <= k - 1:
        raise ValueError(f"smoothing must be in [2, K-1] = [2, {k - 1}], got {smoothing}")
    c = _doa.stacked_covariance(h.astype(np.complex128), p, fb=True)
    lam = np.linalg.eigvalsh(c)[::-1]
    n = s * (k - p + 1)
    if method not in _order.METHODS:
        raise ValueError(f"method must be one of {_order.METHODS}, got {method!r}")
    crit = _order.aic(lam, n) if method == "aic" else _order.mdl(lam, n)
    d = int(np.argmin(crit))
    if guard and d > 0:
        d = _order.guard_order(lam, d, n)
    limit = min(p * (m - 1), (p - 1) * m)
    if max_order is not None:
        limit = min(limit, int(max_order))
    return max(0, min(d, limit))


MAX_CONDITION = 30.0  # as the 1-D estimators' duplicate-root pruning (DESIGN section 9)


def _atoms(m: int, f: np.ndarray, aoa_deg: np.ndarray, delay_s: np.ndarray, spacing: float):
    a = np.exp(2j * np.pi * spacing * np.arange(m)[:, None] * np.sin(np.deg2rad(aoa_deg))[None, :])
    b = np.exp(-2j * np.pi * np.outer(f - f[0], delay_s))
    return np.einsum("mp,kp->mkp", a, b).reshape(m * f.size, -1)


def prune_paths_joint(
    est: _doa.Estimate,
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    spacing_wavelengths: float = 0.5,
    max_condition: float = MAX_CONDITION,
) -> _doa.Estimate:
    """Drop duplicated joint angle-delay paths until the angle-delay atoms a(theta) (x)
    b(tau) have a condition number <= ``max_condition``, then re-fit the powers.

    An over-estimated order makes 2D-ESPRIT (and ML) split one arrival into two nearly equal
    atoms whose least-squares gains are large and opposite: a spurious "strongest" path 10 dB
    above the channel. Of the most correlated pair, the path whose removal leaves the smaller
    least-squares residual goes. Powers are mean_s |g_s|^2 of the least-squares fit; paths are
    re-sorted strongest first (``crb_deg`` is dropped: it no longer matches)."""
    from dataclasses import replace

    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 2:
        h = h[:, None, :]
    m, s_count, k = h.shape
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    if est.delay_s is None or np.size(est.aoa_deg) == 0:
        return est
    th = np.asarray(est.aoa_deg, dtype=np.float64)
    tau = np.asarray(est.delay_s, dtype=np.float64)
    y = h.transpose(0, 2, 1).reshape(m * k, s_count)

    def fit(idx: np.ndarray) -> tuple[np.ndarray, float]:
        u = _atoms(m, f, th[idx], tau[idx], spacing_wavelengths)
        g = np.linalg.lstsq(u, y, rcond=None)[0]
        return g, float(np.linalg.norm(y - u @ g) ** 2)

    keep = np.arange(th.size)
    while keep.size > 1:
        u = _atoms(m, f, th[keep], tau[keep], spacing_wavelengths)
        sv = np.linalg.svd(u, compute_uv=False)
        if sv[-1] > 0 and sv[0] / sv[-1] <= max_condition:
            break
        un = u / np.linalg.norm(u, axis=0)
        c = np.abs(un.conj().T @ un)
        np.fill_diagonal(c, 0.0)
        i, j = np.unravel_index(np.argmax(c), c.shape)
        drop = min((i, j), key=lambda q: fit(np.delete(keep, q))[1])
        keep = np.delete(keep, drop)
    g, _ = fit(keep)
    power = np.mean(np.abs(g) ** 2, axis=1)
    order = np.argsort(power)[::-1]
    keep = keep[order]
    return replace(
        est,
        aoa_deg=th[keep],
        delay_s=tau[keep],
        power=power[order],
        crb_deg=np.zeros(0),
    )


def refine_first_arrival(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    aoa_deg: float,
    delay_s: float,
    spacing_wavelengths: float = 0.5,
    angle_window_deg: float = 10.0,
) -> tuple[float, float]:
    """Single-path maximum-likelihood refinement of the first arrival: maximise the
    angle-delay periodogram sum_s |a(theta)^H H_s c(tau)|^2 (c_k = exp(+j 2 pi f_k tau)) in a
    box of +-``angle_window_deg`` and +-1/(2B) around the subspace estimate (B the band
    spanned by the subcarriers), so the search cannot move to another arrival. It is the ML
    estimate of one path when the others are orthogonal to it in angle-delay, and it does not
    suffer from the subspace method's model-order errors. Returns (aoa_deg, delay_s)."""
    from scipy.optimize import minimize

    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 2:
        h = h[:, None, :]
    m = h.shape[0]
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    f0 = f - f[0]
    bw = float(np.ptp(f))
    if bw <= 0 or not np.isfinite(aoa_deg) or not np.isfinite(delay_s):
        return float(aoa_deg), float(delay_s)
    el = np.arange(m)

    def cost(x: np.ndarray) -> float:
        a = np.exp(-2j * np.pi * spacing_wavelengths * el * np.sin(np.deg2rad(x[0])))
        c = np.exp(2j * np.pi * f0 * (x[1] / bw))
        return -float(np.sum(np.abs(np.einsum("m,msk,k->s", a, h, c)) ** 2))

    lo = max(aoa_deg - angle_window_deg, -89.9)
    hi = min(aoa_deg + angle_window_deg, 89.9)
    x0 = np.array([aoa_deg, delay_s * bw])
    res = minimize(
        cost,
        x0,
        method="Nelder-Mead",
        bounds=[(lo, hi), (x0[1] - 0.5, x0[1] + 0.5)],
        options={"xatol": 1e-4, "fatol": 1e-12, "maxiter": 400},
    )
    if not (res.fun <= cost(x0)):
        return float(aoa_deg), float(delay_s)
    return float(res.x[0]), float(res.x[1] / bw)


EDGE_SIGMA_FRACTION = 0.25  # Gaussian taper: sigma_f = B / 4 (sigma_t = 0.64 / B)
EDGE_OFFSET_CELLS = 1.0  # look 1 / B before the first arrival's delay


def leading_edge_angle(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    aoa_deg: float,
    delay_s: float,
    spacing_wavelengths: float = 0.5,
    sigma_fraction: float = EDGE_SIGMA_FRACTION,
    offset_cells: float = EDGE_OFFSET_CELLS,
    angle_window_deg: float = 8.0,
) -> float:
    """Angle of the first arrival seen on the leading edge of its delay response.

    Every other path of a LOS channel arrives *after* the direct one. The CFR is tapered with
    a Gaussian of rms width sigma_f = ``sigma_fraction`` B over the band B (its delay response
    is a Gaussian of rms width sigma_t = 1 / (2 pi sigma_f), no sinc side lobes) and steered
    to tau_e = ``delay_s`` - ``offset_cells`` / B, before the arrival:
    y_s = sum_k w_k H[:, s, k] exp(+j 2 pi f_k tau_e). A path delta later than the direct one
    is attenuated there, relative to the direct path, by exp(-(delta^2 + 2 delta d) /
    (2 sigma_t^2)) with d = offset_cells / B: for the defaults (d = 1.57 sigma_t) a path
    0.5 / B behind is 13 dB down instead of 3 dB at the peak, and the direct path itself
    loses 10.7 dB (the integrated SNR of an SRS, tens of dB, pays for that). What arrives
    at the same delay as the direct path (TR 38.901: the rays of sub-cluster 1 of cluster 1)
    is not separated. The angle is the single-source ML on the edge snapshots,
    argmax_theta a(theta)^H (sum_s y_s y_s^H) a(theta), within +-``angle_window_deg`` of
    ``aoa_deg`` (the subspace estimate of the same path).
    """
    from scipy.optimize import minimize_scalar

    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 2:
        h = h[:, None, :]
    m = h.shape[0]
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    bw = float(np.ptp(f))
    if bw <= 0 or not np.isfinite(aoa_deg) or not np.isfinite(delay_s):
        return float(aoa_deg)
    if not (sigma_fraction > 0 and offset_cells >= 0):
        raise ValueError("sigma_fraction must be > 0 and offset_cells >= 0")
    w = np.exp(-0.5 * ((f - f.mean()) / (sigma_fraction * bw)) ** 2)
    tau_e = float(delay_s) - float(offset_cells) / bw
    y = np.einsum("msk,k->ms", h, w * np.exp(2j * np.pi * f * tau_e))
    r = y @ y.conj().T
    el = np.arange(m)

    def power(theta_deg: np.ndarray) -> np.ndarray:
        a = np.exp(2j * np.pi * spacing_wavelengths * np.outer(el, np.sin(np.deg2rad(theta_deg))))
        return np.real(np.einsum("mg,mn,ng->g", a.conj(), r, a))

    lo = max(float(aoa_deg) - angle_window_deg, -89.9)
    hi = min(float(aoa_deg) + angle_window_deg, 89.9)
    step = 0.1
    grid = np.arange(lo, hi + step / 2, step)
    i = int(np.argmax(power(grid)))
    a0, a1 = max(grid[i] - step, lo), min(grid[i] + step, hi)
    res = minimize_scalar(
        lambda t: -float(power(np.array([t]))[0]),
        bounds=(a0, a1),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(res.x)


EDGE_MAX_STD_DEG = 0.25  # use the edge only while its own noise std stays below this


def _far_taps(cfr: ArrayLike) -> tuple[np.ndarray, np.ndarray, float]:
    """Delay taps of H [M, S, K] (Hann-tapered inverse DFT over the K subcarriers), the mask
    of the taps farther than K/3 from the strongest one, and sum_k w_k^2."""
    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 2:
        h = h[:, None, :]
    k = h.shape[-1]
    w = np.hanning(k + 2)[1:-1]
    x = np.fft.ifft(h * w, axis=-1) * k
    prof = np.mean(np.abs(x) ** 2, axis=(0, 1))
    dist = np.abs((np.arange(k) - int(np.argmax(prof)) + k // 2) % k - k // 2)
    return x, dist > k / 3, float(np.sum(w**2))


def noise_per_re(cfr: ArrayLike) -> float:
    """Noise power per resource element of H [M, S, K] from its delay domain: the inverse DFT
    over the K subcarriers, Hann-tapered (side lobes falling as 1/n^3), puts every path near
    its delay (within the channel's delay spread, a small part of the comb period 1/df) and
    leaves white noise of power sigma^2 sum_k w_k^2 per tap elsewhere; the median of |.|^2
    over the taps farther than K/3 from the strongest one, divided by ln 2 (the median of an
    exponential) and by sum_k w_k^2, is sigma^2."""
    x, far, w2 = _far_taps(cfr)
    if not np.any(far):
        return float("nan")
    return float(np.median(np.abs(x[..., far]) ** 2) / np.log(2.0) / w2)


def noise_per_channel(cfr: ArrayLike) -> np.ndarray:
    """Noise power per resource element of each element of H [M, S, K], [M]: as
    :func:`noise_per_re`, per channel. After a gain calibration (or with unequal receive
    chains) the channels' noise powers differ, which a white-noise order criterion would
    read as extra signal eigenvalues; NaN where the CFR has too few subcarriers."""
    x, far, w2 = _far_taps(cfr)
    if not np.any(far):
        return np.full(x.shape[0], np.nan)
    return np.median(np.abs(x[..., far]) ** 2, axis=(1, 2)) / np.log(2.0) / w2


def leading_edge_std_deg(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    aoa_deg: float,
    delay_s: float,
    spacing_wavelengths: float = 0.5,
    sigma_fraction: float = EDGE_SIGMA_FRACTION,
    offset_cells: float = EDGE_OFFSET_CELLS,
) -> float:
    """Predicted noise standard deviation (deg) of :func:`leading_edge_angle`: the edge
    snapshots y_s carry noise sigma^2 sum_k w_k^2 per element (sigma^2 from
    :func:`noise_per_re`), and the single-source ML on M elements and S snapshots reaches
    var(2 pi d sin theta) = 6 / (M (M^2 - 1) S SNR_y). inf when the edge holds no signal."""
    h = np.asarray(cfr, dtype=np.complex128)
    if h.ndim == 2:
        h = h[:, None, :]
    m, s_count, _ = h.shape
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    bw = float(np.ptp(f))
    sigma2 = noise_per_re(h)
    if bw <= 0 or not (sigma2 > 0):
        return 0.0 if sigma2 == 0 else float("inf")
    w = np.exp(-0.5 * ((f - f.mean()) / (sigma_fraction * bw)) ** 2)
    tau_e = float(delay_s) - float(offset_cells) / bw
    y = np.einsum("msk,k->ms", h, w * np.exp(2j * np.pi * f * tau_e))
    noise = sigma2 * float(np.sum(w**2))
    signal = float(np.mean(np.abs(y) ** 2)) - noise
    if signal <= 0:
        return float("inf")
    var_u = 6.0 / (m * (m * m - 1) * s_count * signal / noise)
    c = 2 * np.pi * spacing_wavelengths * np.cos(np.deg2rad(aoa_deg))
    return float(np.degrees(np.sqrt(var_u) / abs(c))) if c else float("inf")


@dataclass
class LosEstimate:
    """A joint angle-delay estimate with the direct path marked: ``estimate`` (paths strongest
    first, as every estimator returns them) and ``los_index`` into its arrays (None: no path)."""

    estimate: _doa.Estimate
    los_index: int | None

    @property
    def los_aoa_deg(self) -> float:
        if self.los_index is None:
            return float("nan")
        return float(self.estimate.aoa_deg[self.los_index])

    @property
    def los_delay_s(self) -> float:
        if self.los_index is None or self.estimate.delay_s is None:
            return float("nan")
        return float(self.estimate.delay_s[self.los_index])

    def meta(self) -> dict:
        """The estimate PDU meta / JSON additions: ``los_index`` (absent when None)."""
        return {} if self.los_index is None else {LOS_INDEX_KEY: int(self.los_index)}


def guarded_edge_angle(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    aoa_deg: float,
    delay_s: float,
    spacing_wavelengths: float = 0.5,
    max_std_deg: float = EDGE_MAX_STD_DEG,
) -> float | None:
    """:func:`leading_edge_angle` of the path at (``aoa_deg``, ``delay_s``) when its predicted
    noise std (:func:`leading_edge_std_deg`) is at most ``max_std_deg``, else None (keep the
    subspace angle): the edge gives up 10.7 dB of SNR, which pays only while its noise stays
    below the multipath bias it removes."""
    std = leading_edge_std_deg(cfr, subcarrier_hz, aoa_deg, delay_s, spacing_wavelengths)
    if not std <= max_std_deg:
        return None
    return leading_edge_angle(cfr, subcarrier_hz, aoa_deg, delay_s, spacing_wavelengths)


def estimate_los(
    cfr: ArrayLike,
    subcarrier_hz: ArrayLike,
    *,
    method: str = "2d-esprit",
    order: int | None = None,
    spacing_wavelengths: float = 0.5,
    smoothing: int | None = None,
    order_method: str = "mdl",
    max_order: int | None = None,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    resolution_fraction: float = 0.5,
    refine: bool = False,
    edge: bool = False,
    edge_max_std_deg: float = EDGE_MAX_STD_DEG,
) -> LosEstimate:
    """Joint angle-delay estimate of H [M, S, K] with the earliest significant path marked.

    ``order`` None: :func:`order_frequency_smoothing` with the same smoothing factor (at least
    1, at most ``max_order``). ``method``: "2d-esprit" or "2d-ml" (``doa.estimate``). The
    estimate is cleaned by :func:`prune_paths_joint` (duplicated paths, inflated powers);
    with ``refine`` the marked path's angle and delay come from
    :func:`refine_first_arrival`; with ``edge`` its angle comes from
    :func:`leading_edge_angle` (after ``refine`` if both are set) when the edge's predicted
    noise std (:func:`leading_edge_std_deg`) is at most ``edge_max_std_deg``: the edge gives
    up 10.7 dB of SNR, which pays only while its noise stays below the multipath bias it
    removes (rms ~0.3 deg at the UMi LOS floor); at low SNR the subspace angle is kept.
    Paths less than ``resolution_fraction`` / B apart in delay (B the band spanned by the
    subcarriers) count as one arrival in :func:`earliest_path`.
    """
    h = np.asarray(cfr)
    if h.ndim == 2:
        h = h[:, None, :]
    f = np.asarray(subcarrier_hz, dtype=np.float64).ravel()
    if order is None:
        order = max(1, order_frequency_smoothing(h, smoothing, order_method, max_order))
    est = _doa.estimate(
        method,
        cfr=h,
        order=int(order),
        spacing_wavelengths=spacing_wavelengths,
        subcarrier_hz=f,
        smoothing=smoothing,
    )
    est = prune_paths_joint(est, h, f, spacing_wavelengths)
    period, resolution = None, 0.0
    if f.size > 1:
        df = float(np.median(np.diff(f)))
        period = 1.0 / abs(df) if df else None
        resolution = resolution_fraction / float(np.ptp(f))
    idx = earliest_path(est, threshold_db, period, resolution)
    if refine and idx is not None:
        from dataclasses import replace

        a, d = refine_first_arrival(
            h, f, float(est.aoa_deg[idx]), float(est.delay_s[idx]), spacing_wavelengths
        )
        aoa, dly = est.aoa_deg.copy(), est.delay_s.copy()
        aoa[idx], dly[idx] = a, d
        est = replace(est, aoa_deg=aoa, delay_s=dly)
    if edge and idx is not None:
        a = guarded_edge_angle(
            h,
            f,
            float(est.aoa_deg[idx]),
            float(est.delay_s[idx]),
            spacing_wavelengths,
            edge_max_std_deg,
        )
        if a is not None:
            from dataclasses import replace

            aoa = est.aoa_deg.copy()
            aoa[idx] = a
            est = replace(est, aoa_deg=aoa)
    return LosEstimate(est, idx)
