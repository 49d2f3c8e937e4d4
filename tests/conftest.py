"""Shared pytest fixtures for gr-srsaoa.

Tests import the installed module (``.venv``, built by ``make setup``), never the source
tree, so they test what a user gets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator; each test gets the same stream on every run."""
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# A process that created a QApplication and GNU Radio QT sinks can crash while the
# interpreter tears them down, after every test has passed and pytest has printed its
# summary (seen as a segfault at exit of the `-m qt` run). End such a process right after
# pytest is done, with pytest's own exit status.
_EXIT_STATUS: dict[str, int] = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import sys

    if "PyQt5.QtCore" in sys.modules and "status" in _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS["status"])
