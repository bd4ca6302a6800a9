"""Bounded reading: an input's bytes, gunzipped as a stream, never more than the caps allow.

``read_bounded`` reads a file or stdin in blocks; a gzip stream (any member count) is inflated
with ``zlib.decompressobj(...).decompress(block, max_length)``, so one compressed block never
inflates to more than ``_BLOCK`` bytes at once (``gzip.decompress`` inflates the whole stream
into memory: a 2 MB bomb asked for 2 GB). Two caps from ``[limits]``:

- ``max_input_bytes``: the decompressed bytes of one input. Beyond it the input is refused with a
  one-line error (exit 2) naming the key, before more is read.
- ``max_line_bytes``: the bytes kept of one line. A longer line is cut there (its newline kept),
  the rest of it dropped as it streams by; such lines are counted and noted.

Lines within the caps come through byte for byte, so a file below them reads as before. The line
check jumps a window of ``max_line_bytes`` at a time (``bytes.rfind`` for the last newline in it),
so it costs a few calls per MiB, not one per line.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from claude_perf.config.schema import Limits
from claude_perf.errors import InputError

_BLOCK = 1024**2  # bytes read, and bytes inflated, per step
GZIP_MAGIC = b"\x1f\x8b"
DAMAGED_NOTE = "gzip stream is truncated or damaged; read what could be decompressed"


@dataclass(frozen=True)
class Bounded:
    """What was read of one input: its bytes (lines cut to the cap) and what to tell about it."""

    data: bytes
    notes: tuple[str, ...] = ()
    lines_cut: int = 0
    bytes_read: int = 0  # decompressed bytes seen, cut parts included


class _LineCap:
    """Copies blocks through, cutting every line to ``cap`` bytes (the state spans blocks)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.current = 0  # bytes of the current (unfinished) line already kept
        self.cutting = False  # the current line is over the cap: drop until its newline
        self.cut = 0
        self.parts: list[bytes] = []

    def _fits(self, block: bytes) -> bool:
        """No line in `block` (with the current line's start before it) goes over the cap."""
        first = block.find(b"\n", 0, self.cap - self.current + 1)
        if first == -1:
            return not self.cutting and self.current + len(block) <= self.cap
        if self.cutting:
            return False
        return not has_long_line(block, len(block), self.cap, first + 1)

    def feed(self, block: bytes) -> None:
        if self._fits(block):
            self.parts.append(block)
            last = block.rfind(b"\n")
            self.current = self.current + len(block) if last == -1 else len(block) - last - 1
            return
        pos = 0
        while pos < len(block):  # slow path: only blocks that hold a too-long line
            newline = block.find(b"\n", pos)
            end = len(block) if newline == -1 else newline
            room = 0 if self.cutting else self.cap - self.current
            keep = min(room, end - pos)
            if keep:
                self.parts.append(block[pos : pos + keep])
                self.current += keep
            if end - pos > keep and not self.cutting:
                self.cutting = True
                self.cut += 1
            if newline == -1:
                break
            self.parts.append(b"\n")
            self.current, self.cutting = 0, False
            pos = newline + 1

    def data(self) -> bytes:
        data = b"".join(self.parts)
        self.parts = []
        return data


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(_BLOCK):
        yield block


def _inflated(blocks: Iterator[bytes], notes: list[str]) -> Iterator[bytes]:
    """The decompressed stream of gzip members one after another, at most ``_BLOCK`` at a time;
    a stream that ends inside a member, or a damaged one, adds a note and keeps what inflated."""
    inflater = zlib.decompressobj(wbits=47)
    fed = False
    try:
        for block in blocks:
            pending = block
            while pending:
                fed = True
                out = inflater.decompress(pending, _BLOCK)
                if out:
                    yield out
                if inflater.eof:
                    pending = inflater.unused_data
                    inflater, fed = zlib.decompressobj(wbits=47), False
                    if pending and not pending.startswith(GZIP_MAGIC):
                        return  # trailing bytes after the last member: ignored, as gzip does
                else:
                    pending = inflater.unconsumed_tail
        while fed and not inflater.eof:  # what the last block still holds
            out = inflater.decompress(b"", _BLOCK)
            if not out:
                break
            yield out
        if fed and not inflater.eof:
            notes.append(DAMAGED_NOTE)
    except zlib.error:
        notes.append(DAMAGED_NOTE)


def _stream(first: bytes, handle: BinaryIO, notes: list[str]) -> Iterator[bytes]:
    """The input's bytes block by block, inflated when it starts with the gzip magic."""

    def raw() -> Iterator[bytes]:
        if first:
            yield first
        yield from _blocks(handle)

    return _inflated(raw(), notes) if first[:2] == GZIP_MAGIC else raw()


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic (False when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False


def read_bounded(path: str, limits: Limits | None = None) -> Bounded:
    """Read `path` (``-`` is stdin), gunzipping as it streams, within the caps of `limits`."""
    limits = limits or Limits()
    if path == "-":
        return _read_handle(sys.stdin.buffer, path, limits)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(
            f"{path}: is a directory; give a log file, or a session folder with manifest.json"
        )
    try:
        with p.open("rb") as handle:
            return _read_handle(handle, path, limits)
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _read_handle(handle: BinaryIO, path: str, limits: Limits) -> Bounded:
    notes: list[str] = []
    stream = _stream(handle.read(_BLOCK), handle, notes)
    cap = _LineCap(limits.max_line_bytes)
    total = 0
    for block in stream:
        total += len(block)
        if total > limits.max_input_bytes:
            raise InputError(
                f"{path}: holds more than {limits.max_input_bytes} bytes (decompressed); raise "
                "[limits] max_input_bytes in the config, or split the input"
            )
        cap.feed(block)
    notes = [f"{path}: {n}" for n in notes]
    if cap.cut:
        notes.append(
            f"{path}: {cap.cut} line(s) longer than {limits.max_line_bytes} bytes were cut to "
            "that length ([limits] max_line_bytes)"
        )
    return Bounded(cap.data(), tuple(notes), cap.cut, total)


def has_long_line(data: bytes | bytearray, end: int, cap: int, start: int = 0) -> bool:
    """Whether a line of data[start:end] (``start``: a line's first byte) holds more than
    ``cap`` bytes before its newline: it jumps ``cap`` bytes at a time to the last newline
    before there (``bytes.rfind``), so a few calls per MiB, however many lines."""
    pos = start
    while end - pos > cap:
        newline = data.rfind(b"\n", pos, pos + cap + 1)
        if newline == -1:
            return True
        pos = newline + 1
    return False


def cap_lines(data: bytes, limits: Limits | None = None) -> Bounded:
    """`data` with every line cut to ``max_line_bytes`` (no copy when none is longer)."""
    limits = limits or Limits()
    cap = _LineCap(limits.max_line_bytes)
    cap.feed(data)
    if not cap.cut:
        return Bounded(data, (), 0, len(data))
    return Bounded(cap.data(), (), cap.cut, len(data))


def read_side_file(path: str | Path, kind: str) -> bytes:
    """A small file beside the logs (a client, stats or health file), whole; a path that is
    missing, a folder or unreadable is one InputError naming it and the ``kind`` of file."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {kind} file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {kind} file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
