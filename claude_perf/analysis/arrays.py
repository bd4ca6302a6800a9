"""Grouping helpers over positions and factorized columns, shared by the assembly steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# "No position yet" while taking a per-group minimum of positions.
_NO_POS = 2**63 - 1


def _labels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorize a text column: per row a code, and per code its value, plus a trailing None
    that code -1 (None or NaN) picks; ``labels[codes]`` is the column with None for unknown and
    equal strings as one shared object."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return codes, np.array([*uniques, None], dtype=object)


def _label_in(codes: np.ndarray, labels: np.ndarray, wanted: Iterable[str]) -> np.ndarray:
    """Per row of a factorized column, whether its value is one of wanted (tested per label)."""
    import numpy as np

    chosen = set(wanted)
    return np.array([label in chosen for label in labels], dtype=bool)[codes]


def _label_where(codes: np.ndarray, labels: np.ndarray, test: Callable[[str], bool]) -> np.ndarray:
    """Per row of a factorized column, whether ``test`` holds of its value (tested per label;
    a missing label is False, as in ``_label_in``)."""
    import numpy as np

    return np.array([isinstance(lab, str) and test(lab) for lab in labels], dtype=bool)[codes]


def _gather(values: np.ndarray, index: np.ndarray, valid: np.ndarray, default: int) -> np.ndarray:
    """values[index] where valid, else default; safe when values is empty."""
    import numpy as np

    if len(values) == 0:
        return np.full(len(index), default, dtype=np.int64)
    safe = np.clip(index, 0, len(values) - 1)
    return np.where(valid, values[safe], default)


def first_known_after(ts_ns: np.ndarray, at: np.ndarray, unknown: int) -> np.ndarray:
    """Per position in ``at``: the first known time (not ``unknown``) among the events after
    it in log order, ``unknown`` when none follows."""
    import numpy as np

    known_at = np.flatnonzero(ts_ns != unknown)
    if not len(known_at):
        return np.full(len(at), unknown, dtype=np.int64)
    k = np.searchsorted(known_at, at, side="right")
    found = k < len(known_at)
    return _gather(ts_ns, known_at[np.minimum(k, len(known_at) - 1)], found, unknown)


def _first_in_group(
    groups: np.ndarray, n_groups: int, candidates: np.ndarray, last: bool = False
) -> np.ndarray:
    """Per group, the position of its first (or last) candidate row; -1 when it has none."""
    import numpy as np

    at = np.flatnonzero(candidates)
    if last:
        out = np.full(n_groups, -1, dtype=np.int64)
        np.maximum.at(out, groups[at], at)
        return out
    out = np.full(n_groups, _NO_POS, dtype=np.int64)
    np.minimum.at(out, groups[at], at)
    out[out == _NO_POS] = -1
    return out


def _join_per_group(groups: np.ndarray, messages: np.ndarray, n_groups: int) -> SparseTexts:
    """Per group, its messages (strings only) joined by newlines in order; None without any.

    One Python join per group, not per row, and none for the many groups of a single message.
    Sparse: most groups (requests) have no message, and an object array of them all held 8
    bytes a request through the table's build.
    """
    import numpy as np

    if len(groups) == 0:
        return SparseTexts.none(n_groups)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    begins = np.flatnonzero(np.concatenate([[True], sorted_groups[1:] != sorted_groups[:-1]]))
    ends = np.append(begins[1:], len(order))
    items = messages[order].tolist()
    texts = np.array(
        [
            (items[b] if isinstance(items[b], str) else None)
            if e - b == 1
            else ("\n".join(m for m in items[b:e] if isinstance(m, str)) or None)
            for b, e in zip(begins.tolist(), ends.tolist(), strict=True)
        ],
        dtype=object,
    )
    found = np.flatnonzero(texts != None)  # noqa: E711  (elementwise)
    return SparseTexts(n_groups, sorted_groups[begins][found], texts[found])


def _position_type(n_events: int) -> np.dtype[Any]:
    """The integer type of event positions (-1 none): int32 while the events fit in it (4
    bytes a position instead of 8), else int64."""
    import numpy as np

    return np.dtype(np.int32 if n_events < 2**31 - 1 else np.int64)


def _narrow_positions(values: np.ndarray, n_events: int) -> np.ndarray:
    """Event positions (-1 none) in _position_type: the per-request columns hold several."""
    return values.astype(_position_type(n_events), copy=False)


def _positions(rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """rows[at], -1 where at is -1 (safe when rows is empty)."""
    import numpy as np

    return np.where(at >= 0, rows[np.maximum(at, 0)], -1) if len(rows) else at.copy()


def _text_at(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values[at] as objects, None where at is -1 or the value is missing (None or NaN)."""
    import numpy as np
    import pandas as pd

    out = np.full(len(at), None, dtype=object)
    found = np.flatnonzero(at >= 0)
    picked = values[at[found]]
    out[found] = np.where(pd.isna(picked), None, picked)
    return out


