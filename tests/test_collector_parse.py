"""The collector's log reading without an engine: frames, the HTTP/1.0 body, broken streams.

The engine's side is played over socket pairs and a loopback TCP server in threads, every wait
bounded; the real engine's answers are checked in ``test_collector_docker.py``.
"""

from __future__ import annotations

import contextlib
import io
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_perf.collect import logs, logstream
from claude_perf.collect.frames import FrameParser, iter_log_frames, parse_log_lines
from claude_perf.collect.logs import collect_logs
from claude_perf.collect.logstream import LogBody, _open_socket_body, _read_head, _SocketBody
from claude_perf.store.db import Store

HEAD_200 = b"HTTP/1.0 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"


def _frame(kind: int, payload: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: stream byte, 3 zero bytes, big-endian length."""
    return struct.pack(">BxxxL", kind, len(payload)) + payload


def _stamp(second: int, nanos: int) -> bytes:
    return b"2025-03-04T05:%02d:%02d.%09dZ " % (second // 60, second % 60, nanos)


def _general(body: bytes) -> list[tuple[int, str, str]]:
    return list(parse_log_lines(iter_log_frames(io.BytesIO(body), False)))


def _parsed(body: bytes, cuts: list[int]) -> list[tuple[int, str, str]]:
    parser = FrameParser()
    rows: list[tuple[int, str, str]] = []
    last = 0
    for cut in [*cuts, len(body)]:
        parser.feed(body[last:cut], rows)
        last = cut
    parser.finish(rows)
    return rows


def test_fast_path_equals_the_general_parser_on_mixed_frames() -> None:
    """ASCII and non-ASCII blocks, seconds changing, text lengths whose header bytes are >= 128
    or hold a newline (size 266 = 0x010a), tabs, quotes, CR LF, odd stamps, unknown streams."""
    rng = random.Random(7)
    frames = []
    for i in range(3000):
        kind = 1 + i % 2 if i % 97 else 3  # stream 3: unknown
        stamp = _stamp(i // 400, rng.randrange(10**9))
        length = rng.choice([0, 1, 5, 40, 127, 128, 200, 266 - 32, 700])
        text = bytes(rng.choice(b'abc \t"\\{}:xyz0123') for _ in range(length))
        if i % 211 == 5:
            text += "é ü".encode()
        if i % 307 == 9:
            text += b"\r"
        if i % 401 == 3:
            stamp = b"2025-03-04T05:06:08.5Z "  # trimmed nanoseconds
        frames.append(_frame(kind, stamp + text + b"\n"))
    body = b"".join(frames)
    expected = _general(body)
    assert len(expected) == 3000
    assert any(r[1] == "stdout" and "é" in r[2] for r in expected)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(body)), rng.choice([1, 3, 40, 400])))
        assert _parsed(body, cuts) == expected
    assert _parsed(body, list(range(1, len(body), 4096))) == expected
    assert _parsed(body, []) == expected


def test_short_frames_at_the_end_of_a_block() -> None:
    """Frames too short to be usual lines, also as the last bytes of a block."""
    body = b"".join(
        [
            _frame(1, _stamp(1, 1) + b"first\n"),
            _frame(1, b"no-stamp\n"),  # skipped: no space, so no time (none is invented)
            _frame(2, _stamp(1, 2) + b"\n"),  # an empty line: the shortest usual frame
            _frame(1, b"nospace"),
        ]
    )
    expected = _general(body)
    assert [r[1:] for r in expected] == [("stdout", "first"), ("stderr", "")]
    for cut in range(len(body) + 1):
        assert _parsed(body, [cut]) == expected


def _serve(sock: socket.socket, data: bytes, *, pause_after: int | None = None) -> threading.Thread:
    """Send ``data`` on ``sock`` from a thread (stopping after ``pause_after`` bytes), then close."""

    def run() -> None:
        with contextlib.suppress(OSError), sock:
            end = len(data) if pause_after is None else pause_after
            for pos in range(0, end, 50_000):
                sock.sendall(data[pos : min(end, pos + 50_000)])
            if pause_after is not None:
                time.sleep(1.5)  # stalled; the reader gives up before

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _socket_body(data: bytes, timeout: float = 10.0, **serve: Any) -> tuple[_SocketBody, Any]:
    ours, engine = socket.socketpair()
    ours.settimeout(timeout)
    thread = _serve(engine, data, **serve)
    status, head, first = _read_head(ours)
    assert status == 200
    length = head.get("Content-Length")
    return _SocketBody(ours, first, int(length) if length else None, timeout), thread


def test_socket_body_ends_when_the_engine_closes() -> None:
    payload = random.Random(1).randbytes(3 << 20)
    for body in (payload, b"short", b""):
        reader, thread = _socket_body(HEAD_200 + body)
        try:
            blocks = list(reader.blocks())
        finally:
            reader.close()
        thread.join(10)
        assert b"".join(blocks) == body
        assert all(len(b) <= logstream.READ_BLOCK_BYTES for b in blocks)


def test_socket_body_keeps_to_its_content_length() -> None:
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n"
    reader, thread = _socket_body(head + b"0123456789 and not this")
    with contextlib.closing(reader):
        assert b"".join(reader.blocks()) == b"0123456789"
    thread.join(10)
    # the connection closes before the length: what arrived, then a ConnectionError
    reader, thread = _socket_body(head + b"01234")
    got: list[bytes] = []
    with contextlib.closing(reader), pytest.raises(ConnectionError):
        for block in reader.blocks():
            got.append(block)
    thread.join(10)
    assert b"".join(got) == b"01234"


def test_socket_body_bounds_a_stalled_engine_and_keeps_what_arrived() -> None:
    data = HEAD_200 + b"first second"
    reader, thread = _socket_body(data, timeout=0.5, pause_after=len(data))
    got: list[bytes] = []
    started = time.monotonic()
    with contextlib.closing(reader), pytest.raises(TimeoutError):
        for block in reader.blocks():
            got.append(block)
    assert b"".join(got) == b"first second"
    assert 0.5 <= time.monotonic() - started < 5
    thread.join(10)


def test_read_head_refuses_what_is_not_an_http_answer() -> None:
    for data, message in (
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
        (b"HTTP/1.0 200 OK\r\nX: " + b"y" * (70 << 10), "over 64 KiB"),
        (b"HTTP/1.0 200 OK\r\n", "closed the connection"),
    ):
        ours, engine = socket.socketpair()
        ours.settimeout(10)
        thread = _serve(engine, data)
        with ours, pytest.raises(ConnectionError, match=message):
            _read_head(ours)
        thread.join(10)


@contextlib.contextmanager
def _tcp_engine(answer: bytes) -> Iterator[tuple[Any, list[bytes]]]:
    """A loopback TCP "engine" answering every request with ``answer``; yields (api, requests)."""
    import requests

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    port = server.getsockname()[1]
    seen: list[bytes] = []

    def run() -> None:  # one request, as each test makes
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    got = conn.recv(4096)
                    if not got:
                        break
                    data += got
                seen.append(data)
                conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    class Api:
        def __init__(self) -> None:
            self.base_url = f"http://127.0.0.1:{port}"
            self.timeout = 10
            self.trust_env = False
            self.headers = {"User-Agent": "claude-perf-test", "Connection": "keep-alive"}
            self._general_configs = {"HttpHeaders": {"X-Meta": "1"}}

        def get_adapter(self, url: str) -> Any:
            return requests.adapters.HTTPAdapter()

    try:
        yield Api(), seen
    finally:
        if not seen:  # no request came: let the accept end
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 5):
                pass
        thread.join(10)
        server.close()


def test_tcp_engine_is_asked_over_http_1_0_and_its_body_read_to_the_close() -> None:
    body = _frame(1, _stamp(0, 5) + b"over tcp\n")
    with _tcp_engine(HEAD_200 + body) as (api, seen):
        params = {"stdout": 1, "since": "1.000000002"}
        reader = _open_socket_body(api, f"{api.base_url}/v1.41/containers/abc/logs", params)
        assert isinstance(reader, _SocketBody)
        with contextlib.closing(reader):
            assert b"".join(reader.blocks()) == body
    request = seen[0].decode()
    assert request.startswith(
        "GET /v1.41/containers/abc/logs?stdout=1&since=1.000000002 HTTP/1.0\r\n"
    )
    assert "\r\nX-Meta: 1\r\n" in request and "Accept-Encoding: identity" in request
    assert "Connection" not in request


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
    ],
)
def test_any_other_answer_is_left_to_docker_py(answer: bytes) -> None:
    with _tcp_engine(answer) as (api, seen):
        assert _open_socket_body(api, f"{api.base_url}/v1.41/containers/abc/logs", {}) is None
    assert len(seen) == 1


def test_no_socket_of_our_own_for_tls_or_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with _tcp_engine(HEAD_200) as (api, seen):
        api.base_url = api.base_url.replace("http://", "https://")
        assert logstream._engine_address(api) is None
        api.base_url = api.base_url.replace("https://", "http://")
        api.trust_env = True
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert logstream._engine_address(api) is None
    assert not any(seen)  # no request (the empty one only ended the server's wait)


class _Body(LogBody):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def blocks(self) -> Iterator[bytes]:
        yield self.data[:100]
        yield self.data[100:]

    def close(self) -> None:
        pass


def test_a_stream_ending_inside_a_frame_is_a_break_and_keeps_the_lines_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HTTP/1.0 body ends with the connection: a cut-off frame is the only sign of a break."""
    whole = [_frame(1, _stamp(0, n) + b"line %d\n" % n) for n in range(50)]
    cut = _frame(2, _stamp(1, 0) + b"cut off\n")[:-4]
    for data, broke in ((b"".join(whole), False), (b"".join(whole) + cut, True)):
        monkeypatch.setattr(logs, "open_log_stream", lambda *a, _d=data: _Body(_d))
        with Store(tmp_path / f"{broke}.db") as store:
            key = store.save_container({"id": "c1", "name": "one"})
            seen, new, notes = collect_logs(None, store, key, "c1", False, None, None, 20)
            assert (seen, new) == (50, 50) and store.line_count(key) == 50
        assert any("log stream broke after 50 line(s)" in n for n in notes) is broke


def test_docker_py_internals_are_those_the_log_stream_was_checked_on() -> None:
    """logstream.py reaches into docker-py's private API; a docker-py outside the checked range
    must be checked again (see DOCKER_PY_CHECKED) before this test is widened."""
    import docker
    from docker.transport import UnixHTTPAdapter

    version = tuple(int(p) for p in docker.__version__.split(".")[:2])
    first, last = logstream.DOCKER_PY_CHECKED
    assert first <= version <= last, (
        f"docker-py {docker.__version__} is outside {first}..{last}, the range whose private "
        "API claude_perf/collect/logstream.py was checked on: check _url, _get, "
        "_raise_for_status, _general_configs and UnixHTTPAdapter.socket_path in its source, "
        "then widen DOCKER_PY_CHECKED"
    )
    api = docker.APIClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    try:  # nothing here connects: version is given, so no /version request is made
        assert api._url("/containers/{0}/logs", "abc").endswith("/v1.41/containers/abc/logs")
        assert callable(api._get) and callable(api._raise_for_status)
        assert isinstance(api._general_configs, dict)
        adapter = api.get_adapter(api.base_url)
        assert isinstance(adapter, UnixHTTPAdapter)
        assert adapter.socket_path == "/nonexistent/docker.sock"
        assert logstream._engine_address(api) == ("unix", "/nonexistent/docker.sock", "localhost")
    finally:
        api.close()
