"""``srsaoa version``: print the module, GNU Radio and numpy versions."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    import numpy
    from gnuradio import gr

    from .. import __version__

    print(f"gr-srsaoa {__version__}, GNU Radio {gr.version()}, numpy {numpy.__version__}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print versions")
    p.set_defaults(func=_run)
