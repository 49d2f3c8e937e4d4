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


@pytest.fixture(scope="session")
def qt_app():
    """The one QApplication of a QT test process (offscreen), alive until the process ends:
    a QApplication that Python drops while widgets still exist takes them down with it."""
    from PyQt5 import Qt

    return Qt.QApplication.instance() or Qt.QApplication([])
