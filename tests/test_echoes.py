"""One response logged twice, by an access logger and by the application (analysis/echoes.py):
counted once, and never two unrelated loggers' requests taken for one."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.echoes import ECHO_GAP_NS, ECHO_SHARE
from tests.test_truth import access, analysis, asctime, engine, requests

PATH = "/v1/chat/completions"


def app_line(end_s: float, latency_s: float, status: int = 200, model: str = "sonnet") -> str:
    """A logging middleware's line (FastAPI, its own logger), written as the response goes."""
    return (
        f"{engine(end_s)} {asctime(end_s)} - app.middleware - INFO - Request completed: "
        f"POST {PATH} status={status} duration_ms={latency_s * 1000:.1f} model={model}"
    )


def echoed(end_s: float, latency_s: float, status: int = 200, gap_s: float = 0.0003) -> list[str]:
    """The middleware's line, then uvicorn's access line for the same response."""
    return [app_line(end_s, latency_s, status), access(end_s + gap_s, status, PATH)]


def test_each_request_logged_by_both_loggers_counts_once_with_the_applications_figures() -> None:
    traffic = [(2.0 * i + 1, 0.3 + 0.1 * i, 500 if i == 3 else 200) for i in range(8)]
    a = analysis([line for end, lat, status in traffic for line in echoed(end, lat, status)])
    got = requests(a)
    assert len(got) == 8
    assert sorted(got["latency_s"]) == pytest.approx(sorted(lat for _, lat, _ in traffic))
    assert set(got["latency_source"]) == {"explicit"}
    assert list(got["status"]) == [status for _, _, status in traffic]
    assert set(got["model"].astype(str)) == {"sonnet"}
    assert a.quality.echoes_merged == 8
    assert any("8 request(s) were each logged twice" in note for note in a.quality.notes)


def test_the_access_line_first_is_an_echo_too() -> None:
    lines = []
    for i in range(6):
        end = 3.0 * i + 1
        lines += [access(end, 200, PATH), app_line(end + 0.002, 0.5)]
    a = analysis(lines)
    assert len(requests(a)) == 6 and a.quality.echoes_merged == 6


def test_without_times_the_lines_must_be_next_to_each_other() -> None:
    # `docker logs` without -t: the access line has no time; the middleware's asctime does.
    plain = [line.split(" ", 1)[1] for i in range(5) for line in echoed(2.0 * i + 1, 0.4)]
    a = analysis(plain)
    assert len(requests(a)) == 5 and a.quality.echoes_merged == 5


def test_overlapping_requests_each_keep_their_own_echo() -> None:
    # Two in flight: the completions of A and B come 10 ms apart, each echoed at once.
    lines = []
    for i in range(5):
        end = 4.0 * i + 1
        lines += echoed(end, 0.9) + echoed(end + 0.010, 0.3)
    got = requests(analysis(lines))
    assert len(got) == 10
    assert sorted(got["latency_s"]) == pytest.approx([0.3] * 5 + [0.9] * 5)


def test_a_status_that_differs_is_two_requests() -> None:
    lines = [line for i in range(5) for line in echoed(2.0 * i + 1, 0.4)]
    lines += [app_line(20.0, 0.4, 200), access(20.0003, 502, PATH)]
    a = analysis(lines)
    assert len(requests(a)) == 7 and a.quality.echoes_merged == 5


def test_two_unrelated_loggers_in_one_file_are_not_merged() -> None:
    # Two proxies' requests in one file (the benchmark's mixed log): an access-logged request and
    # an application-logged one now and then land within 50 ms, but that is no rule.
    rnd = random.Random(7)
    lines, t = [], 0.0
    for _ in range(60):
        t += rnd.uniform(0.01, 1.0)
        lines.append((t, app_line(t, 0.5) if rnd.random() < 0.5 else access(t, 200, PATH)))
    a = analysis([line for _, line in sorted(lines)])
    assert len(requests(a)) == 60 and a.quality.echoes_merged == 0
    assert not any("logged twice" in note for note in a.quality.notes)


def test_a_few_requests_logged_by_one_logger_alone_do_not_stop_the_rest() -> None:
    # uvicorn logs a 422 the framework answered before the middleware ran: an access line alone.
    lines = [line for i in range(9) for line in echoed(2.0 * i + 1, 0.4)]
    lines.insert(4, access(4.0, 422, PATH))
    a = analysis(lines)
    assert len(requests(a)) == 10 and a.quality.echoes_merged == 9


