"""Inputs that interleave several sources, each line prefixed with its source's name: split into
one input per source (kubectl --prefix, docker compose logs, docker service logs); and a saved
Portkey ``/log/stream`` feed, made into ``docker logs -t`` lines (ingest/log_stream.py)."""

from __future__ import annotations

from collections.abc import Iterator

from claude_perf.ingest.compose import compose_parts, is_timed_compose
from claude_perf.ingest.kubectl import kubectl_parts
from claude_perf.ingest.log_stream import log_stream_lines


def input_parts(path: str, data: bytes, notes: list[str]) -> Iterator[tuple[str, bytes, list[str]]]:
    """An input as (name, data, notes) parts: one per source of a prefixed form, else the input
    itself; the read's notes go with the first part. A generator, so that the raw bytes are
    released as soon as the caller has read the last part."""
    stream = log_stream_lines(data)
    if stream is not None:
        del data
        lines, own = stream
        yield path, lines, [*notes, *(f"{path}: {note}" for note in own)]
        return
    parts = kubectl_parts(data)
    form = "kubectl --prefix"
    if parts is None:
        found = compose_parts(data)
        if found is not None:
            form, parts = found
            if form == "docker compose logs" and not is_timed_compose(data):
                form += " without -t (no engine times: latency only where lines carry their own)"
    if parts is None:
        yield path, data, notes
        return
    del data
    notes = [*notes, f"{path}: {form} output, {len(parts)} source(s)"]
    for i, (name, part) in enumerate(parts):
        yield name, part, notes if i == 0 else []
