"""The logs request: ONE interface, ``open_log_stream`` -> ``LogBody`` (blocks of the raw body).

The Engine API's ``/containers/{id}/logs`` is asked for stdout and stderr in one request, with
timestamps and no follow: the engine reads its log file once (from the start even with
``since``; two requests would read it twice). ``since``/``until`` go to the engine as
``seconds.nanoseconds``: docker-py's public ``logs()`` converts them to a float, which loses
nanoseconds (a boundary line came back twice or not at all), and offers only a per-line
iterator (about half the engine's speed) or one blob in memory.

Two transports sit behind ``LogBody``:
- ``_SocketBody``: on a unix or plain TCP socket the request is our own HTTP/1.0 one. Go's
  net/http then sends the body as it is, ended by closing the connection, where on HTTP/1.1 it
  sends every log line as a chunk of its own for the reader to take apart. Each read takes
  whatever has arrived, with no socket timeout (so no poll() per read; ``_ReadWatch`` bounds a
  stalled engine instead).
- ``_ResponseBody``: over TLS or ssh, through a proxy, or when anything but a plain 200
  answers, docker-py makes the request and urllib3 reads (and de-chunks) the body.

Measured gain of our own HTTP/1.0 request, kept because it still shows: `claude-perf collect`
of one container's 1M lines into a fresh store, whole process, medians of 5 paired runs on a
2-core machine, 1M lines: wall 5.0 s against 10.6 s with docker-py's transport reading the same
request (median ratio of the pairs 0.62), CPU 2.46 s against 3.36 s (0.74), peak memory 74
against 77 MiB.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from claude_perf.durations import engine_timestamp

READ_BLOCK_BYTES = 1 << 20
# The body is parsed in blocks of about this size, read by read in between. The engine writes
# each line to the socket on its own, so the socket holds only a few hundred lines (about a
# millisecond of the engine's output) and a longer pause in reading stalls the engine: 32 KiB
# (~700 lines, well under a millisecond of parsing) measured ~10 % faster overall than 256 KiB.
BODY_BLOCK_BYTES = 32 << 10
# A reader that keeps up with the engine wakes for every few lines (1M lines: ~135,000 reads of
# ~340 bytes), and so does the engine's writer, each wake-up costing both CPU. After a read of
# less than SHORT_READ_BYTES the reader waits SHORT_READ_NAP_S, letting a few KiB gather (1M
# lines in ~9,000 reads): on 2 cores, with the engine and us sharing them, our CPU fell from 2.41
# to 2.09 s and the engine's from 3.63 to 3.38 s (medians of 6 alternating runs). The nap stays
# well under the time the engine takes to fill the socket: a unix socket took at most ~12.7 KiB
# of small frames (the engine's 208 KiB send buffer counts each write's kernel overhead too), a
# few hundred lines, about a millisecond of the engine's output. It is taken only when a read
# was short, so a reader that is behind never waits.
SHORT_READ_BYTES = 4 << 10
SHORT_READ_NAP_S = 0.0003


def read_blocks(raw: Any) -> Iterator[bytes]:
    while True:
        block = raw.read(READ_BLOCK_BYTES)
        if not block:
            return
        yield block


class _ReadWatch:
    """A read without a socket timeout that waits over ``idle_s`` is ended (socket shut down).

    A socket with a timeout costs a poll() before every recv(); on the bulk read of the logs
    the timeout is dropped and this thread keeps the same bound on a stalled engine.
    """

    def __init__(self, sock: socket.socket, idle_s: float) -> None:
        self.sock = sock
        self.idle_s = idle_s
        self.since: float | None = None  # when the current read began; None between reads
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claude-perf-read-watch")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self.idle_s / 4)):
            since = self.since
            if since is not None and time.monotonic() - since > self.idle_s:
                self.fired = True
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class LogBody:
    """The body of a logs response, read as blocks of bytes; ``close()`` ends the request."""

    def blocks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _ResponseBody(LogBody):
    """A response read by docker-py's transport (urllib3 undoes HTTP/1.1 chunking): TLS, ssh."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def blocks(self) -> Iterator[bytes]:
        return read_blocks(self.response.raw)

    def close(self) -> None:
        self.response.close()


