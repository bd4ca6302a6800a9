"""Collection from a live Docker Engine through the docker SDK: logs, resource samples, facts.

Logs are read from the Engine API's ``/containers/{id}/logs`` with stdout and stderr in ONE
request: without a TTY the engine multiplexes them into frames whose 8-byte header names the
stream (1 stdout, 2 stderr; Engine API "Attach" stream format), so every line's stream is known
while the engine reads its log file once (it reads the file from the start even with ``since``;
two requests would read it twice). We read that response ourselves and split the frames,
because docker-py's line iterator is about half the engine's speed and its blob mode holds
everything in memory. On a unix or plain TCP socket the request is our own HTTP/1.0 one: Go's
net/http then sends the body as it is, ended by closing the connection, where on HTTP/1.1 it
would send every log line as a chunk of its own for us to take apart; each read takes whatever
has arrived, with no socket timeout (so no poll() per read; ``_ReadWatch`` bounds a stalled
engine instead). Over TLS or ssh, or when anything but a plain 200 answers, docker-py makes the
request and urllib3 reads the body. The events request, which the engine holds open until its
``until``, runs alongside the log read. ``since``/``until`` go to the engine as
``seconds.nanoseconds``: docker-py converts them to a float, which loses nanoseconds (a boundary
line came back twice or not at all). Lines go to the store in batches, one transaction each,
keyed so that re-fetching never doubles a line; a writer thread stores a batch while the next
is read.

Samples are one-shot stats frames (``one_shot=True``, API 1.41+) with our own previous frame as
the earlier CPU reading, fetched for all containers at once each interval; older engines fall
back to ``stream=False`` (the engine's own two readings, 1-2 s per call) in threads.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import queue
import re
import signal
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_perf.config.schema import Collect
from claude_perf.durations import NS_PER_S, engine_timestamp, now_ns
from claude_perf.errors import EngineError, UsageError
from claude_perf.store.db import Store, store_path

DEFAULT_PATTERN = Collect().pattern  # declared in config.schema ([collect] pattern)
MIN_API_VERSION = "1.35"  # `until` on logs (docker-py refuses it below 1.35)
ONE_SHOT_API_VERSION = "1.41"
BATCH_LINES = 20_000
BATCH_BYTES = 8 << 20  # a batch is also cut after this much log text (long lines)
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
# Re-fetch this much before the cursor: stdout and stderr are stamped by separate copiers, so a
# line of one stream may reach the log file just after a later-stamped line of the other.
CURSOR_MARGIN_NS = 2 * NS_PER_S
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
_HEADER = struct.Struct(">BxxxL")
_STREAMS = {1: "stdout", 2: "stderr"}
_PROBE_ACTIONS = ("exec_create", "exec_start", "exec_die")

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)
INTERRUPTED_NOTE = "sampling was interrupted: the samples gathered so far are kept"
_LOGS_INTERRUPTED = "the log fetch was interrupted"


@dataclass(frozen=True)
class CollectRequest:
    """Everything `claude-perf collect` was asked to do."""

    containers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    compose_project: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    duration_s: float | None = None
    interval_s: float = 5.0
    store: Path | None = None
    context: str | None = None
    pattern: str = DEFAULT_PATTERN
    batch_lines: int = BATCH_LINES
    progress: Progress | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ContainerOutcome:
    """What one container gave."""

    id: str
    name: str
    lines_seen: int
    lines_new: int
    samples: int
    events_new: int
    notes: tuple[str, ...] = ()

    @property
    def lines_already(self) -> int:
        """Lines fetched again that the store already held (boundaries, overlaps)."""
        return self.lines_seen - self.lines_new


@dataclass(frozen=True)
class CollectOutcome:
    """What a collect stored."""

    store: Path
    containers: tuple[ContainerOutcome, ...]
    interrupted: bool = False
    notes: tuple[str, ...] = ()

    @property
    def gaps(self) -> tuple[str, ...]:
        """Notes on data the engine could not give (a container removed, a broken stream).

        These are recorded with the collect in the store, and a report over the same window
        lists them under data quality. An interrupted collect is not a gap: what it gathered is
        complete as far as it went, and the next collect carries on from there.
        """
        own = [n for n in self.notes if n != INTERRUPTED_NOTE]
        for c in self.containers:
            own += [
                n if c.name in n else f"{c.name}: {n}"
                for n in c.notes
                if not n.startswith(_LOGS_INTERRUPTED)
            ]
        return tuple(own)

    @property
    def lines_new(self) -> int:
        return sum(c.lines_new for c in self.containers)

    @property
    def lines_already(self) -> int:
        return sum(c.lines_already for c in self.containers)

    @property
    def samples(self) -> int:
        return sum(c.samples for c in self.containers)


# --------------------------------------------------------------------------- engine


def _engine_location(context_host: str | None = None) -> str:
    if context_host:
        return context_host
    host = os.environ.get("DOCKER_HOST")
    return f"DOCKER_HOST={host}" if host else "unix:///var/run/docker.sock (DOCKER_HOST is unset)"


def _is_permission_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, PermissionError) or "Permission denied" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def engine_error(exc: BaseException, context_host: str | None = None) -> EngineError:
    """One actionable line for an engine that cannot be used."""
    where = _engine_location(context_host)
    if _is_permission_error(exc):
        return EngineError(
            f"permission denied on the Docker Engine socket at {where}: add this user to the "
            "'docker' group (then log in again) or run as a user who may use the socket"
        )
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return EngineError(
        f"cannot reach the Docker Engine at {where}: {reason[:200]} "
        "(is dockerd running, and may this user use its socket?)"
    )


def connect(context: str | None = None, timeout_s: int = 120) -> Any:
    """A docker client for DOCKER_HOST (unix, tcp, ssh) or a docker context, checked by ping."""
    import docker
    from docker.errors import DockerException

    context_host = None
    try:
        if context:
            ctx = docker.ContextAPI.get_context(context)
            if ctx is None:
                raise EngineError(f"no docker context named '{context}' (see `docker context ls`)")
            context_host = f"context '{context}' ({ctx.Host})"
            client = docker.DockerClient(
                base_url=ctx.Host, tls=ctx.TLSConfig or False, timeout=timeout_s
            )
        else:
            client = docker.from_env(timeout=timeout_s)
        client.ping()
        version = str(client.api.api_version)
    except EngineError:
        raise
    except (DockerException, OSError) as exc:
        raise engine_error(exc, context_host) from exc
    except Exception as exc:  # requests/urllib3 errors carry the reason
        raise engine_error(exc, context_host) from exc
    try:
        check_api_version(version)
    except EngineError:
        client.close()
        raise
    return client


def check_api_version(version: str) -> None:
    """Refuse an Engine API older than MIN_API_VERSION (one clear line)."""
    if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
        raise EngineError(
            f"the Docker Engine API {version} is too old: claude-perf needs {MIN_API_VERSION} "
            "or newer (Docker 17.12+)"
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def running_names(client: Any) -> list[str]:
    """Names of the running containers, for error messages."""
    try:
        return sorted(c.name for c in client.containers.list())
    except Exception:  # a listing failure must not hide the original error
        return []


def _running_hint(client: Any) -> str:
    names = running_names(client)
    return f"running: {', '.join(names)}" if names else "no container is running"


def resolve_targets(client: Any, request: CollectRequest, pattern: str) -> list[Any]:
    """The containers to collect from, by name/id, label, compose project, or the pattern."""
    from docker.errors import APIError, NotFound

    targets: dict[str, Any] = {}
    try:
        for name in request.containers:
            try:
                container = client.containers.get(name)
            except NotFound as exc:
                raise EngineError(f"no container '{name}' ({_running_hint(client)})") from exc
            targets[container.id] = container
        label_filters = list(request.labels)
        if request.compose_project:
            label_filters.append(f"{COMPOSE_PROJECT_LABEL}={request.compose_project}")
        for label in label_filters:
            found = client.containers.list(all=True, filters={"label": label})
            if not found:
                raise EngineError(f"no container has the label {label} ({_running_hint(client)})")
            for container in found:
                targets[container.id] = container
        if targets:
            return sorted(targets.values(), key=lambda c: c.name)
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise UsageError(f"[collect] pattern '{pattern}' is not a valid regex: {exc}") from exc
        running = client.containers.list()
        matching = [
            c
            for c in running
            if regex.search(c.name)
            or any(regex.search(t) for t in (c.image.tags or []))
            or regex.search(str(c.attrs.get("Config", {}).get("Image", "")))
        ]
    except APIError as exc:
        raise EngineError(
            f"the Docker Engine refused to list containers: {exc.explanation}"
        ) from exc
    if len(matching) == 1:
        return matching
    names = sorted(c.name for c in running)
    listing = ", ".join(names) if names else "none"
    if not matching:
        raise EngineError(
            f"no running container's name or image matches '{pattern}'; choose one with "
            f"--container NAME (running: {listing})"
        )
    raise EngineError(
        f"{len(matching)} running containers match '{pattern}' "
        f"({', '.join(sorted(c.name for c in matching))}); choose with --container NAME"
    )


# --------------------------------------------------------------------------- facts and events


def _iso_or_none(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value


def _seconds(value: Any) -> float | None:
    return value / NS_PER_S if isinstance(value, int | float) and value else None


def container_facts(attrs: Mapping[str, Any], cgroup_version: str | None) -> dict[str, Any]:
    """The facts dict of ``claude_perf.ingest.session`` from ``docker inspect`` output."""
    state = attrs.get("State") or {}
    host = attrs.get("HostConfig") or {}
    config = attrs.get("Config") or {}
    check = config.get("Healthcheck") or {}
    test = check.get("Test")
    health_config = None
    if test and test != ["NONE"]:
        health_config = {
            "test": list(test),
            "interval_s": _seconds(check.get("Interval")),
            "timeout_s": _seconds(check.get("Timeout")),
            "retries": check.get("Retries"),
            "start_period_s": _seconds(check.get("StartPeriod")),
        }
    probes = ((state.get("Health") or {}).get("Log")) or []
    return {
        "id": attrs.get("Id"),
        "name": str(attrs.get("Name") or "").lstrip("/"),
        "image": config.get("Image"),
        "created": _iso_or_none(attrs.get("Created")),
        "started_at": _iso_or_none(state.get("StartedAt")),
        "finished_at": _iso_or_none(state.get("FinishedAt")),
        "status": state.get("Status"),
        "restart_count": attrs.get("RestartCount"),
        "oom_killed": bool(state.get("OOMKilled")),
        "exit_code": state.get("ExitCode"),
        "health_status": (state.get("Health") or {}).get("Status"),
        "mem_limit_bytes": host.get("Memory") or None,
        "nano_cpus": host.get("NanoCpus") or None,
        "cpu_quota": host.get("CpuQuota") or None,
        "cpu_period": host.get("CpuPeriod") or None,
        "health_config": health_config,
        "health_log": [
            {
                "start": p.get("Start"),
                "end": p.get("End"),
                "exit_code": p.get("ExitCode"),
                "output": str(p.get("Output") or "")[:200],
            }
            for p in probes
        ],
        "tty": bool(config.get("Tty")),
        "cgroup_version": cgroup_version,
    }


def engine_events(
    client: Any, container_id: str, since_s: int, until_s: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """(time_ns, action, attributes) of a container's events in [since, until], probes left out.

    Health probes appear as exec_create/exec_start/exec_die events, one of each per probe; the
    probes themselves come from inspect's Health log, so those are not stored.
    """
    out = []
    stream = client.events(
        since=since_s, until=until_s, filters={"container": container_id}, decode=True
    )
    try:
        for event in stream:
            action = str(event.get("Action") or event.get("status") or "")
            if event.get("Type", "container") != "container" or action.startswith(_PROBE_ACTIONS):
                continue
            time_ns = event.get("timeNano") or int(event.get("time", 0)) * NS_PER_S
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            keep = {k: v for k, v in attributes.items() if k in ("exitCode", "signal", "name")}
            out.append((int(time_ns), action, keep))
    finally:
        with contextlib.suppress(Exception):
            stream.close()
    return out


# --------------------------------------------------------------------------- logs


def _ts_ns(stamp: bytes, cache: dict[bytes, int]) -> int:
    """Engine log timestamp (RFC3339NanoFixed, UTC) as ns; the seconds part is cached."""
    if len(stamp) == 30 and stamp[19:20] == b"." and stamp[29:30] == b"Z":
        head = stamp[:19]
        base = cache.get(head)
        if base is None:
            from claude_perf.durations import parse_instant_ns

            base = parse_instant_ns(head.decode("ascii") + "Z")
            cache[head] = base
        return base + int(stamp[20:29])
    from claude_perf.durations import parse_instant_ns

    return parse_instant_ns(stamp.decode("ascii", "replace"))


def iter_log_frames(raw: Any, tty: bool) -> Iterator[tuple[int, bytes]]:
    """(stream id, payload) from the logs response body, read in large blocks.

    Without a TTY each frame is ``[stream, 0, 0, 0, size (big-endian u32)]`` + payload (one log
    message); with a TTY the body is the raw text, reported as stdout line by line.
    """
    return _frames_of_blocks(_read_blocks(raw), tty)


def _frames_of_blocks(blocks: Iterable[bytes], tty: bool) -> Iterator[tuple[int, bytes]]:
    pending = b""
    for block in blocks:
        buf = pending + block if pending else block
        if tty:
            cut = buf.rfind(b"\n") + 1
            for line in buf[:cut].splitlines(keepends=True):
                yield 1, _join_tty_partials(line) if len(line) > _TTY_PARTIAL_MIN else line
            pending = buf[cut:]
            continue
        pos, size_all = 0, len(buf)
        unpack = _HEADER.unpack_from
        while pos + 8 <= size_all:
            kind, size = unpack(buf, pos)
            end = pos + 8 + size
            if end > size_all:
                break
            yield kind, buf[pos + 8 : end]
            pos = end
        pending = buf[pos:]
    if pending and tty:
        yield 1, _join_tty_partials(pending) if len(pending) > _TTY_PARTIAL_MIN else pending


# With a TTY there are no frames, so a message over 16 KiB (which the engine logs as 16 KiB
# partial messages, each with its own timestamp) arrives as one line with the later parts'
# timestamps inside it, exactly 16 KiB of text apart. They are taken out here, so the line is
# joined under its first timestamp as without a TTY.
_PARTIAL_BYTES = 16 * 1024
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
_STAMP_LEN = 31  # RFC3339NanoFixed and the space
_TTY_PARTIAL_MIN = _STAMP_LEN + _PARTIAL_BYTES


def _join_tty_partials(line: bytes) -> bytes:
    if not _STAMP.match(line):
        return line
    parts = [line[: _STAMP_LEN + _PARTIAL_BYTES]]
    pos = _STAMP_LEN + _PARTIAL_BYTES
    while _STAMP.match(line, pos):
        start = pos + _STAMP_LEN
        parts.append(line[start : start + _PARTIAL_BYTES])
        pos = start + _PARTIAL_BYTES
    parts.append(line[pos:])
    return b"".join(parts)


def parse_log_lines(frames: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, str, str]]:
    """(ts_ns, stream, text) per line from timestamped log frames.

    A message over 16 KiB arrives as several partial messages, each with its own timestamp and
    only the last ending in a newline: they are joined into one line with the first timestamp.
    """
    cache: dict[bytes, int] = {}
    partial: dict[int, tuple[int, bytes]] = {}
    for kind, payload in frames:
        space = payload.find(b" ")
        if space < 0:
            # A message without a timestamp: cannot happen with timestamps=1; keep nothing
            # rather than invent a time.
            continue
        ts = _ts_ns(payload[:space], cache)
        body = payload[space + 1 :]
        if kind in partial:
            first_ts, head = partial.pop(kind)
            ts, body = first_ts, head + body
        if not body.endswith(b"\n"):
            partial[kind] = (ts, body)
            continue
        yield ts, _STREAMS.get(kind, "stdout"), body.rstrip(b"\r\n").decode("utf-8", "replace")
    for kind, (ts, body) in partial.items():  # the stream ended inside a message
        yield ts, _STREAMS.get(kind, "stdout"), body.rstrip(b"\r\n").decode("utf-8", "replace")


def _read_blocks(raw: Any) -> Iterator[bytes]:
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
        return _read_blocks(self.response.raw)

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


# Fields of a usual frame, in one unpack: the header (stream, 3 zero bytes, big-endian payload
# size; Engine API "Attach" stream format), then the timestamp RFC3339NanoFixed as the engine
# writes it with timestamps=1: "2006-01-02T15:04:05." (its seconds, the cache key), the nine
# digits of nanoseconds, and "Z " before the text.
_FRAME_START = struct.Struct(">BxxxL20s9sH")
_FRAME_START_LEN = _FRAME_START.size  # 39
_Z_SPACE = 0x5A20  # b"Z " as the big-endian u16
# Stream names by the header's stream byte (1 stdout, 2 stderr; none for anything else).
_STREAM_NAMES: tuple[str | None, ...] = tuple(_STREAMS.get(kind) for kind in range(256))
_SECONDS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.")


class FrameParser:
    """(ts_ns, stream, text) rows from the multiplexed log stream (no TTY), block by block.

    The same result as ``parse_log_lines(iter_log_frames(...))`` with less work per line: one
    unpack reads a frame's header and timestamp fields, the seconds of the timestamp are parsed
    once per second of log, the text of an ASCII block is decoded once for the whole block and
    sliced, and rows go straight into the caller's list. A frame that is not the usual complete
    line (a partial message of a line over 16 KiB, a line ending in CR LF, an unknown stream,
    another timestamp form) takes the general path.
    """

    def __init__(self) -> None:
        self.pending = b""  # the start of a frame cut by the end of the last block
        self.cache: dict[bytes, int] = {}
        self.partial: dict[int, tuple[int, bytes]] = {}
        self.second = b""  # the seconds part of the last usual frame's timestamp ...
        self.second_ns = 0  # ... as ns

    def feed(self, block: bytes, rows: list[tuple[int, str, str]]) -> None:
        buf = self.pending + block if self.pending else block
        unpack = _FRAME_START.unpack_from
        append = rows.append
        names = _STREAM_NAMES
        partial = self.partial
        last, base = self.second, self.second_ns
        size_all = len(buf)
        # In an ASCII block (the frame headers of lines under 128 bytes are ASCII too) byte and
        # character offsets agree: one decode for the block, then a slice per line.
        text = buf.decode("ascii") if buf.isascii() else None
        has_cr = b"\r" in buf
        pos = 0
        limit = size_all - _FRAME_START_LEN  # a usual frame is longer: the rest waits or is cut
        while pos <= limit:
            kind, size, second, nanos, z_space = unpack(buf, pos)
            end = pos + 8 + size
            if end > size_all:
                break
            stream = names[kind]
            # "2006-01-02T15:04:05.999999999Z text\n": 31 bytes before the text
            if (
                z_space == _Z_SPACE
                and size > 31
                and buf[end - 1] == 10
                and stream is not None
                and not (has_cr and buf[end - 2] == 13)
                and not partial
                and (second == last or self._second_ns(second) is not None)
            ):
                if second != last:
                    last, base = second, self.cache[second]
                append(
                    (
                        base + int(nanos),
                        stream,
                        text[pos + 39 : end - 1]
                        if text is not None
                        else buf[pos + 39 : end - 1].decode("utf-8", "replace"),
                    )
                )
            else:
                self._general(kind, buf[pos + 8 : end], rows)
            pos = end
        while pos + 8 <= size_all:  # frames too short to be usual lines, at the end of the block
            kind, size = _HEADER.unpack_from(buf, pos)
            end = pos + 8 + size
            if end > size_all:
                break
            self._general(kind, buf[pos + 8 : end], rows)
            pos = end
        self.pending = buf[pos:]
        self.second, self.second_ns = last, base

    def _second_ns(self, second: bytes) -> int | None:
        """``2006-01-02T15:04:05.`` as ns, kept in the cache; None for anything else."""
        base = self.cache.get(second)
        if base is None and _SECONDS.fullmatch(second):
            base = self.cache[second] = _ts_ns(second + b"000000000Z", self.cache)
        return base

    def _general(self, kind: int, payload: bytes, rows: list[tuple[int, str, str]]) -> None:
        space = payload.find(b" ")
        if space < 0:
            return  # no timestamp: cannot happen with timestamps=1; invent no time
        ts = _ts_ns(payload[:space], self.cache)
        body = payload[space + 1 :]
        if kind in self.partial:
            first_ts, head = self.partial.pop(kind)
            ts, body = first_ts, head + body
        if not body.endswith(b"\n"):
            self.partial[kind] = (ts, body)
            return
        rows.append(
            (ts, _STREAMS.get(kind, "stdout"), body.rstrip(b"\r\n").decode("utf-8", "replace"))
        )

    def finish(self, rows: list[tuple[int, str, str]]) -> None:
        """The stream ended: a message cut off inside is kept as it is."""
        for kind, (ts, body) in self.partial.items():
            rows.append(
                (ts, _STREAMS.get(kind, "stdout"), body.rstrip(b"\r\n").decode("utf-8", "replace"))
            )
        self.partial.clear()


def collect_logs(
    api: Any,
    store: Store,
    key: int,
    container_id: str,
    tty: bool,
    since_ns: int | None,
    until_ns: int | None,
    batch_lines: int,
    progress: Progress | None = None,
) -> tuple[int, int, list[str]]:
    """Fetch a container's logs from the stored cursor on; returns (seen, new, notes)."""
    cursor = store.cursor(key)
    asked = since_ns or 0
    start = asked
    if cursor is not None and cursor.from_ns <= asked <= cursor.log_ts_ns + 1:
        start = max(asked, cursor.log_ts_ns - CURSOR_MARGIN_NS)
    elif cursor is not None and cursor.from_ns <= asked:
        start = asked  # after the covered range: a new stretch
    notes: list[str] = []
    body = open_log_stream(api, container_id, start or None, until_ns)
    # A writer thread stores batches while this one reads the engine's stream, so the engine
    # never waits for SQLite; the queue bound keeps memory at a few batches.
    batches: queue.Queue[list[tuple[int, str, str]] | None] = queue.Queue(maxsize=4)
    totals = {"seen": 0, "new": 0}
    failure: list[BaseException] = []

    def write() -> None:
        while True:
            batch = batches.get()
            if batch is None:
                return
            if failure:
                continue  # drain: the reader stops at its next put
            try:
                totals["new"] += store.add_lines(key, batch, start)
                totals["seen"] += len(batch)
            except BaseException as exc:
                failure.append(exc)
            if progress:
                progress("logs", totals["seen"], None)

    writer = threading.Thread(target=write, name="claude-perf-store-writer", daemon=True)
    writer.start()
    rows: list[tuple[int, str, str]] = []
    read = 0
    try:
        if tty:
            for row in parse_log_lines(_frames_of_blocks(body.blocks(), tty)):
                rows.append(row)
                if len(rows) >= batch_lines:
                    read += len(rows)
                    batches.put(rows)
                    rows = []
                    if failure:
                        break
        else:
            parser = FrameParser()
            unread = 0  # body bytes parsed into ``rows``
            for block in body.blocks():
                unread += len(block)
                parser.feed(block, rows)
                if len(rows) >= batch_lines or unread >= BATCH_BYTES:
                    read += len(rows)
                    batches.put(rows)
                    rows, unread = [], 0
                    if failure:
                        break
            else:
                if parser.pending:
                    # An HTTP/1.0 body ends when the connection closes, so a stream cut short
                    # shows only here, as a frame left unfinished (the lines before it stay).
                    raise ConnectionError("the engine ended the log stream inside a frame")
                parser.finish(rows)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see _sigterm_as_interrupt)
        notes.append(
            f"{_LOGS_INTERRUPTED} after {read + len(rows)} line(s): what arrived is kept, "
            "collect again to complete it"
        )
    except Exception as exc:  # the engine dropped the stream (container removed, engine stopped)
        notes.append(
            f"the log stream broke after {read + len(rows)} line(s) ({type(exc).__name__}); "
            "what arrived is kept, collect again to complete it"
        )
    finally:
        # Everything read is stored before returning, even when interrupted: a second Ctrl-C
        # while the writer finishes is ignored here (the writer thread cannot be stopped
        # half-way safely; each batch is one transaction anyway).
        _put_and_join(batches, None if failure or not rows else rows, writer)
        with contextlib.suppress(Exception):
            body.close()
    if failure:
        raise failure[0]
    seen, new = totals["seen"], totals["new"]
    return seen, new, notes


