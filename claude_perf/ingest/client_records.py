"""Client records: one request as a client saw it (schema ``claude-perf/client-record/1``).

`claude-perf load` writes them, other tools' outputs (k6, AIPerf, Locust) are read into them, and
the analysis joins them with the proxy's own request rows. One JSON object per line; every line
carries ``schema`` so that a concatenated or half-written file is still readable line by line.

Times are Unix epoch nanoseconds from the client's wall clock (``time.time_ns`` at the event),
so they can be set beside the engine's log timestamps of the same machine. Durations derived from
them (``latency_s``, ``ttft_s``) use the same clock; a driver that measures with a monotonic clock
stores ``start_ns`` from the wall clock and adds monotonic offsets to it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from claude_perf.errors import InputError

SCHEMA = "claude-perf/client-record/1"

# Client-side error classes: what the client can tell without the proxy's logs.
CLIENT_ERROR_CLASSES = (
    "connect",  # no connection (refused, DNS, TLS)
    "timeout",  # no complete answer within the client's timeout
    "http_4xx",  # the proxy answered 4xx (auth, bad request, rate limit 429 included)
    "http_5xx",  # the proxy answered 5xx
    "stream_cut",  # the stream ended before its final event ([DONE] / message_stop)
    "error_in_content",  # HTTP 2xx whose body or stream carries an error message
    "other",
)


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """One request from the client's side. ``None`` means "not measured", never zero."""

    id: str  # the client's own request id (sent as X-Request-Id by claude-perf load)
    tool: str  # "claude-perf load", "k6", "aiperf", "locust", ...
    start_ns: int  # request sent (first byte written)
    end_ns: int  # last byte read, or the error
    method: str = "POST"
    path: str | None = None  # URL path without query, e.g. /v1/chat/completions
    api: str | None = None  # "openai" | "anthropic" | None
    model_asked: str | None = None
    model_answered: str | None = None
    stream: bool | None = None
    first_byte_ns: int | None = None  # response headers received
    first_token_ns: int | None = None  # first content token (streaming), else None
    status: int | None = None  # HTTP status; None when no response came
    ok: bool = False
    error_class: str | None = None  # one of CLIENT_ERROR_CLASSES when not ok
    error: str | None = None  # short raw message; redacted when it leaves the tool
    chunks: int | None = None  # content chunks received (streaming)
    chunk_gaps_s: tuple[float, ...] = field(default_factory=tuple)  # between content chunks
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    cost_usd: float | None = None
    server_request_id: str | None = None  # x-request-id header or the body's id (chatcmpl-…)

    @property
    def latency_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def ttfb_s(self) -> float | None:
        return None if self.first_byte_ns is None else (self.first_byte_ns - self.start_ns) / 1e9

    @property
    def ttft_s(self) -> float | None:
        if self.first_token_ns is None:
            return None
        return (self.first_token_ns - self.start_ns) / 1e9


_FIELDS = {f.name: f for f in fields(ClientRecord)}
_INT = {
    "start_ns",
    "end_ns",
    "first_byte_ns",
    "first_token_ns",
    "status",
    "chunks",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
}


def record_to_json(record: ClientRecord) -> str:
    """One line of JSON (no newline), keys in schema order, ``None`` fields left out."""
    data: dict[str, Any] = {"schema": SCHEMA}
    for name, value in asdict(record).items():
        if value is None or (name == "chunk_gaps_s" and not value):
            continue
        data[name] = list(value) if name == "chunk_gaps_s" else value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def record_from_json(data: dict[str, Any], where: str) -> ClientRecord:
    """A record from one decoded line; ``where`` names the file and line for the error."""
    if data.get("schema") != SCHEMA:
        raise InputError(f"{where}: not a {SCHEMA} record (schema={data.get('schema')!r})")
    unknown = sorted(set(data) - set(_FIELDS) - {"schema"})
    if unknown:
        raise InputError(f"{where}: unknown client-record key {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "schema" or value is None:
            continue
        if name in _INT and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"{where}: {name} must be an integer, got {value!r}")
        if name == "chunk_gaps_s":
            if not isinstance(value, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            ):
                raise InputError(f"{where}: chunk_gaps_s must be a list of numbers, got {value!r}")
            value = tuple(float(v) for v in value)
        if name == "cost_usd" and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise InputError(f"{where}: cost_usd must be a finite number, got {value!r}")
        values[name] = value
    for required in ("id", "tool", "start_ns", "end_ns"):
        if required not in values:
            raise InputError(f"{where}: client record lacks {required!r}")
    if values["end_ns"] < values["start_ns"]:
        raise InputError(f"{where}: end_ns is before start_ns")
    return ClientRecord(**values)
