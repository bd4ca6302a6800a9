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
        digit_to_zero = np.arange(256, dtype=np.uint8)
        digit_to_zero[ord("1") : ord("9") + 1] = ord("0")
        shapes_data = digit_to_zero[np.frombuffer(data, dtype=np.uint8)] if data else b""
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
