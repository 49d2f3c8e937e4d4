"""File handshake between anchor flowgraphs and a fusion flowgraph over ZeroMQ.

A ZeroMQ PUB socket drops what it sends before a subscriber has joined (the slow-joiner
problem: the subscription reaches the publisher a few milliseconds after the TCP connection),
and gr-zeromq's PUB Message Sink closes with linger 0, dropping what is still queued when its
process ends. A live deployment shrugs both off (a few estimates at its start or end); a replay
of recordings, and a test comparing the fused positions with ``srsaoa locate``, needs every
estimate. The handshake makes delivery complete with small files in one folder DIR that both
sides see (the local machine or a shared file system), one set per anchor A:

1. anchor A (``publish_gate``) removes stale ``DIR/A.*`` files, then sends hello PDUs (meta
   ``anchor`` = A, ``hello`` = True) every hello period and holds its estimate PDUs;
2. fusion (``position_estimator.serve_handshake`` -> :func:`serve`) writes ``DIR/A.ready`` once
   it has heard A (a hello or an estimate): A's PUB socket has a subscriber;
3. anchor A forwards everything from then on; at its end it writes ``DIR/A.done`` =
   ``{"anchor": A, "published": N}`` and keeps its process (and PUB socket) alive until
   ``DIR/A.ack`` exists;
4. fusion writes ``DIR/A.ack`` once it has received N estimate PDUs of A, and :func:`serve`
   returns when every anchor is acknowledged (the fusion flowgraph then stops and solves its
   last epochs).

The anchors hello until the fusion listens, so the start order only matters within their
timeout; start the fusion first so no anchor waits. Every wait has a deadline (``timeout_s``);
a side that gives up logs why and reports failure. Use a fresh (empty) folder per replay.
Plain Python; never imports GNU Radio.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

KINDS = ("ready", "done", "ack")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_name(anchor: str) -> str:
    """An anchor name usable as a file stem (letters, digits, ``_ . -``, not starting with .)."""
    name = str(anchor)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"anchor name {name!r} cannot name handshake files (use letters, digits, _ . -)"
        )
    return name


def check_dir(handshake_dir: str) -> Path:
    d = Path(handshake_dir)
    if not d.is_dir():
        raise ValueError(f"handshake folder {handshake_dir!r} does not exist")
    return d


def path(handshake_dir: str | os.PathLike, anchor: str, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    return Path(handshake_dir) / f"{check_name(anchor)}.{kind}"


def write_atomic(p: Path, text: str) -> None:
    """Write then rename, so the other side never reads a half-written file."""
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, p)


def clear(handshake_dir: str | os.PathLike, anchor: str) -> None:
    """Remove an anchor's files of an earlier run (the anchor does this before its first hello)."""
    for kind in KINDS:
        path(handshake_dir, anchor, kind).unlink(missing_ok=True)


def published(handshake_dir: str | os.PathLike, anchor: str) -> int | None:
    """N of ``DIR/A.done``, or None while the anchor has not finished (or the file is bad)."""
    p = path(handshake_dir, anchor, "done")
    try:
        doc = json.loads(p.read_text())
        n = doc["published"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


def write_done(handshake_dir: str | os.PathLike, anchor: str, n: int) -> None:
    p = path(handshake_dir, anchor, "done")
    write_atomic(p, json.dumps({"anchor": anchor, "published": int(n)}) + "\n")


def wait_for_file(
    p: Path, timeout_s: float, poll_s: float = 0.01, stop: threading.Event | None = None
) -> bool:
    """True once ``p`` exists; False at the deadline (or when ``stop`` is set)."""
    deadline = time.monotonic() + float(timeout_s)
    while not p.exists():
        left = deadline - time.monotonic()
        if left <= 0 or (stop is not None and stop.is_set()):
            return False
        (stop or threading.Event()).wait(min(poll_s, left))
    return True


def serve(
    handshake_dir: str | os.PathLike,
    anchors: Iterable[str],
    heard: Callable[[str], bool],
    received: Callable[[str], int],
    timeout_s: float,
    poll_s: float = 0.01,
    log: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """The fusion side (steps 2 and 4 of the module docstring) for ``anchors``.

    ``heard(A)``: A has been heard this run (hello or estimate); ``received(A)``: estimate PDUs
    of A received so far. Returns True when every anchor is acknowledged, False at the
    deadline (``log`` says which anchors were missing what) or when ``stop`` is set.
    """
    d = check_dir(str(handshake_dir))
    names = [check_name(a) for a in anchors]
    ready: set[str] = set()
    acked: set[str] = set()
    deadline = time.monotonic() + float(timeout_s)
    waiter = stop or threading.Event()
    while True:
        for a in names:
            if a not in ready and heard(a):
                write_atomic(path(d, a, "ready"), "")
                ready.add(a)
            if a in ready and a not in acked:
                n = published(d, a)
                if n is not None and received(a) >= n:
                    write_atomic(path(d, a, "ack"), json.dumps({"received": received(a)}) + "\n")
                    acked.add(a)
        if len(acked) == len(names):
            return True
        left = deadline - time.monotonic()
        if left <= 0 or waiter.is_set():
            if log is not None:
                missing = []
                for a in names:
                    if a not in ready:
                        missing.append(f"{a}: never heard")
                    elif a not in acked:
                        n = published(d, a)
                        have = f"{received(a)} estimates received"
                        missing.append(
                            f"{a}: {have}, still running"
                            if n is None
                            else f"{a}: {have} of {n} published"
                        )
                log(f"handshake in {d} incomplete after {timeout_s:g} s: {'; '.join(missing)}")
            return False
        waiter.wait(min(poll_s, left))
