"""Old public names kept for one release after a rename, each warning when it is used.

A package lists its renames as ``{old: (new module, new name)}`` and delegates its module
``__getattr__`` here, so an old name costs nothing until someone reaches for it and then says
exactly what to write instead.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ("resolve",)


def resolve(package: str, name: str, renames: Mapping[str, tuple[str, str]]) -> Any:
    """The object an old ``package.name`` now is, with a :class:`DeprecationWarning`.

    Raises :class:`AttributeError` (as a module without the name would) when ``name`` is not a
    rename.
    """
    try:
        module_name, new_name = renames[name]
    except KeyError:
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    target = module if not new_name else getattr(module, new_name)
    new = f"{module_name}.{new_name}" if new_name else module_name
    warnings.warn(f"{package}.{name} is deprecated and will be removed in the next release: "
                  f"use {new}", DeprecationWarning, stacklevel=3)
    return target
