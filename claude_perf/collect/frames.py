"""The logs response body as (ts_ns, stream, text) rows.

Without a TTY the engine multiplexes stdout and stderr into frames whose 8-byte header names the
stream (1 stdout, 2 stderr; Engine API "Attach" stream format), so every line's stream is known
from one request. ``FrameParser`` is the fast path the collector uses; ``parse_log_lines`` over
``iter_log_frames`` is the general one (TTY bodies, and the reference the fast path is tested
against).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from claude_perf.collect.logstream import read_blocks

_HEADER = struct.Struct(">BxxxL")
_STREAMS = {1: "stdout", 2: "stderr"}


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
    return frames_of_blocks(read_blocks(raw), tty)


def frames_of_blocks(blocks: Iterable[bytes], tty: bool) -> Iterator[tuple[int, bytes]]:
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
