"""The classifier's steps over one part of the input, sharing the lines and what is known of them.

Each step claims the lines of its format (their kind) and adds their facts to the sparse
columns; a later step looks only at the lines no earlier step claimed (``test``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.columns import Coded, _Columns
from claude_perf.parse.formats import (
    _ANSI,
    _LEVEL_HEAD,
    _LOGURU,
    _MORGAN,
    _MORGAN_PREFIX,
    _PYLOG,
    _PYLOG_TAIL,
    _REQUEST_LINE,
    _UVICORN,
    K_ACCESS,
    K_BLANK,
    K_JSON,
    K_KV,
    K_LEVELED,
    K_OTHER,
    K_PATTERN,
    K_REQUEST,
)
from claude_perf.parse.heads import _HEAD_BYTES, _access_fields, _pylog_heads
from claude_perf.parse.text import (
    _coded,
    _durations,
    _durations_with_units,
    _extract,
    _field,
    _field_values,
    _first_bytes,
    _has_escape_byte,
    _line_lengths,
    _np_bool,
    _same,
    _slices,
    _status_codes,
    dashed_dates,
    read_head_stamps,
)
from claude_perf.runtime.parallel import kernel as _kernel
from claude_perf.runtime.parallel import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# The bytes a line must start with for a test to be true of it (supersets): the test's kernel
# then runs only on the lines that start with one, found by one numpy gather of every line's
# first byte, where an Arrow kernel costs about 30 ns a line even when it fails at once.
# Measured on one core, 500,000 lines of the generated 1M log, the steps using them (blank,
# access, uvicorn, morgan and JSON lines): see _Part.test.
_SPACE_FIRST = bytes(range(0x21)) + bytes(range(0x80, 0x100))  # any white space, ASCII or not
_UPPER_FIRST = bytes(range(ord("A"), ord("Z") + 1))
_MORGAN_FIRST = b"0123456789.:abcdef[]" + _UPPER_FIRST  # _MORGAN_PREFIX's first item

# Leveled lines grouped by what follows their asctime head: (rows, code per row, distinct tails)
Shared = tuple["np.ndarray", "np.ndarray", "pa.Array"]


_LEVEL_GROUPS = ("level", "lower", "colon")  # formats._LEVEL_HEAD's spellings of the level


class _Part:
    """One part of the input being classified: its text, times, kinds and sparse columns."""

    def __init__(self, lines: pa.Table) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = self.n = lines.num_rows
        column = lines.column("text")
        if not n:
            text = pa.array([], pa.large_string())
        elif column.num_chunks == 1:
            text = column.chunk(0)  # combine_chunks would copy even one chunk (97 MB at 1M lines)
        else:
            text = column.combine_chunks()
        if not pa.types.is_large_string(text.type):  # the byte-offset helpers read int64 offsets
            text = text.cast(pa.large_string())
        if n and _has_escape_byte(text):
            text = pc.replace_substring_regex(text, _ANSI, "")
        self.text = text
        self.first_byte = _first_bytes(text)  # -1: an empty line
        ts = lines.column("ts").cast(pa.int64()).fill_null(NAT_NS).to_numpy()
        self.ts_ns = np.asarray(ts, dtype=np.int64)
        self.kind = np.full(n, K_OTHER, dtype=np.int8)
        self.unassigned = np.ones(n, dtype=bool)
        self.cols = _Columns(n)
        self.message_rows = np.zeros(n, dtype=bool)  # whole lines that get the field extractors
        self.error = np.zeros(n, dtype=bool)  # lines of the user's patterns of role "error"

    def claim(self, rows: np.ndarray, code: int) -> None:
        self.kind[rows] = code
        self.unassigned[rows] = False

    def test(self, fn: Any, *args: Any, first: bytes | None = None) -> np.ndarray:
        """fn over the lines not yet classified (a subset when that is cheaper); ``first``: the
        bytes a line must start with for fn to be true of it (the others are not looked at)."""
        import numpy as np
        import pyarrow as pa

        if not self.n:
            return self.unassigned.copy()
        mask = self.unassigned
        if first is not None:
            allowed = np.zeros(257, dtype=bool)  # index -1 (an empty line): the last, False
            allowed[list(first)] = True
            mask = mask & allowed[self.first_byte]
        rows = np.flatnonzero(mask)
        if len(rows) > self.n // 2:
            return _np_bool(_kernel(fn, self.text, *args)) & mask
        out = np.zeros(self.n, dtype=bool)
        if len(rows):
            out[rows[_np_bool(_kernel(fn, self.text.take(pa.array(rows)), *args))]] = True
        return out

    def starts_with(self, prefix: bytes) -> np.ndarray:
        """The lines not yet classified that start with these bytes (Arrow's starts_with),
        read from the bytes at each line's offset: no copy of the lines (Arrow's take) nor a
        kernel over them. One core, 500k lines of the generated 1M log, best of 7: the access
        lines' test (131k lines start with ``I``) 3.1 against 4.8 ms, the JSON lines' 0.7
        against 3.1 ms."""
        import numpy as np

        mask = self.unassigned & (self.first_byte == prefix[0])
        rows = np.flatnonzero(mask)
        if len(prefix) == 1 or not len(rows):
            return mask
        offsets = np.frombuffer(self.text.buffers()[1], dtype=np.int64)[self.text.offset :]
        data = np.frombuffer(self.text.buffers()[2], dtype=np.uint8)
        begin = offsets[rows]
        ok = offsets[rows + 1] - begin >= len(prefix)
        rows, begin = rows[ok], begin[ok]
        for k in range(1, len(prefix)):
            same = data[begin + k] == prefix[k]
            rows, begin = rows[same], begin[same]
        out = np.zeros(self.n, dtype=bool)
        out[rows] = True
        return out

    def read_patterns(self, config: Config) -> None:
        """The user's [[patterns]]: each claims the lines it matches, with its role."""
        import numpy as np
        import pyarrow as pa

        for pattern in config.patterns:
            rows, parts = _extract(self.text, self.unassigned, pattern.regex)
            if parts is None or len(rows) == 0:
                continue
            self.claim(rows, K_PATTERN)
            names = {f.name for f in parts.type}
            for name in ("level", "model", "method", "path", "request_id", "client"):
                if name in names:
                    self.cols.add(name, rows, _field(parts, name))
            if "status" in names:
                self.cols.add("status", rows, _status_codes(parts.field("status")))
            if "duration" in names:
                durations = _durations(_field(parts, "duration"), pattern.duration_unit)
                self.cols.add("duration_s", rows, durations)
                # The pattern said the unit (as a dialect line does, dialect_match._read_groups).
                known = ~np.isnan(durations)
                self.cols.add("duration_bare", rows[known], np.zeros(int(known.sum())))
            no_time = self.ts_ns[rows] == NAT_NS
            if "ts" in names and no_time.any():
                stamps = _field(parts.filter(pa.array(no_time)), "ts")
                self.cols.add("app_time", rows[no_time], stamps)
            self.cols.add("role", rows, _same(len(rows), pattern.role))
            self.error[rows] |= pattern.role == "error"
            self.message_rows[rows] = True

    def read_blank_and_access(self) -> None:
        """Blank lines, then uvicorn's access lines (the only completion of many proxies)."""
        import numpy as np
        import pyarrow.compute as pc

        if self.n:
            if self.text.null_count:
                empty = _np_bool(pc.equal(self.text, "")) & self.unassigned
            else:  # an empty line has no first byte (no kernel over every line)
                empty = (self.first_byte == -1) & self.unassigned
            self.claim(
                np.flatnonzero(self.test(pc.utf8_is_space, first=_SPACE_FIRST) | empty), K_BLANK
            )
        rows, fields = _access_fields(self.text, np.flatnonzero(self.starts_with(b"INFO:")))
        if len(rows):
            self.claim(rows, K_ACCESS)
            for name, values in fields.items():
                self.cols.add(name, rows, values)
            self.cols.add("role", rows, Coded.constant(len(rows), "end"))

    def read_python_logging(self) -> Shared | None:
        """Leveled lines: Python logging with asctime (its usual layout, then any other).

        The common asctime layout (23 characters, then `` - ``) is checked byte by byte and cut
        off; what follows repeats (a few dozen distinct messages per proxy), so the logger and
        level, and later the message fields, are read once per distinct tail (returned).
        """
        import numpy as np

        candidates, fixed_rows = _pylog_heads(self.text, self.unassigned)
        if not len(candidates):
            return None
        shared = self._read_fixed_heads(fixed_rows) if len(fixed_rows) else None
        rest = np.zeros(self.n, dtype=bool)
        rest[candidates] = True
        rest[fixed_rows] = False
        for layout in (_PYLOG, _LOGURU):  # (the first's lines are not the second's candidates)
            rows, parts = _extract(self.text, rest, layout)
            if parts is not None and len(rows):
                self._claim_leveled(rows, _field(parts, "level"), _field(parts, "logger"))
                no_time = self.ts_ns[rows] == NAT_NS
                if no_time.any():
                    import pyarrow as pa

                    stamps = _field(parts.filter(pa.array(no_time)), "asctime")
                    self.cols.add("app_time", rows[no_time], stamps)
                self.message_rows[rows] = True
                rest[rows] = False
        release_unused()
        return shared

    def _claim_leveled(self, rows: np.ndarray, level: Any, logger: Any) -> None:
        self.claim(rows, K_LEVELED)
        self.cols.add("level", rows, level)
        self.cols.add("logger", rows, logger)

    def _read_fixed_heads(self, fixed_rows: np.ndarray) -> Shared | None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        # The head is ASCII (checked byte by byte), so cutting after its 26 bytes is a
        # character boundary; the tails are cut straight out of the lines (one copy).
        tails = _slices(
            self.text,
            fixed_rows,
            np.full(len(fixed_rows), _HEAD_BYTES, dtype=np.int64),
            _line_lengths(self.text, fixed_rows) - _HEAD_BYTES,
            np.ones(len(fixed_rows), dtype=bool),
        )
        encoded = pc.dictionary_encode(tails)
        tails = encoded.dictionary
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        del encoded
        head = pc.extract_regex(tails, _PYLOG_TAIL)
        tail_ok = _np_bool(head.is_valid())
        line_ok = tail_ok[codes]
        rows = fixed_rows[line_ok]
        if not len(rows):
            return None
        codes = codes[line_ok]
        valid_head = head.filter(pa.array(tail_ok))
        # Per distinct tail, then per line: codes, no object per line (columns.Coded).
        per_line = {}
        for name in ("level", "logger"):
            per_tail = np.full(len(tails), -1, dtype=np.int32)
            found = _coded(valid_head.field(name))
            per_tail[tail_ok] = found.codes
            per_line[name] = Coded(per_tail[codes], found.labels)
        self._claim_leveled(rows, per_line["level"], per_line["logger"])
        no_time = self.ts_ns[rows] == NAT_NS
        if no_time.any():
            heads = self.text.take(pa.array(rows[no_time])).view(pa.large_binary())
            stamps = pc.binary_slice(heads, 0, 23).view(pa.large_string())
            self.cols.add("app_time", rows[no_time], _field_values(stamps))
        return rows, codes, tails

    def read_level_heads(self, dialect: np.ndarray) -> None:
        """Lines no format read that start with a level word, after a stamp or alone
        (formats._LEVEL_HEAD): leveled, their messages searched for fields like asctime
        lines', the stamp their time where the engine gave none. ``dialect``: lines a dialect
        read: leveled too (a record whose continuation lines are its own), but what they are
        is the dialect's to say, not the level's or the generic fields' (one-api's `[ERR]`
        lines name a model)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        rows, parts = _extract(self.text, self.unassigned, _LEVEL_HEAD)
        if parts is None or not len(rows):
            return
        words = pc.coalesce(
            *(pc.if_else(pc.equal(parts.field(g), ""), None, parts.field(g)) for g in _LEVEL_GROUPS)
        )
        levels = _field_values(pc.utf8_upper(words))
        own = dialect[rows]
        levels[own] = None
        self._claim_leveled(rows, levels, np.full(len(rows), None, dtype=object))
        self.message_rows[rows[~own]] = True
        no_time = (self.ts_ns[rows] == NAT_NS) & ~own  # (a dialect line's time: the dialect's)
        if no_time.any():
            stamps = dashed_dates(parts.field("at").filter(pa.array(no_time)))
            self.cols.add("app_time", rows[no_time], _field_values(stamps))

    def read_uvicorn_and_morgan(self) -> None:
        """uvicorn's own `LEVEL:  msg` lines; Node's morgan `dev` access lines (method, url,
        status, time in ms), which no leveled line can match, so they run over fewer lines."""
        import pyarrow.compute as pc

        rows, parts = _extract(
            self.text,
            self.test(pc.match_substring_regex, r"^[A-Z]{4,8}:", first=_UPPER_FIRST),
            _UVICORN,
        )
        if parts is not None and len(rows):
            loggers = _field(parts, "logger").copy()
            loggers[loggers == None] = "uvicorn"  # noqa: E711  (one shared object, not np.where)
            self._claim_leveled(rows, _field(parts, "level"), loggers)
            self.message_rows[rows] = True
        morgan = self.test(pc.match_substring_regex, _MORGAN_PREFIX, first=_MORGAN_FIRST)
        rows, parts = _extract(self.text, morgan, _MORGAN)
        if parts is not None and len(rows):
            self.claim(rows, K_ACCESS)
            for name in ("client", "method", "path"):
                self.cols.add(name, rows, _field(parts, name))
            self.cols.add("status", rows, _status_codes(parts.field("status")))
            self.cols.add("duration_s", rows, _durations(_field(parts, "duration"), "ms"))
            self.cols.add("role", rows, Coded.constant(len(rows), "end"))

    def read_request_lines(self, off: np.ndarray) -> None:
        """Lines no format read that hold a request line and its status (formats._REQUEST_LINE):
        each a completion (kind "request"). ``off``: lines a dialect read, or of sources whose
        dialect declares its own completions."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        candidates = self.unassigned & ~off & (self.kind == K_OTHER)
        if not candidates.any():
            return
        # every form holds a space or a quote before its target: `/path` or `http(s)://`
        candidates &= self.test(pc.match_substring_regex, r'[ "](?:/|https?://)')
        rows, parts = _extract(self.text, candidates, _REQUEST_LINE)
        if parts is None or not len(rows):
            return
        status = _status_codes(parts.field("status"))
        http = np.isin(status // 100, [1, 2, 3, 4, 5])
        rows, status = rows[http], status[http]
        if not len(rows):
            return
        self.claim(rows, K_REQUEST)
        self.message_rows[rows] = True  # a model or request id beside it is read as elsewhere

        def either(quoted: str, bare: str) -> np.ndarray:
            one, two = _field(parts, quoted)[http], _field(parts, bare)[http]
            return np.where(one != None, one, two)  # noqa: E711  (object arrays)

        self.cols.add("method", rows, either("qmethod", "method"))
        self.cols.add("path", rows, either("qpath", "path"))
        self.cols.add("status", rows, status)
        # (a group that took no part is "" here, not null: extract_regex)
        timed = http & _np_bool(pc.not_equal(parts.field("duration"), ""))
        if timed.any():  # (the unit is required with the number: _durations_with_units)
            mask = pa.array(timed)
            seconds = _durations_with_units(
                parts.field("duration").filter(mask), _coded(parts.field("unit").filter(mask))
            )
            self.cols.add("duration_s", rows[timed[http]], seconds)
        self.cols.add("role", rows, Coded.constant(len(rows), "end"))
        # the line's own head stamp: ISO 8601 (loguru's) or Go's log package's
        read_head_stamps(self.text, rows[self.ts_ns[rows] == NAT_NS], self.cols)

    def read_json_and_kv(self) -> np.ndarray:
        """JSON objects (complete ones only: a truncated object stays `other`), then key=value
        lines among the rest; returns the JSON lines."""
        import numpy as np
        import pyarrow.compute as pc

        json_like = self.starts_with(b"{")
        if json_like.any():
            candidates = np.flatnonzero(json_like)
            closed = self._closed_objects(candidates)
            json_like[:] = False
            json_like[candidates[closed]] = True
        self.claim(np.flatnonzero(json_like), K_JSON)
        self.message_rows |= json_like  # their fields are read with the other messages'
        kv = self.test(pc.match_substring_regex, r"\b[A-Za-z_]\w*=\S")
        self.claim(np.flatnonzero(kv), K_KV)
        self.message_rows |= kv
        return json_like

    def _closed_objects(self, candidates: np.ndarray) -> np.ndarray:
        """Whether each line at ``candidates`` (each starting with ``{``) ends with ``}`` but for
        trailing white space. Read from each line's last byte; the kernels (trim, ends_with)
        run only on lines ending in a byte that may be white space (ASCII, or a multi-byte
        character's last byte). One core, 500k lines of the generated 1M log: the copy, trim
        and test of its 58,000 JSON lines cost about 5 ms."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        offsets = np.frombuffer(self.text.buffers()[1], dtype=np.int64)[self.text.offset :]
        data = np.frombuffer(self.text.buffers()[2], dtype=np.uint8)
        last = data[offsets[candidates + 1] - 1]  # non-empty: each starts with "{"
        closed = last == ord("}")
        unsure = np.flatnonzero((last < 0x21) | (last >= 0x80))
        if len(unsure):
            trimmed = pc.utf8_rtrim_whitespace(self.text.take(pa.array(candidates[unsure])))
            closed[unsure] = _np_bool(pc.ends_with(trimmed, "}"))
        return closed
