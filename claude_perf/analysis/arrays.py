"""Grouping helpers over positions and factorized columns, shared by the assembly steps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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


def _gather(values: np.ndarray, index: np.ndarray, valid: np.ndarray, default: int) -> np.ndarray:
    """values[index] where valid, else default; safe when values is empty."""
    import numpy as np

    if len(values) == 0:
        return np.full(len(index), default, dtype=np.int64)
    safe = np.clip(index, 0, len(values) - 1)
    return np.where(valid, values[safe], default)


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


def _join_per_group(groups: np.ndarray, messages: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, its messages (strings only) joined by newlines in order; None without any.

    One Python join per group, not per row, and none for the many groups of a single message.
    """
    import numpy as np

    out = np.full(n_groups, None, dtype=object)
    if len(groups) == 0:
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    begins = np.flatnonzero(np.concatenate([[True], sorted_groups[1:] != sorted_groups[:-1]]))
    ends = np.append(begins[1:], len(order))
    items = messages[order].tolist()
    texts = [
        (items[b] if isinstance(items[b], str) else None)
        if e - b == 1
        else ("\n".join(m for m in items[b:e] if isinstance(m, str)) or None)
        for b, e in zip(begins.tolist(), ends.tolist(), strict=True)
    ]
    out[sorted_groups[begins]] = np.array(texts, dtype=object)
    return out


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