def test_the_share_that_makes_a_rule() -> None:
    # 4 of 10 application lines echoed (under ECHO_SHARE): two loggers that meet by chance.
    lines = [line for i in range(4) for line in echoed(2.0 * i + 1, 0.4)]
    lines += [app_line(20.0 + 2 * i, 0.4) for i in range(6)]
    lines += [access(40.0 + 2 * i, 200, PATH) for i in range(6)]
    a = analysis(lines)
    assert ECHO_SHARE > 4 / 10
    assert len(requests(a)) == 20 and a.quality.echoes_merged == 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["echo", "app", "access"]), st.floats(0.05, 3.0)),
        min_size=1,
        max_size=30,
    )
)
def test_counts_are_the_requests_whatever_the_mix(spec: list[tuple[str, float]]) -> None:
    """Echo pairs count once; lone lines count each; the merge is all or nothing per source."""
    lines = []
    for i, (what, lat) in enumerate(spec):
        end = 5.0 * i + 1
        if what == "echo":
            lines += echoed(end, lat)
        else:
            lines.append(app_line(end, lat) if what == "app" else access(end, 200, PATH))
    a = analysis(lines)
    pairs = sum(1 for what, _ in spec if what == "echo")
    apps = pairs + sum(1 for what, _ in spec if what == "app")
    accesses = pairs + sum(1 for what, _ in spec if what == "access")
    expect_merge = pairs > 0 and pairs >= ECHO_SHARE * min(apps, accesses)
    assert a.quality.echoes_merged == (pairs if expect_merge else 0)
    assert len(requests(a)) == apps + accesses - a.quality.echoes_merged


def test_a_combined_format_access_line_beside_the_apps_own_line() -> None:
    # Express: morgan's `combined` lines (read by the nginx dialect) and the app's console line
    # with the model and its time; the app's line stays, the access line lends nothing it lacks.
    lines = []
    for i in range(6):
        end = 2.0 * i + 1
        lines.append(f"{engine(end)} [app] POST {PATH} 200 {300 + 10 * i}ms model=claude-sonnet-4")
        lines.append(
            f'{engine(end + 0.0003)} ::ffff:172.17.0.1 - - [30/Nov/2026:12:00:0{i} +0000] "POST '
            f'{PATH} HTTP/1.1" 200 512 "-" "node-fetch/1.0"'
        )
    a = analysis(lines)
    got = requests(a)
    assert len(got) == 6 and a.quality.echoes_merged == 6
    assert list(got["latency_s"]) == pytest.approx([0.3 + 0.01 * i for i in range(6)])
    assert set(got["model"].astype(str)) == {"claude-sonnet-4"}


def test_the_line_that_stays_is_lent_what_it_lacks() -> None:
    # The access line first, with the status; the app's line after it names no status.
    lines = []
    for i in range(5):
        end = 2.0 * i + 1
        lines += [
            access(end, 503 if i == 2 else 200, PATH),
            f"{engine(end + 0.001)} {asctime(end)} - app - INFO - request finished "
            f"path={PATH} duration_ms={400 + i}",
        ]
    got = requests(analysis(lines))
    assert list(got["status"]) == [200, 200, 503, 200, 200]
    assert list(got["latency_s"]) == pytest.approx([0.4 + 0.001 * i for i in range(5)])


def test_crossed_lines_of_responses_finishing_together_pair_by_time() -> None:
    # Two responses end in the same 50 µs: both access lines, then both app lines (the
    # middleware-plain-sequential capture), once among otherwise ordinary pairs.
    lines = [line for i in range(6) for line in echoed(2.0 * i + 1, 0.4)]
    end = 20.0
    lines += [
        access(end, 200, PATH),
        access(end + 0.00002, 200, PATH),
        app_line(end + 0.00004, 1.5),
        app_line(end + 0.00005, 0.001),
    ]
    a = analysis(lines)
    assert len(requests(a)) == 8 and a.quality.echoes_merged == 8


