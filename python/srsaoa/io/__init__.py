"""Recordings: SigMF collections / multi-channel recordings / raw files (DESIGN section 5).

Plain numpy; never imports GNU Radio (DESIGN section 2).
"""

from .sigmf import (
    DATATYPES,
    Recording,
    RecordingReader,
    carrier_from_dict,
    ci16_scale_for,
    config_to_dict,
    open_recording,
    read_raw,
    read_recording,
    srs_from_dict,
    write_recording,
)

__all__ = [
    "DATATYPES",
    "Recording",
    "RecordingReader",
    "carrier_from_dict",
    "ci16_scale_for",
    "config_to_dict",
    "open_recording",
    "read_raw",
    "read_recording",
    "srs_from_dict",
    "write_recording",
]