def _put_and_join(
    batches: queue.Queue[list[tuple[int, str, str]] | None],
    rows: list[tuple[int, str, str]] | None,
    writer: threading.Thread,
) -> None:
    pending: list[list[tuple[int, str, str]] | None] = [rows, None] if rows else [None]
    while pending or writer.is_alive():
        try:
            while pending:
                batches.put(pending[0])
                pending.pop(0)
            writer.join()
        except KeyboardInterrupt:
            continue


# --------------------------------------------------------------------------- samples


def _read_frame(api: Any, container_id: str, one_shot: bool) -> dict[str, Any]:
    if one_shot:
        frame: dict[str, Any] = api.stats(container_id, stream=False, one_shot=True)
    else:
        frame = api.stats(container_id, stream=False)
    return frame


def sample_containers(
    client: Any,
    store: Store,
    targets: Sequence[tuple[int, Any]],
    duration_s: float | None,
    interval_s: float,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    primed: tuple[float, dict[str, dict[str, Any]]] | None = None,
) -> tuple[dict[str, int], list[str], bool]:
    """Sample every target each interval (one sample without a duration).

    Returns (samples per container id, notes, interrupted). Ctrl-C (and SIGTERM, see
    ``_sigterm_as_interrupt``) stops after the rounds already stored. ``primed`` is (monotonic
    time, frames) read earlier as the first readings.
    """
    from docker.errors import APIError, NotFound

    from claude_perf.collect.stats import sample_row

    api = client.api
    one_shot = _version_tuple(str(api.api_version)) >= _version_tuple(ONE_SHOT_API_VERSION)
    live = {c.id: (key, c) for key, c in targets}
    counts = {c.id: 0 for _, c in targets}
    notes: list[str] = []
    previous: dict[str, dict[str, Any]] = {}
    rounds = max(1, round(duration_s / interval_s)) if duration_s else 1
    # Without a duration the one sample needs an earlier CPU reading: take it a second before.
    gap_s = interval_s if duration_s else min(interval_s, 1.0)
    interrupted = False

    def read_all(pool: ThreadPoolExecutor) -> dict[str, dict[str, Any]]:
        futures = {cid: pool.submit(_read_frame, api, cid, one_shot) for cid in live}
        frames = {}
        for cid, future in futures.items():
            try:
                frames[cid] = future.result()
            except NotFound:
                name = live[cid][1].name
                notes.append(
                    f"container {name} disappeared at {_now_iso()}: sampling stopped, "
                    f"{counts[cid]} sample(s) kept"
                )
            except APIError as exc:
                notes.append(f"stats of {live[cid][1].name} failed: {exc.explanation}")
        for cid in [c for c in live if c not in frames]:
            del live[cid]
        return frames

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(live)))) as pool:
        try:
            if one_shot and primed is not None:
                # frames read before the log pass: the pass itself was the gap
                previous = dict(primed[1])
                next_at = primed[0] + gap_s
            elif one_shot:
                previous = read_all(pool)
                next_at = time.monotonic() + gap_s
            else:
                next_at = time.monotonic()
            for done in range(rounds):
                if not live:
                    break
                delay = next_at - time.monotonic()
                if delay > 0 and (stop.wait(delay) if stop else _sleep(delay)):
                    interrupted = True
                    break
                next_at += interval_s
                frames = read_all(pool)
                batch = []
                for cid, frame in frames.items():
                    entry = live.get(cid)
                    if entry is None:
                        continue
                    key, container = entry
                    try:
                        row = sample_row(
                            frame,
                            previous.get(cid),
                            container_id=cid,
                            container_name=container.name,
                        )
                    except ValueError:  # a stopped container's frame has no read time: a gap
                        continue
                    batch.append((key, row))
                if batch:
                    store.add_samples(batch)
                    for key_and_row in batch:  # counted once committed
                        counts[key_and_row[1].container_id] += 1
                previous.update(frames)
                if progress:
                    progress("samples", done + 1, rounds)
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        notes.append(INTERRUPTED_NOTE)
    return counts, notes, interrupted


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _now_iso() -> str:
    from claude_perf.durations import from_ns
    from claude_perf.report.summary import iso

    return str(iso(from_ns(now_ns())))


