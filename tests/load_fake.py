"""A fake proxy for the `claude-perf load` tests: raw HTTP/1.1 on 127.0.0.1, answers by model.

Hand-written on asyncio streams (not a framework) so a test can cut a stream mid-way, the one
thing a well-behaved server will not do. The model asked picks the behaviour:

- ``ok``: the answer "one two three" (OpenAI: 3 content chunks 50 ms apart after a role chunk,
  usage 11 in / 3 out / 5 cached, cost 0.0012; Anthropic: message_start usage 11 in, 5 cache
  read, 2 cache creation, message_delta usage 3 out);
- ``apierror``: a 200 whose answer is ``API Error: 500 {"type":"error"}`` (as the CLI says it);
- ``streamerror``: a 200 stream with an error event, then the end;
- ``cut``: a stream closed after two chunks, without its final event or the last HTTP chunk;
- ``slow``: answers after 60 s (the SIGTERM and timeout tests never wait for it);
- ``crash``: 500 with an error body.

With ``key`` set, a request without it (``Authorization: Bearer`` or ``x-api-key``) gets 401.
``seen`` holds (path, x-request-id, body) of every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

GAP_S = 0.05
SLOW_S = 60.0
OPENAI_USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 3,
    "total_tokens": 14,
    "prompt_tokens_details": {"cached_tokens": 5},
    "cost": 0.0012,
}
ANTHROPIC_START_USAGE = {
    "input_tokens": 11,
    "cache_read_input_tokens": 5,
    "cache_creation_input_tokens": 2,
    "output_tokens": 1,
}
WORDS = ["one", "two", "three"]


class FakeProxy:
    def __init__(self, key: str | None = None) -> None:
        self.key = key
        self.seen: list[tuple[str, str | None, dict[str, Any]]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("the fake proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                self.seen.append((path, headers.get("x-request-id"), body))
                if not await self._answer(writer, path, headers, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the fake is stopping
        finally:
            writer.close()

    async def _answer(
        self, w: asyncio.StreamWriter, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> bool:
        """Write one answer; False when the connection is to be cut."""
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if self.key is not None and given != self.key:
            _json(
                w, 401, {"error": {"type": "authentication_error", "message": "invalid x-api-key"}}
            )
            return True
        model, stream = body["model"], bool(body.get("stream"))
        anthropic = path == "/v1/messages"
        if model == "slow":
            await asyncio.sleep(SLOW_S)
        if model == "crash":
            _json(w, 500, {"error": {"message": "Claude CLI exited with code 1 without response"}})
            return True
        if not stream:
            text = 'API Error: 500 {"type":"error"}' if model == "apierror" else " ".join(WORDS)
            _json(w, 200, _anthropic_body(model, text) if anthropic else _openai_body(model, text))
            return True
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nx-request-id: srv-1\r\n\r\n"
        )
        events = _anthropic_events(model) if anthropic else _openai_events(model)
        for i, event in enumerate(events):
            if event is None:  # a pause between content chunks
                await w.drain()
                await asyncio.sleep(GAP_S)
                continue
            if model == "cut" and i >= 6:
                await w.drain()
                w.transport.abort()  # no final event, no terminating HTTP chunk
                return False
            data = event.encode()
            w.write(b"%x\r\n%s\r\n" % (len(data), data))
        w.write(b"0\r\n\r\n")
        await w.drain()
        return True


def _json(w: asyncio.StreamWriter, status: int, obj: dict[str, Any]) -> None:
    data = json.dumps(obj).encode()
    reason = {200: "OK", 401: "Unauthorized", 500: "Internal Server Error"}[status]
    w.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n".encode()
        + data
    )


def _openai_body(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "model": f"answered-{model}",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": OPENAI_USAGE,
    }


def _anthropic_body(model: str, text: str) -> dict[str, Any]:
    usage = {**ANTHROPIC_START_USAGE, "output_tokens": 3}
    return {
        "id": "msg_fake1",
        "type": "message",
        "model": f"answered-{model}",
        "content": [{"type": "text", "text": text}],
        "usage": usage,
    }


def _sse(obj: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    data = obj if isinstance(obj, str) else json.dumps(obj)
    return f"{head}data: {data}\n\n"


def _openai_events(model: str) -> list[str | None]:
    def chunk(delta: dict[str, Any]) -> str:
        return _sse(
            {"id": "chatcmpl-fake2", "model": f"answered-{model}", "choices": [{"delta": delta}]}
        )

    if model == "streamerror":
        return [
            chunk({"role": "assistant"}),
            _sse({"error": {"message": "Process exited"}}),
            _sse("[DONE]"),
        ]
    if model == "apierror":
        return [
            chunk({"role": "assistant"}),
            chunk({"content": "API Error: 500 boom"}),
            _sse("[DONE]"),
        ]
    out: list[str | None] = [": keep-alive\n\n", chunk({"role": "assistant", "content": ""})]
    for i, word in enumerate(WORDS):
        out += [None] if i else []
        out.append(chunk({"content": word + (" " if i < 2 else "")}))
    out += [
        _sse(
            {
                "id": "chatcmpl-fake2",
                "model": f"answered-{model}",
                "choices": [],
                "usage": OPENAI_USAGE,
            }
        ),
        _sse("[DONE]"),
    ]
    return out


def _anthropic_events(model: str) -> list[str | None]:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_fake2",
            "model": f"answered-{model}",
            "usage": ANTHROPIC_START_USAGE,
        },
    }
    if model == "streamerror":
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return [_sse(start, "message_start"), _sse(error, "error")]
    out: list[str | None] = [
        _sse(start, "message_start"),
        _sse({"type": "content_block_start", "index": 0}, "content_block_start"),
        _sse({"type": "ping"}, "ping"),
    ]
    for i, word in enumerate(WORDS):
        out += [None] if i else []
        delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": word}}
        out.append(_sse(delta, "content_block_delta"))
    out += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "usage": {"output_tokens": 3}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return out


@contextlib.contextmanager
def fake_proxy(key: str | None = None) -> Iterator[FakeProxy]:
    proxy = FakeProxy(key).start()
    try:
        yield proxy
    finally:
        proxy.stop()
