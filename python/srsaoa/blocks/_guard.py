"""Exceptions in Python block threads: caught, logged, and turned into a clean stop.

An exception escaping a Python ``work`` or message handler ends in ``std::terminate`` in
GNU Radio's block thread (SIGABRT, no message, results lost). Blocks wrap their work and
handlers with :func:`guarded`: the exception is logged as one line, recorded here, and the
``failed`` event is set. ``flowgraph.run_with_progress`` watches the event, stops the
flowgraph and raises the first failure as an ``SrsaoaError`` (the CLI's one-line error and
non-zero exit status). A source's ``work`` returns WORK_DONE after a failure, which ends a
flowgraph cleanly on its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_failures: list[str] = []
failed = threading.Event()


def report(block: Any, exc: BaseException, during: str = "", log: bool = True) -> str:
    """Log (unless ``log`` is false: the caller reports it itself) and record ``exc`` raised
    in ``block``; returns the one-line message."""
    try:
        name = block.alias() if hasattr(block, "alias") else type(block).__name__
    except Exception:  # noqa: BLE001 - a half-built block has no alias yet
        name = type(block).__name__
    text = " ".join(str(exc).split()) or type(exc).__name__
    msg = f"{name}{' ' + during if during else ''}: {text}"
    logger = getattr(block, "logger", None) if log else None
    try:
        if logger is not None:
            logger.error(msg)
    except Exception:  # noqa: BLE001, S110 - logging must never raise here
        pass
    with _lock:
        _failures.append(msg)
    failed.set()
    return msg


def failures() -> list[str]:
    with _lock:
        return list(_failures)


def clear() -> None:
    with _lock:
        _failures.clear()
    failed.clear()


def guarded(during: str, on_error: Any = None) -> Callable:
    """Decorator for a block method: exceptions are reported and ``on_error`` returned."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the point of this wrapper
                self._failure = report(self, exc, during)
                return on_error

        return inner

    return wrap