class _SocketBody(LogBody):
    """An HTTP/1.0 response body on our own unix or plain TCP socket: delimited by the close.

    Each read takes whatever has arrived (up to READ_BLOCK_BYTES), without a socket timeout (no
    poll() per read; ``_ReadWatch`` bounds a stalled engine instead), and blocks of about
    BODY_BLOCK_BYTES are given. When the stream breaks, what arrived is given before the error.
    """

    def __init__(
        self, sock: socket.socket, first: bytes, length: int | None, timeout: float | None
    ) -> None:
        self.sock = sock
        self.first = first  # body bytes that came with the head
        self.length = length  # Content-Length, when the engine sent one
        self.timeout = timeout

    def blocks(self) -> Iterator[bytes]:
        sock, timeout = self.sock, self.timeout
        left = -1 if self.length is None else self.length  # body bytes to come; -1: unknown
        first = self.first if left < 0 else self.first[:left]
        left -= len(first) if left >= 0 else 0
        watch = _ReadWatch(sock, timeout) if timeout else None
        sock.settimeout(None)
        buf = bytearray(max(READ_BLOCK_BYTES, len(first)))
        view = memoryview(buf)
        view[: len(first)] = first
        held = len(first)
        try:
            while left != 0:
                if held >= BODY_BLOCK_BYTES:
                    yield bytes(view[:held])
                    held = 0
                room = view[held:] if left < 0 else view[held : held + min(left, len(buf) - held)]
                if watch:
                    watch.since = time.monotonic()
                got = sock.recv_into(room)
                if watch:
                    watch.since = None
                if not got:
                    break
                held += got
                if left > 0:
                    left -= got
                if got < SHORT_READ_BYTES:
                    time.sleep(SHORT_READ_NAP_S)
            if held:
                yield bytes(view[:held])
            if watch and watch.fired:
                raise TimeoutError(f"the engine sent nothing for {timeout:g} s")
            if left > 0:
                raise ConnectionError("the engine ended the log stream before its end")
        finally:
            view.release()
            if watch:
                watch.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# The docker-py internals this module reaches for, none of them public API: APIClient._url (the
# versioned URL), ._get and ._raise_for_status (the request made by docker-py's transport, with
# its errors), ._general_configs["HttpHeaders"] (the user's config.json headers), and
# docker.transport.UnixHTTPAdapter.socket_path (where the unix socket is). No public call does
# the same: APIClient.logs() turns since/until into floats and gives lines or one blob. Read in
# the docker-py 7.1.0 and 7.2.0 sources and run on 7.2.0; tests/test_collector_parse.py fails
# with a clear message for a docker-py outside this range (pyproject asks for docker>=7.1).
DOCKER_PY_CHECKED = ((7, 1), (7, 2))  # first and last minor version checked

_HEAD_MAX = 64 << 10


def _engine_address(api: Any) -> tuple[str, Any, str] | None:
    """("unix", path, Host header) or ("tcp", (host, port), Host header) of an engine we may
    ask over our own socket; None otherwise.

    TLS, ssh, a Windows named pipe, or a proxy in between (requests honours ``HTTP_PROXY``)
    leave the request to docker-py's transport.
    """
    from docker.transport import UnixHTTPAdapter

    base = str(getattr(api, "base_url", ""))
    try:
        adapter = api.get_adapter(base)
    except Exception:  # no adapter for this scheme: not ours to take
        return None
    if isinstance(adapter, UnixHTTPAdapter):
        return "unix", str(adapter.socket_path), "localhost"
    if base.startswith("http://"):
        import requests.utils

        if getattr(api, "trust_env", True) and requests.utils.get_environ_proxies(base):
            return None
        parts = urllib.parse.urlsplit(base)
        if parts.hostname is None:
            return None
        return "tcp", (parts.hostname, parts.port or 80), parts.netloc
    return None


