"""Read claude-perf.toml (or [tool.claude-perf]) and validate it against the declarations in
``config.schema``: the one validator, driven by the dataclasses' annotations and field metadata.

Every error is a ConfigError of one line naming the key's path: an unknown key with the closest
valid name (difflib), a wrong type with the type expected, a value out of range with the range.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType, NoneType, UnionType
from typing import Any

from claude_perf.config.dialect import Dialect
from claude_perf.config.schema import CONFIG_FILE, Config
from claude_perf.errors import ConfigError

Path_ = tuple[str, ...]  # a key's path from the top of the file: ("gates", "max_p95", "opus")
OPTION = "option"
DEFAULT = "default"


def show_path(path: Path_) -> str:
    """A key path as the user writes it: tiers.statistic, patterns[0].role, aliases."a.b"."""
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
            continue
        bare = part.replace("_", "").replace("-", "").isalnum() and part.isascii()
        name = part if bare else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text = f"{text}.{name}" if text else name
    return text


def _toml_type(value: Any) -> str:
    """What the user wrote, in TOML's words, for 'must be X, not Y'."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


_NAMES: Mapping[Any, str] = {
    float: "a number",
    int: "a whole number",
    str: "a string",
    bool: "true or false",
}


class _Reader:
    """One validation pass; records the path of every value the file set (for provenance)."""

    def __init__(self) -> None:
        self.seen: list[Path_] = []

    def table(self, cls: type, raw: Any, path: Path_) -> Any:
        """A dataclass from a TOML table: unknown keys rejected, each field read by its type."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"config: {_where(path)} must be a table, not {_toml_type(raw)}")
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        for name in raw:
            if name not in fields:
                raise ConfigError(_unknown((*path, str(name)), list(fields)))
        missing = [n for n, f in fields.items() if f.metadata.get("required") and n not in raw]
        if missing:
            raise ConfigError(f"config: {_where(path)} needs {', '.join(missing)}")
        hints = _hints(cls)
        values = {}
        for name, value in raw.items():
            f = fields[name]
            values[name] = self.value(hints[name], value, (*path, name), f)
        result = cls(**values)
        problem = getattr(result, "problem", None)
        message = problem() if problem is not None else None
        if message:
            raise ConfigError(f"config: {_where(path)}{_joint(message)}{message}")
        return result

    def value(self, hint: Any, raw: Any, path: Path_, f: dataclasses.Field[Any] | None) -> Any:
        """One value of type ``hint`` (a field's annotation, or an element of a container)."""
        meta = f.metadata if f is not None else {}
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is UnionType and NoneType in args:  # X | None: None is the key's absence
            (inner,) = (a for a in args if a is not NoneType)
            return self.value(inner, raw, path, f)
        if dataclasses.is_dataclass(hint):
            return self.table(typing.cast(type, hint), raw, path)
        if origin is Mapping:  # free keys: each value of the declared type
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"config: {show_path(path)} must be a table, not {_toml_type(raw)}"
                )
            items = {str(k): self.value(args[1], v, (*path, str(k)), f) for k, v in raw.items()}
            if meta.get("merge"):
                items = {**_default(f), **items}
            return MappingProxyType(items)
        self.seen.append(path)
        if meta.get("parse") is not None and not (origin is tuple and _is_table(args[0])):
            try:
                return meta["parse"](raw)
            except ValueError as exc:
                message = str(exc)
                raise ConfigError(f"config: {show_path(path)}{_joint(message)}{message}") from None
        if origin is tuple:
            if not isinstance(raw, list | tuple):
                raise ConfigError(
                    f"config: {show_path(path)} must be {_name(hint)}, not {_toml_type(raw)}"
                )
            if _is_table(args[0]):
                return tuple(
                    self.table(args[0], item, (*path, f"[{i}]")) for i, item in enumerate(raw)
                )
            return tuple(
                self.value(args[0], item, (*path, f"[{i}]"), None) for i, item in enumerate(raw)
            )
        return _scalar(hint, raw, path, meta)


