"""The driver's network layer under httpx: asyncio streams that note when each chunk arrived.

httpx and httpcore still do all the HTTP (h11) and httpx-sse the SSE; this module only replaces
httpcore's socket backend (anyio) with one on asyncio's own protocols, for two reasons measured
with benchmarks/load_bench.py:

- **Times taken where the bytes arrive.** When the answers of a burst arrive together, one core
  reads them in turns: a request's task resumes only after the tasks before it have parsed
  theirs, so a clock read in the task counts the other answers' parsing as this one's latency
  (p50 5-7 ms added to a 100 ms answer at concurrency 16). ``data_received`` runs in the loop's
  I/O phase, when the kernel hands over the bytes, before any task runs: the arrival time noted
  there is the first/last byte's, whatever the parsing after it costs.
- **Less work per request.** anyio's stream wraps every send and receive in cancel scopes and
  checkpoints (its ``send`` alone was the top entry of the driver's profile).

``Marks`` holds one request's times (``perf_counter_ns``): when it started (the connection
being opened, or its first byte written on a kept-alive one), the first chunk that arrived for
it and the latest chunk its reader has taken. One ``Marks`` per transport, as each transport
has one connection and one request at a time (driver.py).

Exceptions are httpcore's (``ConnectError``, ``ReadTimeout`` ...) as its own backends raise
them, so httpx maps them to its own as usual.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from typing import Any

import httpcore
import httpx

_HIGH_BYTES = 256 * 1024  # pause reading the socket beyond this much unread data
_LOW_BYTES = 64 * 1024  # and resume below this
_HOLD_BYTES = 64 * 1024  # writes are held up to this much until the first read


class Marks:
    """One request's times on its connection, in ``perf_counter_ns`` (None: not yet)."""

    __slots__ = ("first_ns", "last_ns", "open", "started_ns")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Before a request: nothing seen yet."""
        self.started_ns: int | None = None
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.open = False

    def begin(self, at_ns: int) -> None:
        """The request's first act on the wire (a connect, or else its first write)."""
        if not self.open:
            self.open, self.started_ns = True, at_ns

    def arrived(self, at_ns: int) -> None:
        """The reader took bytes (or the end) that arrived at ``at_ns``."""
        if self.first_ns is None:
            self.first_ns = at_ns
        self.last_ns = at_ns


class _Inbox(asyncio.Protocol):
    """Buffers what the socket delivers, each chunk with its arrival time."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.chunks: collections.deque[tuple[bytes, int]] = collections.deque()
        self.size = 0
        self.ended_ns: int | None = None  # EOF or connection lost
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append((data, time.perf_counter_ns()))
        self.size += len(data)
        if self.size > _HIGH_BYTES and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.ended_ns = time.perf_counter_ns()
        self._wake()
        return False  # close the transport: HTTP/1.1 here never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended_ns is None:
            self.ended_ns = time.perf_counter_ns()
        self.error = exc
        self._wake()
        self.writing_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self, max_bytes: int) -> tuple[bytes, int]:
        data, at_ns = self.chunks[0]
        if len(data) > max_bytes:
            self.chunks[0] = (data[max_bytes:], at_ns)
            data = data[:max_bytes]
        else:
            self.chunks.popleft()
        self.size -= len(data)
        if self.reading_paused and self.size < _LOW_BYTES:
            self.reading_paused = False
            if self.ended_ns is None:  # a closed transport has nothing to resume
                self.transport.resume_reading()
        return data, at_ns


class TimedStream(httpcore.AsyncNetworkStream):
    """One connection; every read notes its chunk's arrival in the transport's ``Marks``."""

    def __init__(self, transport: Any, inbox: _Inbox, marks: Marks) -> None:
        self._transport, self._inbox, self._marks = transport, inbox, marks
        self._pending: list[bytes] = []  # written, not yet handed to the transport
        self._pending_bytes = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        inbox = self._inbox
        if self._pending:  # the request is whole: send it before waiting for its answer
            self._send()
        if not inbox.chunks and inbox.ended_ns is None:
            inbox.waiter = asyncio.get_running_loop().create_future()
            try:
                await _within(inbox.waiter, timeout, httpcore.ReadTimeout)
            finally:
                inbox.waiter = None
        if inbox.chunks:
            data, at_ns = inbox.take(max_bytes)
            self._marks.arrived(at_ns)
            return data
        assert inbox.ended_ns is not None
        self._marks.arrived(inbox.ended_ns)
        if inbox.error is not None:
            raise httpcore.ReadError(inbox.error)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Held until the request's first read (or 64 KiB): httpcore writes the headers and
        the body apart, and each send on the loopback cost ~60 µs of this one core (profile)."""
        if not buffer:
            return
        inbox = self._inbox
        if inbox.error is not None or self._transport.is_closing():
            raise httpcore.WriteError(inbox.error or "the connection is closed")
        self._marks.begin(time.perf_counter_ns())
        self._pending.append(buffer)
        self._pending_bytes += len(buffer)
        if self._pending_bytes < _HOLD_BYTES:
            return
        self._send()
        if inbox.writing_paused:
            inbox.drained = asyncio.get_running_loop().create_future()
            try:
                await _within(inbox.drained, timeout, httpcore.WriteTimeout)
            finally:
                inbox.drained = None

    def _send(self) -> None:
        """Hand what is held to the transport in one write (it buffers what the socket takes
        later; a large request waits for it in write())."""
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._transport.write(data)

    async def aclose(self) -> None:
        self._pending.clear()
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self._transport, self._inbox, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(exc) from exc
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; said for the reader
            self._transport.close()
            raise httpcore.ConnectError(exc) from exc
        if tls is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._inbox.transport = tls
        return TimedStream(tls, self._inbox, self._marks)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # httpcore: an idle connection that is readable was closed
            return bool(self._inbox.chunks) or self._inbox.ended_ns is not None
        name = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return None if name is None else self._transport.get_extra_info(name)


class TimedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend of one transport: its connections share its Marks."""

    def __init__(self, marks: Marks) -> None:
        self.marks = marks

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.marks.begin(time.perf_counter_ns())
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                transport, inbox = await loop.create_connection(
                    _Inbox, host, port, local_addr=local
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return TimedStream(transport, inbox, self.marks)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        self.marks.begin(time.perf_counter_ns())
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, inbox = await loop.create_unix_connection(_Inbox, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        return TimedStream(transport, inbox, self.marks)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def timed_transport(tls: ssl.SSLContext) -> tuple[httpx.AsyncHTTPTransport, Marks]:
    """httpx's transport with a pool of one kept-alive connection on this backend, and the
    Marks it notes its request's times in.

    httpx has no option for a network backend: the transport's pool (``_pool``, the pool httpx
    builds from the same arguments) is replaced by one given the backend; a test checks that
    the records' times come from here (tests/test_load_wire.py).
    """
    marks = Marks()
    transport = httpx.AsyncHTTPTransport(verify=tls, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=tls,
        max_connections=1,
        max_keepalive_connections=1,
        # httpx's default (5 s): an idle connection older is not reused (Node closes its idle
        # ones after 5 s; a request sent as it closes would fail).
        keepalive_expiry=httpx.Limits().keepalive_expiry,
        network_backend=TimedBackend(marks),
    )
    return transport, marks


async def _within(
    future: asyncio.Future[None], timeout: float | None, error: type[Exception]
) -> None:
    """Wait for ``future``; past ``timeout`` seconds raise httpcore's ``error`` (its read or
    write timeout), as its own network backends do."""
    try:
        async with asyncio.timeout(timeout):
            await future
    except TimeoutError as exc:
        raise error(exc) from exc