# --------------------------------------------------------------------------- the whole collect


def collect(request: CollectRequest) -> CollectOutcome:
    """Resolve targets, then store facts, events, logs, and samples for each."""
    from docker.errors import APIError

    if request.interval_s <= 0:
        raise UsageError("--interval must be positive")
    if request.since_ns and request.until_ns and request.until_ns < request.since_ns:
        raise UsageError("--until is before --since")
    client = connect(request.context)
    try:
        targets = resolve_targets(client, request, request.pattern)
        return _collect_into_store(client, targets, request)
    except APIError as exc:
        raise EngineError(f"the Docker Engine refused: {exc.explanation or exc}") from exc
    except (ConnectionError, OSError) as exc:
        raise engine_error(exc) from exc
    finally:
        client.close()


def _collect_into_store(client: Any, targets: Sequence[Any], request: CollectRequest) -> Any:
    from docker.errors import APIError, NotFound

    with _sigterm_as_interrupt():
        try:
            cgroup = client.info().get("CgroupVersion")
        except APIError:
            cgroup = None
        cgroup_version = f"v{cgroup}" if cgroup else None
        path = store_path(request.store)
        with Store(path) as store:
            run_id = store.begin_collection(
                {
                    "containers": [c.name for c in targets],
                    "since_ns": request.since_ns,
                    "until_ns": request.until_ns,
                    "duration_s": request.duration_s,
                    "interval_s": request.interval_s,
                }
            )
            keyed: list[tuple[int, Any]] = []
            per: dict[str, dict[str, Any]] = {}
            for container in targets:
                key = store.save_container(container_facts(container.attrs, cgroup_version))
                keyed.append((key, container))
                per[container.id] = {"seen": 0, "new": 0, "events": 0, "notes": []}

            def pass_over(containers: Sequence[tuple[int, Any]]) -> bool:
                """One log pass over every target; False when it was interrupted."""
                try:
                    for key, container in containers:
                        if not fetch(key, container):
                            return False
                except KeyboardInterrupt:  # outside the log fetch (facts, events): stop here
                    return False
                return True

            def fetch(key: int, container: Any) -> bool:
                entry = per[container.id]
                try:
                    container.reload()
                except NotFound:
                    entry["notes"].append(
                        f"container {container.name} was removed during the collect; "
                        "what arrived before is kept"
                    )
                    return True
                store.save_container(container_facts(container.attrs, cgroup_version))
                created_s = int(_created_ns(container.attrs) // NS_PER_S)
                since_s = max(created_s, (request.since_ns or 0) // NS_PER_S)
                until_s = (request.until_ns or now_ns()) // NS_PER_S + 1
                # The engine holds an events request open until its `until` (up to a second
                # ahead), so the events are fetched while the logs are read, and stored after.
                events_pool = ThreadPoolExecutor(1, thread_name_prefix="claude-perf-events")
                events = events_pool.submit(engine_events, client, container.id, since_s, until_s)
                events_pool.shutdown(wait=False)
                tty = bool(container.attrs.get("Config", {}).get("Tty"))
                try:
                    seen, new, notes = collect_logs(
                        client.api,
                        store,
                        key,
                        container.id,
                        tty,
                        request.since_ns,
                        request.until_ns,
                        request.batch_lines,
                        request.progress,
                    )
                except NotFound:
                    store_events(key, entry, events)
                    entry["notes"].append(f"container {container.name} was removed")
                    return True
                except APIError as exc:
                    store_events(key, entry, events)
                    entry["notes"].append(f"logs unavailable: {exc.explanation}")
                    return True
                except BaseException:
                    with contextlib.suppress(Exception):
                        store_events(key, entry, events)
                    raise
                store_events(key, entry, events)
                entry["seen"] += seen
                entry["new"] += new
                entry["notes"] += notes
                return not any(n.startswith(_LOGS_INTERRUPTED) for n in notes)

            def store_events(key: int, entry: dict[str, Any], events: Any) -> None:
                try:
                    entry["events"] += store.add_events(key, events.result())
                except APIError as exc:
                    entry["notes"].append(f"events unavailable: {exc.explanation}")

            primed = None
            counts: dict[str, int] = {}
            sample_notes: list[str] = []
            if not request.duration_s:
                primed = _prime(client, keyed)  # the log pass serves as the CPU interval
            interrupted = not pass_over(keyed)
            if not interrupted:
                counts, sample_notes, interrupted = sample_containers(
                    client,
                    store,
                    keyed,
                    request.duration_s,
                    request.interval_s,
                    request.progress,
                    primed=primed,
                )
                # The lines logged while we sampled; after an interruption too, as Ctrl-C has
                # always done (the pass is short; a second SIGTERM ends the process at once).
                if request.duration_s and not pass_over(keyed):
                    interrupted = True
            outcomes = tuple(
                ContainerOutcome(
                    id=c.id,
                    name=c.name,
                    lines_seen=per[c.id]["seen"],
                    lines_new=per[c.id]["new"],
                    samples=counts.get(c.id, 0),
                    events_new=per[c.id]["events"],
                    notes=tuple(per[c.id]["notes"]),
                )
                for _, c in keyed
            )
            outcome = CollectOutcome(path, outcomes, interrupted, tuple(sample_notes))
            store.finish_collection(
                run_id,
                {
                    "lines_new": outcome.lines_new,
                    "lines_already": outcome.lines_already,
                    "samples": outcome.samples,
                    "notes": [*outcome.notes, *(n for c in outcomes for n in c.notes)],
                    "gaps": list(outcome.gaps),
                },
                interrupted,
            )
            return outcome


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While collecting, the first SIGTERM stops the collect as Ctrl-C does.

    ``kill`` (docs/ci.md stops a background ``collect --duration`` so) or a CI runner cancelling
    a step sends SIGTERM; by default Python dies at once, losing the final log pass and the
    record of the run. Here the first SIGTERM raises KeyboardInterrupt in the main thread, so
    the collect keeps what it gathered, records itself as interrupted and exits 0; the handler
    is then put back, so a second SIGTERM ends the process at once (every batch is one
    transaction: the store stays consistent either way). Only in the main thread, and only when
    nobody else (an embedding program) has set a SIGTERM handler.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _prime(client: Any, keyed: Sequence[tuple[int, Any]]) -> tuple[float, dict[str, Any]] | None:
    """One-shot frames of every target now, as the earlier CPU reading of a single sample."""
    if _version_tuple(str(client.api.api_version)) < _version_tuple(ONE_SHOT_API_VERSION):
        return None
    at = time.monotonic()
    frames = {}
    for _, container in keyed:
        with contextlib.suppress(Exception):  # a failure here only costs the primed reading
            frames[container.id] = _read_frame(client.api, container.id, True)
    return at, frames


def _created_ns(attrs: Mapping[str, Any]) -> int:
    from claude_perf.collect.stats import rfc3339_ns

    return rfc3339_ns(attrs.get("Created")) or 0
