"""Receiver front end: parameter translation for the C++ blocks, and their Python twins.

The C++ ``srs_sync_core`` / ``cfr_extractor_core`` blocks know nothing of TS 38.211: they
take plain vectors (reference slot, SRS symbol positions, FFT bins, known sequence).
:func:`frontend_params` computes those from a CarrierConfig / SRSConfig (the parameter
translation); :class:`SrsSyncTwin` and :func:`cfr_twin` are the numpy oracles the C++
kernels are tested against. Plain numpy/scipy, no GNU Radio (DESIGN section 2).

Detection statistic (docs/frontend.md derives it): for a candidate slot start n,

    rho(n) = sum_{m,s} |c_ms(n)|^2 / ||r_s||^2  /  sum_{m,s} E_ms(n),
    c_ms(n) = sum_i y_m[n + a_s + i] conj(r[a_s + i]),  E_ms(n) = sum_i |y_m[n + a_s + i]|^2,

over the SRS symbols s = [a_s, a_s + L_s) of the slot (CP included) and the detection
channels m. Under white complex Gaussian noise rho ~ Beta(Mc*S, Mc*(sum L_s - S)).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal, stats

from .carrier import CarrierConfig
from .ofdm import srs_slot_waveform
from .srs import SRSConfig, srs_indices, srs_symbols

__all__ = [
    "FrontendParams",
    "SrsSyncTwin",
    "cfr_twin",
    "cfr_windows",
    "cross_sequence_floor",
    "detection_threshold",
    "frontend_params",
    "frontend_params_from_arrays",
]


@dataclass(frozen=True)
class FrontendParams:
    """Everything the C++ front end needs, as plain arrays (one SRS port).

    Sample offsets are relative to the slot start (first CP sample of symbol 0).
    """

    sample_rate: float
    scs_hz: float
    fft_size: int
    slot_length: int
    period: int  # SRS period in samples, 0 = unknown
    reference: NDArray[np.complex64]  # [T] slot waveform of the port
    symbols: tuple[int, ...]  # OFDM symbol l of each SRS symbol
    segment_starts: tuple[int, ...]  # first CP sample of each SRS symbol
    segment_lengths: tuple[int, ...]  # CP + fft_size
    window_offsets: tuple[int, ...]  # first sample after the CP of each SRS symbol
    cp_lengths: tuple[int, ...]  # CP of each SRS symbol
    subcarriers: NDArray[np.int32]  # [K] grid subcarrier k of each SRS RE column
    subcarrier_bins: NDArray[np.int32]  # [K] FFT bin of each column
    sequence: NDArray[np.complex64]  # [S, K] known SRS values
    noise_bins: NDArray[np.int32]  # FFT bins inside the SRS band that carry no SRS
    extra: dict = field(default_factory=dict)
    # intervals between consecutive SRS occasions over one cycle when they differ (mu >= 2:
    # the long CP every 0.5 ms); () = every interval is `period`
    period_pattern: tuple[int, ...] = ()

    @property
    def num_symbols(self) -> int:
        return len(self.symbols)

    @property
    def num_subcarriers(self) -> int:
        return int(self.subcarriers.size)


def _bins(k: NDArray, n_size_grid: int, fft_size: int) -> NDArray[np.int32]:
    return ((np.asarray(k) - 6 * n_size_grid) % fft_size).astype(np.int32)


def frontend_params_from_arrays(
    waveform: NDArray,
    indices: NDArray,
    symbols: NDArray,
    *,
    fft_size: int,
    cp_lengths: NDArray,
    scs_hz: float,
    n_size_grid: int,
    period_samples: int = 0,
    port: int = 0,
) -> FrontendParams:
    """Front-end parameters from one slot's arrays (the srs_indices / srs_symbols /
    srs_slot_waveform triple, or the independent test vectors)."""
    wave = np.asarray(waveform)
    if wave.ndim == 2:
        if not 0 <= port < wave.shape[1]:
            raise ValueError(f"port must be in [0, {wave.shape[1]}), got {port}")
        wave = wave[:, port]
    wave = np.ascontiguousarray(wave, dtype=np.complex64)
    idx = np.asarray(indices, dtype=np.int64)
    sym = np.asarray(symbols).astype(np.complex64)
    if idx.ndim != 2 or idx.shape[1] != 3 or idx.shape[0] != sym.size:
        raise ValueError("indices must be [N, 3] (k, l, port) matching symbols [N]")
    cps = np.asarray(cp_lengths, dtype=np.int64)
    if cps.size != 14:
        raise ValueError(f"cp_lengths must hold 14 values, got {cps.size}")
    lens = cps + int(fft_size)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    slot_len = int(lens.sum())
    if wave.size != slot_len:
        raise ValueError(f"waveform has {wave.size} samples, the slot {slot_len}")
    mine = idx[:, 2] == port
    if not np.any(mine):
        raise ValueError(f"no SRS resource element on port {port}")
    ls = np.unique(idx[mine, 1])
    ks = [idx[mine & (idx[:, 1] == lv), 0] for lv in ls]
    kk = np.sort(ks[0])
    for k in ks[1:]:
        if not np.array_equal(np.sort(k), kk):
            raise ValueError(
                "the SRS subcarriers differ between the symbols of the slot (frequency "
                "hopping inside the slot): not supported by the CFR layout [M, S, K]"
            )
    seq = np.zeros((ls.size, kk.size), np.complex64)
    for i, lv in enumerate(ls):
        sel = mine & (idx[:, 1] == lv)
        order = np.argsort(idx[sel, 0])
        seq[i] = sym[sel][order]
    # noise REs: inside the SRS band, in the SRS symbols, used by no port
    used = set(int(k) for k in idx[np.isin(idx[:, 1], ls), 0])
    band = np.arange(int(kk.min()), int(kk.max()) + 1)
    noise_k = np.array([k for k in band if int(k) not in used], dtype=np.int64)
    return FrontendParams(
        sample_rate=float(fft_size) * float(scs_hz),
        scs_hz=float(scs_hz),
        fft_size=int(fft_size),
        slot_length=slot_len,
        period=int(period_samples),
        reference=wave,
        symbols=tuple(int(v) for v in ls),
        segment_starts=tuple(int(starts[v]) for v in ls),
        segment_lengths=tuple(int(lens[v]) for v in ls),
        window_offsets=tuple(int(starts[v] + cps[v]) for v in ls),
        cp_lengths=tuple(int(cps[v]) for v in ls),
        subcarriers=kk.astype(np.int32),
        subcarrier_bins=_bins(kk, n_size_grid, fft_size),
        sequence=seq,
        noise_bins=_bins(noise_k, n_size_grid, fft_size),
    )


def _as_configs(carrier: Any, srs: Any) -> tuple[CarrierConfig, SRSConfig]:
    c = carrier if isinstance(carrier, CarrierConfig) else CarrierConfig.from_dict(dict(carrier))
    s = srs if isinstance(srs, SRSConfig) else SRSConfig.from_dict(dict(srs))
    return c, s


def frontend_params(carrier: Any, srs: Any, port: int = 0) -> FrontendParams:
    """Front-end parameters for a CarrierConfig / SRSConfig (objects or DESIGN dicts).

    The receiver correlates against one fixed slot, so the SRS must repeat from occasion
    to occasion: group/sequence hopping and frequency hopping are refused (ValueError).
    The period is srs_period[0] slots. With mu >= 2 the long CP every 0.5 ms makes the
    intervals between the SRS symbols of consecutive occasions differ (60 kHz, one slot:
    they alternate); ``period_pattern`` then lists them over one cycle and ``period`` is
    their mean, rounded (occasion_intervals).
    """
    c, s = _as_configs(carrier, srs)
    if s.group_seq_hopping != "neither":
        raise ValueError(
            f"group_seq_hopping={s.group_seq_hopping!r}: the SRS changes every slot; the "
            "front end needs a repeating slot ('neither')"
        )
    if s.frequency_hopping:
        raise ValueError("SRS frequency hopping (b_hop < b_srs) is not supported by the front end")
    if not 0 <= port < s.num_srs_ports:
        raise ValueError(f"port must be in [0, {s.num_srs_ports}), got {port}")
    intervals = occasion_intervals(c, s)
    period = int(round(sum(intervals) / len(intervals)))
    pattern = tuple(intervals) if len(set(intervals)) > 1 else ()
    fp = frontend_params_from_arrays(
        srs_slot_waveform(c, s),
        srs_indices(c, s),
        srs_symbols(c, s),
        fft_size=c.fft_size,
        cp_lengths=c.cp_lengths(),
        scs_hz=c.scs_hz,
        n_size_grid=c.n_size_grid,
        period_samples=period,
        port=port,
    )
    return dataclasses.replace(fp, period_pattern=pattern)


def occasion_intervals(carrier: Any, srs: Any) -> list[int]:
    """Samples between the first SRS symbols of consecutive occasions, from the carrier's
    slot n_slot on, over one cycle of the slot-length pattern (slots_per_subframe slots).

    An SRS symbol sits at its offset inside its slot, and that offset, like the slot
    length, depends on the slot's place in the subframe (TS 38.211 5.3.1: the longer CP on
    the first symbol of every 0.5 ms), so the receiver's prediction must follow the
    pattern rather than a single period: at 60 kHz with an SRS in every slot the intervals
    alternate by fft_size / 128 samples, more than the tracking window.
    """
    c, s = _as_configs(carrier, srs)
    p = int(s.srs_period[0])
    spsf = c.slots_per_subframe
    cycle = spsf // math.gcd(p, spsf)
    l0 = int(s.symbol_start)

    # slot lengths and SRS offsets repeat every subframe
    lens = [c.samples_per_slot(c.n_slot + i) for i in range(spsf)]
    offs = [int(np.sum(c.symbol_lengths(c.n_slot + i)[:l0])) for i in range(spsf)]
    sub = sum(lens)

    def first_srs_sample(k: int) -> int:
        whole, rest = divmod(k * p, spsf)
        return whole * sub + sum(lens[:rest]) + offs[rest]

    pos = [first_srs_sample(k) for k in range(cycle + 1)]
    return [pos[k + 1] - pos[k] for k in range(cycle)]


# ------------------------------------------------------------------------ detection


def detection_threshold(pfa_per_test: float, num_terms: int, total_length: int) -> float:
    """eta with P(rho > eta) = pfa_per_test for rho ~ Beta(a, b), a = num_terms
    (channels x SRS symbols), b = channels x sum(L_s) - a (scipy, independent of C++)."""
    a = float(num_terms)
    b = float(total_length - num_terms)
    return float(stats.beta.isf(pfa_per_test, a, b))


CROSS_SEQUENCE_MARGIN = 12.0


def cross_sequence_floor(params: FrontendParams) -> float:
    """Lowest metric accepted as our SRS: CROSS_SEQUENCE_MARGIN / N_sc.

    Another UE's SRS (another low-PAPR sequence group on the same comb) correlates with our
    reference at |<x_other, x_ref>|^2 / (|x_other|^2 |x_ref|^2) ~ 1/N_sc per lag (N_sc SRS
    subcarriers per symbol), and the timing search takes the largest of thousands of lags:
    over all 29 other groups the largest foreign metric measures 3.4/N_sc to 6.4/N_sc (51
    and 133 RB, comb 2 and 4; tests/test_srs_sync_sequence.py), far above the noise-only
    threshold at high SNR. 12/N_sc keeps a factor 2 above that; our own SRS reaches it at a
    per-RE SNR of about 12 * fft_size / N_sc^2 (-8 dB for 51 RB comb 2, -14 dB for 133 RB),
    below the -5 dB detection requirement. docs/frontend.md.
    """
    return CROSS_SEQUENCE_MARGIN / float(params.num_subcarriers)


class SrsSyncTwin:
    """Offline numpy oracle of srs_sync_kernel: the same statistic and state machine on a
    whole buffer [M, n] at once (correlations by scipy FFT convolution)."""

    def __init__(
        self,
        params: FrontendParams,
        num_channels: int,
        ref_channel: int = -1,
        pfa: float = 1e-6,
        track_window: int = 2,
        max_misses: int = 3,
        period: int | None = None,
        min_metric: float = 0.0,
    ) -> None:
        self.p = params
        self.m = int(num_channels)
        self.chans = list(range(self.m)) if ref_channel < 0 else [int(ref_channel)]
        self.period = params.period if period is None else int(period)
        # intervals over one cycle (srs_sync_kernel's period_pattern)
        self.pattern = (
            [int(v) for v in params.period_pattern]
            if period is None and params.period_pattern
            else [self.period]
        )
        self.w = int(track_window)
        self.max_misses = int(max_misses)
        a = np.asarray(params.segment_starts)
        ln = np.asarray(params.segment_lengths)
        mc = len(self.chans)
        t = params.slot_length
        c = len(self.pattern)
        hyp = 1
        for k in range(1, min(self.max_misses, 2 * c) + 1):
            sums = {sum(self.pattern[(ph + i) % c] for i in range(k)) for ph in range(c)}
            hyp = max(hyp, len(sums))
        self.noise_acq = detection_threshold(pfa / t, mc * a.size, mc * int(ln.sum()))
        self.noise_trk = detection_threshold(
            pfa / (hyp * (2 * self.w + 1)), mc * a.size, mc * int(ln.sum())
        )
        self.eta_acq = max(self.noise_acq, float(min_metric))
        self.eta_trk = max(self.noise_trk, float(min_metric))
        self.a, self.ln = a, ln
        self.span = int(a[-1] + ln[-1] - a[0])
        self.b_max = int(a[-1] + ln[-1])

    def metric(self, x: NDArray) -> NDArray[np.float64]:
        """rho(n) for every n with n + b_max <= len (non-finite samples count as zero)."""
        y = np.where(np.isfinite(x), x, 0).astype(np.complex128)
        n_cand = y.shape[1] - self.b_max + 1
        if n_cand <= 0:
            return np.zeros(0)
        num = np.zeros(n_cand)
        den = np.zeros(n_cand)
        ref = self.p.reference.astype(np.complex128)
        for c in self.chans:
            e = np.concatenate([[0.0], np.cumsum(np.abs(y[c]) ** 2)])
            for a, ln in zip(self.a, self.ln):
                r = ref[a : a + ln]
                seg = y[c, a : a + n_cand + ln - 1]
                corr = signal.correlate(seg, r, mode="valid", method="fft")
                num += np.abs(corr) ** 2 / np.sum(np.abs(r) ** 2)
                den += e[a + ln : a + ln + n_cand] - e[a : a + n_cand]
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(den > 0, num / den, 0.0)
        return np.clip(rho, 0.0, 1.0)

    def _corr_at(self, y: NDArray, n: int) -> NDArray[np.complex128]:
        ref = self.p.reference.astype(np.complex128)
        out = np.zeros((len(self.chans), self.a.size), np.complex128)
        for i, c in enumerate(self.chans):
            for s, (a, ln) in enumerate(zip(self.a, self.ln)):
                out[i, s] = np.sum(y[c, n + a : n + a + ln] * np.conj(ref[a : a + ln]))
        return out

    def _cfo(self, y: NDArray, n: int) -> float:
        fs = self.p.sample_rate
        if self.a.size >= 2:
            c = self._corr_at(y, n)
            z = np.sum(c[:, 1:] * np.conj(c[:, :-1]), axis=0)
            d = np.diff(self.a)
            if np.all(d == d[0]):
                return float(np.angle(np.sum(z)) * fs / (2 * np.pi * d[0]))
            w = np.abs(z)
            return float(np.sum(w * np.angle(z) / d) / np.sum(w) * fs / (2 * np.pi))
        a, ln = int(self.a[0]), int(self.ln[0])
        h = ln // 2
        ref = self.p.reference.astype(np.complex128)
        z = 0j
        for c in self.chans:
            yy = y[c, n + a : n + a + 2 * h]
            h1 = np.sum(yy[:h] * np.conj(ref[a : a + h]))
            h2 = np.sum(yy[h:] * np.conj(ref[a + h : a + 2 * h]))
            z += h2 * np.conj(h1)
        return float(np.angle(z) * fs / (2 * np.pi * h))

    def run(self, x: NDArray) -> list[dict]:
        """Detections [{index, frac, metric, cfo_hz, occasion}] over the whole buffer.
        ``self.missed`` is then the count of srs_sync_kernel.missed()."""
        x = np.asarray(x)
        y = np.where(np.isfinite(x), x, 0).astype(np.complex128)
        rho = self.metric(x)
        nr = rho.size
        out: list[dict] = []
        state, scan, misses = 0, 0, 0
        last_occ: int | None = None
        last_index = 0
        pat = self.pattern
        c = len(pat)
        phases = [True] * c
        anchor, steps = 0, 1
        self.missed = 0

        def preds_of() -> list[int]:
            return [anchor + sum(pat[(ph + i) % c] for i in range(steps)) for ph in range(c)]

        def emit(n: int, advance: int) -> None:
            nonlocal last_occ, last_index
            frac = 0.0
            if 1 <= n < nr - 1:
                rm, r0, rp = rho[n - 1], rho[n], rho[n + 1]
                den = rm - 2 * r0 + rp
                if den < 0:
                    frac = float(np.clip(0.5 * (rm - rp) / den, -0.5, 0.5))
            if last_occ is None:
                occ = 0
            else:
                occ = last_occ + max(1, advance)
                self.missed += occ - last_occ - 1
            last_occ, last_index = occ, n
            out.append(
                {
                    "index": n,
                    "frac": frac,
                    "metric": float(rho[n]),
                    "cfo_hz": self._cfo(y, n),
                    "occasion": occ,
                }
            )

        while True:
            if state == 0:
                above = np.flatnonzero(rho[scan:] > self.eta_acq)
                if above.size == 0:
                    break
                i = scan + int(above[0])
                end = min(i + self.span, nr - 1)
                best = i + int(np.argmax(rho[i : end + 1]))
                adv = 1
                if last_occ is not None and self.period > 0:
                    adv = max(1, (best - last_index + self.period // 2) // self.period)
                emit(best, adv)
                if self.period > 0:
                    state, misses, anchor, steps = 1, 0, best, 1
                    phases = [True] * c
                else:
                    scan = best + self.span
            else:
                preds = preds_of()
                cand = sorted({p for p, ok in zip(preds, phases) if ok})
                if max(cand) + self.w + 1 > nr - 1:
                    break
                # greedy ascent from each distinct prediction within +- w (srs_sync_kernel)
                best, chosen = -1, -1
                for pred in cand:
                    b = pred
                    while True:
                        if b + 1 <= pred + self.w and rho[b + 1] > rho[b]:
                            b += 1
                        elif b - 1 >= pred - self.w and rho[b - 1] > rho[b]:
                            b -= 1
                        else:
                            break
                    if best < 0 or rho[b] > rho[best]:
                        best, chosen = b, pred
                if rho[best] > self.eta_trk:
                    emit(best, steps)
                    ok = [False] * c
                    for ph in range(c):
                        if phases[ph] and preds[ph] == chosen:
                            ok[(ph + steps) % c] = True
                    phases = ok
                    state, misses, anchor, steps = 2, 0, best, 1
                else:
                    misses += 1
                    if state == 1 or misses >= self.max_misses:
                        state, misses, scan = 0, 0, min(cand) - self.w
                    else:
                        steps += 1
        if last_occ is not None and self.period > 0:
            room = (y.shape[1]) - self.b_max - last_index
            if room >= self.period:
                self.missed += room // self.period
        return out


# ------------------------------------------------------------------------------ CFR


def cfr_windows(
    x: NDArray, start: int, params: FrontendParams, cp_backoff: int = 0
) -> NDArray[np.complex64]:
    """The FFT windows [M, S, N] of the slot starting at sample ``start`` of x [M, n]."""
    n = params.fft_size
    wins = [
        x[:, start + o - cp_backoff : start + o - cp_backoff + n] for o in params.window_offsets
    ]
    return np.ascontiguousarray(np.stack(wins, axis=1), dtype=np.complex64)


def cfr_twin(
    windows: NDArray,
    params: FrontendParams,
    cfo_hz: float = 0.0,
    cp_backoff: int = 0,
    calibration: NDArray | None = None,
) -> tuple[NDArray[np.complex128], float]:
    """Least-squares CFR H [M, S, K] and per-RE SNR (dB) from the FFT windows [M, S, N]
    (oracle of cfr_kernel::estimate; see its header for the formulas)."""
    w = np.asarray(windows, dtype=np.complex128)
    m, s_count, n = w.shape
    fs = params.sample_rate
    if cfo_hz != 0.0:
        t0 = np.asarray(params.window_offsets) - cp_backoff
        t = t0[:, None] + np.arange(n)[None, :]
        w = w * np.exp(-2j * np.pi * cfo_hz * t / fs)[None]
    spec = np.fft.fft(w, axis=2, norm="ortho")
    bins = params.subcarrier_bins.astype(np.int64)
    y = spec[:, :, bins]
    f = np.where(bins < n // 2, bins, bins - n)
    h = y * np.exp(2j * np.pi * f * cp_backoff / n)[None, None, :] / params.sequence[None]
    if calibration is not None:
        cal = np.asarray(calibration, dtype=np.complex128)
        h = h * (cal[:, None, None] if cal.ndim == 1 else cal[:, None, :])
    p_sig = float(np.mean(np.abs(y) ** 2))
    if params.noise_bins.size == 0:
        return h, float("nan")
    p_n = float(np.mean(np.abs(spec[:, :, params.noise_bins.astype(np.int64)]) ** 2))
    snr = (p_sig - p_n) / p_n
    return h, float(10 * np.log10(max(snr, 1e-30)))
