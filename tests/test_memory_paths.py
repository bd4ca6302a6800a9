"""The lower-memory ways of the analysis give what the plain ones gave (issue 13, memory).

Each test holds a function that was rewritten to hold fewer temporaries against the plain
computation it replaced (written out here as the reference), on random inputs.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from claude_perf.analysis import restarts
from claude_perf.analysis.concurrency import concurrency_latency
from claude_perf.analysis.metrics import Timeline
from claude_perf.analysis.numeric import percentile, percentile_unsorted
from claude_perf.analysis.table import _coded, _times
from claude_perf.durations import NAT_NS


def _restarts_reference(
    startup_ns: dict[str, list[int]], table: pd.DataFrame
) -> dict[str, tuple[datetime, ...]]:
    """restarts_seen as it was: every end of the source sorted, then searched per banner."""
    out: dict[str, tuple[datetime, ...]] = {}
    ends = table["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    sources = table["source"].astype(object).to_numpy()
    for name, banners in startup_ns.items():
        served = np.sort(ends[(sources == name) & (ends != NAT_NS)])
        found, previous = [], None
        for at in sorted(banners):
            since = np.searchsorted(served, previous, side="right") if previous is not None else 0
            if np.searchsorted(served, at, side="left") > since:
                found.append(pd.Timestamp(at, tz="UTC").to_pydatetime(warn=False))
            previous = at
        out[name] = tuple(found)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_restarts_seen_read_in_blocks_is_the_sorted_search(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    # few distinct instants, so that ends fall on banners and banners repeat
    ends = rng.integers(0, 30, n).astype(np.int64)
    ends[rng.random(n) < 0.1] = NAT_NS
    codes = rng.integers(0, 2, n)
    table = pd.DataFrame(
        {"end": _times(ends), "source": pd.Series(_coded(codes, ["a.log", "b.log"]))}
    )
    banners = {
        name: rng.integers(0, 32, int(rng.integers(0, 6))).tolist()
        for name in ("a.log", "b.log", "c.log")[: int(rng.integers(0, 4))]
    }
    monkeypatch.setattr(restarts, "_BLOCK", int(rng.integers(1, 8)))
    assert restarts.restarts_seen(banners, table) == _restarts_reference(banners, table)


@pytest.mark.parametrize("seed", range(20))
def test_percentile_in_place_is_the_copy_s(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(rng.random(7), int(rng.integers(1, 40)))
    for q in (0, 50, 95, 99, 100):
        expected = percentile(np.sort(values), q)
        assert percentile_unsorted(values, q) == expected
        assert percentile_unsorted(values.copy(), q, overwrite=True) == expected


@pytest.mark.parametrize("seed", range(20))
def test_concurrency_latency_one_group_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    latency = rng.random(n)
    latency[rng.random(n) < 0.2] = np.nan
    timeline = Timeline(
        start_ns=np.arange(n, dtype=np.int64),
        end_ns=np.arange(n, dtype=np.int64) + 5,
        in_flight=rng.integers(1, 4, n),
        latency_s=latency,
        succeeded=rng.random(n) < 0.8,
        failed_end_ns=np.zeros(0, dtype=np.int64),
        well_formed=True,
    )
    before = latency.copy()
    ok = timeline.succeeded & ~np.isnan(latency)
    solo = latency[ok & (timeline.in_flight <= 1)]
    overlapped = latency[ok & (timeline.in_flight > 1)]
    got = concurrency_latency(timeline)
    assert (got.solo_n, got.overlapped_n) == (len(solo), len(overlapped))
    assert got.solo_p50_s == (percentile(np.sort(solo), 50) if len(solo) else None)
    assert got.overlapped_p50_s == (
        percentile(np.sort(overlapped), 50) if len(overlapped) else None
    )
    assert got.max_level == int(timeline.in_flight.max())
    assert np.array_equal(timeline.latency_s, before, equal_nan=True)  # left as it was given


def test_entries_are_compact_and_read_as_before() -> None:
    from claude_perf.analysis.arrays import SparseTexts
    from claude_perf.config.schema import Config
    from claude_perf.ingest.files import read_log
    from claude_perf.parse.classify import classify

    log = "\n".join(
        [
            '2026-11-29T00:50:49.000000000Z INFO:     172.17.0.1:1 - "POST /v1/messages HTTP/1.1" 200 OK',
            "2026-11-29T00:50:50.000000000Z 2026-11-29 00:50:50,000 - src.main - ERROR - boom",
            "2026-11-29T00:50:50.000100000Z Traceback (most recent call last):",
            '2026-11-29T00:50:51.000000000Z INFO:     172.17.0.1:2 - "POST /v1/messages HTTP/1.1" 500 Internal Server Error',
        ]
    )
    table, _, _ = read_log("test", data=(log + "\n").encode())
    events = classify(table, Config()).events
    assert events["row"].dtype == np.int32
    assert events["source"].dtype == np.int8
    assert isinstance(events["message"].dtype, pd.ArrowDtype)
    assert list(events["row"]) == [0, 1, 3]
    texts = SparseTexts.of(events["message"])
    assert list(texts[np.array([0, 1, 2, -1])]) == [
        None,
        "2026-11-29 00:50:50,000 - src.main - ERROR - boom\nTraceback (most recent call last):",
        None,
        None,
    ]


def test_rows_shifted_past_int32_widen() -> None:
    from claude_perf.parse.entries import row_numbers, shift_rows, source_codes

    events = pd.DataFrame({"row": row_numbers(np.array([0, 5, 9]))})
    assert events["row"].dtype == np.int32
    shift_rows(events, 100)
    assert events["row"].dtype == np.int32 and list(events["row"]) == [100, 105, 109]
    shift_rows(events, 2**31 - 105)
    assert events["row"].dtype == np.int64
    assert list(events["row"]) == [2**31 - 5, 2**31, 2**31 + 4]
    assert row_numbers(np.array([0, 2**31])).dtype == np.int64
    assert source_codes(np.array([0, 3], dtype=np.int32)).dtype == np.int8
    assert source_codes(np.array([0, 300], dtype=np.int32)).dtype == np.int16
    assert source_codes(np.zeros(0, dtype=np.int32)).dtype == np.int8


def test_message_parts_of_both_text_widths_join() -> None:
    import pyarrow as pa

    from claude_perf.parse.classify import _join
    from claude_perf.parse.events import narrow_text

    narrow = narrow_text(pa.array(["a", None], pa.large_string()))
    assert narrow.type == pa.string()
    pieces = [
        pd.Series(pd.arrays.ArrowExtensionArray(narrow)),
        pd.Series(pd.arrays.ArrowExtensionArray(pa.array([None, "b"], pa.large_string()))),
    ]
    joined = _join(pieces)
    assert list(joined.to_numpy(dtype=object, na_value=None)) == ["a", None, None, "b"]
