"""Portkey AI Gateway's request log, saved from its UI's SSE feed ``GET /log/stream``.

The gateway (npm @portkey-ai/gateway, build/start-server.js 1.15.2) writes no line per request
to its console; its only request log goes to the clients of ``/log/stream`` (``curl -N
http://HOST:8787/log/stream > log-stream.sse`` for the session's length). Each ``event: log``
carries one JSON object, sent as the response is returned (its ``yu`` middleware):

- ``method``, ``status``; ``duration``: ms from the request's arrival to its response (for a
  stream, to the stream's start: its time to the response head, not its latency);
- ``endpoint``: the client's path, only when the client called port 8787 (it is cut from the URL
  at ``:8787``; published on another port it is absent: the route's name, ``rubeusURL`` of the
  provider options, gives the path then);
- ``time``: the container's local time to the second, no zone (not read);
- ``requestOptions``: one per provider attempt (fallbacks, retries), each with ``createdAt``
  (the attempt's start, UTC, ms) and ``executionTime`` (its ms), the body as the client sent it
  (``finalUntransformedRequest.body``: the model asked, the stream flag), the provider's answer
  (``response``: its usage, or its error) and the provider's key in clear.

A request that reached no provider (a body it could not read, a missing provider header) is
not in the feed; its error, if any, is in the console (the ``portkey-gateway`` dialect).

Each ``log`` event becomes one ``docker logs -t`` line stamped at the last attempt's end
(``createdAt`` + ``executionTime``), the response's time to the ms, holding a compact JSON
record of the figures above (the keys and bodies left out), which the ``portkey-log-stream``
dialect reads. An event without a time (no ``createdAt``) or not a JSON object is counted in a
note and left out.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, TypeGuard

from claude_perf.errors import InputError

# The gateway's route names (rubeusURL) for its /v1/ paths (build/start-server.js: the handler
# each `app.post("/v1/…")` calls with the name)
ROUTE_PATHS = {
    "chatComplete": "/v1/chat/completions",
    "complete": "/v1/completions",
    "messages": "/v1/messages",
    "messagesCountTokens": "/v1/messages/count_tokens",
    "embed": "/v1/embeddings",
    "imageGenerate": "/v1/images/generations",
    "createSpeech": "/v1/audio/speech",
    "createModelResponse": "/v1/responses",
}
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
_YEAR_MS = 366 * 86_400_000.0
_LOG_EVENT = re.compile(rb"(?m)^event: ?log\r?$")  # (SSE: the space after the colon optional)
# What marks the dialect's lines: the first key of each record written here.
MARK = "portkey-log-stream"
_USAGE_KEYS = (
    # (our field, the Anthropic usage key, the OpenAI one)
    ("input_tokens", "input_tokens", "prompt_tokens"),
    ("output_tokens", "output_tokens", "completion_tokens"),
    ("cache_read_tokens", "cache_read_input_tokens", None),
    ("cache_creation_tokens", "cache_creation_input_tokens", None),
)


def is_log_stream(data: bytes) -> bool:
    """Whether the input is a saved SSE feed holding ``event: log`` (its first line an SSE
    field: ``event:``, ``data:``, ``id:`` or a ``:`` comment)."""
    head = data[: 1 << 16].lstrip()
    first = head.split(b"\n", 1)[0]
    fields = (b"event:", b"data:", b"id:", b":")
    return first.startswith(fields) and _LOG_EVENT.search(data) is not None


def log_stream_lines(data: bytes) -> tuple[bytes, list[str]] | None:
    """The feed's ``log`` events as ``docker logs -t`` lines (in time order) and the notes on
    what was left out; None when ``data`` is not such a feed."""
    if not is_log_stream(data):
        return None
    lines: list[tuple[int, str]] = []
    events = unreadable = untimed = 0
    for payload in _log_payloads(data.decode("utf-8", "replace")):
        events += 1
        try:
            event = json.loads(payload)
        except ValueError:
            unreadable += 1
            continue
        if not isinstance(event, dict):
            unreadable += 1
            continue
        line = _line(event, events)
        if line is None:
            untimed += 1
            continue
        lines.append(line)
    lines.sort(key=lambda pair: pair[0])
    notes = [f"Portkey /log/stream feed: {events} request log event(s)"]
    if unreadable:
        notes.append(f"{unreadable} /log/stream event(s) were not JSON objects: left out")
    if untimed:
        notes.append(
            f"{untimed} /log/stream event(s) had no provider attempt with a time (createdAt): "
            "left out"
        )
    return "".join(text for _, text in lines).encode("utf-8"), notes


def _log_payloads(text: str) -> list[str]:
    """The data of each ``event: log`` (SSE: fields up to a blank line; several ``data:``
    lines join with newlines; an event without ``event:`` is a ``message``)."""
    out: list[str] = []
    name, data = "message", list[str]()
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            if name == "log" and data:
                out.append("\n".join(data))
            name, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if name == "log" and data:
        out.append("\n".join(data))
    return out


def _line(event: dict[str, Any], seq: int) -> tuple[int, str] | None:
    """(its time in ns, the docker-timestamps line) of the feed's ``seq``-th log event; None
    without a time."""
    options = [o for o in event.get("requestOptions") or [] if isinstance(o, dict)]
    last = options[-1] if options else {}
    end_ns = _end_ns(last)
    if end_ns is None:
        return None
    first = options[0]
    body = _dict(_dict(first.get("finalUntransformedRequest")).get("body"))
    params = _dict(first.get("requestParams"))
    route = _dict(first.get("providerOptions")).get("rubeusURL")
    endpoint = event.get("endpoint")
    path = endpoint.split("?", 1)[0] if isinstance(endpoint, str) and endpoint else None
    model = body.get("model", params.get("model"))
    stream = body.get("stream", params.get("stream"))
    method = _text(event.get("method"))
    status = event.get("status")
    record: dict[str, Any] = {
        MARK: 1,
        "method": method.upper() if method and method.isascii() and method.isalpha() else None,
        "path": _text((path or ROUTE_PATHS.get(route)) if isinstance(route, str) else path),
        "status": status if _is_int(status) and 100 <= status <= 599 else None,
        "duration_ms": _number(event.get("duration")),
        "model": _text(model),
        "stream": stream if isinstance(stream, bool) else None,
        "provider": _text(_dict(last.get("providerOptions")).get("provider")),
        "attempts": len(options),
    }
    response = last.get("response")
    record.update(_usage(response))
    # (a stream's answer is not kept: "The response was a stream." says nothing of its error)
    failed = (record["status"] or 0) >= 400 and not record["stream"]
    record["error"] = _error(response) if failed else None
    # Every request in the feed reached a provider: a 5xx is the provider's answer, or its
    # connection's failure, whatever the model's name (analysis/error_classes.py reads this).
    record["upstream_failed"] = (record["status"] or 0) >= 500
    # Its place in the feed: two requests alike to the ms (identical prompts under load) would
    # otherwise be one line twice, which the reader counts once as a duplicate.
    record["seq"] = seq
    try:
        stamp = datetime.fromtimestamp(end_ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, ValueError, OSError):  # a time beyond the calendar: no time
        return None
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return end_ns, f"{stamp}.{end_ns % 10**9:09d}Z {text}\n"


def _end_ns(option: dict[str, Any]) -> int | None:
    """An attempt's end: its createdAt (RFC 3339, as the gateway's Date.toISOString writes it)
    plus its executionTime (ms; a missing or negative one counts as 0); None without a time."""
    # (imported here: client_files' own imports, csv, gzip, urllib, are not on every read's path)
    from claude_perf.ingest.client_files import rfc3339_ns

    try:
        created = option.get("createdAt")
        start_ns = rfc3339_ns(created if isinstance(created, str) else "", "createdAt")
    except InputError:
        return None
    ms = _number(option.get("executionTime")) or 0.0
    return start_ns + round(max(ms, 0.0) * 1e6)


def _usage(response: Any) -> dict[str, int | None]:
    """Tokens of a provider's answer (Anthropic's or OpenAI's usage keys); None when absent
    (a stream's answer is logged as "The response was a stream.")."""
    usage = _dict(_dict(response).get("usage"))
    out: dict[str, int | None] = {}
    for ours, anthropic, openai in _USAGE_KEYS:
        value = usage.get(anthropic)
        if value is None and openai is not None:
            value = usage.get(openai)
        out[ours] = value if _is_int(value) and value >= 0 else None
    return out


def _error(response: Any) -> str | None:
    """What a failed answer says: its error's message (OpenAI's and Anthropic's shape), the
    gateway's own message, else nothing."""
    answer = _dict(response)
    error = answer.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        text = " ".join(str(p) for p in (kind, message) if isinstance(p, str) and p)
        return text or None
    for key in ("message", "html-message"):
        if isinstance(answer.get(key), str):
            return str(answer[key])[:500]
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A text the dialect's regex reads whole: without quotes, backslashes or control
    characters, which JSON would escape (a model named with one would leave its line unread)."""
    if not isinstance(value, str):
        return None
    kept = _UNSAFE.sub("", value)
    return kept or None


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """A finite number of at most a year's milliseconds (None otherwise: JSON's NaN and
    Infinity tokens, or a figure no request takes)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and abs(number) <= _YEAR_MS else None
