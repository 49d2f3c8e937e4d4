"""Every `srsaoa` subcommand says what it does and every option has a help text."""

from __future__ import annotations

import argparse

from gnuradio.srsaoa.cli import build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help():
    missing = []
    for name, p in _subparsers().items():
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            if not a.help:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
    assert not missing, missing


def test_every_command_has_a_summary():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert set(helps) == set(_subparsers())
    assert all(helps.values()), helps


def test_summary_rows_follow_the_methods_as_listed():
    from gnuradio.srsaoa.report import summarize

    recs = [
        {"method": m, "aoa_deg": [1.0], "sample_index": 0}
        for m in ("moddnn", "esprit", "zzz", "music", "esprit")
    ]
    rows = [s.method for s in summarize(recs, None, ("esprit", "music", "moddnn"))]
    assert rows == ["esprit", "music", "moddnn", "zzz"]
    assert [
        s.method for s in summarize(reversed(recs), None, ("esprit", "music", "moddnn"))
    ] == rows
