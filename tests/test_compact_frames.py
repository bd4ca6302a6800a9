"""The entries' and requests' repeating text columns are categoricals that read as their text.

Issue 13 (memory): the columns are stored as codes, and everything that reads them must see
what the object columns gave: None for unknown through text_values, the text's order when a
table is sorted by one, and the union of categories when parts are joined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from claude_perf.analysis.pairing import SparseTexts
from claude_perf.analysis.table import _category_col, _coded, concat_tables
from claude_perf.parse.classify import _join
from claude_perf.parse.events import _categorical, text_values


def test_text_values_gives_none_for_unknown_and_the_text_elsewhere() -> None:
    column = pd.Series(_categorical(np.array(["b", None, "a", "b"], dtype=object)))
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert list(column.cat.categories) == ["a", "b"]  # sorted
    assert list(text_values(column)) == ["b", None, "a", "b"]
    assert list(text_values(column, np.array([3, 1]))) == ["b", None]
    plain = pd.Series(["x", None], dtype=object)
    assert list(text_values(plain)) == ["x", None]


def test_coded_categories_are_sorted_so_sorting_orders_by_the_text() -> None:
    # codes into labels given in order of appearance: "sonnet" first, "haiku" second
    column = pd.Series(_coded(np.array([0, 1, -1, 0]), ["sonnet", "haiku"]))
    assert list(column.cat.categories) == ["haiku", "sonnet"]
    assert list(text_values(column)) == ["sonnet", "haiku", None, "sonnet"]
    assert list(text_values(column.sort_values())) == ["haiku", "sonnet", "sonnet", None]
    assert list(text_values(pd.Series(_category_col(np.array([None, "z", "y"], object))))) == [
        None,
        "z",
        "y",
    ]


def test_parts_with_different_categories_join_to_their_sorted_union() -> None:
    first = pd.Series(_categorical(np.array(["opus", None], dtype=object)))
    second = pd.Series(_categorical(np.array(["haiku", "opus"], dtype=object)))
    joined = _join([first, second])
    whole = pd.Series(_categorical(np.array(["opus", None, "haiku", "opus"], dtype=object)))
    pd.testing.assert_series_equal(joined, whole)

    tables = [
        pd.DataFrame({"model": first, "n": [1, 2]}),
        pd.DataFrame({"model": second, "n": [3, 4]}),
    ]
    table = concat_tables(tables)
    assert isinstance(table["model"].dtype, pd.CategoricalDtype)
    assert list(table["model"].cat.categories) == ["haiku", "opus"]
    assert list(text_values(table["model"])) == ["opus", None, "haiku", "opus"]
    assert list(table["n"]) == [1, 2, 3, 4]


def test_sparse_texts_read_like_the_object_column_they_hold_the_texts_of() -> None:
    column = pd.Series([None, "boom", np.nan, None, "late", pd.NA, None], dtype=object)
    texts = SparseTexts.of(column)
    assert len(texts) == 7
    assert list(texts[np.array([1, 4, 0, 2, 5, 6, 1])]) == ["boom", "late", *[None] * 4, "boom"]
    assert list(texts[np.array([-1, 4])]) == [None, "late"]  # -1: no position, not the last
    assert texts[np.zeros(0, dtype=np.int64)].shape == (0,)
    assert list(SparseTexts.of(pd.Series([None, None], dtype=object))[np.array([0, 1])]) == [
        None,
        None,
    ]
