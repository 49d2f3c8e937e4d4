"""Read a configuration mapping (CarrierConfig / SRSConfig / waveform config) from YAML or JSON."""

from __future__ import annotations

from pathlib import Path

from ..errors import SrsaoaError
from .safeio import load_mapping


def read_mapping(path: str | Path) -> dict:
    """The mapping in a ``.json`` or YAML file; SrsaoaError with one line if there is none.

    Only a regular file of bounded size is read; the document is parsed with the guards of
    ``io.safeio`` (no YAML aliases, bounded depth, finite numbers).
    """
    return load_mapping(path, "configuration file", error=SrsaoaError)