def _read_head(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, bytes]:
    """(status, headers, body bytes read with them) of the response on ``sock``."""
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(data) > _HEAD_MAX:
            raise ConnectionError("the engine's response head is over 64 KiB")
        got = sock.recv(_HEAD_MAX)
        if not got:
            raise ConnectionError("the engine closed the connection before answering")
        data += got
    status_line, _, header_lines = data[:end].partition(b"\r\n")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response from the engine: {status_line[:80]!r}")
    try:
        headers = http.client.parse_headers(io.BytesIO(header_lines + b"\r\n\r\n"))
    except http.client.HTTPException as exc:  # e.g. over 100 header lines
        raise ConnectionError(f"the engine's response head is malformed ({exc!r})") from exc
    return int(parts[1]), headers, data[end + 4 :]


def _open_socket_body(api: Any, url: str, params: Mapping[str, Any]) -> LogBody | None:
    """The logs body over an HTTP/1.0 request on our own socket; None to leave it to docker-py.

    Go's net/http answers an HTTP/1.0 request without chunked transfer coding (it may not use
    it for a 1.0 client, RFC 9112 section 6.1), ending the body by closing the connection: the
    engine then writes the frames as they are, and the reader has no chunk framing to undo
    (on HTTP/1.1 every log line is a chunk of its own). Any answer but a 200 with a plain body
    (an error, a chunked or compressed body from something in between) is closed and the
    request made again through docker-py, which raises its usual errors.
    """
    address = _engine_address(api)
    if address is None:
        return None
    kind, where, host = address
    timeout = api.timeout if isinstance(api.timeout, int | float) else None
    try:
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with _closed_on_error(sock):
                sock.settimeout(timeout)
                sock.connect(where)
        else:
            sock = socket.create_connection(where, timeout)
    except OSError:
        return None  # docker-py connects again and reports the failure its own way
    with _closed_on_error(sock):
        headers = {"Host": host, **dict(api.headers), "Accept-Encoding": "identity"}
        headers.update(getattr(api, "_general_configs", {}).get("HttpHeaders") or {})
        headers.pop("Connection", None)
        target = urllib.parse.urlsplit(url).path + "?" + urllib.parse.urlencode(params)
        request = f"GET {target} HTTP/1.0\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        sock.sendall(request.encode("latin-1") + b"\r\n")
        status, head, first = _read_head(sock)
        coding = str(head.get("Transfer-Encoding") or "identity").lower()
        encoding = str(head.get("Content-Encoding") or "identity").lower()
        if status != 200 or coding != "identity" or encoding != "identity":
            sock.close()
            return None
        length = head.get("Content-Length")
        return _SocketBody(sock, first, int(length) if length else None, timeout)


@contextlib.contextmanager
def _closed_on_error(sock: socket.socket) -> Iterator[None]:
    try:
        yield
    except BaseException:
        sock.close()
        raise


def open_log_stream(
    api: Any, container_id: str, since_ns: int | None, until_ns: int | None
) -> LogBody:
    """The logs response (stdout+stderr, timestamps, no follow), ns-exact bounds."""
    params: dict[str, Any] = {
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": 0,  # a streamed response follows unless told not to
        "tail": "all",
    }
    if since_ns:
        params["since"] = engine_timestamp(since_ns)
    if until_ns:
        params["until"] = engine_timestamp(until_ns)
    url = api._url("/containers/{0}/logs", container_id)
    body = _open_socket_body(api, url, params)
    if body is not None:
        return body
    # docker-py's public logs() turns since/until into floats (nanoseconds lost) and only offers
    # a per-line iterator or one blob; the low-level call keeps the bounds exact and lets us read
    # the body in blocks.
    response = api._get(url, params=params, stream=True)
    api._raise_for_status(response)
    return _ResponseBody(response)