def test_the_access_line_first_or_second_by_the_race_of_the_streams() -> None:
    # stdout (uvicorn's access line) and stderr (the app's record) are stamped apart: every
    # third response's access line came first (the middleware-kv-concurrent capture: a quarter)
    lines = []
    for i in range(9):
        end, latency = 2.0 * i + 1, 0.3 + 0.1 * i
        if i % 3:
            lines += [app_line(end, latency), access(end + 0.0002, 200, PATH)]
        else:
            lines += [access(end, 200, PATH), app_line(end + 0.0002, latency)]
    a = analysis(lines)
    got = requests(a)
    assert len(got) == 9 and a.quality.echoes_merged == 9
    assert sorted(got["latency_s"]) == pytest.approx([0.3 + 0.1 * i for i in range(9)])


def test_each_source_is_judged_alone() -> None:
    # source 0 logs every response twice; source 1 is another proxy with one line a response
    echoing = [line for i in range(5) for line in echoed(2.0 * i + 1, 0.4)]
    single = [app_line(2.0 * i + 1.0001, 0.4) for i in range(5)]
    single += [access(2.0 * i + 1.0002, 200, PATH) for i in range(5, 10)]
    a = analysis(echoing, single)
    got = a.requests.table
    assert (got["source"].astype(str) == "source-0.log").sum() == 5
    assert (got["source"].astype(str) == "source-1.log").sum() == 10
    assert a.quality.echoes_merged == 5


def test_one_loggers_lines_split_by_timing_are_not_two_loggers() -> None:
    # gunicorn's access lines (its dialect) under 3 requests in flight: those printed within
    # 5 ms of an application record are marked continuations, the others not. Same logger, one
    # line a request: nothing to merge, whatever the kinds the timing gave them.
    lines = [f"{engine(0.0)} [2026-11-30 12:00:00 +0000] [7] [INFO] Booting worker with pid: 7"]
    for i in range(12):
        end = 1.0 + 0.02 * i  # completions 20 ms apart: within RACE_NS of each other
        if i % 3 == 0:  # an application record 1 ms before: the access line is a continuation
            lines.append(
                f"{engine(end - 0.001)} {asctime(end)} - src.main - INFO - Chat completion"
            )
        lines.append(f'{engine(end)} 172.17.0.1:5{i:04d} - "POST {PATH} HTTP/1.1" 200')
    a = analysis(lines)
    assert a.quality.echoes_merged == 0
    assert len(requests(a)) == 12


def test_lines_of_two_loggers_always_20_ms_apart_are_not_written_together() -> None:
    # Every app line has an access line 20 ms later (within RACE_NS, the share rule met): but
    # records one process writes together are under a ms apart (the captures), so these are
    # two requests each, as two busy loggers' lines would be.
    lines = [line for i in range(10) for line in echoed(2.0 * i + 1, 0.4, gap_s=0.020)]
    a = analysis(lines)
    assert a.quality.echoes_merged == 0 and len(requests(a)) == 20
    assert ECHO_GAP_NS < 20_000_000


def test_without_any_time_lines_written_crossed_pair_in_their_own_order() -> None:
    # `docker logs` without -t of a middleware that logs no stamp of its own (logging's default
    # format) under uvicorn, one request at a time: each pipe keeps its order, the engine
    # merged them in bursts (middleware-plain-sequential: A A P P and A A A P P P among A P).
    def app(ms: int, status: int = 200) -> str:
        return f"INFO:proxy:POST {PATH} {status} {ms}ms"

    def acc(status: int = 200) -> str:
        return access(0.0, status, PATH).split(" ", 1)[1]  # (its engine stamp cut off)

    # 16 responses, each logged twice; next to each other 13 of them (the rule: ECHO_SHARE)
    order = ["PA", "AP", "PA", "AP", "AAPP", "PA", "AP", "PA", "AAAPPP", "AP", "PA", "AP", "PA"]
    lat = [300 + 7 * i for i in range(16)]
    lines, done = [], 0
    for burst in order:
        n = len(burst) // 2
        pending = iter(lat[done : done + n])
        lines += [acc() if c == "A" else app(next(pending)) for c in burst]
        done += n
    a = analysis(lines)
    got = requests(a)
    assert len(got) == 16 and a.quality.echoes_merged == 16
    assert sorted(got["latency_s"]) == pytest.approx(sorted(ms / 1000 for ms in lat))
