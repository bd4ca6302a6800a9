"""How a configuration key is declared: ``key()`` for a value, ``table()`` for a sub-table.

The declarations live beside the dataclasses they describe (config.schema, config.dialect); the
one validator that reads them is config.load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Any


def key(
    default: Any,
    doc: str,
    *,
    parse: Callable[[Any], Any] | None = None,
    choices: tuple[str, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
    merge: bool = False,
    required: bool = False,
) -> Any:
    """One key: its default and documentation, and what its type alone does not say.

    merge: for a free-key table, the user's entries are added to the default ones (aliases).
    required: the table must give it (the default only fills the dataclass for code that builds
    one directly).
    """
    meta = {"doc": doc, "parse": parse, "choices": choices, "low": low, "high": high}
    meta.update(merge=merge, required=required)
    if isinstance(default, Mapping):
        frozen = MappingProxyType(dict(default))
        return field(default_factory=lambda: frozen, metadata=meta)
    return field(default=default, metadata=meta)


def table(cls: type, doc: str) -> Any:
    """A sub-table whose defaults are those of its dataclass."""
    return field(default_factory=cls, metadata={"doc": doc})
