"""The effective configuration, each value with where it came from (``claude-perf config``).

Origins: ``default`` (the declaration in config.schema), the file it was read from, or ``option``
(given on the command line). The TOML form is a valid claude-perf.toml: read back, it gives the
same configuration. The JSON form lists every key with its value, origin and documentation.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from claude_perf.config.load import DEFAULT, Path_, show_path
from claude_perf.config.schema import Config
from claude_perf.errors import UsageError

FORMATS = ("toml", "json")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One value of the effective configuration."""

    path: Path_
    value: Any  # plain: str, int, float, bool, None, list, dict (an array of tables: list of dict)
    origin: str
    doc: str
    kind: str  # "value" | "table" (a free-key table, shown when empty) | "tables" (an array)


def render(config: Config, fmt: str = "toml") -> str:
    """The effective configuration as TOML (with origins as comments) or JSON."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be toml or json for config, not '{fmt}'")
    entries = list(entries_of(config))
    if fmt == "json":
        keys = [
            {"key": show_path(e.path), "value": e.value, "origin": e.origin, "doc": e.doc}
            for e in entries
        ]
        return json.dumps({"source": config.source, "keys": keys}, indent=2) + "\n"
    return _toml(entries, config.source)


def entries_of(config: Config) -> Iterator[Entry]:
    """Every key of the configuration, in declaration order, with its origin."""
    yield from _walk(config, (), config.origins)


def _walk(obj: Any, path: Path_, origins: Mapping[Path_, str]) -> Iterator[Entry]:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        here, value, doc = (*path, f.name), getattr(obj, f.name), f.metadata.get("doc", "")
        hint = hints[f.name]
        if dataclasses.is_dataclass(value):
            yield from _walk(value, here, origins)
        elif typing.get_origin(hint) is Mapping:
            if not value:
                yield Entry(here, {}, origins.get(here, DEFAULT), doc, "table")
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    yield from _walk(item, (*here, name), origins)
                else:
                    where = (*here, name)
                    yield Entry(where, _plain(item), origins.get(where, DEFAULT), doc, "value")
        elif value and _is_array_of_tables(hint):
            yield Entry(here, _plain(value), origins.get(here, DEFAULT), doc, "tables")
        else:
            yield Entry(here, _plain(value), origins.get(here, DEFAULT), doc, "value")


def _is_array_of_tables(hint: Any) -> bool:
    args = typing.get_args(hint)
    return typing.get_origin(hint) is tuple and bool(args) and dataclasses.is_dataclass(args[0])


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------- TOML


def _toml(entries: list[Entry], source: str | None) -> str:
    """Entries grouped under their table headers; scalars of a table come before sub-tables,
    which TOML requires, so each entry goes under the header of its parent path."""
    lines = [
        "# claude-perf: the effective configuration; each value's comment says where it came from",
        f"# origins: default, option, {source}" if source else "# origins: default, option",
    ]
    tables: dict[Path_, list[str]] = {(): []}
    arrays: list[str] = []
    for e in entries:
        parent, name = e.path[:-1], e.path[-1]
        body = tables.setdefault(parent, [])
        if e.kind == "table":
            tables.setdefault(e.path, []).append(f"# no entries  # {e.origin}")
        elif e.kind == "tables":
            for item in e.value:
                arrays += ["", f"[[{show_path(e.path)}]]  # {e.origin}"]
                arrays += [f"{_key(k)} = {_value(v)}" for k, v in item.items() if v is not None]
        elif e.value is None:
            body.append(f"# {_key(name)}: not set  # {e.origin}")
        else:
            body.append(f"{_key(name)} = {_value(e.value)}  # {e.origin}")
    for path, body in tables.items():
        if path:
            lines += ["", f"[{show_path(path)}]"]
        lines += body
    return "\n".join([*lines, *arrays]) + "\n"


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    """A TOML value (a JSON string is a valid TOML basic string: same escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")
