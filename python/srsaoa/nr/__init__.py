"""5G NR physical layer pieces of TS 38.211 that the SRS angle-of-arrival chain needs.

Numerology and carrier (``CarrierConfig``), the SRS resource (``SRSConfig``), the
pseudo-random and low-PAPR sequences, SRS sequence generation and RE mapping, and CP-OFDM
modulation with a unitary DFT. Plain numpy: no GNU Radio import.
"""

from .carrier import CarrierConfig
from .ofdm import (
    ofdm_demodulate,
    ofdm_modulate,
    resource_grid,
    srs_grid,
    srs_slot_waveform,
    srs_stream,
    subcarrier_bins,
)
from .sequences import base_sequence, low_papr_sequence, pseudo_random
from .srs import (
    SRSConfig,
    frequency_positions,
    is_srs_slot,
    sequence_group_number,
    srs_counter,
    srs_indices,
    srs_symbols,
    start_subcarriers,
)

__all__ = [
    "CarrierConfig",
    "SRSConfig",
    "base_sequence",
    "frequency_positions",
    "is_srs_slot",
    "low_papr_sequence",
    "ofdm_demodulate",
    "ofdm_modulate",
    "pseudo_random",
    "resource_grid",
    "sequence_group_number",
    "srs_counter",
    "srs_grid",
    "srs_indices",
    "srs_slot_waveform",
    "srs_stream",
    "srs_symbols",
    "start_subcarriers",
    "subcarrier_bins",
]
