"""gr-srsaoa: 5G NR Sounding Reference Signal angle-of-arrival estimation for GNU Radio.

The math lives in plain packages (``nr``, ``array``, ``estimation``, ``moddnn``, ``sim``,
``io``) that never import GNU Radio; the blocks in ``blocks`` and the C++ blocks bound
here wrap them.
"""

import os

# The C++ blocks. A failure here is a broken build or install and must be loud.
try:
    from .srsaoa_python import *  # noqa: F403
except ImportError as exc:
    raise ImportError(
        f"gnuradio.srsaoa: the compiled bindings (srsaoa_python) failed to import from "
        f"{os.path.dirname(__file__)}: {exc}. Rebuild with `make setup`."
    ) from exc

# Python blocks, exported at the top level like the C++ ones.
from .blocks import *  # noqa: E402,F403

__version__ = "0.1.0"
