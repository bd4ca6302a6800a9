"""Log dialects: each proxy's own log language, declared as data and detected per source.

A dialect is a TOML table (the built-in ones are files in ``claude_perf/dialects/``, written in
the same language as ``[[dialects]]`` in ``claude-perf.toml``): a name, what proxy writes it,
what its logs can and cannot tell, ``detect`` patterns, and ``[[lines]]``, each a regex with
named groups and the *role* a matching line plays in a request's life:

- ``start``: a request arrived (the generic start words are then off in that source);
- ``end``: a request completed (generic end words and status+duration lines are then off);
- ``error``: an error record (the line itself is one; it is attached to its own request);
- ``duration``: the duration (and status) of the completion logged next to it in the same
  source, e.g. the wrapper's ``🔍 Response: 200 in 873.00ms`` right before its access line;
- ``model``: names the model (or the stream flag) of the request that opened just before it,
  e.g. the ``"model": "sonnet"`` line of a request body logged after its start line;
- ``info``: known, and not about a request by itself (tokens, costs, upstream calls).

A dialect is active in a source (one container or one input file) when one of its ``detect``
patterns (default: its lines' patterns) matches a line of that source; its lines are read only
there. Group names: see ``GROUPS``. Regexes are RE2 (Arrow's engine): no look-arounds and no
back-references.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from claude_perf.errors import ConfigError

ROLES = ("start", "end", "error", "duration", "model", "info")
GROUPS = frozenset(
    {
        "ts",
        "level",
        "model",
        "status",
        "method",
        "path",
        "duration",
        "request_id",
        "client",
        "exit_code",
        "stream",
    }
)
UNITS = ("s", "ms", "us")
_DIALECT_KEYS = frozenset({"name", "proxy", "tells", "cannot", "detect", "lines", "supersedes"})
_LINE_KEYS = frozenset({"name", "regex", "role", "contains", "duration_unit", "error"})


@dataclass(frozen=True)
class DialectLine:
    """One line shape of a dialect: its regex, its role, and how to read its duration."""

    name: str
    regex: str
    role: str
    contains: str | None = None  # a literal every matching line holds: a cheap pre-filter
    duration_unit: str | None = None  # unit of a bare number in the duration group
    error: bool = False  # the line is itself an error record (besides its role)


@dataclass(frozen=True)
class Dialect:
    """A proxy's log language."""

    name: str
    proxy: str
    tells: str
    cannot: str
    detect: tuple[str, ...]
    lines: tuple[DialectLine, ...]
    supersedes: tuple[str, ...] = ()  # dialects this one replaces where both are detected

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(line.role for line in self.lines)


def _suggest(key: str, valid: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(valid), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown_keys(raw: Mapping[str, Any], valid: frozenset[str], where: str) -> None:
    for key in raw:
        if key not in valid:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, valid)}")


def _text(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string")
    return value


def _compiled(regex: str, where: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regex: {exc}") from exc
    if re.search(r"\(\?[=!<][^P]|\(\?<[=!]|\\[1-9]", regex):
        raise ConfigError(f"{where}: look-arounds and back-references are not supported (RE2)")
    return compiled


def _line(raw: Any, where: str) -> DialectLine:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table with 'regex' and 'role'")
    _unknown_keys(raw, _LINE_KEYS, where)
    regex = _text(raw, "regex", where, "")
    if not regex:
        raise ConfigError(f"{where}: 'regex' must be a non-empty string")
    role = _text(raw, "role", where, "info")
    if role not in ROLES:
        raise ConfigError(f"{where}: role '{role}' is not one of {', '.join(ROLES)}")
    unknown = set(_compiled(regex, where).groupindex) - GROUPS
    if unknown:
        raise ConfigError(
            f"{where}: unknown named group(s) {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(GROUPS))}"
        )
    unit = raw.get("duration_unit")
    if unit is not None and unit not in UNITS:
        raise ConfigError(f"{where}: duration_unit must be one of {', '.join(UNITS)}")
    contains = raw.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise ConfigError(f"{where}: 'contains' must be a non-empty string")
    error = raw.get("error", False)
    if not isinstance(error, bool):
        raise ConfigError(f"{where}: 'error' must be true or false")
    name = _text(raw, "name", where, where.rsplit(" ", 1)[-1])
    return DialectLine(name, regex, role, contains, unit, error)


def dialect_from_mapping(raw: Mapping[str, Any], where: str) -> Dialect:
    """Validate one dialect table (a built-in file or a ``[[dialects]]`` entry)."""
    _unknown_keys(raw, _DIALECT_KEYS, where)
    name = _text(raw, "name", where, "")
    if not name:
        raise ConfigError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name})"
    lines_raw = raw.get("lines", [])
    if not isinstance(lines_raw, list) or not lines_raw:
        raise ConfigError(f"{where}: 'lines' must be a non-empty array of tables ([[lines]])")
    lines = tuple(_line(item, f"{where} lines[{i}]") for i, item in enumerate(lines_raw))
    detect_raw = raw.get("detect", [line.regex for line in lines])
    if not isinstance(detect_raw, list) or not all(isinstance(d, str) for d in detect_raw):
        raise ConfigError(f"{where}: 'detect' must be a list of regexes")
    for i, regex in enumerate(detect_raw):
        _compiled(regex, f"{where} detect[{i}]")
    supersedes = raw.get("supersedes", [])
    if not isinstance(supersedes, list) or not all(isinstance(s, str) for s in supersedes):
        raise ConfigError(f"{where}: 'supersedes' must be a list of dialect names")
    return Dialect(
        name=name,
        proxy=_text(raw, "proxy", where, ""),
        tells=_text(raw, "tells", where, ""),
        cannot=_text(raw, "cannot", where, ""),
        detect=tuple(detect_raw),
        lines=lines,
        supersedes=tuple(supersedes),
    )


@cache
def builtin_dialects() -> tuple[Dialect, ...]:
    """The dialects shipped in ``claude_perf/dialects/*.toml``, in file-name order."""
    folder = files("claude_perf.dialects")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text(encoding="utf-8"))
            out.append(dialect_from_mapping(raw, f"dialect file {entry.name}"))
    return tuple(out)


def dialects_for(user: Sequence[Dialect] = ()) -> tuple[Dialect, ...]:
    """The user's dialects, then the built-ins (a user dialect replaces a built-in of its name)."""
    names = {d.name for d in user}
    return (*user, *(d for d in builtin_dialects() if d.name not in names))
