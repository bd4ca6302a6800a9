"""`claude-perf load`'s network layer (load/wire.py): a record's times are when bytes arrived.

Known answers: chunks handed to the protocol at set clock values must come out of the stream
with those arrival times, whenever they are read; a whole answer sent in one write must be
recorded at its arrival even when reading it costs 0.1 s; https goes through the same streams
(a certificate made by openssl for the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from claude_perf.ingest.client_records import ClientRecord
from claude_perf.load import answers, driver, wire
from claude_perf.load.plan import build_plan
from claude_perf.load.run import run_load


class FakeTransport:
    def __init__(self) -> None:
        self.paused = False
        self.written: list[bytes] = []
        self.closed = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return {"peername": ("127.0.0.1", 9)}.get(name)


def a_stream(monkeypatch: pytest.MonkeyPatch, clock: list[int]) -> tuple[Any, Any, wire.Marks]:
    monkeypatch.setattr(wire.time, "perf_counter_ns", lambda: clock[0])
    inbox = wire._Inbox()
    transport = FakeTransport()
    inbox.connection_made(transport)  # type: ignore[arg-type]
    marks = wire.Marks()
    return wire.TimedStream(transport, inbox, marks), inbox, marks


def test_reads_carry_the_arrival_time_not_the_read_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100]
    stream, inbox, marks = a_stream(monkeypatch, clock)

    async def go() -> list[bytes]:
        await stream.write(b"POST / HTTP/1.1\r\n\r\n")  # the request starts at its first write
        clock[0] = 150
        await stream.write(b"body")  # a second write is the same request
        clock[0] = 200
        inbox.data_received(b"HTTP/1.1 200 OK\r\n")
        clock[0] = 300
        inbox.data_received(b"abcdef")
        clock[0] = 900  # read long after both arrived
        assert inbox.transport.written == []  # held until the request is whole
        got = [await stream.read(1024)]
        assert inbox.transport.written == [b"POST / HTTP/1.1\r\n\r\nbody"]  # one send
        assert (marks.started_ns, marks.first_ns, marks.last_ns) == (100, 200, 200)
        got.append(await stream.read(4))  # a chunk read in parts keeps its arrival
        got.append(await stream.read(4))
        assert (marks.first_ns, marks.last_ns) == (200, 300)
        clock[0] = 950
        inbox.eof_received()
        clock[0] = 999
        got.append(await stream.read(4))
        assert marks.last_ns == 950  # the end is when the EOF came
        return got

    assert asyncio.run(go()) == [b"HTTP/1.1 200 OK\r\n", b"abcd", b"ef", b""]
    assert stream.get_extra_info("is_readable") is True  # httpcore: a closed idle connection
    assert stream.get_extra_info("server_addr") == ("127.0.0.1", 9)


def test_a_reset_is_a_read_error_after_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [10]
    stream, inbox, marks = a_stream(monkeypatch, clock)

    async def go() -> None:
        inbox.data_received(b"partial")
        clock[0] = 20
        inbox.connection_lost(ConnectionResetError("reset by peer"))
        assert await stream.read(100) == b"partial"
        with pytest.raises(httpcore.ReadError, match="reset by peer"):
            await stream.read(100)
        assert (marks.first_ns, marks.last_ns) == (10, 20)
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"more")

    asyncio.run(go())


def test_reading_pauses_above_the_high_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    stream, inbox, _ = a_stream(monkeypatch, [1])

    async def go() -> None:
        for _ in range(5):
            inbox.data_received(b"x" * 64 * 1024)
        assert inbox.transport.paused  # 320 KiB unread > 256 KiB
        for _ in range(4):
            await stream.read(64 * 1024)
        assert inbox.transport.paused  # 64 KiB left: not below the low mark yet
        await stream.read(1)
        assert not inbox.transport.paused

    asyncio.run(go())


def test_a_read_waits_until_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    stream, _, _ = a_stream(monkeypatch, [1])

    async def go() -> None:
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(10, timeout=0.01)

    asyncio.run(go())


# --------------------------------------------------------------------------- end to end

_EVENTS = [b'data: {"choices":[{"delta":{"content":"w%d "}}]}\n\n' % i for i in range(5)]
_EVENTS.append(b"data: [DONE]\n\n")
_SSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_SSE += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _EVENTS) + b"0\r\n\r\n"
_JSON_BODY = b'{"id":"x","model":"m","choices":[{"message":{"content":"ok"}}]}'
_JSON = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(_JSON_BODY),
    _JSON_BODY,
)


@contextlib.contextmanager
def one_write_server() -> Iterator[str]:
    """Answers each request with its whole response in one send: it arrives as one chunk."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(_SSE if b'"stream": true' in body else _JSON)
                conn.recv(1)  # until the client closes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(10)


