"""`kubectl logs --timestamps --prefix` output: one source per ``[pod/NAME/CONTAINER]`` prefix.

kubectl writes each line as ``[pod/NAME/CONTAINER] 2026-11-30T10:00:00.123456789Z message``
(the prefix names the log's source; the time is the kubelet's RFC 3339 stamp, as ``docker logs
-t`` writes it). A saved file of several pods is split into one part per prefix, each read as
``docker-timestamps`` text under the prefix's name, so replicas stay apart (nothing pairs across
sources) and a Kubernetes deployment is analysed like a set of containers.
"""

from __future__ import annotations

import re

from claude_perf.ingest.sniff import most_lines_match

# [kind/name/container] then an RFC 3339 time: kubectl's --prefix with --timestamps.
_PREFIXED = re.compile(
    rb"^\[([a-z]+/[^/\]\s]+/[^\]\s]+)\] "
    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) "
)


def is_kubectl(data: bytes) -> bool:
    """Whether most of the first non-empty lines carry kubectl's prefix and a time."""
    return most_lines_match(data, _PREFIXED)


def kubectl_parts(data: bytes) -> list[tuple[str, bytes]] | None:
    """(source, its lines without the prefix) per prefix in order of first appearance; None when
    the data is not kubectl --prefix output. A line without a prefix (rare: kubectl prefixes
    every line) stays with the source of the line before it."""
    if not data.startswith(b"[") or not is_kubectl(data):
        return None
    parts: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in data.splitlines(keepends=True):
        match = _PREFIXED.match(line)
        if match:
            name = match.group(1).decode("utf-8", "replace")
            current = parts.setdefault(name, [])
            current.append(line[len(match.group(1)) + 3 :])
        elif current is not None:
            current.append(line)
        else:
            current = parts.setdefault("kubectl-unprefixed", [])
            current.append(line)
    return [(name, b"".join(lines)) for name, lines in parts.items()]
