"""Log dialects: each proxy's own log language, declared as data and detected per source.

A dialect is a TOML table (the built-in ones are files in ``claude_perf/dialects/``, written in
the same language as ``[[dialects]]`` in ``claude-perf.toml``): a name, what proxy writes it,
what its logs can and cannot tell, ``detect`` patterns, and ``[[lines]]``, each a regex with
named groups and the *role* a matching line plays in a request's life:

- ``start``: a request arrived;
- ``end``: a request completed;
- ``error``: an error record (the line itself is one; it is attached to its own request, or,
  marked ``alone``, counted outside any request: copilot-api writes its ``ERROR`` records
  before or after the completion they belong to);
- ``duration``: the duration (and status) of the completion logged next to it in the same
  source, e.g. the wrapper's ``🔍 Response: 200 in 873.00ms`` right before its access line;
- ``model``: names the model (or the stream flag) of the request that opened just before it,
  e.g. the ``"model": "sonnet"`` line of a request body logged after its start line;
- ``usage``: the tokens, cost and CLI times of one request, logged on a line of its own (the
  wrapper's ``ResultMessage(...)`` in DEBUG mode): attached to the request whose CLI run it ends
  (see analysis/usage.py);
- ``info``: known, and not about a request by itself (upstream calls).

A line marked ``under`` is an indented line a proxy prints below a record's head, as part of
the same record (claude-relay-service's winston console writes a request's id and body on
``├─ key: value`` lines under its completion line): what its groups say (model, request id,
client) is the end line's above it, when that head is an end line of the same dialect.

A line's ``fields`` are extra regexes searched separately in a matching line, each with named
groups from ``FIELDS`` (tokens, cost, CLI times: figures whose order or presence varies, as in a
dict or a JSON object). They are read on ``end`` lines (the request's own figures) and ``usage``
lines.

A dialect is active in a source (one container or one input file) when one of its ``detect``
patterns (default: its lines' patterns) matches a line of that source; its lines are read only
there; with ``exclusive = true`` the generic start/end readings are also off on its sources'
other lines. Group names: see ``GROUPS``. Regexes are RE2 (Arrow's engine): no look-arounds and no
back-references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from claude_perf.config.keys import key

# startup: the proxy's start-up banner (a restart, when requests were served before it)
ROLES = ("start", "end", "error", "duration", "model", "usage", "startup", "info")
# Figures a line's ``fields`` regexes may name: tokens (counts), the cost in US dollars, the
# CLI's own run time and the part of it spent waiting on the API (milliseconds, as the CLI
# logs them: ResultMessage.duration_ms and duration_api_ms).
FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
    "cli_duration_ms",
    "cli_api_duration_ms",
)
# Roles whose lines' fields are read (see the module docstring).
FIELD_ROLES = ("end", "usage")
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
        # a time the logger rounded (Hono's and koa-logger's whole seconds, `2s`): the
        # latency only where no start pairs with the line (parse/events.OPTIONAL_COLUMNS)
        "rounded",
    }
)
UNITS = ("s", "ms", "us", "ns")
# What an ``under`` line may tell about the end line it is printed under.
UNDER_GROUPS = ("model", "request_id", "client")


def regex_problem(regex: str) -> str | None:
    """Why a regex cannot be used (None when it can): it must compile in Python's ``re`` (its
    groups are read from there) and in RE2, the engine that runs it (Arrow's: no look-arounds,
    no back-references, no possessive quantifiers). RE2 is asked itself, on one empty line."""
    try:
        re.compile(regex)
    except re.error as exc:
        return f"invalid regex '{regex}': {exc}"
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.match_substring_regex(pa.array([""], pa.string()), regex)
    except pa.ArrowInvalid as exc:
        return f"regex '{regex}' is not RE2 (the engine that runs it): {exc}"
    return None


@dataclass(frozen=True)
class DialectLine:
    """[[dialects.lines]]: one line shape of a dialect, its regex and its role."""

    regex: str = key(
        "", "regex with named groups (see GROUPS), searched in the line", required=True
    )
    role: str = key("info", "what a matching line is in a request's life", choices=ROLES)
    name: str = key("", "a label for this line shape")
    contains: str = key("", "a literal every matching line holds: a cheap pre-filter")
    duration_unit: str = key("s", "unit of a bare number in the duration group", choices=UNITS)
    error: bool = key(False, "the line is itself an error record (besides its role)")
    alone: bool = key(
        False,
        "an end that is a whole request by itself: it pairs with no start; on an error record,"
        " one no request can be told from (written before or after its completion): counted,"
        " attached to none",
    )
    arrival: bool = key(
        False,
        "an alone end logged as its request arrives, before any work (its latency is unknown):"
        " the error records after it are its own",
    )
    fields: tuple[str, ...] = key(
        (),
        "regexes searched separately in a matching line, named groups from FIELDS (tokens, cost,"
        " CLI times); read on end and usage lines",
    )
    under: bool = key(
        False,
        "an indented line printed under an end line of this dialect, part of the same record:"
        " its groups (model, request_id, client) are that end's; the line plays no role itself",
    )

    def problem(self) -> str | None:
        trouble = regex_problem(self.regex) if self.regex else "'regex' must not be empty"
        if trouble:
            return trouble
        unknown = set(re.compile(self.regex).groupindex) - GROUPS
        if unknown:
            return f"unknown named group(s) {sorted(unknown)}; allowed: {', '.join(sorted(GROUPS))}"
        if self.under:
            return self._under_problem()
        if self.alone and self.role not in ("end", "error") and not self.error:
            return "'alone' is for end lines (a whole request) and error records (attached to none)"
        return self._fields_problem()

    def _under_problem(self) -> str | None:
        if self.role != "info" or self.fields or self.alone or self.arrival or self.error:
            return "an 'under' line plays no role of its own: leave role, fields and flags out"
        lent = set(re.compile(self.regex).groupindex) - set(UNDER_GROUPS)
        if lent:
            return f"an 'under' line names only {', '.join(UNDER_GROUPS)}, not {sorted(lent)}"
        return None

    def _fields_problem(self) -> str | None:
        if self.fields and self.role not in FIELD_ROLES:
            return f"'fields' are read on lines of role {' or '.join(FIELD_ROLES)}, not {self.role}"
        for regex in self.fields:
            trouble = regex_problem(regex)
            if trouble:
                return trouble
            names = set(re.compile(regex).groupindex)
            if not names:
                return f"fields regex '{regex}' names no group; allowed: {', '.join(FIELDS)}"
            if names - set(FIELDS):
                return (
                    f"unknown field group(s) {sorted(names - set(FIELDS))} in '{regex}';"
                    f" allowed: {', '.join(FIELDS)}"
                )
        return None


@dataclass(frozen=True)
class Dialect:
    """[[dialects]]: a proxy's log language."""

    name: str = key("", "the dialect's name, listed per source in the report", required=True)
    lines: tuple[DialectLine, ...] = key((), "its line shapes, tried in order", required=True)
    proxy: str = key("", "which proxy (and logging mode) writes it")
    tells: str = key("", "what its logs can tell")
    cannot: str = key("", "what its logs cannot tell")
    detect: tuple[str, ...] = key((), "regexes: one matching a line of a source activates it there")
    supersedes: tuple[str, ...] = key((), "dialects it replaces where both are found")
    exclusive: bool = key(
        False, "in its sources, lines it does not know get no generic start or end reading"
    )
    front: bool = key(
        False,
        "a front proxy's access log (nginx, Traefik, Caddy): beside an application's log, the "
        "same traffic, counted once from the application and joined as its client view",
    )

    def problem(self) -> str | None:
        if not self.name:
            return "'name' must not be empty"
        if not self.lines:
            return f"dialect '{self.name}' needs at least one [[lines]] entry"
        for regex in self.detect:
            trouble = regex_problem(regex)
            if trouble:
                return trouble
        return None

    @property
    def detect_patterns(self) -> tuple[str, ...]:
        """What activates it: its ``detect`` regexes, else its lines' own."""
        return self.detect or tuple(line.regex for line in self.lines)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(line.role for line in self.lines)