@pytest.mark.parametrize("stream", [True, False])
def test_slow_parsing_is_not_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    """Reading the answer costs 0.12 s (a stand-in for the other answers of a burst parsed
    first); the record's end is still the answer's arrival."""
    parse_s = 0.02 if stream else 0.12  # per event (6 events) or for the whole body
    slow = answers.Reading.event if stream else answers.Reading.body

    def slowly(self: answers.Reading, *args: Any) -> None:
        time.sleep(parse_s)
        slow(self, *args)

    monkeypatch.setattr(answers.Reading, "event" if stream else "body", slowly)
    with one_write_server() as url:
        plan = build_plan(
            url=url,
            models=["m"],
            requests=1,
            concurrency=1,
            stream_share="100%" if stream else "0%",
            timeout="10s",
        )
        began = time.perf_counter()
        outcome = run_load(plan, store=tmp_path / "s.db")
        took_s = time.perf_counter() - began
    (r,) = outcome.records
    assert r.ok, r.error
    assert took_s >= 0.12  # the parsing did happen
    assert r.latency_s < 0.1, r.latency_s  # but it is not in the record
    assert r.first_byte_ns == r.end_ns  # one chunk: the first and the last byte together
    if stream:
        assert r.chunks == 5 and r.first_token_ns == r.end_ns and r.chunk_gaps_s == (0.0,) * 4


def test_the_driver_transports_use_the_timed_backend() -> None:
    """httpx has no network-backend option; timed_transport replaces its pool: this must hold."""

    async def go() -> tuple[object, wire.Marks]:
        transport, marks = wire.timed_transport(httpx.create_ssl_context())
        async with httpx.AsyncClient(transport=transport) as client:
            resp = await client.post(url, content=b'{"stream": false}')
            return resp.extensions["network_stream"], marks

    with one_write_server() as url:
        network_stream, marks = asyncio.run(go())
    assert isinstance(network_stream, wire.TimedStream)
    assert marks.started_ns is not None and marks.first_ns is not None
    assert marks.started_ns < marks.first_ns == marks.last_ns


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl for this run only."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[str]:
    """The one-write server behind TLS (one connection)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            raw, _ = listener.accept()
            with context.wrap_socket(raw, server_side=True) as conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(_JSON)
                conn.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(10)


def drive_once(url: str, tmp_path: Path) -> ClientRecord:
    plan = build_plan(url=url, models=["m"], requests=1, concurrency=1, timeout="10s")
    (record,) = run_load(plan, store=tmp_path / "s.db").records
    return record


def test_https_through_the_timed_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, self_signed: tuple[Path, Path]
) -> None:
    cert, key = self_signed
    with tls_server(cert, key) as url:  # not trusted: the handshake refuses it, one line
        refused = drive_once(url, tmp_path)
    assert refused.error_class == "connect" and "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(driver.httpx, "create_ssl_context", lambda: trusting)
    with tls_server(cert, key) as url:
        r = drive_once(url, tmp_path)
    assert r.ok and r.status == 200, r.error
    assert r.start_ns < r.first_byte_ns <= r.end_ns  # type: ignore[operator]
