"""QT GUI flowgraphs in tests: wait on conditions in QT's event loop, and tear a generated
QT top block down in an order GNU Radio's QT sinks survive (shared by the QT tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_events_until(until: Callable[[], bool], timeout_s: float, every_ms: int = 20) -> bool:
    """Run QT's event loop (the plots draw, the widgets update) until ``until()`` holds,
    checked every ``every_ms``; False if ``timeout_s`` passed first. The timeout is only
    for a broken flowgraph: callers assert on the result."""
    from PyQt5 import QtCore

    loop = QtCore.QEventLoop()
    failure: list[BaseException] = []

    def check() -> None:
        try:
            if until():
                loop.quit()
        except BaseException as exc:  # an exception escaping a QT slot aborts the process
            failure.append(exc)
            loop.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(check)
    timer.start(every_ms)
    deadline = QtCore.QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(int(timeout_s * 1000))
    if not until():
        loop.exec_()
    timer.stop()
    deadline.stop()
    if failure:
        raise failure[0]
    return until()


def close_top_block(tb: Any) -> None:
    """Stop a generated QT top block and close its window so that nothing is freed twice.

    A GNU Radio QT sink owns its plot widget and closes it from its destructor; the window
    holds the same widget in its layout and deletes it with itself. Which of the two Python
    drops first is not defined, so each plot widget is taken out of the window (the sink
    stays its only owner) before the window closes."""
    from PyQt5 import Qt, sip

    tb.stop()
    tb.wait()
    for blk in list(vars(tb).values()):
        if hasattr(blk, "qwidget") and callable(blk.qwidget):
            sip.wrapinstance(blk.qwidget(), Qt.QWidget).setParent(None)
    tb.close()
