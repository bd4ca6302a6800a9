"""A log whose only clock counts whole seconds: what can still be said about requests in flight.

Without engine timestamps (`docker logs` without -t) the times are the lines' own stamps. Some
loggers write them to the second only: gin and its forks (`[GIN] 2026/12/01 - 03:13:24`, the
handler's return truncated to the second), a winston file log (`2026-12-01 13:41:59`). The window
and per-minute rates are then good to a second, but requests' intervals each shift by up to a
second, independently: measured on the gin, one-api and new-api captures (6 clients), requests
one client sent back to back appeared to overlap, and "most in flight at once" read 14, 16 and
18 where the engine's times gave 8, 7 and 7. So the count is given as the range the stamps
allow, never as one number.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from claude_perf.analysis.numeric import max_in_flight
from claude_perf.durations import NS_PER_S

if TYPE_CHECKING:
    import numpy as np

    from claude_perf.analysis.metrics import Metrics, Throughput
    from claude_perf.parse.entries import Entries


def whole_second_clock(entries: Entries, lines: int) -> bool:
    """Every line lacks an engine time and every time read from a line's own stamp is a whole
    second (at least two of them: one stamp at .000 is chance)."""
    return (
        entries.no_time_lines == lines
        and entries.app_time_lines >= 2
        and entries.app_whole_second_lines == entries.app_time_lines
    )


def in_flight_range(
    start_ns: np.ndarray, end_ns: np.ndarray, step_ns: int = NS_PER_S
) -> tuple[int, int]:
    """(fewest, most) requests that can have been in flight at once at the busiest moment,
    when each stamp may be up to ``step_ns`` earlier than the instant it stands for (a
    truncated clock: gin's ``Format("15:04:05")``).

    A request stamped [s, e] ran over [s + d1, e + d2] with 0 <= d < step: it surely ran over
    [s + step, e] (every shift covers it), and can have run anywhere in [s, e + step]. The
    most of the first kind at one instant is a count that surely happened; the most of the
    second, a count no placement of the requests can exceed.
    """
    import numpy as np

    sure = end_ns > start_ns + step_ns
    fewest = max_in_flight(start_ns[sure] + step_ns, end_ns[sure]) if sure.any() else 0
    most = max_in_flight(start_ns, end_ns + step_ns) if len(start_ns) else 0
    # a request by itself is one in flight, however short its sure interval (if it lasted at all:
    # stamps that differ stand for instants that do)
    return max(fewest, int(bool(np.any(end_ns > start_ns)))), most


def with_whole_second_clock(metrics: Metrics) -> Metrics:
    """The metrics with the in-flight count as the range the stamps allow (``in_flight_range``)
    and the per-request levels marked unknown (the latency split alone / alongside others)."""
    timeline = metrics.timeline
    if timeline is None or not len(timeline.start_ns):
        return metrics
    fewest, most = in_flight_range(timeline.start_ns, timeline.end_ns)
    throughput = replace(
        metrics.throughput,
        max_in_flight=fewest,
        in_flight_range=(fewest, most),
        overlapped=fewest > 1,
    )
    return replace(metrics, throughput=throughput, timeline=replace(timeline, levels_known=False))


def surely_sequential(throughput: Throughput) -> bool:
    """No two requests overlapped: measured so, and not merely unresolved by a coarse clock."""
    span = throughput.in_flight_range
    return not throughput.overlapped and (span is None or span[1] <= 1)


def whole_second_note(metrics: Metrics) -> str:
    """What the "no engine timestamp" note adds when the stamps count whole seconds ('' else)."""
    span = metrics.throughput.in_flight_range
    if span is None:
        return ""
    return (
        "; those stamps count whole seconds: the window and per-minute rates are good to a "
        "second, and how many requests were in flight at once can only be bounded (between "
        f"{span[0]} and {span[1]} at the busiest moment; `docker logs -t` or `claude-perf "
        "collect` give engine times)"
    )
