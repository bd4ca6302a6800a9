"""A gzip bomb written in a streamed way: 2 GiB of one line inflated from ~2 MB on disk.

One 1 MiB block of ``x`` is deflated once after a full flush (which resets the window, so every
copy deflates to the same bytes); the raw deflate stream is that block repeated, framed by a gzip
header and trailer (CRC-32 and size, RFC 1952) so it is a valid .gz that ``gzip -t`` accepts.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLOCK = b"x" * (1 << 20)


def write_bomb(path: Path, blocks: int = 2048, head: bytes = b"", tail: bytes = b"") -> int:
    """Write the bomb; returns its inflated size in bytes."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    head_raw = squeeze.compress(head) + squeeze.flush(zlib.Z_FULL_FLUSH)
    one = squeeze.compress(BLOCK) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(BLOCK, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + blocks * len(BLOCK) + len(tail)
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip, deflate, no name, mtime 0
        out.write(head_raw)
        for _ in range(blocks):
            out.write(one)
        out.write(squeeze.compress(tail) + squeeze.flush(zlib.Z_FINISH))
        out.write(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return size
