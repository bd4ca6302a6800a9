"""Classifying in parts on both cores gives exactly what one piece gives.

The cut rule (frame._cut_points) is the only thing that makes this true: continuation lines, and
the error messages that gather them, must never cross a cut.
"""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_log
from claude_perf.parse import classify as frame
from claude_perf.parse import entries as parse_entries

T0_NS = 1_764_377_445_000_000_000  # 2026-11-29T00:50:45Z

BODIES = [
    "2026-11-29 00:50:49,378 - claude_agent_sdk._internal.query - ERROR - Fatal error: exit code 1",
    "Error output: Check stderr output for details",
    "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
    "Traceback (most recent call last):",
    '  File "/app/src/main.py", line 1, in <module>',
    "2026-11-29 00:50:48,791 - src.main - INFO - Chat completion: session_id=None, total_messages=2",
    'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "request done model=sonnet duration=1.20s status=200 request_id=r-7",
    '{"level":"error","event":"request.complete","requestId":"r-9","status":500}',
    "something else entirely",
    "",
]


def docker_log(bodies: list[str], gaps_ns: list[int]) -> bytes:
    """`docker logs -t` bytes: each body after the given gap from the line before."""
    lines, now = [], T0_NS
    for body, gap in zip(bodies, gaps_ns, strict=True):
        now += gap
        seconds, nanos = divmod(now, 1_000_000_000)
        stamp = pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{stamp}.{nanos:09d}Z {body}")
    return ("\n".join(lines) + "\n").encode()


def classify_both(data: bytes) -> tuple[parse_entries.Entries, parse_entries.Entries, list[int]]:
    """(one piece, in parts with even tiny inputs split, the cut points)."""
    table, _, _ = read_log("test", data=data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame, "PARALLEL_MIN_LINES", 10**12)
        whole = frame.classify(table, Config())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame, "PARALLEL_MIN_LINES", 2)
        return whole, frame.classify(table, Config()), frame._cut_points(table, 2)


def assert_same(whole: parse_entries.Entries, split: parse_entries.Entries) -> None:
    pd.testing.assert_frame_equal(split.events, whole.events)
    assert split.kind_counts == whole.kind_counts
    assert (split.app_time_lines, split.no_time_lines) == (
        whole.app_time_lines,
        whole.no_time_lines,
    )


def test_cut_skips_continuations_and_keeps_the_error_message_whole():
    # The middle lines are an error record and its continuations 1 ms apart: the cut must come
    # after them, at the first line more than 5 ms after its predecessor.
    bodies = [BODIES[5]] * 4 + [BODIES[0], BODIES[1], BODIES[2], BODIES[3]] + [BODIES[6]] * 4
    gaps = [10_000_000] * 4 + [10_000_000, 1_000_000, 1_000_000, 1_000_000] + [20_000_000] * 4
    whole, split, cuts = classify_both(docker_log(bodies, gaps))
    assert cuts == [0, 8, 12]
    assert_same(whole, split)
    message = split.events.loc[split.events["role"] == "error", "message"].iloc[0]
    assert message.count("\n") == 3  # the record and its three continuation lines


def test_no_safe_place_to_cut_means_one_piece():
    bodies = [BODIES[5]] + [BODIES[2]] * 9  # indented lines 1 ms apart: all continuations
    whole, split, cuts = classify_both(docker_log(bodies, [1_000_000] * 10))
    assert cuts == [0, 10]
    assert_same(whole, split)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(BODIES), st.sampled_from([0, 1_000_000, 5_000_000, 6_000_000, 10**9])
        ),
        min_size=2,
        max_size=80,
    )
)
def test_any_mix_classifies_the_same_in_parts(pairs):
    bodies, gaps = [b for b, _ in pairs], [g for _, g in pairs]
    whole, split, _ = classify_both(docker_log(bodies, gaps))
    assert_same(whole, split)
