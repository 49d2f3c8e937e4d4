"""Resource grid and CP-OFDM modulation with a unitary DFT (TS 38.211 5.3.1).

Symbol l of a slot, without its CP: x[n] = 1/sqrt(N) * sum_k a_{k,l} exp(+j*2*pi*(k - K/2)*n/N),
n = 0..N-1, N = fft_size, K = 12*n_size_grid; the CP is the last N_CP,l samples, so the
whole symbol is the same expression for n = -N_CP,l..N-1. No 7.5 kHz shift, no
upconversion phase term. The DFT is unitary: the energy of a resource element equals
its energy in the time domain.
"""

from __future__ import annotations

import numpy as np

from .carrier import SYMBOLS_PER_SLOT, CarrierConfig
from .srs import SRSConfig, srs_indices, srs_symbols


def resource_grid(carrier: CarrierConfig, ports: int = 1) -> np.ndarray:
    """Zeros [12*n_size_grid, 14, ports] complex128."""
    if isinstance(ports, bool) or int(ports) != ports or ports < 1:
        raise ValueError(f"ports must be a positive integer, got {ports!r}")
    return np.zeros((carrier.num_subcarriers, SYMBOLS_PER_SLOT, int(ports)), dtype=np.complex128)


def subcarrier_bins(carrier: CarrierConfig) -> np.ndarray:
    """FFT bin of each grid subcarrier k: (k - K/2) mod N."""
    k = np.arange(carrier.num_subcarriers)
    return (k - carrier.num_subcarriers // 2) % carrier.fft_size


def ofdm_modulate(carrier: CarrierConfig, grid: np.ndarray) -> np.ndarray:
    """Time-domain slot (carrier.n_slot) from a grid [K, 14] or [K, 14, P].

    Returns complex128 [T] for a 2-D grid, [T, P] for a 3-D one, T = samples_per_slot.
    """
    grid = np.asarray(grid)
    squeeze = grid.ndim == 2
    if squeeze:
        grid = grid[:, :, None]
    if grid.ndim != 3 or grid.shape[:2] != (carrier.num_subcarriers, SYMBOLS_PER_SLOT):
        raise ValueError(
            f"grid must be [{carrier.num_subcarriers}, {SYMBOLS_PER_SLOT}(, ports)], "
            f"got {grid.shape}"
        )
    n = carrier.fft_size
    spec = np.zeros((n, SYMBOLS_PER_SLOT, grid.shape[2]), dtype=np.complex128)
    spec[subcarrier_bins(carrier)] = grid
    body = np.fft.ifft(spec, axis=0, norm="ortho")  # [N, 14, P]
    cps = carrier.cp_lengths()
    parts = [np.concatenate([body[n - cp :, s], body[:, s]]) for s, cp in enumerate(cps)]
    wave = np.concatenate(parts, axis=0)
    return wave[:, 0] if squeeze else wave


def ofdm_demodulate(carrier: CarrierConfig, waveform: np.ndarray) -> np.ndarray:
    """Grid [K, 14] (or [K, 14, P]) from one slot [T] (or [T, P]); drops each CP, unitary FFT."""
    w = np.asarray(waveform)
    squeeze = w.ndim == 1
    if squeeze:
        w = w[:, None]
    t = carrier.samples_per_slot()
    if w.ndim != 2 or w.shape[0] != t:
        raise ValueError(f"waveform must have {t} samples (one slot) along axis 0, got {w.shape}")
    n = carrier.fft_size
    cps = carrier.cp_lengths()
    starts = np.concatenate([[0], np.cumsum(cps + n)[:-1]]) + cps
    body = np.stack([w[s : s + n] for s in starts], axis=1)  # [N, 14, P]
    spec = np.fft.fft(body, axis=0, norm="ortho")
    grid = spec[subcarrier_bins(carrier)]
    return grid[:, :, 0] if squeeze else grid


def srs_grid(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """Resource grid [K, 14, ports] carrying only this slot's SRS."""
    grid = resource_grid(carrier, srs.num_srs_ports)
    idx = srs_indices(carrier, srs)
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = srs_symbols(carrier, srs)
    return grid


def srs_slot_waveform(carrier: CarrierConfig, srs: SRSConfig) -> np.ndarray:
    """complex64 [T] (one port) or [T, ports]: the slot carrier.n_slot carrying only the SRS.

    The SRS is generated whatever the periodicity says (use SRSConfig.is_srs_slot to
    decide whether the slot carries it).
    """
    wave = ofdm_modulate(carrier, srs_grid(carrier, srs))
    if srs.num_srs_ports == 1:
        wave = wave[:, 0]
    return wave.astype(np.complex64)


def srs_stream(
    carrier: CarrierConfig, srs: SRSConfig, num_slots: int
) -> tuple[np.ndarray, list[int]]:
    """``num_slots`` consecutive slots from (carrier.n_frame, carrier.n_slot): the SRS slot
    waveform in SRS slots (periodicity/offset), zeros elsewhere; what srs_source streams.

    Returns (complex64 [T] or [T, ports], first sample of every SRS slot).
    """
    if isinstance(num_slots, bool) or int(num_slots) != num_slots or num_slots < 1:
        raise ValueError(f"num_slots must be a positive integer, got {num_slots!r}")
    parts, starts, pos = [], [], 0
    for t in range(int(num_slots)):
        c = carrier.advanced(t)
        n = c.samples_per_slot()
        if srs.is_srs_slot(c):
            parts.append(srs_slot_waveform(c, srs).reshape(n, srs.num_srs_ports))
            starts.append(pos)
        else:
            parts.append(np.zeros((n, srs.num_srs_ports), np.complex64))
        pos += n
    wave = np.concatenate(parts)
    return (wave[:, 0] if srs.num_srs_ports == 1 else wave), starts
