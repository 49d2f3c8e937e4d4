"""Subcommands of the ``srsaoa`` command: one module each, with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys


def add_progress_args(p: argparse.ArgumentParser) -> None:
    """The progress flags every long-running command shares: ``--progress`` /
    ``--no-progress``; without either, progress goes to stderr when it is a terminal."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="progress on stderr (default: when stderr is a terminal)",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress")


def show_progress(args: argparse.Namespace, default: bool | None = None) -> bool:
    """Whether to show progress: the flag when given, else ``default`` (None: stderr is a
    terminal)."""
    if args.progress is not None:
        return bool(args.progress)
    return sys.stderr.isatty() if default is None else default
