"""Packages that import their public names on first use (PEP 562).

``from retriever.settings import ...`` runs ``retriever/__init__.py`` first; if that
imported every module, the CLI's ``--help`` would load NumPy and more. A package lists
where each of its names lives, and :func:`exports` makes the module ``__getattr__`` that
imports a name's module when the name is first asked for.

Example:
    >>> __getattr__ = exports(__name__, {"retriever.answer": ("Answerer",)})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["exports"]


def exports(package: str, homes: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` serving ``homes``: module → its names."""
    home = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # once found, an ordinary attribute
        return value

    return __getattr__
