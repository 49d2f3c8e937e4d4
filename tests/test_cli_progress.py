"""One progress vocabulary for the srsaoa commands that take a while: --progress and
--no-progress, and without either, progress on stderr when it is a terminal."""

from __future__ import annotations

import argparse

import pytest
from gnuradio.srsaoa.cli import build_parser
from gnuradio.srsaoa.commands import show_progress

COMMANDS = {
    "run": ["--input", "x"],
    "simulate": ["--scenario", "s.yaml", "--out", "o"],
    "calibrate": [],
    "train": ["--out", "m"],
    "demo": [],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_progress_flags(command):
    parse = build_parser().parse_args
    base = [command, *COMMANDS[command]]
    assert parse(base).progress is None
    assert parse([*base, "--progress"]).progress is True
    assert parse([*base, "--no-progress"]).progress is False
    with pytest.raises(SystemExit):
        parse([*base, "--progress", "--no-progress"])


def test_show_progress(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    ns = argparse.Namespace
    assert show_progress(ns(progress=None)) is True
    assert show_progress(ns(progress=None), False) is False  # run --quiet
    assert show_progress(ns(progress=True), False) is True  # an explicit flag wins
    assert show_progress(ns(progress=False)) is False
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert show_progress(ns(progress=None)) is False
