"""gr-srsaoa: 5G NR Sounding Reference Signal angle-of-arrival estimation for GNU Radio.

The math lives in plain packages (``nr``, ``array``, ``estimation``, ``moddnn``, ``sim``,
``io``, ``position``) that never import GNU Radio; the blocks in ``blocks`` and the C++
blocks bound here wrap them.

The blocks (C++ bindings and Python blocks) are loaded on first use of any of them
(``srsaoa.srs_sync``, ``from gnuradio.srsaoa import *``), so importing a math package
(``gnuradio.srsaoa.nr``) does not load GNU Radio's runtime. A missing bindings library is
reported at import; one that fails to load, at first use, loudly either way.
"""

import glob
import importlib
import importlib.util
import os
import threading

__version__ = "0.1.0"

_HERE = os.path.dirname(__file__)
if not glob.glob(os.path.join(_HERE, "srsaoa_python*.so")):
    raise ImportError(
        f"gnuradio.srsaoa: the compiled bindings (srsaoa_python*.so) are missing from {_HERE}: "
        "the build or install is broken. Rebuild with `make setup`."
    )

_lock = threading.Lock()
_blocks: dict = {}


def _load_blocks() -> dict:
    """Import the C++ bindings and every Python block once; their names become attributes."""
    with _lock:
        if _blocks:
            return _blocks
        try:
            cpp = importlib.import_module(f"{__name__}.srsaoa_python")
        except ImportError as exc:
            raise ImportError(
                f"gnuradio.srsaoa: the compiled bindings (srsaoa_python) failed to import from "
                f"{_HERE}: {exc}. Rebuild with `make setup`."
            ) from exc
        names = {n: getattr(cpp, n) for n in dir(cpp) if not n.startswith("_")}
        py = importlib.import_module(f"{__name__}.blocks")
        names.update({n: getattr(py, n) for n in py.__all__})
        globals().update(names)
        _blocks.update(names)
        return _blocks


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    blocks = _load_blocks()
    if name in blocks:
        return blocks[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_load_blocks()))
