"""The one frozen configuration: defaults, overridden by claude-perf.toml or [tool.claude-perf].

Sections that belong to one stage (scoring, gates, references, tiers) are kept as plain mappings
here and validated by the stage that reads them, so this module does not grow with every feature.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from claude_perf.config.dialect import Dialect, dialect_from_mapping
from claude_perf.config.families import DEFAULT_ALIASES
from claude_perf.errors import ConfigError

ROLES = ("start", "end", "error", "health", "info")
PATTERN_GROUPS = frozenset(
    {"ts", "level", "model", "status", "method", "path", "duration", "request_id", "client"}
)
DEFAULT_MODEL_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/completions")
DEFAULT_HEALTH_PATHS = ("/health", "/healthz", "/ready", "/livez")
CONFIG_FILE = "claude-perf.toml"


@dataclass(frozen=True)
class LinePattern:
    """A user-supplied line format: a regex with named groups and what a matching line means."""

    name: str
    regex: str
    role: str
    duration_unit: str = "s"  # unit of a bare number in the `duration` group


@dataclass(frozen=True)
class Config:
    """Everything the pipeline needs to know besides its inputs."""

    model_paths: tuple[str, ...] = DEFAULT_MODEL_PATHS
    health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    aliases: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_ALIASES))
    )
    patterns: tuple[LinePattern, ...] = ()
    dialects: tuple[Dialect, ...] = ()  # the user's [[dialects]], before the built-in ones
    # Application timestamps (Python's asctime) carry no zone; the container's TZ is usually UTC.
    app_timezone: str = "UTC"
    # A start record older than this is never paired with a completion (a lost request).
    max_latency_s: float = 900.0
    # Requests separated by more than this idle gap belong to different bursts.
    burst_gap_s: float = 60.0
    tiers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    scoring: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    gates: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    references: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    collect: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str | None = None  # where the configuration was read from, for the data-quality section


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _str_tuple(raw: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = raw.get(key, default)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config: '{key}' must be a list of strings")
    return tuple(value)


def _pattern(index: int, raw: Any) -> LinePattern:
    where = f"config: patterns[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table with 'regex' and 'role'")
    regex, role = raw.get("regex"), raw.get("role", "info")
    if not isinstance(regex, str) or not regex:
        raise ConfigError(f"{where}: 'regex' must be a non-empty string")
    if role not in ROLES:
        raise ConfigError(f"{where}: role '{role}' is not one of {', '.join(ROLES)}")
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regex: {exc}") from exc
    unknown = set(compiled.groupindex) - PATTERN_GROUPS
    if unknown:
        raise ConfigError(
            f"{where}: unknown named group(s) {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(PATTERN_GROUPS))}"
        )
    unit = raw.get("duration_unit", "s")
    if unit not in ("s", "ms", "us"):
        raise ConfigError(f"{where}: duration_unit must be 's', 'ms' or 'us'")
    return LinePattern(str(raw.get("name", f"pattern-{index}")), regex, role, unit)


def config_from_mapping(raw: Mapping[str, Any], source: str | None = None) -> Config:
    """Build a Config from a parsed TOML table, validating every value."""
    aliases = dict(DEFAULT_ALIASES)
    extra_aliases = raw.get("aliases", {})
    if not isinstance(extra_aliases, Mapping) or not all(
        isinstance(v, str) for v in extra_aliases.values()
    ):
        raise ConfigError("config: [aliases] must map model names to family names (strings)")
    aliases.update(extra_aliases)
    patterns = raw.get("patterns", [])
    if not isinstance(patterns, list):
        raise ConfigError("config: 'patterns' must be an array of tables ([[patterns]])")
    dialects = raw.get("dialects", [])
    if not isinstance(dialects, list):
        raise ConfigError("config: 'dialects' must be an array of tables ([[dialects]])")
    sections = {}
    for key in ("tiers", "scoring", "gates", "references", "collect"):
        value = raw.get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"config: [{key}] must be a table")
        sections[key] = _freeze(dict(value))
    try:
        max_latency_s = float(raw.get("max_latency_s", 900.0))
        burst_gap_s = float(raw.get("burst_gap_s", 60.0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: {exc}") from exc
    return Config(
        model_paths=_str_tuple(raw, "model_paths", DEFAULT_MODEL_PATHS),
        health_paths=_str_tuple(raw, "health_paths", DEFAULT_HEALTH_PATHS),
        aliases=MappingProxyType(aliases),
        patterns=tuple(_pattern(i, p) for i, p in enumerate(patterns)),
        dialects=tuple(
            dialect_from_mapping(d, f"config: dialects[{i}]") for i, d in enumerate(dialects)
        ),
        app_timezone=str(raw.get("app_timezone", "UTC")),
        max_latency_s=max_latency_s,
        burst_gap_s=burst_gap_s,
        source=source,
        **sections,
    )


def load_config(path: Path | None = None, cwd: Path | None = None) -> Config:
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
                    return config_from_mapping(table, source=f"{pyproject} [tool.claude-perf]")
            return Config()
    return config_from_mapping(_read_toml(path), source=str(path))


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
