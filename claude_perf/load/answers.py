"""What one response said, read as it arrives: OpenAI chat completions and Anthropic messages.

A ``Reading`` is filled by the driver (headers, then a JSON body or SSE events one by one) and
turned into a ``ClientRecord`` at the end. Shapes, from the APIs' own references:

- OpenAI chat completions: ``choices[0].message.content`` / ``choices[].delta.content``,
  ``usage.prompt_tokens`` / ``completion_tokens`` / ``prompt_tokens_details.cached_tokens``; a
  stream ends with ``data: [DONE]``, and with ``stream_options.include_usage`` its last chunk
  before that has empty ``choices`` and the ``usage``
  (https://platform.openai.com/docs/api-reference/chat-streaming).
- Anthropic messages: ``content[].text``, ``usage.input_tokens`` / ``output_tokens`` /
  ``cache_read_input_tokens`` / ``cache_creation_input_tokens``; a stream is ``message_start``
  (the message with its usage so far), ``content_block_delta`` (``delta.text``),
  ``message_delta`` (cumulative ``usage``), ``message_stop``; ``error`` events in a 200 stream
  (https://docs.anthropic.com/en/api/messages-streaming).

A 200 whose text is an error message counts as ``error_in_content``: Claude CLI proxies answer
a CLI failure so (claude-max-api-proxy's ``API Error: ...``, the wrapper's
``Invalid API key · Please run /login``, usage limits).
"""

from __future__ import annotations

import json
import re
from typing import Any

from claude_perf.ingest.client_records import ClientRecord

TOOL = "claude-perf load"
ERROR_SHORT = 200  # characters of an error message kept in the record
# Text that is an error, not an answer, when a 200 carries it (seen in the proxies' captures
# and the CLI's own messages: tests/standin*/claude).
_CONTENT_ERROR = re.compile(
    r"^\s*(API Error:|Invalid API key|Claude AI usage limit reached|You've hit your limit|"
    r"Error: |Claude Code (?:CLI )?(?:error|failed))",
    re.IGNORECASE,
)


def short(text: str) -> str:
    """One line of at most ERROR_SHORT characters."""
    one = " ".join(text.split())
    return one if len(one) <= ERROR_SHORT else one[: ERROR_SHORT - 1] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cost(obj: dict[str, Any]) -> float | None:
    """A cost when the body has one (OpenRouter's ``usage.cost``, the CLI's ``total_cost_usd``)."""
    usage: dict[str, Any] = obj["usage"] if isinstance(obj.get("usage"), dict) else {}
    for value in (usage.get("cost"), obj.get("total_cost_usd"), obj.get("cost_usd")):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _error_text(obj: Any) -> str | None:
    """The message of an error body (``{"error": {"message": …}}``, ``{"error": "…"}``,
    ``{"detail": …}``), or None."""
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)
    if isinstance(err, str):
        return err
    if obj.get("type") == "error":
        return "error"
    detail = obj.get("detail")
    return None if detail is None else str(detail)


