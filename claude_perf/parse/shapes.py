"""Message shapes: every ASCII digit read as 0, so field regexes run once per shape (a seam)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.parse.text import _np_bool, _slices

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


class _Templates:
    """Message texts grouped by their shape: each ASCII digit read as ``0``.

    Log messages repeat but for their numbers (times, ids, durations), so the shapes are few
    (hundreds per proxy log, against hundreds of thousands of lines). A regex in which every
    character class holds either all ASCII digits or none (``\\d``, ``\\w``, ``[^"]``, ``[0-9a-z]``)
    cannot tell ``0`` from another digit, so it matches a shape exactly where it matches each of
    its texts, at the same byte positions (the shapes keep every byte length). Such regexes run
    once per shape; values are then cut out of the real texts at those positions.
    """

    def __init__(self, messages: pa.Array) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        self.messages = messages.cast(pa.large_string())
        validity, offsets, data = self.messages.buffers()
        shapes_data = _digits_to_zero(np.frombuffer(data, dtype=np.uint8)) if data else b""
        shapes = pa.Array.from_buffers(
            pa.large_string(),
            len(self.messages),
            [validity, offsets, pa.py_buffer(shapes_data)],
            offset=self.messages.offset,
        )
        encoded = pc.dictionary_encode(shapes)
        self.shapes = encoded.dictionary
        self.codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)

    def matching(self, fn: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """Per message: whether fn (a match kernel) is true of its shape."""
        return _np_bool(fn(self.shapes, *args, **kwargs))[self.codes]

    def extract(self, regex: str, names: tuple[str, ...]) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """(positions of messages the regex matches, the named groups' text in each).

        A group that took no part in a match is null.
        """
        import numpy as np
        import pyarrow.compute as pc

        spans = pc.extract_regex_span(self.shapes, regex)
        positions = np.flatnonzero(_np_bool(spans.is_valid())[self.codes])
        codes = self.codes[positions]
        values = {}
        for name in names:
            pairs = spans.field(name)  # [start, length] per shape; null: the group took no part
            bounds = pairs.values.to_numpy(zero_copy_only=False)  # (.values ignores the offset)
            at = (pairs.offset + codes) * 2
            starts, lengths = bounds[at], bounds[at + 1]
            took_part = _np_bool(pairs.is_valid())[codes]
            values[name] = _slices(self.messages, positions, starts, lengths, took_part)
        return positions, values


def _digits_to_zero(raw: np.ndarray) -> np.ndarray:
    """The bytes with each of "1".."9" made "0", by arithmetic: a 256-entry lookup table indexed
    by every byte (numpy's fancy indexing) took twice as long, 44 against 21 ms for 40 MB of
    the generated log on one core (best of 5)."""
    import numpy as np

    past_one = raw - np.uint8(ord("1"))  # wraps round below "1"
    return raw - (past_one < 9) * (past_one + np.uint8(1))


def digit_agnostic(regex: str) -> bool:
    """Whether a regex cannot tell one ASCII digit from another, so that it matches a message
    exactly where it matches the message's shape (see _Templates): no digit literal, and every
    character class holds all ten digits or none. Read from Python's own regex parser."""
    import re
    from re import _parser as parser  # type: ignore[attr-defined]

    try:
        parsed = parser.parse(regex)
    except re.error:
        return False
    return _agnostic(list(parsed))


_CATEGORY_DIGITS = {
    "CATEGORY_DIGIT": True,
    "CATEGORY_NOT_DIGIT": False,
    "CATEGORY_WORD": True,
    "CATEGORY_NOT_WORD": False,
    "CATEGORY_SPACE": False,
    "CATEGORY_NOT_SPACE": True,
}


def _class_digits(items: list[tuple[object, object]]) -> set[int]:
    """The digits (0-9) a character class matches."""
    digits: set[int] = set()
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL" and isinstance(arg, int) and 48 <= arg <= 57:
            digits.add(arg - 48)
        elif name == "RANGE" and isinstance(arg, tuple):
            low, high = arg
            digits |= {d for d in range(10) if low <= d + 48 <= high}
        elif name == "CATEGORY" and _CATEGORY_DIGITS.get(str(arg), False):
            digits |= set(range(10))
    return set(range(10)) - digits if negate else digits


def _agnostic(items: list[tuple[object, object]]) -> bool:
    for op, arg in items:
        name = str(op)
        if name in ("LITERAL", "NOT_LITERAL") and isinstance(arg, int) and 48 <= arg <= 57:
            return False
        if name == "IN" and isinstance(arg, list) and len(_class_digits(arg)) not in (0, 10):
            return False
        if name in ("GROUPREF", "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT"):
            return False
        if name == "SUBPATTERN" and isinstance(arg, tuple) and not _agnostic(list(arg[-1])):
            return False
        repeat = name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
        if repeat and isinstance(arg, tuple) and not _agnostic(list(arg[-1])):
            return False
        branches = arg[1] if name == "BRANCH" and isinstance(arg, tuple) else []
        if not all(_agnostic(list(branch)) for branch in branches):
            return False
        if name == "ATOMIC_GROUP" and not _agnostic(list(arg)):  # type: ignore[call-overload]
            return False
    return True


# Python logging's usual asctime head, ``2026-11-29 00:50:46,892 - ``, holds only these.
HEAD_CHARS = frozenset("0123456789-:,. T")


def tail_safe(regex: str) -> bool:
    """Whether every match of a regex starts with a character no asctime head holds (its first
    item is such a literal), so that in a line with that head a match lies in the text after
    the head. An anchored regex (``^``) is not: the tail's start is not the line's."""
    import re
    from re import _parser as parser  # type: ignore[attr-defined]

    try:
        items = list(parser.parse(regex))
    except re.error:
        return False
    while items and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    if not items:
        return False
    op, arg = items[0]
    return str(op) == "LITERAL" and isinstance(arg, int) and chr(arg) not in HEAD_CHARS
