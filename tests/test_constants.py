"""The PDU keys and port names are defined once per language and agree (DESIGN section 6)."""

from __future__ import annotations

import re
from pathlib import Path

from gnuradio.srsaoa import constants

ROOT = Path(__file__).resolve().parent.parent


def test_cpp_and_python_names_agree():
    header = (ROOT / "include/gnuradio/srsaoa/constants.h").read_text()
    cpp = set(re.findall(r"const pmt::pmt_t& (\w+)\(\);", header))
    py = {v for k, v in vars(constants).items() if k.isupper() and isinstance(v, str)}
    missing = cpp - py
    assert not missing, f"keys in constants.h but not constants.py: {missing}"
