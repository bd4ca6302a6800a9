"""Known answers and a property for analysis/id_lives: which life of its id a record is in."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from claude_perf.analysis.id_lives import _lives


def reference_lives(ids: list[int], roles: list[str]) -> list[int]:
    """One record at a time: a start opens the life numbered by its id's completions so far."""
    ends: dict[int, int] = {}
    life: dict[int, int] = {}
    out = []
    for i, role in zip(ids, roles, strict=True):
        if role == "start":
            life[i] = ends.get(i, 0)
        out.append(life.get(i, 0))
        if role == "end":
            ends[i] = ends.get(i, 0) + 1
    return out


def lives(ids: list[int], roles: list[str]) -> list[int]:
    got = _lives(
        np.array(ids, dtype=np.int64),
        np.array([r == "start" for r in roles]),
        np.array([r == "end" for r in roles]),
    )
    return got.tolist()


def test_a_restarted_process_reuses_its_first_id_as_a_new_request():
    roles = ["start", "end", "start", "end", "start", "end"]
    assert lives([0, 0, 1, 1, 0, 0], roles) == [0, 0, 0, 0, 1, 1]


def test_a_completion_before_its_ids_only_start_is_another_life():
    assert lives([0, 0, 0], ["end", "start", "end"]) == [0, 1, 1]


def timed_lives(ids: list[int], roles: list[str], times_ms: list[float]) -> list[int]:
    """_lives, then the raced completions read after their starts (as make_ids_whole does)."""
    from claude_perf.analysis.id_lives import _without_races

    id_array = np.array(ids, dtype=np.int64)
    starts = np.array([r == "start" for r in roles])
    ends = np.array([r == "end" for r in roles])
    life = _lives(id_array, starts, ends)
    if not life.any():
        return life.tolist()
    ts = (np.array(times_ms) * 1e6).astype(np.int64)
    return _without_races(id_array, starts, ends, ts, life).tolist()


def test_a_completion_stamped_40_us_before_its_own_start_is_that_starts():
    # stdout's access line and stderr's start, written together, read apart by the engine
    assert timed_lives([0, 0], ["end", "start"], [1000.0, 1000.04]) == [0, 0]
    # another id's records between them change nothing
    assert timed_lives([0, 1, 0, 1], ["end", "start", "start", "end"], [1, 1.01, 1.04, 2]) == [
        0,
        0,
        0,
        0,
    ]


def test_a_completion_stamped_after_the_start_that_follows_it_is_no_race():
    # stamps going backwards (a line out of time order) are not two records written together
    assert timed_lives([0, 0, 0], ["end", "start", "end"], [1000.04, 1000.0, 3000.0]) == [0, 1, 1]


def test_a_completion_a_second_before_a_start_of_its_id_is_an_earlier_life():
    assert timed_lives([0, 0, 0], ["end", "start", "end"], [1000.0, 2000.0, 3000.0]) == [0, 1, 1]


def test_a_completion_that_closed_an_open_start_is_no_race():
    roles = ["start", "end", "start", "end"]
    assert timed_lives([0, 0, 0, 0], roles, [0.0, 1000.0, 1000.04, 3000.0]) == [0, 0, 1, 1]


def test_ids_started_once_and_completed_after_have_one_life():
    assert lives([0, 1, 0, 1], ["start", "start", "end", "end"]) == [0, 0, 0, 0]


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(["start", "end", "info"])),
        min_size=1,
        max_size=40,
    )
)
def test_lives_equal_the_one_at_a_time_reading(records):
    ids, roles = [i for i, _ in records], [r for _, r in records]
    assert lives(ids, roles) == reference_lives(ids, roles)
    # with times, records a second apart (no race) read as in log order too
    times_ms = [1000.0 * k for k in range(len(ids))]
    assert timed_lives(ids, roles, times_ms) == reference_lives(ids, roles)


def test_a_later_life_gets_a_code_and_a_text_of_its_own_and_a_completion_its_starts_path():
    import pandas as pd

    from claude_perf.analysis.id_lives import make_ids_whole
    from claude_perf.parse.events import ids_of

    ev = pd.DataFrame(
        {
            "request_id": pd.Series(["req-1", "req-1", None, "req-1", "req-1"], dtype=object),
            "role": pd.Categorical(["start", "end", "startup", "start", "end"]),
            "path": pd.Categorical(["/health", None, None, "/v1/messages", None]),
        }
    )
    role = ev["role"].to_numpy(dtype=object)
    codes, texts = make_ids_whole(ev, *ids_of(ev["request_id"]), role == "start", role == "end")
    assert [texts[c].as_py() if c >= 0 else None for c in codes] == [
        "req-1",
        "req-1",
        None,
        "req-1#2",
        "req-1#2",
    ]
    paths = [p if isinstance(p, str) else None for p in ev["path"]]
    assert paths == ["/health", "/health", None, "/v1/messages", "/v1/messages"]


@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", None]), max_size=6), max_size=5))
def test_ids_of_a_column_in_chunks_are_the_codes_of_the_column_combined(chunks):
    """parse.events.ids_of encodes an Arrow column chunk by chunk (no combined copy): the codes
    and texts are the ones of one encoding of the whole column, first occurrence first."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from claude_perf.parse.events import ids_of

    pieces = [pd.Series(pd.arrays.ArrowExtensionArray(pa.array(c, pa.string()))) for c in chunks]
    column = (
        pd.concat(pieces, ignore_index=True)
        if pieces
        else pd.Series(pd.arrays.ArrowExtensionArray(pa.array([], pa.string())))
    )
    codes, texts = ids_of(column)
    whole = pc.dictionary_encode(pa.array([v for c in chunks for v in c], pa.string()))
    assert codes.dtype == np.int32
    assert codes.tolist() == [-1 if i is None else i for i in whole.indices.to_pylist()]
    assert texts.to_pylist() == whole.dictionary.to_pylist()
