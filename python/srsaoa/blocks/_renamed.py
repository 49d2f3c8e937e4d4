"""Old keyword names of block parameters, still accepted for a while (docs/developing.md,
"Vocabulary")."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

# the release that drops the deprecated keywords
REMOVED_IN = "0.2.0"


def renamed_parameters(**renames: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a block's ``__init__`` so that ``old=value`` (for each ``old=new`` given
    here) still works as ``new=value``, with a DeprecationWarning. The signature that
    ``inspect.signature`` (and so the GRC yml test) sees stays the new one."""

    def decorate(init: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(init)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"give {new}= or the deprecated {old}=, not both")
                warnings.warn(
                    f"{old}= is deprecated, use {new}= (the old name goes in {REMOVED_IN})",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return init(*args, **kwargs)

        return wrapper

    return decorate