def _scalar(hint: Any, raw: Any, path: Path_, meta: Mapping[str, Any]) -> Any:
    numeric = hint in (float, int)
    ok = isinstance(raw, hint) and not (numeric and isinstance(raw, bool))
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        ok = True
    if not ok:
        raise ConfigError(f"config: {show_path(path)} must be {_name(hint)}, not {_toml_type(raw)}")
    choices = meta.get("choices")
    if choices and raw not in choices:
        raise ConfigError(
            f"config: {show_path(path)} must be one of {', '.join(choices)}, not '{raw}'"
        )
    low, high = meta.get("low"), meta.get("high")
    if numeric and ((low is not None and raw < low) or (high is not None and raw > high)):
        if high is None:
            raise ConfigError(f"config: {show_path(path)} must be a number >= {low:g}, not {raw}")
        raise ConfigError(
            f"config: {show_path(path)} must be between {low:g} and {high:g}, not {raw}"
        )
    return float(raw) if hint is float else raw


def _default(f: dataclasses.Field[Any] | None) -> Any:
    """A field's default value (the defaults of a free-key table that merges)."""
    assert f is not None
    factory: Any = f.default_factory
    return f.default if factory is dataclasses.MISSING else factory()


def _is_table(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint)


def _name(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        (item, *_) = typing.get_args(hint)
        if _is_table(item):
            return "an array of tables"
        return f"a list of {_name(item).removeprefix('a ').removeprefix('an ')}s"
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _where(path: Path_) -> str:
    """A table's name in a message: [tiers], patterns[0], or the top level."""
    if not path:
        return "the configuration"
    return show_path(path) if path[-1].startswith("[") else f"[{show_path(path)}]"


def _joint(message: str) -> str:
    """' ' before 'must …' and 'needs …' (reads as a sentence), else ': '."""
    return " " if message.startswith(("must", "needs")) else ": "


def _unknown(path: Path_, known: list[str]) -> str:
    import difflib

    name = path[-1]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
    return f"config: unknown key '{show_path(path)}'{hint}"


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


# ---------------------------------------------------------------- entry points


def read_table(cls: type, raw: Mapping[str, Any], path: Path_) -> Any:
    """One table validated as if it stood at ``path`` in the file (e.g. merged option values)."""
    return _Reader().table(cls, raw, path)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(name), Mapping):
            out[name] = _merge(out[name], value)
        else:
            out[name] = value
    return out


def _holds(raw: Mapping[str, Any], path: Path_) -> bool:
    """Whether a nested mapping sets the value at path (an array of tables counts as one value)."""
    node: Any = raw
    for part in path:
        if part.startswith("["):  # patterns[0]: the array is one value
            return True
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def config_from_mapping(
    raw: Mapping[str, Any],
    source: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Validate a parsed TOML table (and command-line overrides, same shape, which win)."""
    merged = _merge(raw, overrides or {})
    reader = _Reader()
    config = reader.table(Config, merged, ())
    origins = {
        path: OPTION if overrides and _holds(overrides, path) else (source or "file")
        for path in reader.seen
    }
    return dataclasses.replace(config, source=source, origins=MappingProxyType(origins))


def load_config(
    path: Path | None = None, cwd: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Read --config PATH, else ./claude-perf.toml, else [tool.claude-perf] in ./pyproject.toml."""
    here = cwd or Path.cwd()
    if path is None:
        candidate = here / CONFIG_FILE
        if candidate.is_file():
            path = candidate
        else:
            pyproject = here / "pyproject.toml"
            if pyproject.is_file():
                table = _read_toml(pyproject).get("tool", {}).get("claude-perf")
                if isinstance(table, Mapping):
                    where = f"{pyproject} [tool.claude-perf]"
                    return config_from_mapping(table, source=where, overrides=overrides)
            return config_from_mapping({}, overrides=overrides)
    return config_from_mapping(_read_toml(path), source=str(path), overrides=overrides)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config: {path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config: {path}: cannot read ({exc.strerror})") from exc


@cache
def builtin_dialects() -> tuple[Dialect, ...]:
    """The dialects shipped in ``claude_perf/dialects/*.toml``, in file-name order, validated by
    the same reader as the configuration file."""
    folder = files("claude_perf.dialects")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text(encoding="utf-8"))
            out.append(read_table(Dialect, raw, (f"dialects/{entry.name}",)))
    return tuple(out)


def dialects_for(user: Sequence[Dialect] = ()) -> tuple[Dialect, ...]:
    """The user's dialects, then the built-ins (a user dialect replaces a built-in of its name)."""
    names = {d.name for d in user}
    return (*user, *(d for d in builtin_dialects() if d.name not in names))
