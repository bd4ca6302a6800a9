"""A front proxy's access log beside the application's (analysis/front.py): the same traffic,
counted once, and its timings as the client view."""

from __future__ import annotations

import pytest

from claude_perf.analysis.replicas import fleet_of
from tests.test_truth import analysis, engine, requests, wrapper_request

# (start s, latency s, model) of three requests; nginx logs each 1 ms after the application,
# with its $request_time 2 ms longer (the hop).
TRAFFIC = [(1.0, 0.9, "sonnet"), (5.0, 0.4, "haiku"), (9.0, 1.9, "opus")]


def nginx_line(start: float, latency: float, status: int = 200) -> str:
    return (
        f"{engine(start + latency + 0.001)} 172.18.0.1 - - [30/Nov/2026:12:00:05 +0000] "
        f'"POST /v1/chat/completions HTTP/1.1" {status} 512 "-" "curl/8.5.0" {latency + 0.002:.3f}'
    )


def app_log() -> list[str]:
    return [line for start, lat, model in TRAFFIC for line in wrapper_request(start, lat, model)]


def test_a_front_proxy_beside_the_application_is_counted_once() -> None:
    a = analysis(app_log(), [nginx_line(s, lat) for s, lat, _ in TRAFFIC])
    got = requests(a)
    assert len(got) == 3
    assert set(got["source"].astype(str)) == {"source-0.log"}
    assert sorted(got["model"].astype(str)) == ["haiku", "opus", "sonnet"]
    assert a.front is not None and a.front.sources == ("source-1.log",)
    assert a.front.requests == 3 and a.front.dialects == ("nginx",)
    assert [r.source for r in fleet_of(a).replicas] == ["source-0.log"]
    assert any("a front proxy's access log (nginx)" in n for n in a.quality.notes)
    # its logged durations are the client view, joined with the application's rows
    assert a.client is not None
    join = a.client.join
    assert (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server)) == (3, 0, 0)
    (model,) = a.client.models
    assert model.latency_s is not None
    assert model.latency_s.p50 == pytest.approx(0.902)


def envoy_line(start: float, latency: float, n: int) -> str:
    """Envoy's default format: the request's start in brackets, its whole time in whole ms."""
    return (
        f"{engine(start + latency + 0.001)} [2026-11-30T12:00:0{n}.000Z] "
        f'"POST /v1/chat/completions HTTP/1.1" 200 - 90 512 {round((latency + 0.002) * 1000)} '
        f'{round(latency * 1000)} "-" "curl/8.5.0" "envoy-{n}" "proxy:10000" "172.17.0.3:8000"'
    )


def test_envoy_in_front_is_counted_once_and_its_durations_are_the_client_view() -> None:
    front = [envoy_line(s, lat, n) for n, (s, lat, _) in enumerate(TRAFFIC)]
    a = analysis(app_log(), front)
    assert len(requests(a)) == 3
    assert a.front is not None and a.front.dialects == ("envoy",)
    assert a.client is not None and len(a.client.join.pairs) == 3
    (model,) = a.client.models
    assert model.latency_s is not None
    assert model.latency_s.p50 == pytest.approx(0.902)


def test_a_front_proxy_alone_is_the_only_view_and_stays() -> None:
    a = analysis([nginx_line(s, lat) for s, lat, _ in TRAFFIC])
    assert len(requests(a)) == 3
    assert a.front is None and a.client is None


def test_a_front_request_the_application_never_logged_is_unmatched() -> None:
    """nginx answered a 502 itself (the application was down): not in the application's
    log, so not a request of it, but the client view shows it unmatched and failed."""
    front = [nginx_line(s, lat) for s, lat, _ in TRAFFIC] + [nginx_line(12.0, 0.01, 502)]
    a = analysis(app_log(), front)
    assert len(requests(a)) == 3
    assert a.client is not None
    assert (len(a.client.join.pairs), len(a.client.join.unmatched_client)) == (3, 1)
    assert a.client.error_classes == (("http_5xx", 1),)


def test_a_front_format_log_without_durations_stays_a_source_of_its_own() -> None:
    """nginx's plain combined format has no request time: nothing to join by, so its requests
    are not taken away on the format alone (the note says how to have them joined)."""
    untimed = [line.rsplit(" ", 1)[0] for line in (nginx_line(s, lat) for s, lat, _ in TRAFFIC)]
    a = analysis(app_log(), untimed)
    assert len(requests(a)) == 6 and a.front is None and a.client is None
    assert any("its lines carry no duration to join them by" in n for n in a.quality.notes)


def test_another_service_in_a_front_format_is_not_taken_for_a_front_proxy() -> None:
    """A Flask service on gunicorn's sync workers writes the combined format with its own
    traffic (other times): it does not join the wrapper's rows, so it stays a replica."""
    other = [nginx_line(20.0 + 3 * i, 0.2) for i in range(5)]
    a = analysis(app_log(), other)
    assert len(requests(a)) == 8 and a.front is None and a.client is None
    assert any("its requests do not line up with source-0.log's" in n for n in a.quality.notes)
    assert [r.source for r in fleet_of(a).replicas] == ["source-0.log", "source-1.log"]


def test_a_front_log_too_large_to_join_says_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import claude_perf.analysis.front as front

    monkeypatch.setattr(front, "MAX_FRONT_RECORDS", 2)
    a = analysis(app_log(), [nginx_line(s, lat) for s, lat, _ in TRAFFIC])
    assert len(requests(a)) == 6 and a.front is None
    assert any("it holds more than 2 requests to join" in n for n in a.quality.notes)
