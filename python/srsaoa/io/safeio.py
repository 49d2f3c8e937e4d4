"""Guards for hostile input and safe output at every file boundary (DESIGN section 9).

Plain Python (no GNU Radio, no numpy). Every reader of a configuration, calibration, model
or recording goes through :func:`regular_file` (no FIFOs, devices or directories, which
would hang or never end) and reads at most a size limit; JSON/YAML documents are parsed
by :func:`load_document`: bounded nesting depth, no YAML aliases (billion laughs), no
non-finite numbers, string keys only. Every output goes through :func:`check_output`
(never an input, a link to one, a file sharing an inode with one, a device or anything
under /dev) and :class:`AtomicFiles` (written to temporary files in the target folder and
renamed at the end, so a failed command leaves earlier results untouched).

Every failure is an ``SrsaoaError`` (or the subclass passed as ``error``) with one line
naming the file and, where it applies, the field.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ..errors import SrsaoaError

MAX_CONFIG_BYTES = 4 << 20  # a configuration / calibration / metadata document
MAX_META_BYTES = 64 << 20  # a SigMF metadata file (annotations can be many)
MAX_DEPTH = 24  # nesting of a configuration document


def _err(error: type[Exception], msg: str) -> Exception:
    return error(msg)


def regular_file(path: str | os.PathLike, what: str, error: type[Exception] = SrsaoaError) -> Path:
    """``path`` if it is an existing regular file (links followed); else one-line error.

    FIFOs, sockets and devices (/dev/zero, /dev/stdin) are refused before anything opens
    them: opening a FIFO blocks and /dev/zero never ends.
    """
    p = Path(path)
    if not str(path):
        raise _err(error, f"{what}: empty path")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _err(error, f"{what} {p} does not exist") from None
    except OSError as exc:
        raise _err(error, f"{what} {p}: cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _err(error, f"{what} {p} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise _err(error, f"{what} {p} is not a regular file (a FIFO, socket or device)")
    return p


def read_bytes(
    path: str | os.PathLike,
    what: str,
    max_bytes: int = MAX_CONFIG_BYTES,
    error: type[Exception] = SrsaoaError,
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (checked before reading)."""
    p = regular_file(path, what, error)
    size = p.stat().st_size
    if size > max_bytes:
        raise _err(error, f"{what} {p} is too large ({size} bytes; at most {max_bytes})")
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise _err(error, f"{what} {p}: cannot read ({exc.strerror})") from None
    if len(data) > max_bytes:  # grew while we looked
        raise _err(error, f"{what} {p} is too large (more than {max_bytes} bytes)")
    return data


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases (a 'billion laughs' document expands through them)."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} is not allowed")


def parse_document(
    text: str | bytes, where: str, fmt: str = "auto", error: type[Exception] = SrsaoaError
) -> Any:
    """Parse JSON (``fmt`` "json") or YAML ("yaml"; "auto": by the suffix of ``where``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _err(error, f"{where}: not UTF-8 text (byte {exc.start})") from None
    if fmt == "auto":
        fmt = "json" if str(where).lower().endswith((".json", "-meta", "-collection")) else "yaml"
    try:
        if fmt == "json":
            doc = json.loads(text, parse_constant=_reject_constant)
        else:
            doc = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise _err(error, f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())[:120]
        raise _err(error, f"{where}: not valid YAML{at}: {problem}") from None
    except RecursionError:
        raise _err(error, f"{where}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # the non-finite constants of JSON
        raise _err(error, f"{where}: {exc}") from None
    check_tree(doc, where, error=error)
    return doc


def check_tree(doc: Any, where: str, max_depth: int = MAX_DEPTH, error=SrsaoaError) -> None:
    """Bounded depth, string keys, finite numbers, only JSON types (iterative walk)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        node, name, depth = stack.pop()
        field = name or "top level"
        if depth > max_depth:
            raise _err(error, f"{where}: {field}: nested too deeply (at most {max_depth} levels)")
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    raise _err(error, f"{where}: {field}: key {k!r} is not a string")
                stack.append((v, f"{name}.{k}" if name else k, depth + 1))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                stack.append((v, f"{name}[{i}]", depth + 1))
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise _err(error, f"{where}: {field}: {node} is not a finite number")
        elif node is None or isinstance(node, (bool, int, str)):
            pass
        else:  # YAML timestamps, sets, binary...
            raise _err(
                error, f"{where}: {field}: a {type(node).__name__} value is not allowed here"
            )


def load_document(
    path: str | os.PathLike,
    what: str,
    fmt: str = "auto",
    max_bytes: int = MAX_CONFIG_BYTES,
    error: type[Exception] = SrsaoaError,
) -> Any:
    """A JSON/YAML document from a regular file, with every guard of this module."""
    data = read_bytes(path, what, max_bytes, error)
    if fmt == "auto":
        fmt = "json" if Path(path).suffix.lower() == ".json" else "yaml"
    return parse_document(data, str(path), fmt, error)


def load_mapping(path: str | os.PathLike, what: str, error=SrsaoaError, **kw: Any) -> dict:
    doc = load_document(path, what, error=error, **kw)
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise _err(error, f"{path}: expected a mapping of fields, got a {type(doc).__name__}")
    return doc


# ------------------------------------------------------------------------------- output


def check_output(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    what: str = "--out",
    error: type[Exception] = SrsaoaError,
) -> Path:
    """Refuse an output path that is a device, lies under /dev, is not a regular file, or
    is, links to or shares an inode (a hard link) with one of ``inputs``."""
    p = Path(out)
    if not str(out):
        raise _err(error, f"{what}: empty path")
    absolute = Path(os.path.abspath(p))
    resolved = p.resolve()
    for q in (absolute, resolved):
        if q == Path("/dev") or Path("/dev") in q.parents or Path("/proc") in q.parents:
            raise _err(error, f"{what} {out}: refusing to write under /dev or /proc")
    st = None
    try:
        st = os.stat(p)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _err(error, f"{what} {out}: cannot access ({exc.strerror})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise _err(error, f"{what} {out} is {kind}")
    for inp in inputs:
        if inp is None or not str(inp) or str(inp) == "-":
            continue
        q = Path(inp)
        try:
            qst = os.stat(q)
        except OSError:
            qst = None
        same = q.resolve() == resolved
        if st is not None and qst is not None and os.path.samestat(st, qst):
            same = True
        if same:
            raise _err(error, f"{what} {out} is (or links to) the input file {inp}")
    return p


class AtomicFiles:
    """Write several output files via temporary files in their folders, rename at the end.

    ``tmp = files.path(final)`` gives the temporary path to write ``final`` to; ``commit()``
    renames them all (``os.replace``: a link at ``final`` is replaced, not followed); a
    failure before it removes the temporary files. Use as a context manager::

        with AtomicFiles() as files:
            write(files.path(out))
            files.commit()
    """

    def __init__(self) -> None:
        self._pairs: list[tuple[Path, Path]] = []
        self.committed = False

    def path(self, final: str | os.PathLike) -> Path:
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        self._pairs.append((Path(tmp), final))
        return Path(tmp)

    def commit(self) -> None:
        for tmp, final in self._pairs:
            os.replace(tmp, final)
        self.committed = True

    def discard(self) -> None:
        for tmp, _ in self._pairs:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pairs.clear()

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.discard()


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for ``final``, renamed to it when the block ends without error."""
    with AtomicFiles() as files:
        tmp = files.path(final)
        yield tmp
        files.commit()


def atomic_write_bytes(final: str | os.PathLike, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(final: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(final, text.encode("utf-8"))
