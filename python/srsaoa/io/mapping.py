"""Read a configuration mapping (CarrierConfig / SRSConfig / waveform config) from YAML or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import SrsaoaError


def read_mapping(path: str | Path) -> dict:
    """The mapping in a ``.json`` or YAML file; SrsaoaError with one line if there is none."""
    p = Path(path)
    text = p.read_text()  # a missing file is an OSError: the cli reports it in one line
    try:
        doc = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = " ".join(str(exc).splitlines()[0].split())
        raise SrsaoaError(f"{p}: not valid YAML/JSON: {first}") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise SrsaoaError(f"{p}: expected a mapping of configuration fields")
    return doc
