"""GNU Radio Python blocks of gr-srsaoa: thin wrappers over the math packages.

Every module here named after its block (``srs_source.py`` defines class ``srs_source``)
is imported and its block exported, so ``gnuradio.srsaoa.<name>`` works for Python blocks
exactly as for the C++ ones. Modules starting with ``_`` and ``pdu`` are helpers.
"""

import importlib
import pkgutil

__all__: list[str] = []

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if _info.name.startswith("_") or _info.name == "pdu":
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    globals()[_info.name] = getattr(_module, _info.name)
    __all__.append(_info.name)