def _text(values: np.ndarray) -> np.ndarray:
    """An object array with every missing value (None or NaN) as None; as it is when none is NaN."""
    import numpy as np
    import pandas as pd

    missing = pd.isna(values)
    if not missing.any():
        return values
    out = np.array(values, dtype=object)
    out[missing] = None
    return out


class SparseTexts:
    """A text column indexed by position like an object array (None where it has no text),
    holding only the texts that are there: messages are logged on error records only (216,790
    of 6.5M events at 10M lines), and an object array of every event held 52 MB through the
    pairing and the table's build (the assembly's peak)."""

    def __init__(self, n: int, at: np.ndarray, texts: np.ndarray) -> None:
        self._n, self._at, self._texts = n, at, texts  # at: ascending positions of the texts

    @classmethod
    def of(cls, column: pd.Series) -> SparseTexts:
        """The column's texts (None, NaN and NA are no text)."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        if isinstance(column.dtype, pd.ArrowDtype):
            # Only the texts there are become Python strings (the entries' messages: no object
            # array of every entry, 52 MB at 10M lines, at the decoding's peak).
            raw = pa.array(column.array)
            values = raw if isinstance(raw, pa.ChunkedArray) else pa.chunked_array([raw])
            known = values.is_valid()
            at = np.flatnonzero(known.to_numpy())
            texts = values.filter(known).to_numpy()
            return cls(len(column), at, np.asarray(texts, dtype=object))
        at = np.flatnonzero(column.notna().to_numpy(dtype=bool))
        return cls(len(column), at, np.asarray(column.to_numpy(dtype=object)[at], dtype=object))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """The texts at integer positions as objects; None at a position of -1 (none), unlike
        an array's last item (``arrays._text_at``'s rule: every caller passes -1 for none)."""
        import numpy as np

        wanted = _positions_asked(index, self._n)
        out = np.full(wanted.shape, None, dtype=object)
        if len(self._at) and wanted.size:
            # Only the positions given (most per-request ones are -1: no error message) are
            # looked up: no int64 search over every request.
            asked = np.flatnonzero(wanted >= 0)
            looked = wanted[asked].astype(np.int64)
            slot = np.minimum(np.searchsorted(self._at, looked), len(self._at) - 1)
            hit = self._at[slot] == looked
            out[asked[hit]] = self._texts[slot[hit]]
        return out.reshape(np.shape(index))

    @classmethod
    def none(cls, n: int) -> SparseTexts:
        """``n`` positions without any text."""
        import numpy as np

        return cls(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))

    def present(self) -> np.ndarray:
        """Per position, whether it has a text."""
        import numpy as np

        out = np.zeros(self._n, dtype=bool)
        out[self._at] = True
        return out

    def rows(self, rows: np.ndarray) -> SparseTexts:
        """The texts at ``rows`` (ascending positions), as positions 0 .. len(rows) - 1."""
        import numpy as np

        slot = np.searchsorted(rows, self._at)
        hit = slot < len(rows)
        hit[hit] = rows[slot[hit]] == self._at[hit]
        return SparseTexts(len(rows), slot[hit], self._texts[hit])

    def filled(self, at: np.ndarray, texts: np.ndarray) -> SparseTexts:
        """With ``texts`` (objects; None or NaN: no text) at positions ``at`` that have none."""
        import numpy as np
        import pandas as pd

        keep = pd.notna(texts)
        positions = np.concatenate([self._at, np.asarray(at, dtype=np.int64)[keep]])
        order = np.argsort(positions, kind="stable")
        values = np.concatenate([self._texts, np.asarray(texts, dtype=object)[keep]])
        return SparseTexts(self._n, positions[order], values[order])

    def extended(self, n_more: int) -> SparseTexts:
        """``n_more`` positions without a text added at the end."""
        return SparseTexts(self._n + n_more, self._at, self._texts)

    @staticmethod
    def joined(first: SparseTexts, second: SparseTexts, rank: np.ndarray) -> SparseTexts:
        """``first`` then ``second`` as one column, the concatenation's i-th position moved to
        ``rank[i]`` (a permutation)."""
        import numpy as np

        positions = rank[np.concatenate([first._at, second._at + first._n])]
        texts = np.concatenate([first._texts, second._texts])
        sort = np.argsort(positions, kind="stable")
        return SparseTexts(first._n + second._n, positions[sort], texts[sort])


class CodedTexts:
    """A text column indexed by position like an object array (None where it has no text),
    held as small integer codes (-1 none) and the texts of the codes (``labels``, with a
    trailing None that code -1 picks): the events' models, 1-2 bytes an event instead of an
    8-byte pointer (52 MB at 10M lines, held through the pairing and the table's build)."""

    def __init__(self, codes: np.ndarray, labels: np.ndarray) -> None:
        self.codes, self.labels = codes, labels

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """The texts at integer positions as objects (None: no text)."""
        return self.labels[self.codes[index]]


def used_labels(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into ``labels`` (-1: the trailing None) renumbered over the labels they use, in
    the smallest integer type, and those labels with the trailing None: what arrays._labels
    gives for ``labels[codes]``, the labels in another order."""
    import numpy as np

    used = np.zeros(len(labels), dtype=bool)
    used[codes] = True  # code -1 marks the last slot: unknown
    kept = np.flatnonzero(used[:-1])
    remap = np.full(len(labels), -1, dtype=np.min_scalar_type(-len(kept) - 1))
    remap[kept] = np.arange(len(kept))
    return remap[codes], np.array([*labels[kept], None], dtype=object)


class SparseFloats:
    """Floats by position like a float array, NaN where none is known, holding only the known
    ones: the events' logged durations (on 1.7M of 6.6M events at 10M lines; a float64 per
    event held 52 MB through the pairing and the table's build, read at the requests only)."""

    def __init__(self, n: int, at: np.ndarray, values: np.ndarray) -> None:
        self._n, self._at, self._values = n, at, values  # at: ascending positions

    @classmethod
    def of(cls, values: np.ndarray) -> SparseFloats:
        """The known (not NaN) values of a float array."""
        import numpy as np

        at = np.flatnonzero(~np.isnan(values))
        return cls(len(values), _narrow_positions(at, len(values)), values[at])

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """The values at integer positions (NaN where none is known), as float64."""
        import numpy as np

        wanted = _positions_asked(index, self._n)
        out = np.full(wanted.shape, np.nan)
        if len(self._at) and wanted.size:
            slot = np.minimum(np.searchsorted(self._at, wanted), len(self._at) - 1)
            hit = self._at[slot] == wanted
            out[hit] = self._values[slot[hit]]
        return out.reshape(np.shape(index))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole column, dense (np.asarray, numpy's testing helpers)."""
        import numpy as np

        dense = self[np.arange(self._n)]
        return dense if dtype is None else dense.astype(dtype)


def _positions_asked(index: Any, n: int) -> np.ndarray:
    """An index into a sparse column as a flat array of positions; a single position out of
    range raises IndexError, as an array's would (so that iterating one ends)."""
    import numpy as np

    wanted = np.asarray(index)
    if wanted.ndim == 0 and not -1 <= int(wanted) < n:
        raise IndexError(f"position {int(wanted)} out of range for {n}")
    return wanted.ravel()


def split_by_group(ev: pd.DataFrame, groups: np.ndarray, ids: list[int]) -> list[pd.DataFrame]:
    """The rows of each group (each source's events) as a frame of its own, made column by
    column while each column is dropped from ``ev`` (given up by the caller): the split copy
    and the whole are never held together. Measured on a 3M-line store over three containers
    (report --since, whole process): the assembly's peak went from 682 to 564 MB, the same
    JSON."""
    import pandas as pd

    masks = [groups == s for s in ids]
    columns: list[dict[str, pd.Series]] = [{} for _ in ids]
    for column in list(ev.columns):
        values = ev[column]
        for part, mask in zip(columns, masks, strict=True):
            part[column] = values[mask].reset_index(drop=True)
        del values, ev[column]
    return [pd.DataFrame(part, copy=False) for part in columns]
