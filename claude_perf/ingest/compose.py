"""`docker compose logs` and `docker service logs` output: one source per service replica.

Saved as users usually save them (``docker compose logs -t > proxy.log``), each line carries the
replica's name before a ``|``:

- compose (v2 ``NAME-1``, v1 ``NAME_1``, padded to the longest name):
  ``proxy-1  | 2026-11-30T10:00:00.123456789Z message`` with ``-t``, ``proxy-1  | message``
  without (docker/compose cmd/formatter/logs.go; then no engine time is known);
- swarm, timestamp first: ``2026-11-30T10:00:00.123456789Z proxy.1.t8k2@node1    | message``
  (docker/cli cli/command/service/logs.go: ``service.slot.task@node``).

The file is split into one part per name, each in ``docker logs -t`` form (or plain, without
times), so replicas stay apart (nothing pairs across sources), as for kubectl --prefix.
"""

from __future__ import annotations

import re

from claude_perf.ingest.sniff import most_lines_match

_TIME = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)"
# compose: a name (no spaces, no `|`), padding, `| `, then the line (a time first with -t)
_COMPOSE = re.compile(rb"^([A-Za-z0-9][\w.-]*?) *\| ")
_COMPOSE_TIMED = re.compile(rb"^[A-Za-z0-9][\w.-]*? *\| " + _TIME + rb" ")
# Without -t only names that end in a replica's number (v2 `proxy-1`, v1 `proxy_1`) tell it:
# `INFO     | message` (a logger's own `|` format) must stay one plain input.
_COMPOSE_REPLICA = re.compile(rb"^[A-Za-z0-9][\w.-]*?[-_]\d+ +\| ")
# swarm: the engine time, a task name with its node (`@`), padding, `| `
_SWARM = re.compile(rb"^(" + _TIME + rb") ([^\s|@]+@[^\s|]+) *\| ")


def compose_parts(data: bytes) -> tuple[str, list[tuple[str, bytes]]] | None:
    """(form, [(replica name, its lines without the prefix)]) in order of first appearance, or
    None when the data is neither form. A line without the prefix (a long line the tool wrapped,
    rare) stays with the replica of the line before it."""
    if most_lines_match(data, _SWARM):
        form, pattern = "docker service logs", _SWARM
    elif most_lines_match(data, _COMPOSE_TIMED) or most_lines_match(data, _COMPOSE_REPLICA):
        form, pattern = "docker compose logs", _COMPOSE
    else:
        return None
    parts: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in data.splitlines(keepends=True):
        match = pattern.match(line)
        if match is None:
            if current is None:
                current = parts.setdefault("unprefixed", [])
            current.append(line)
            continue
        if pattern is _SWARM:
            name, text = match.group(2), match.group(1) + b" " + line[match.end() :]
        else:
            name, text = match.group(1), line[match.end() :]
        current = parts.setdefault(name.decode("utf-8", "replace"), [])
        current.append(text)
    return form, [(name, b"".join(lines)) for name, lines in parts.items()]


def is_swarm(data: bytes) -> bool:
    """Whether the data is `docker service logs -t` output (it starts with times, like
    ``docker logs -t``, so a chunked read must not take it for one)."""
    return most_lines_match(data, _SWARM)


def is_timed_compose(data: bytes) -> bool:
    """Whether compose output carries the engine's times (``-t``)."""
    return most_lines_match(data, _COMPOSE_TIMED)
