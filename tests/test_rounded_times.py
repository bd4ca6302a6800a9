"""Times a logger rounds to whole seconds (Hono's and koa-logger's `2s`, dialects' ``rounded``
group): never a duration where a start pairs with the line, the latency where nothing else is
(`docker logs` without -t), said so (latency_source "rounded", a data-quality note)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_truth import analysis, engine, requests

CAPTURE = Path(__file__).parent.parent / "fixtures" / "captures" / "copilot-default-sequential"
# (latency s, status) of five requests one after the other; two over a second
TRAFFIC = [(0.25, 200), (1.45, 200), (0.61, 200), (2.6, 200), (0.05, 500)]


def hono_log(timed: bool) -> list[str]:
    lines = []
    for i, (latency, status) in enumerate(TRAFFIC):
        start, end = 5.0 * i + 1, 5.0 * i + 1 + latency
        ms = round(latency * 1000)
        shown = f"{ms}ms" if ms < 1000 else f"{round(ms / 1000)}s"  # hono/logger's time()
        stamp = (lambda t: engine(t) + " ") if timed else (lambda t: "")
        lines += [
            f"{stamp(start)}<-- POST /v1/messages",
            f"{stamp(end)}--> POST /v1/messages {status} {shown}",
        ]
    return lines


def test_with_engine_times_the_pairs_are_exact() -> None:
    got = requests(analysis(hono_log(timed=True)))
    assert list(got["latency_s"]) == pytest.approx([lat for lat, _ in TRAFFIC], abs=1e-3)
    assert list(got["latency_source"]) == ["explicit", "paired", "explicit", "paired", "explicit"]


def test_without_engine_times_the_rounded_seconds_are_the_latency_and_said_so() -> None:
    a = analysis(hono_log(timed=False))
    got = requests(a)
    assert list(got["latency_s"]) == pytest.approx([0.25, 1.0, 0.61, 3.0, 0.05])
    assert list(got["latency_source"]) == ["explicit", "rounded", "explicit", "rounded", "explicit"]
    assert any(
        "2 request(s) have no time but the one their logger rounded" in n for n in a.quality.notes
    )
    # the succeeded requests' median: 1.0 s as the client's 1.45 s, where leaving the rounded
    # ones out gave 0.25 s (the three under a second but one failure)
    stats = a.metrics.overall_latency_s
    assert stats is not None and stats.n == 4 and stats.p50 == pytest.approx((0.61 + 1.0) / 2)


def test_koa_loggers_whole_seconds_from_ten() -> None:
    lines = ["  <-- POST /v1/messages", "  --> POST /v1/messages 200 12s 1.2kb"]
    lines += ["  <-- POST /v1/messages", "  --> POST /v1/messages 200 1,234ms 1.2kb"]
    got = requests(analysis(lines))
    assert list(got["latency_s"]) == pytest.approx([12.0, 1.234])
    assert list(got["latency_source"]) == ["rounded", "explicit"]


def test_a_real_capture_without_engine_times_keeps_its_median() -> None:
    """copilot-api (Hono's logger): the timed capture's p50 is the one its `docker logs` without
    -t gives, where before its requests of a second or more had no latency (p50 0.011 s)."""
    timed = CAPTURE / "docker-logs-t.txt"
    plain = [re.sub(r"^\S+Z ", "", line) for line in timed.read_text().splitlines()]
    with_times = analysis(timed.read_text().splitlines())
    without = analysis(plain)
    assert without.quality.latency_unknown == 0
    p50 = [a.metrics.overall_latency_s.p50 for a in (with_times, without)]  # type: ignore[union-attr]
    assert p50[1] == pytest.approx(p50[0], abs=0.01)