class Reading:
    """One response as it arrives; times are wall-clock ns (start_ns + monotonic offsets)."""

    def __init__(self, record_id: str, api: str, path: str, model: str, stream: bool) -> None:
        self.id, self.api, self.path, self.model_asked, self.stream = (
            record_id,
            api,
            path,
            model,
            stream,
        )
        self.start_ns = 0
        self.first_byte_ns: int | None = None
        self.first_token_ns: int | None = None
        self.last_token_ns: int | None = None
        self.status: int | None = None
        self.model_answered: str | None = None
        self.server_request_id: str | None = None
        self.chunks = 0
        self.gaps_s: list[float] = []
        self.text: list[str] = []
        self.usage: dict[str, int | None] = {}
        self.cost_usd: float | None = None
        self.error_class: str | None = None
        self.error: str | None = None
        self.finished = False  # the final event ([DONE] / message_stop) arrived

    # ------------------------------------------------------------------ common

    def headers(self, status: int, header_request_id: str | None, at_ns: int) -> None:
        self.status, self.first_byte_ns = status, at_ns
        self.server_request_id = header_request_id

    def fail(self, error_class: str, message: str) -> None:
        """The first failure wins (a cut stream after an error event stays the error)."""
        if self.error_class is None:
            self.error_class, self.error = error_class, short(message)

    def content(self, text: str, at_ns: int) -> None:
        """One content delta; empty ones (role chunks, keep-alives) are not tokens."""
        if not text:
            return
        if self.first_token_ns is None:
            self.first_token_ns = at_ns
        elif self.last_token_ns is not None:
            self.gaps_s.append((at_ns - self.last_token_ns) / 1e9)
        self.last_token_ns = at_ns
        self.chunks += 1
        self.text.append(text)

    def _body_id(self, obj: dict[str, Any]) -> None:
        if self.server_request_id is None and isinstance(obj.get("id"), str):
            self.server_request_id = obj["id"]
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model_answered = obj["model"]

    # ------------------------------------------------------------------ whole bodies

    def body(self, raw: bytes) -> None:
        """A whole (non-SSE) body: an answer, or the error of a non-2xx status."""
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        ok_status = self.status is not None and 200 <= self.status < 300
        if not ok_status:
            message = _error_text(obj) or raw.decode("utf-8", "replace") or f"HTTP {self.status}"
            self.fail("http_5xx" if (self.status or 0) >= 500 else "http_4xx", message)
            return
        if not isinstance(obj, dict):
            self.fail(
                "error_in_content", "the body is not JSON: " + raw[:80].decode("utf-8", "replace")
            )
            return
        self._body_id(obj)
        error = _error_text(obj)
        if error is not None:
            self.fail("error_in_content", error)
        if self.api == "anthropic":
            blocks: list[Any] = obj["content"] if isinstance(obj.get("content"), list) else []
            self.text = [str(b.get("text") or "") for b in blocks if isinstance(b, dict)]
            self._anthropic_usage(obj.get("usage"))
        else:
            choices: list[Any] = obj["choices"] if isinstance(obj.get("choices"), list) else []
            first = choices[0] if choices and isinstance(choices[0], dict) else {}
            said: dict[str, Any] = (
                first["message"] if isinstance(first.get("message"), dict) else {}
            )
            self.text = [str(said.get("content") or "")]
            self._openai_usage(obj.get("usage"))
        self.cost_usd = _cost(obj)
        self.finished = True

    # ------------------------------------------------------------------ SSE events

    def event(self, name: str, data: str, at_ns: int) -> None:
        """One SSE event (httpx-sse has parsed the framing)."""
        if data.strip() == "[DONE]":
            # OpenAI's end of a stream. ccproxy-api and LiteLLM-based proxies (1rgs/claude-code-
            # proxy) send it after an Anthropic stream's message_stop too; Anthropic's SDKs stop
            # reading at it (their _streaming.py), so it is no error there, and only
            # message_stop ends an Anthropic stream.
            self.finished = self.finished or self.api == "openai"
            return
        if not data.strip():
            return
        try:
            obj = json.loads(data)
        except ValueError:
            self.fail("error_in_content", "an event that is not JSON: " + data[:80])
            return
        if not isinstance(obj, dict):
            return
        if self.api == "anthropic":
            self._anthropic_event(obj.get("type") or name, obj, at_ns)
        else:
            self._openai_chunk(obj, at_ns)

    def _openai_chunk(self, obj: dict[str, Any], at_ns: int) -> None:
        error = _error_text(obj)
        if error is not None:
            self.fail("error_in_content", error)
            return
        self._body_id(obj)
        for choice in obj.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                self.content(str(delta.get("content") or ""), at_ns)
        if isinstance(obj.get("usage"), dict):
            self._openai_usage(obj["usage"])
        cost = _cost(obj)
        self.cost_usd = cost if cost is not None else self.cost_usd

    def _anthropic_event(self, kind: str, obj: dict[str, Any], at_ns: int) -> None:
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            self._body_id(obj["message"])
            self._anthropic_usage(obj["message"].get("usage"))
        elif kind == "content_block_delta":
            delta = obj.get("delta") or {}
            self.content(str(delta.get("text") or ""), at_ns)
        elif kind == "message_delta":
            self._anthropic_usage(obj.get("usage"))
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            self.fail("error_in_content", _error_text(obj) or "error event")

    # ------------------------------------------------------------------ usage

    def _openai_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
        self._merge(
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            cache_read_tokens=cached,
        )

    def _anthropic_usage(self, usage: Any) -> None:
        # message_delta's usage is cumulative (the docs): a later value replaces an earlier one.
        if not isinstance(usage, dict):
            return
        self._merge(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cache_read_tokens=_int(usage.get("cache_read_input_tokens")),
            cache_creation_tokens=_int(usage.get("cache_creation_input_tokens")),
        )

    def _merge(self, **values: int | None) -> None:
        for name, value in values.items():
            if value is not None:
                self.usage[name] = value

    # ------------------------------------------------------------------ the record

    def record(self, end_ns: int) -> ClientRecord:
        """The record; a 2xx whose answer is an error message, or a cut stream, is not ok."""
        ok_status = self.status is not None and 200 <= self.status < 300
        if ok_status and self.error_class is None:
            text = "".join(self.text)
            if _CONTENT_ERROR.match(text):
                self.fail("error_in_content", text)
            elif not self.finished:
                what = "stream" if self.stream else "body"
                self.fail("stream_cut", f"the {what} ended before its final event")
        ok = ok_status and self.error_class is None
        return ClientRecord(
            id=self.id,
            tool=TOOL,
            start_ns=self.start_ns,
            end_ns=max(end_ns, self.start_ns),
            path=self.path,
            api=self.api,
            model_asked=self.model_asked,
            model_answered=self.model_answered,
            stream=self.stream,
            first_byte_ns=self.first_byte_ns,
            first_token_ns=self.first_token_ns,
            status=self.status,
            ok=ok,
            error_class=None if ok else (self.error_class or "other"),
            error=None if ok else self.error,
            chunks=self.chunks if self.stream else None,
            chunk_gaps_s=tuple(round(g, 6) for g in self.gaps_s),
            input_tokens=self.usage.get("input_tokens"),
            output_tokens=self.usage.get("output_tokens"),
            cache_read_tokens=self.usage.get("cache_read_tokens"),
            cache_creation_tokens=self.usage.get("cache_creation_tokens"),
            cost_usd=self.cost_usd,
            server_request_id=self.server_request_id,
        )
