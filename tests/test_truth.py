"""Known answers for log shapes of real proxies that the first version got wrong (issue 10).

Each case is a small log in `docker logs -t` form (or two, for two sources) with the answer a
person reading it would give: how many requests, which model, what latency, which failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import combine, read_log
from claude_perf.parse.events import text_values

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def engine(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def asctime(seconds: float) -> str:
    t = at(seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def access(seconds: float, status: int = 200, path: str = "/v1/chat/completions") -> str:
    method = "GET" if path == "/health" else "POST"
    return f'{engine(seconds)} INFO:     172.17.0.1:5{int(seconds * 10) % 9999:04d} - "{method} {path} HTTP/1.1" {status} OK'


def analysis(*logs: list[str], config: Config | None = None) -> Analysis:
    tables, infos, counts = [], [], []
    for i, lines in enumerate(logs):
        table, info, count = read_log(f"source-{i}.log", data=("\n".join(lines) + "\n").encode())
        tables.append(table)
        infos.append(info)
        counts.append(count)
    return analyse(combine(tables, infos, counts), config or Config())


def requests(a: Analysis, kind: str = "model"):
    table = a.requests.table
    return table[table["kind"] == kind].reset_index(drop=True)


def wrapper_request(start: float, latency: float, model: str) -> list[str]:
    """A non-streaming chat completion as claude-code-openai-wrapper logs it by default."""
    return [
        f"{engine(start)} {asctime(start)} - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        f"{engine(start)} {asctime(start)} - src.parameter_validator - WARNING - Model '{model}' is not in the known supported models list.",
        access(start + latency),
    ]


def test_two_containers_never_pair_across_sources():
    # Replica a: sonnet 0.0 → 3.0; replica b: haiku 1.0 → 1.5. Merged in time order a start in a
    # would take b's completion first-in-first-out; per source there is nothing to guess.
    a = analysis(wrapper_request(0.0, 3.0, "sonnet"), wrapper_request(1.0, 0.5, "haiku"))
    got = requests(a).sort_values("model").reset_index(drop=True)
    assert list(got["model"]) == ["haiku", "sonnet"]
    assert got["latency_s"].round(6).tolist() == [0.5, 3.0]
    assert list(got["source"]) == ["source-1.log", "source-0.log"]
    assert a.requests.ambiguous_pairings == 0
    assert a.quality.dialects == {
        "source-0.log": ("claude-code-openai-wrapper",),
        "source-1.log": ("claude-code-openai-wrapper",),
    }


def test_a_rotated_json_file_is_the_same_source():
    from claude_perf.ingest.sources import source_name

    assert source_name("/var/lib/docker/containers/ab/ab-json.log.1") == (
        "/var/lib/docker/containers/ab/ab-json.log"
    )
    assert source_name("session.log.1") == "session.log.1"


def test_a_bare_json_duration_is_read_from_its_magnitude():
    lines = [
        f'{engine(t)} {{"event":"request.complete","path":"/v1/messages","status":200,"duration":{ms}}}'
        for t, ms in ((1.0, 850), (5.0, 1200), (9.0, 640))
    ]
    a = analysis(lines)
    assert requests(a)["latency_s"].round(6).tolist() == [0.85, 1.2, 0.64]
    assert any("carry no unit" in note and "milliseconds" in note for note in a.quality.notes)


@pytest.mark.parametrize(
    ("line", "dialect"),
    [  # Echo v4's default logger (its dialect says ns); Echo v5's (log/slog's JSONHandler, bare)
        (
            '{{"time":"2026-11-30T12:00:05.1Z","id":"","remote_ip":"172.17.0.1","host":"localhost:8080","method":"POST","uri":"/v1/messages","user_agent":"curl/8.5.0","status":200,"error":"","latency":{ns},"latency_human":"{human}","bytes_in":90,"bytes_out":512}}',
            "echo",
        ),
        (
            '{{"time":"2026-11-30T12:00:05.1Z","level":"INFO","msg":"REQUEST","method":"POST","uri":"/v1/messages","status":200,"latency":{ns},"host":"localhost:8080","bytes_in":"","bytes_out":512,"user_agent":"curl/8.5.0","remote_ip":"172.17.0.1","request_id":""}}',
            None,
        ),
    ],
)
def test_go_durations_in_whole_nanoseconds_are_read_as_such(line: str, dialect: str | None):
    latencies_s = [0.000412, 0.85, 4.873, 12.5]  # a health check among them
    lines = [
        f"{engine(5.0 * i)} " + line.format(ns=round(s * 1e9), human=f"{s}s")
        for i, s in enumerate(latencies_s)
    ]
    a = analysis(lines)
    assert requests(a)["latency_s"].round(6).tolist() == latencies_s
    assert a.quality.dialects["source-0.log"] == ((dialect,) if dialect else ())
    noted = any("read as nanoseconds" in note for note in a.quality.notes)
    assert noted == (dialect is None)  # a bare number's unit is said; a dialect's is known


def test_a_bare_duration_in_seconds_stays_seconds():
    lines = [
        f'{engine(t)} {{"event":"request.complete","path":"/v1/messages","status":200,"duration":{s}}}'
        for t, s in ((1.0, 0.85), (5.0, 12.5))
    ]
    assert requests(analysis(lines))["latency_s"].round(6).tolist() == [0.85, 12.5]


def test_an_upstream_call_line_is_not_a_second_request():
    lines = [
        f"{engine(0.0)} {asctime(0.0)} - proxy - INFO - Processing request",
        f"{engine(3.9)} {asctime(3.9)} - proxy - INFO - upstream call status=200 duration=3.9s",
        access(4.0),
    ]
    got = requests(analysis(lines))
    assert len(got) == 1
    assert got["latency_s"].round(6).tolist() == [4.0]


def test_uvicorn_access_lines_through_a_formatter_are_completions():
    lines = [
        f'{engine(t)} {asctime(t)} - uvicorn.access - INFO - 172.17.0.1:5000 - "POST /v1/chat/completions HTTP/1.1" {s}'
        for t, s in ((1.0, 200), (2.0, 500))
    ] + [
        f'{engine(3.0)} {asctime(3.0)} - uvicorn.access - INFO - 127.0.0.1:41000 - "GET /health HTTP/1.1" 200'
    ]
    a = analysis(lines)
    assert list(requests(a)["status"]) == [200, 500]
    assert list(requests(a)["outcome"]) == ["succeeded", "failed"]
    assert len(requests(a, "health")) == 1
    assert a.quality.dialects == {"source-0.log": ("uvicorn-access-formatted",)}


def validation_errors(engine_s: float, stamp_s: float) -> list[str]:
    """The wrapper's two records for a malformed body (stamped by the proxy at ``stamp_s``, read
    by the engine at ``engine_s``), logged before its 422."""
    return [
        f"{engine(engine_s)} {asctime(stamp_s)} - src.main - ERROR - ❌ Request validation failed for POST http://h/v1/chat/completions",
        f"{engine(engine_s + 0.0003)} {asctime(stamp_s + 0.0003)} - src.main - ERROR - ❌ Validation errors: [{{'type': 'json_invalid'}}]",
    ]


# The container's clock zone against the engine's UTC: none, Paris in winter, Kathmandu.
ZONES_S = (0.0, 3600.0, 5 * 3600.0 + 45 * 60.0)


@pytest.mark.parametrize("zone_s", ZONES_S)
def test_error_records_written_after_a_completion_are_not_its_own(zone_s: float):
    """gunicorn logged a 200's access line, then a malformed request's validation errors 3.5 ms
    later, then that request's 422 3.7 ms after them: the 200 is nearer, but its line was out
    before the errors were written (their own stamps say so), so they are the 422's."""
    lines = [
        *wrapper_request(0.0, 1.0, "sonnet"),  # 200 at 1.000
        *validation_errors(1.0036, 1.0035 + zone_s),
        access(1.0076, 422),
    ]
    got = requests(analysis(lines))
    assert list(got["status"]) == [200, 422]
    assert list(got["outcome"]) == ["succeeded", "failed"]
    assert list(got["error_records"]) == [0, 2]
    assert list(text_values(got["error_class"])) == [None, "validation"]


def test_error_records_before_a_200_and_a_422_written_together_are_the_422s():
    """Under load hypercorn wrote a 200's and a malformed request's 422 access lines 2.4 µs
    apart, right after the 422's validation errors (tests/test_real_proxies.py, seen 2 in 8
    runs): the errors are the failure's, not the success's before it."""
    lines = [
        *wrapper_request(0.0, 1.0, "sonnet")[:2],
        *validation_errors(0.9999, 0.9999),
        access(1.0, 200),
        access(1.0000024, 422),
    ]
    got = requests(analysis(lines))
    assert list(got["status"]) == [200, 422]
    assert list(got["outcome"]) == ["succeeded", "failed"]
    assert list(got["error_records"]) == [0, 2]


def test_a_failures_error_run_cut_in_two_by_a_success_is_the_failures():
    """gunicorn with two uvicorn workers, under load (a live test, 1 run in 15): a malformed
    request's "Request validation failed" (stamped .650, read .652096), the other worker's 200
    at .652125, its "Validation errors" (.656, read .660057), its 422 at .660081. The 200's
    line cut the 422's run in two: both records are the 422's, and the 200 succeeded."""
    first, second = validation_errors(1.652096, 1.650)
    second = second.replace(engine(1.652396), engine(1.660057))
    assert engine(1.660057) in second
    lines = [
        *wrapper_request(0.58, 1.072125, "sonnet")[:2],
        first,
        access(1.652125, 200),
        second,
        access(1.660081, 422),
    ]
    got = requests(analysis(lines))
    assert list(got["status"]) == [200, 422]
    assert list(got["outcome"]) == ["succeeded", "failed"]
    assert list(got["error_records"]) == [0, 2]


def test_a_successs_own_errors_stay_when_the_next_failure_logs_its_own_later():
    """The same shape, the failure's own record more than the 50 ms skew after the success's:
    two runs of two requests, the first stays with the 200 it was written before."""
    first, second = validation_errors(1.652096, 1.650)
    second = second.replace(engine(1.652396), engine(1.760057))
    assert engine(1.760057) in second
    lines = [
        *wrapper_request(0.58, 1.072125, "sonnet")[:2],
        first,
        access(1.652125, 200),
        second,
        access(1.760081, 422),
    ]
    got = requests(analysis(lines))
    assert list(got["error_records"]) == [1, 1]


@pytest.mark.parametrize("zone_s", ZONES_S)
def test_error_records_written_before_a_completion_stay_with_it(zone_s: float):
    """The sample session's shape: a request's error records written before its 200 (stamped
    by the proxy 1 ms before the access line) but read by the engine after it, and a 401 that
    logs nothing right behind: the records are the 200's."""
    lines = [
        *wrapper_request(0.0, 1.0, "sonnet"),
        *validation_errors(1.0005, 0.999 + zone_s),
        access(1.003, 401),
    ]
    got = requests(analysis(lines))
    assert list(got["status"]) == [200, 401]
    assert list(got["error_records"]) == [2, 0]


def test_gunicorn_uvicorn_worker_access_lines_are_completions():
    """gunicorn + uvicorn workers (tiangolo/uvicorn-gunicorn-fastapi): bare access lines with no
    `INFO:` head and no reason phrase; gunicorn's own records are not requests, and a killed
    worker is an error outside any request."""
    lines = [
        f"{engine(0.0)} [2026-11-29 00:00:00 +0000] [1] [INFO] Booting worker with pid: 7",
        f'{engine(1.0)} 172.17.0.1:52118 - "POST /v1/chat/completions HTTP/1.1" 200',
        f'{engine(1.5)} 127.0.0.1:46988 - "GET /health HTTP/1.1" 200',
        f'{engine(2.0)} 172.17.0.1:52120 - "POST /v1/chat/completions?x=1 HTTP/1.1" 422',
        f"{engine(9.0)} [2026-11-29 00:00:09 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:7)",
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["status"]) == [200, 422]
    assert list(got["outcome"]) == ["succeeded", "failed"]
    assert list(got["client"]) == ["172.17.0.1", "172.17.0.1"]
    assert len(requests(a, "health")) == 1
    assert a.requests.orphan_error_records == 1
    assert a.quality.dialects == {"source-0.log": ("gunicorn",)}


@pytest.mark.parametrize(
    ("line", "dialect", "latency_s"),
    [
        (
            '172.17.0.1 - - [30/Nov/2026:12:00:05 +0000] "POST /v1/chat/completions HTTP/1.1" 200 512 "-" "curl/8.5.0" 4.873',
            "nginx",
            4.873,
        ),
        (
            '172.17.0.1 - - [30/Nov/2026:12:00:05 +0000] "POST /v1/chat/completions HTTP/1.1" 200 512 "-" "curl/8.5.0" rt=4.873 uct=0.001',
            "nginx",
            4.873,
        ),
        (
            '172.17.0.1 - - [30/Nov/2026:12:00:05 +0000] "POST /v1/chat/completions HTTP/1.1" 200 512 "-" "curl/8.5.0" 7 "proxy@docker" "http://172.17.0.3:8000" 4873ms',
            "traefik",
            4.873,
        ),
        (
            '{"level":"info","ts":1764504005.1,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"172.17.0.1","method":"POST","host":"localhost","uri":"/v1/chat/completions?x=1","headers":{}},"bytes_read":90,"user_id":"","duration":4.873,"size":512,"status":200,"resp_headers":{}}',
            "caddy",
            4.873,
        ),
        (
            '[2026-11-30 12:00:05 +0000] [14826] [INFO] 172.17.0.1:43026 - - [30/Nov/2026:12:00:05 +0000] "POST /v1/chat/completions?x=1 1.1" 200 275 "-" "curl/7.88.1"',
            "hypercorn",
            None,
        ),
        (
            '[2026-11-30 12:00:05 +0000] [14826] [INFO] ::1:43026 - - [30/Nov/2026:12:00:05 +0000] "POST /v1/chat/completions 2" 200 275 "-" "curl/7.88.1"',
            "hypercorn",
            None,
        ),
        (
            '[2026-11-30 12:00:05 +0000] 172.17.0.1 - "POST /v1/chat/completions HTTP/1.1" 200 4873.120',
            "granian",
            4.87312,
        ),
        ("POST /v1/chat/completions 200 275 - 4873.120 ms", "morgan", 4.87312),
        # CLIProxyAPI's request line, v6.6.52 and later (gin_logger.go); a latency over a
        # minute is cut to the second in Go's Duration text; then v6.6.50-51 and v6.0.4-6.6.49
        (
            '[2026-11-30 20:00:05] [1840f7dc] [info ] [gin_logger.go:97] 200 |        4.873s |      172.17.0.1 | POST    "/v1/chat/completions"',
            "cliproxyapi",
            4.873,
        ),
        (
            '[2026-11-30 20:00:05] [0b68fa22] [info ] [gin_logger.go:97] 200 |         1m12s |      172.17.0.1 | POST    "/v1/chat/completions?beta=true"',
            "cliproxyapi",
            72.0,
        ),
        (
            '[2025-12-24 20:00:05] [info ] [gin_logger.go:86] | 1840f7dc | 200 |         873ms |      172.17.0.1 | POST    "/v1/chat/completions"',
            "cliproxyapi",
            0.873,
        ),
        (
            '[2025-11-24 10:07:40] [info] [gin_logger.go:58] [GIN] 2025/11/24 - 10:07:40 | 200 |        4.873s | fd2b:6d4:c6af:cafe::185 | POST    "/v1/chat/completions"',
            "cliproxyapi",
            4.873,
        ),
        ("POST /v1/chat/completions?stream=1 200 - - 4873.120 ms", "morgan", 4.87312),
        (
            "::ffff:172.17.0.1 - POST /v1/chat/completions HTTP/1.1 200 275 - 4873.120 ms",
            "morgan",
            4.87312,
        ),
        (
            '{"asctime": "2026-11-30 12:00:05,100", "name": "uvicorn.access", "levelname": "INFO", "message": "172.17.0.1:44558 - \\"POST /v1/chat/completions HTTP/1.1\\" 200"}',
            "uvicorn-access-json",
            None,
        ),
        (
            '{"event": "172.17.0.1:44558 - \\"POST /v1/chat/completions?x=1 HTTP/1.1\\" 200", "logger": "uvicorn.access", "level": "info"}',
            "uvicorn-access-json",
            None,
        ),
        (  # gin's default logger before 2025 (%13v), and after it (%8v, truncated latencies)
            '[GIN] 2026/11/30 - 12:00:05 | 200 |    4.873120s |      172.17.0.1 | POST     "/v1/chat/completions"',
            "gin",
            4.87312,
        ),
        (
            '[GIN] 2026/11/30 - 12:00:05 | 200 | 1m20s |      172.17.0.1 | POST     "/v1/chat/completions?beta=true"',
            "gin",
            80.0,
        ),
        (
            '[GIN] 2026/11/30 - 12:00:05 | 200 | 873.45ms |      172.17.0.1 | POST     "/v1/chat/completions"',
            "gin",
            0.87345,
        ),
        (  # on a terminal (docker run -t): colours around status, latency and method
            '[GIN] 2026/11/30 - 12:00:05 |\x1b[97;42m 200 \x1b[0m|\x1b[97;41m  45.67µs \x1b[0m|      172.17.0.1 |\x1b[97;46m POST    \x1b[0m "/v1/chat/completions"',
            "gin",
            45.67e-6,
        ),
        (  # actix-web's Logger (default format) through env_logger, then through tracing-log
            '[2026-11-30T12:00:05Z INFO  actix_web::middleware::logger] 172.17.0.1 "POST /v1/chat/completions HTTP/1.1" 200 512 "-" "curl/8.5.0" 4.873120',
            "actix-web",
            4.87312,
        ),
        (
            '2026-11-30T12:00:05.123456Z  INFO actix_web::middleware::logger: 172.17.0.1 "POST /v1/chat/completions?x=1 HTTP/1.1" 200 - "-" "python-httpx/0.28.1" 0.000731',
            "actix-web",
            0.000731,
        ),
        (
            "2026-11-30T12:00:05.123456Z DEBUG request{method=POST uri=/v1/chat/completions version=HTTP/1.1}: tower_http::trace::on_response: finished processing request latency=4873 ms status=200",
            "tower-http",
            4.873,
        ),
        (
            "2026-11-30T12:00:05.123456Z  INFO request{method=POST uri=/v1/chat/completions?beta=true version=HTTP/2.0}: tower_http::trace::on_response: finished processing request latency=4873120 μs status=200",
            "tower-http",
            4.87312,
        ),
        (  # Envoy's default access log format (X-Forwarded-For unset: "-")
            '[2026-11-30T12:00:00.127Z] "POST /v1/chat/completions HTTP/1.1" 200 - 90 512 4873 4872 "-" "curl/8.5.0" "2f0d6c1e-8a3b-4c55-9d1e-0c5a9b7e6f21" "localhost:10000" "172.17.0.3:8000"',
            "envoy",
            4.873,
        ),
        (
            '[2026-11-30T12:00:00.127Z] "POST /v1/chat/completions?beta=true HTTP/2" 200 - 90 512 4873 - "172.17.0.1" "python-httpx/0.28.1" "-" "proxy:10000" "172.17.0.3:8000"',
            "envoy",
            4.873,
        ),
        (  # Istio's sidecar default: response code details and more after the flags
            '[2026-11-30T12:00:00.127Z] "POST /v1/chat/completions HTTP/1.1" 200 - via_upstream - "-" 90 512 4873 4872 "-" "curl/8.5.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "proxy:8000" "10.44.1.27:8000" outbound|8000||proxy.default.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default',
            "envoy",
            4.873,
        ),
    ],
)
def test_front_proxy_access_logs_are_requests(line, dialect, latency_s):
    a = analysis([f"{engine(5.0)} {line}"])
    got = requests(a)
    assert len(got) == 1
    assert got["path"][0] == "/v1/chat/completions"
    assert got["status"][0] == 200
    assert a.quality.dialects["source-0.log"] == (dialect,)
    if latency_s is not None:
        assert got["latency_s"][0] == pytest.approx(latency_s)


def test_envoy_status_0_is_a_failed_request_with_its_request_id_and_client():
    """RESPONSE_CODE 0: no response began (DC: the client went away; UF: no upstream)."""
    lines = [
        f'{engine(5.0)} [2026-11-30T12:00:00.100Z] "POST /v1/messages HTTP/1.1" 0 DC 90 0 4900 - "10.0.0.7, 172.17.0.1" "claude-cli/2.0" "load-1-000001" "proxy:10000" "172.17.0.3:8000"',
        f'{engine(6.0)} [2026-11-30T12:00:05.900Z] "POST /v1/messages HTTP/1.1" 503 UF 90 91 2 - "-" "claude-cli/2.0" "load-1-000002" "proxy:10000" "172.17.0.3:8000"',
    ]
    got = requests(analysis(lines))
    assert list(got["outcome"]) == ["failed", "failed"]
    assert pd.isna(got["status"][0]) and got["status"][1] == 503
    assert list(got["request_id"]) == ["load-1-000001", "load-1-000002"]
    assert got["client"][0] == "10.0.0.7" and pd.isna(got["client"][1])
    assert list(got["latency_s"].round(3)) == [4.9, 0.002]
    assert list(got["error_class"]) == ["other", "server"]


def test_a_background_error_does_not_fail_the_request_in_flight():
    lines = [
        f"{engine(0.0)} {asctime(0.0)} - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        f"{engine(10.0)} {asctime(10.0)} - src.session_manager - ERROR - Session cleanup failed: disk full",
        access(30.0),
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["outcome"]) == ["succeeded"]
    assert a.requests.orphan_error_records == 1


def test_an_error_right_before_its_completion_fails_it():
    lines = [
        f"{engine(0.0)} {asctime(0.0)} - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        f"{engine(2.99)} {asctime(2.99)} - src.main - ERROR - Claude CLI error: exit code 1",
        access(3.0),
    ]
    got = requests(analysis(lines))
    assert list(got["outcome"]) == ["failed"]
    assert list(got["error_class"]) == ["cli"]


def test_ids_logged_on_starts_only_still_give_latency_and_model():
    lines = [
        f"{engine(0.0)} request started request_id=r-1 model=opus",
        f"{engine(1.0)} request started request_id=r-2 model=haiku",
        f"{engine(1.5)} POST /v1/messages 200 499.000 ms - 120",
        f"{engine(6.0)} POST /v1/messages 200 5999.000 ms - 300",
    ]
    got = requests(analysis(lines))
    assert len(got) == 2
    by_model = dict(zip(got["model"], got["latency_s"].round(3), strict=True))
    # The morgan lines carry their own durations; the starts lend the models by time order
    # (first-in-first-out here pairs r-1 with the first completion: the logs cannot tell more
    # without ids on completions, and the pairing is flagged).
    assert set(by_model) == {"opus", "haiku"}
    assert sorted(by_model.values()) == [0.499, 5.999]


def debug_request(start: float, latency: float, model: str, stream: bool = False) -> list[str]:
    """A chat completion as claude-code-openai-wrapper logs it with DEBUG_MODE=true."""
    end = start + latency
    return [
        f"{engine(start)} {asctime(start)} - src.main - INFO - 🔍 [unknown] Incoming request: POST http://localhost:8000/v1/chat/completions",
        f"{engine(start)} {asctime(start)} - src.main - INFO - 🔍 Request body: {{",
        f'{engine(start)}   "model": "{model}",',
        f'{engine(start)}   "messages": [',
        f'{engine(start)}     {{"role": "user", "content": "hi", "model": "not-this-one"}}',
        f"{engine(start)}   ],",
        f'{engine(start)}   "stream": {"true" if stream else "false"}',
        f"{engine(start)} }}",
        f"{engine(start)} {asctime(start)} - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        f"{engine(end - 0.01)} {asctime(end - 0.01)} - src.main - INFO - Raw SDK message: ResultMessage(subtype='success', duration_ms=750, duration_api_ms=710, is_error=False, num_turns=1)",
        f"{engine(end)} {asctime(end)} - src.main - INFO - 🔍 Response: 200 in {latency * 1000:.2f}ms",
        access(end + 0.0004),
    ]


def debug_health(at_s: float) -> list[str]:
    return [
        f"{engine(at_s)} {asctime(at_s)} - src.main - INFO - 🔍 [unknown] Incoming request: GET http://localhost:8000/health",
        f"{engine(at_s + 0.001)} {asctime(at_s + 0.001)} - src.main - INFO - 🔍 Response: 200 in 1.05ms",
        access(at_s + 0.0012, path="/health"),
    ]


def test_wrapper_debug_mode_reads_model_stream_and_response_time():
    lines = [
        *debug_request(0.0, 0.873, "sonnet"),
        *debug_health(0.5),
        *debug_request(2.0, 1.5, "claude-opus-4-1-20250805"),
        *debug_request(4.0, 0.4, "haiku", stream=True),
        *debug_health(5.0),
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["model"]) == ["sonnet", "claude-opus-4-1-20250805", "haiku"]
    assert got["latency_s"].round(6).tolist()[:2] == [0.873, 1.5]
    assert got["latency_s"].isna().tolist() == [False, False, True]  # streaming: TTFB only
    assert got["ttfb_s"].round(6).tolist()[2] == 0.4
    assert list(got["latency_source"])[:2] == ["explicit", "explicit"]
    assert len(requests(a, "health")) == 2
    assert a.requests.unmatched_starts == 0
    assert a.quality.dialects == {"source-0.log": ("claude-code-openai-wrapper-debug",)}


def test_wrapper_debug_mode_concurrent_requests_take_their_logged_time():
    # Two requests overlap; their completions come in the other order than their starts.
    lines = sorted(
        [*debug_request(0.0, 3.0, "opus"), *debug_request(0.5, 0.7, "haiku")],
        key=lambda line: line[:30],
    )
    got = requests(analysis(lines))
    latency = dict(zip(got["latency_s"].round(6), got["status"], strict=True))
    assert sorted(latency) == [0.7, 3.0]


def maxproxy_run(start: float, latency: float, code: int = 0, pid: int = 100) -> list[str]:
    """One CLI run of claude-max-api-proxy (stderr lines, default logging)."""
    return [
        f"{engine(start)} [Subprocess] Process spawned with PID: {pid}",
        f"{engine(start + latency / 2)} [Subprocess] Received 512 bytes of stdout",
        f"{engine(start + latency)} [Subprocess] Process closed with code: {code}",
    ]


def test_claude_max_api_proxy_runs_are_requests():
    lines = [
        *maxproxy_run(0.0, 1.2),
        *maxproxy_run(2.0, 0.6, pid=101),
        f"{engine(4.0)} [Subprocess] Process spawned with PID: 102",
        f"{engine(4.2)} [NonStreaming] Error: Request timed out after 200ms",
        f"{engine(4.21)} [Subprocess] Process closed with code: null",
        *maxproxy_run(6.0, 0.3, code=1, pid=103),
    ]
    a = analysis(lines)
    got = requests(a)
    assert got["latency_s"].round(6).tolist() == [1.2, 0.6, 0.21, 0.3]
    assert list(got["outcome"]) == ["succeeded", "succeeded", "failed", "failed"]
    assert list(got["error_class"])[2:] == ["timeout", "cli"]
    assert a.entries.kind_counts["other"] == 0
    assert a.quality.dialects == {"source-0.log": ("claude-max-api-proxy",)}


def test_claude_max_api_proxy_debug_counts_health_checks_as_they_arrive():
    def stamp(t: float) -> str:
        return at(t).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at(t).microsecond // 1000:03d}Z"

    lines = [
        f"{engine(0.0)} [{stamp(0.0)}] GET /health",
        f"{engine(1.0)} [{stamp(1.0)}] POST /v1/chat/completions",
        *maxproxy_run(1.001, 0.8),
        f"{engine(3.0)} [{stamp(3.0)}] GET /v1/models",
        f"{engine(5.0)} [{stamp(5.0)}] GET /health",
    ]
    a = analysis(lines)
    assert len(requests(a)) == 1
    assert requests(a)["latency_s"].round(6).tolist() == [0.8]
    assert len(requests(a, "health")) == 2
    assert len(requests(a, "other")) == 1
    assert a.requests.arrivals_only == 3
    assert a.quality.dialects == {"source-0.log": ("claude-max-api-proxy-debug",)}


def test_a_user_pattern_of_role_error_fails_its_request():
    from claude_perf.config.load import config_from_mapping

    config = config_from_mapping(
        {"patterns": [{"regex": r"^upstream exploded: (?P<model>\S+)", "role": "error"}]}
    )
    lines = [
        f"{engine(0.0)} {asctime(0.0)} - proxy - INFO - Processing request",
        f"{engine(0.99)} upstream exploded: opus",
        access(1.0),
    ]
    got = requests(analysis(lines, config=config))
    assert list(got["outcome"]) == ["failed"]
    assert list(got["error_records"]) == [1]


def test_a_streaming_crash_fails_the_stream_not_a_request_that_started_after_it():
    # DEBUG mode, concurrent: a stream (opus) starts and its completion line comes at once; its
    # CLI crashes 0.3 s later; a haiku request that started after the crash completes 5 ms
    # after the error records. The errors are the stream's.
    stream = debug_request(0.0, 0.002, "opus", stream=True)
    crash = [
        f"{engine(0.3)} {asctime(0.3)} - src.claude_cli - ERROR - Claude Agent SDK error: Command failed with exit code 1 (exit code: 1)",
    ]
    after = debug_request(0.302, 0.003, "haiku")
    lines = sorted([*stream, *crash, *after], key=lambda line: line[:30])
    got = requests(analysis(lines))
    outcome = dict(zip(got["model"], got["outcome"], strict=True))
    assert outcome == {"opus": "failed", "haiku": "succeeded"}


def test_json_event_logs_end_with_complete_error_or_timeout():
    # The mattschwen fork of claude-max-api-proxy (src/logger.ts): one JSON object per event.
    def ev(t: float, body: str) -> str:
        return f'{engine(t)} {{"ts":"{at(t).isoformat()}",{body}}}'

    lines = [
        ev(0.0, '"event":"request.start","requestId":"r1","model":"opus"'),
        ev(0.1, '"event":"subprocess.spawn","requestId":"r1","pid":41'),
        ev(0.2, '"event":"request.start","requestId":"r2","model":"haiku"'),
        ev(0.5, '"event":"request.retry","requestId":"r2","reason":"stall"'),
        ev(0.9, '"event":"request.complete","requestId":"r2","model":"haiku","durationMs":700'),
        ev(
            3.0,
            '"event":"request.timeout","requestId":"r1","reason":"Request timed out after 3000ms"',
        ),
    ]
    a = analysis(lines)
    got = requests(a).sort_values("model").reset_index(drop=True)
    assert list(got["model"]) == ["haiku", "opus"]
    assert list(got["outcome"]) == ["succeeded", "failed"]
    assert got["latency_s"].round(6).tolist() == [0.7, 3.0]
    assert list(text_values(got["error_class"])) == [None, "timeout"]  # categorical: None
    assert a.quality.dialects == {"source-0.log": ("json-events",)}


def test_a_dialect_switches_generic_readings_off_only_when_exclusive():
    from claude_perf.config.load import config_from_mapping

    lines = [
        f"{engine(0.0)} JOB begin",
        f"{engine(1.0)} JOB end",
        f"{engine(2.0)} request started request_id=x-1",
        f"{engine(3.0)} request done request_id=x-1 status=200 path=/v1/messages",
    ]

    def dialect(exclusive: bool) -> Config:
        lines_ = [{"regex": "^JOB begin", "role": "start"}, {"regex": "^JOB end", "role": "end"}]
        return config_from_mapping(
            {"dialects": [{"name": "jobs", "lines": lines_, "exclusive": exclusive}]}
        )

    # Not exclusive: its own lines make one request, the generic words another.
    assert len(requests(analysis(lines, config=dialect(False)))) == 2
    # Exclusive: in its source, only its own lines start or end a request.
    assert len(requests(analysis(lines, config=dialect(True)))) == 1


def test_dialects_are_found_and_read_through_ansi_colours():
    red, reset = "\x1b[31m", "\x1b[0m"
    lines = [red + line.split(" ", 1)[1] + reset for line in maxproxy_run(0.0, 1.2)]
    lines = [f"{engine(t)} {text}" for t, text in zip((0.0, 0.6, 1.2), lines, strict=True)]
    a = analysis(lines)
    assert a.quality.dialects == {"source-0.log": ("claude-max-api-proxy",)}
    assert requests(a)["latency_s"].round(6).tolist() == [1.2]


def test_inferred_pairings_the_models_own_latency_contradicts_are_swapped():
    # Three of each model alone first (opus takes ~3 s, haiku ~0.4 s), then an opus and a haiku
    # overlap: first-in-first-out would give the opus start the haiku's completion.
    alone = []
    for i, (model, latency) in enumerate([("opus", 3.0), ("haiku", 0.4)] * 3):
        alone += wrapper_request(10.0 * i, latency + 0.01 * i, model)
    overlap = sorted(
        [*wrapper_request(100.0, 3.05, "opus"), *wrapper_request(100.5, 0.41, "haiku")],
        key=lambda line: line[:30],
    )
    got = requests(analysis([*alone, *overlap]))
    last = got.tail(2).sort_values("model")
    assert list(last["model"]) == ["haiku", "opus"]
    assert last["latency_s"].round(3).tolist() == [0.41, 3.05]
    assert last["ambiguous"].tolist() == [True, True]  # still inferred, and said so


def test_bare_durations_get_their_unit_per_source():
    def line(t: float, value: str) -> str:
        return f'{engine(t)} {{"event":"request.complete","path":"/v1/messages","status":200,"duration":{value}}}'

    in_ms = [line(1.0, "850"), line(5.0, "1200")]
    in_s = [line(2.0, "0.85"), line(6.0, "1.2")]
    got = requests(analysis(in_ms, in_s)).sort_values("source")
    assert got["latency_s"].round(6).tolist() == [0.85, 1.2, 0.85, 1.2]


def test_ids_logged_on_starts_only_pair_by_time():
    # The completions carry no id and no duration: the latency comes from the pairing itself.
    lines = [
        f"{engine(0.0)} request started request_id=r-1 model=opus",
        access(1.5, path="/v1/messages"),
        f"{engine(2.0)} request started request_id=r-2 model=haiku",
        access(6.0, path="/v1/messages"),
    ]
    got = requests(analysis(lines))
    assert list(zip(got["model"], got["latency_s"].round(6), strict=True)) == [
        ("opus", 1.5),
        ("haiku", 4.0),
    ]


def test_a_request_that_spans_a_json_file_rotation_pairs_across_the_parts():
    # The start is in the rotated part, the completion in the current file: one source.
    older = wrapper_request(0.0, 3.0, "opus")[:2]
    newer = wrapper_request(0.0, 3.0, "opus")[2:]
    tables, infos, counts = [], [], []
    for name, lines in (("c/ab-json.log.1", older), ("c/ab-json.log", newer)):
        table, info, count = read_log(name, data=("\n".join(lines) + "\n").encode())
        tables.append(table)
        infos.append(info)
        counts.append(count)
    logs = combine(tables, infos, counts)
    assert logs.sources == ("c/ab-json.log",)
    got = requests(analyse(logs, Config()))
    assert list(zip(got["model"], got["latency_s"].round(6), strict=True)) == [("opus", 3.0)]


def test_starts_without_a_single_completion_say_the_access_log_is_off():
    """uvicorn --no-access-log: the wrapper's starts are there, no access line at all."""
    lines = [line for t in (1.0, 5.0, 9.0) for line in wrapper_request(t, 0.5, "opus")[:2]]
    a = analysis(lines)
    assert len(requests(a)) == 0
    assert a.requests.unmatched_starts == 3
    assert any("the access log looks switched off" in n for n in a.quality.notes)


def test_hono_logger_lines_are_starts_and_ends():
    """hono/logger (Hono 4.13, real output): `<--` as a request comes in, `-->` with a coloured
    status and `873ms` under a second, whole seconds (`6s`) above: those are too coarse, so the
    lines' own times give that latency."""
    lines = [
        f"{engine(1.0)} <-- POST /v1/chat/completions",
        f"{engine(1.873)} --> POST /v1/chat/completions \x1b[32m200\x1b[0m 873ms",
        f"{engine(3.0)} <-- POST /v1/chat/completions",
        f"{engine(8.91)} --> POST /v1/chat/completions \x1b[32m200\x1b[0m 6s",
        f"{engine(9.0)} <-- GET /health",
        f"{engine(9.001)} --> GET /health \x1b[32m200\x1b[0m 1ms",
        f"{engine(10.0)} <-- POST /v1/messages",
        f"{engine(10.2)} --> POST /v1/messages \x1b[33m429\x1b[0m 0ms",
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["status"]) == [200, 200, 429]
    assert got["latency_s"].round(3).tolist() == [0.873, 5.91, 0.0]
    assert list(text_values(got["latency_source"])) == ["explicit", "paired", "explicit"]
    assert len(requests(a, "health")) == 1
    assert a.quality.dialects == {"source-0.log": ("hono",)}


@pytest.mark.parametrize(
    "line",
    [
        '172.17.0.1 - - [30/Nov/2026 12:00:05] "POST /v1/chat/completions HTTP/1.1" 200 -',
        'INFO:werkzeug:172.17.0.1 - - [30/Nov/2026 12:00:05] "POST /v1/chat/completions HTTP/1.1" 200 -',
        '2026-11-30 12:00:05,100 - werkzeug - INFO - 172.17.0.1 - - [30/Nov/2026 12:00:05] "POST /v1/chat/completions HTTP/1.1" 200 -',
        '172.17.0.1 - - [30/Nov/2026 12:00:05] "\x1b[35m\x1b[1mPOST /v1/chat/completions HTTP/1.1\x1b[0m" 500 -',
    ],
)
def test_werkzeug_access_lines_are_completions(line: str):
    """Flask's development server (werkzeug 3, real output): its bare line, behind a logging
    prefix, and coloured for a 5xx."""
    a = analysis([f"{engine(5.0)} {line}"])
    got = requests(a)
    assert list(got["path"]) == ["/v1/chat/completions"]
    assert list(got["client"]) == ["172.17.0.1"]
    assert a.quality.dialects == {"source-0.log": ("werkzeug",)}


def debug_start(t: float) -> str:
    return f"{engine(t)} {asctime(t)} - src.main - DEBUG - 🔍 [unknown] Incoming request: POST http://h/v1/chat/completions"


def debug_body(t: float, model: str) -> list[str]:
    return [
        f"{engine(t)} {asctime(t)} - src.main - DEBUG - 🔍 Request body: {{",
        f'{engine(t)}   "model": "{model}",',
        f'{engine(t)}   "stream": false',
        f"{engine(t)} }}",
    ]


def debug_end(start: float, latency: float) -> list[str]:
    t = start + latency
    return [
        f"{engine(t)} {asctime(t)} - src.main - DEBUG - 🔍 Response: 200 in {latency * 1000:.2f}ms",
        access(t + 0.001),
    ]


def test_a_body_read_after_another_request_started_marks_both_models_inferred():
    """DEBUG mode under load: request B's start came between request A's start and A's body.
    The pairings are sure (each response's logged time names its start), but which body is
    whose is not: both rows say so instead of one sure row carrying the other's model."""
    lines = [
        debug_start(0.0),
        debug_start(0.010),
        *debug_body(0.020, "haiku"),
        *debug_body(0.030, "opus"),
        *debug_end(0.0, 0.4),
        *debug_end(0.010, 1.0),
    ]
    got = requests(analysis(lines))
    assert len(got) == 2
    assert list(got["ambiguous"]) == [True, True]


def test_bodies_read_before_the_next_start_are_sure():
    lines = [
        debug_start(0.0),
        *debug_body(0.005, "haiku"),
        debug_start(0.010),
        *debug_body(0.015, "opus"),
        *debug_end(0.0, 0.4),
        *debug_end(0.010, 1.0),
    ]
    got = requests(analysis(lines))
    assert list(text_values(got["model"])) == ["haiku", "opus"]
    assert list(got["ambiguous"]) == [False, False]


def tower(t: float, latency: str | None = None, status: int = 200) -> str:
    span = "request{method=POST uri=/v1/messages version=HTTP/1.1}"
    head = f"{engine(t)} {engine(t)[:26]}Z DEBUG {span}: tower_http::trace"
    if latency is None:
        return f"{head}::on_request: started processing request"
    return f"{head}::on_response: finished processing request latency={latency} status={status}"


def test_tower_http_completions_place_their_own_starts():
    # Two requests overlap; first-in-first-out would give the first start the first completion.
    a = analysis([tower(0.0), tower(0.5), tower(1.0, "500 ms"), tower(3.0, "3000 ms", 500)])
    got = requests(a).sort_values("end").reset_index(drop=True)
    assert got["latency_s"].tolist() == [0.5, 3.0]
    assert [t.timestamp() for t in got["start"]] == [at(0.5).timestamp(), at(0.0).timestamp()]
    assert got["outcome"].tolist() == ["succeeded", "failed"]
    assert got["latency_source"].tolist() == ["explicit", "explicit"]
    assert not any("first-in-first-out" in note for note in a.quality.notes)


def test_koa_logger_lines_are_starts_and_ends_with_their_own_times():
    """koa-logger (koajs/logger index.js): `<--` in, `-->` / `xxx` (an error thrown) out, the
    time humanize-number's milliseconds under 10 s ("1,234ms"), whole seconds above."""
    a = analysis(
        [
            f"{engine(0.0)}   <-- POST /v1/messages",
            f"{engine(0.5)}   <-- POST /v1/messages?beta=true",
            f"{engine(1.734)}   --> POST /v1/messages?beta=true 200 1,234ms 1.2kb",
            f"{engine(2.0)}   xxx POST /v1/messages 500 2,000ms -",
            f"{engine(3.0)}   <-- GET /health",
            f"{engine(3.001)}   --> GET /health 200 1ms 2b",
            f"{engine(10.0)}   <-- POST /v1/messages",
            f"{engine(22.2)}   --> POST /v1/messages 200 12s 5kb",  # 12 s: paired instead
        ]
    )
    got = requests(a)
    assert got["latency_s"].round(3).tolist() == [1.234, 2.0, 12.2]
    assert got["outcome"].tolist() == ["succeeded", "failed", "succeeded"]
    assert got["latency_source"].tolist() == ["explicit", "explicit", "paired"]
    assert len(requests(a, "health")) == 1
    assert a.quality.dialects["source-0.log"] == ("koa",)


def cc_head(seconds: float, event: str, logger: str, level: str = "info") -> str:
    """ccproxy-api's structlog console head (ANSI colours stripped), padded as it pads."""
    return f"{engine(seconds)} {asctime(seconds).replace(',', '.')} [{level:<9}] [core        ] [http      ] {event:<30} [{logger}]"


def cc_request(
    start: float,
    latency: float,
    rid: str,
    model: str | None,
    stream: bool = False,
    status: int = 200,
    path: str = "/claude/sdk/v1/chat/completions",
) -> list[str]:
    """One request as ccproxy-api 0.2.10 logs it by default (keys sorted, as its renderer does);
    a streamed one ends with sse_connection_ended."""
    url = f"url=http://127.0.0.1:8000{path}"
    method = "GET" if path == "/health" else "POST"
    lines = [
        f"{cc_head(start, 'request_started', 'root')} body_size=112 cmd_id=7cc89a08 method={method} origin=client request_id={rid} streaming=False {url}"
    ]
    if model is not None:
        lines.append(
            f"{cc_head(start + 0.001, 'plugin_request', 'ccproxy.plugins.claude_sdk.adapter')} cmd_id=7cc89a08 endpoint={path} is_streaming={stream} model={model} plugin=claude_sdk session_id=None"
        )
    end = "sse_connection_ended" if stream else "request_completed"
    lines.append(
        f"{cc_head(start + latency, end, 'ccproxy.api.middleware.streaming_hooks')} body_size=1657 closed_by=server cmd_id=7cc89a08 duration_ms={latency * 1000:.3f} method={method} origin=client request_id={rid} status_code={status} streaming=True success=True {url}"
    )
    return lines


def test_ccproxy_api_requests_pair_by_id_and_take_their_plugin_requests_model():
    lines = [
        *cc_request(0.0, 0.01, "h1", None, path="/health"),
        *cc_request(1.0, 0.85, "a1", "claude-sonnet-4-5-20250929"),
        # a stream on the Anthropic route; its usage line names a fixed default model
        *cc_request(
            2.0,
            0.35,
            "a2",
            "claude-haiku-4-5-20251001",
            stream=True,
            path="/claude/sdk/v1/messages",
        )[:2],
        f"{cc_head(2.34, 'claude_sdk_stream_end_emitted', 'ccproxy.plugins.claude_sdk.hooks')} cmd_id=7cc89a08 cost_usd=0.0025664 model=claude-3-5-sonnet-20241022 request_id=a2 tokens_input=4 tokens_output=12",
        cc_request(2.0, 0.35, "a2", None, stream=True, path="/claude/sdk/v1/messages")[-1],
        *cc_request(3.0, 0.25, "a3", "claude-opus-4-5-20251101", status=500),
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["request_id"]) == ["a1", "a2", "a3"]
    assert list(got["path"]) == [
        "/claude/sdk/v1/chat/completions",
        "/claude/sdk/v1/messages",
        "/claude/sdk/v1/chat/completions",
    ]
    assert got["latency_s"].round(6).tolist() == [0.85, 0.35, 0.25]
    assert list(got["model"]) == [
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-5-20251101",
    ]
    assert list(got["outcome"]) == ["succeeded", "succeeded", "failed"]
    assert got["output_tokens"].tolist()[1] == 12
    assert len(requests(a, "health")) == 1
    assert a.quality.dialects == {"source-0.log": ("ccproxy-api",)}


def test_ccproxy_api_model_record_between_two_starts_names_neither():
    # Two requests arrive together: each plugin_request has both starts in its window, so
    # neither request is given a model (not guessed); a later one alone is.
    a1, a2, a3 = (
        cc_request(0.0, 0.9, "a1", "claude-sonnet-4-5-20250929"),
        cc_request(0.004, 0.4, "a2", "claude-haiku-4-5-20251001"),
        cc_request(2.0, 0.4, "a3", "claude-haiku-4-5-20251001"),
    )
    lines = [a1[0], a2[0], a1[1], a2[1], a2[2], a1[2], *a3]
    got = requests(analysis(lines)).set_index("request_id")
    assert got["model"].isna()[["a1", "a2"]].all()
    assert got.loc["a3", "model"] == "claude-haiku-4-5-20251001"


def test_ccproxy_api_streamed_cli_crash_fails_its_200():
    rid = "c1"
    lines = cc_request(0.0, 0.24, rid, "claude-haiku-4-5-20251001", stream=True)
    crash = f"{cc_head(0.238, 'claude_sdk_process_failed', 'ccproxy.plugins.claude_sdk.client', 'error')} cmd_id=7cc89a08 error='Command failed with exit code 1 (exit code: 1)' error_type=ProcessError operation=direct_query request_id={rid}"
    got = requests(analysis([*lines[:2], crash, lines[2]]))
    assert (got.loc[0, "status"], got.loc[0, "outcome"]) == (200, "failed")


def test_ccproxy_api_json_lines_are_read_too():
    def js(t: float, **kv: object) -> str:
        import json as _json

        return f"{engine(t)} {_json.dumps(kv)}"

    url = "http://127.0.0.1:8000/claude/sdk/v1/messages"
    lines = [
        js(
            0.0,
            request_id="j1",
            method="POST",
            url=url,
            has_body=True,
            event="request_started",
            logger="root",
        ),
        js(
            0.001,
            plugin="claude_sdk",
            endpoint="/claude/sdk/v1/messages",
            model="claude-opus-4-5-20251101",
            is_streaming=False,
            event="plugin_request",
            logger="ccproxy.plugins.claude_sdk.adapter",
        ),
        js(
            1.5,
            request_id="j1",
            method="POST",
            url=url,
            origin="client",
            status_code=200,
            duration_ms=1498.5,
            streaming=True,
            event="request_completed",
            logger="ccproxy.api.middleware.streaming_hooks",
        ),
    ]
    a = analysis(lines)
    got = requests(a)
    assert got[["request_id", "model"]].values.tolist() == [["j1", "claude-opus-4-5-20251101"]]
    assert got["latency_s"].round(6).tolist() == [1.4985]
    assert a.quality.dialects == {"source-0.log": ("ccproxy-api",)}


def test_an_alias_warning_is_not_lent_to_an_id_carrying_request_beside_it():
    # One source mixing the wrapper (no ids; its alias warning names the model of the request it
    # just started) and id-carrying lines: the warning is the id-less request's, not the one
    # whose id'd start is 2 ms away (ids are lent to id-less model records only where every
    # request carries one, as in ccproxy-api's logs).
    lines = [
        *wrapper_request(0.0, 1.5, "opus")[:2],
        f"{engine(0.002)} request started request_id=r-1 path=/v1/messages",
        f"{engine(0.9)} request done request_id=r-1 status=200 duration=0.898s",
        wrapper_request(0.0, 1.5, "opus")[2],
    ]
    got = requests(analysis(lines))
    models = dict(zip(got["request_id"].fillna("-"), text_values(got["model"]), strict=True))
    assert models == {"r-1": None, "-": "opus"}


def fastify_lines(t: float, rid: str, method: str, path: str, latency_ms: float, status: int = 200):
    """One request as fastify logs it with pino (claude-code-router 2.0.0's shape), in
    `docker logs -t` form: `incoming request` with the path, `request completed` without."""

    def pino(at_s: float, body: str) -> str:
        ms = int(at(at_s).timestamp() * 1000)
        return f'{engine(at_s)} {{"level":30,"time":{ms},"pid":1,"hostname":"h",{body}}}'

    return [
        pino(
            t,
            f'"reqId":"{rid}","req":{{"method":"{method}","url":"{path}","host":"127.0.0.1:3456",'
            '"remoteAddress":"172.17.0.1","remotePort":50000},"msg":"incoming request"',
        ),
        pino(
            t + latency_ms / 1000,
            f'"reqId":"{rid}","res":{{"statusCode":{status}}},"responseTime":{latency_ms},'
            '"msg":"request completed"',
        ),
    ]


def test_fastify_health_checks_are_health_checks_once():
    # The completion carries no path: it takes its start's (by reqId). Counted before as an
    # arrival-only health check AND a model request of unknown path.
    lines = [
        *fastify_lines(0.0, "req-1", "GET", "/health", 0.5),
        *fastify_lines(1.0, "req-2", "POST", "/v1/messages", 800.0),
    ]
    a = analysis(lines)
    assert requests(a)["latency_s"].round(6).tolist() == [0.8]
    assert list(requests(a)["path"]) == ["/v1/messages"]
    assert list(requests(a)["client"]) == ["172.17.0.1"]
    assert len(requests(a, "health")) == 1
    assert a.requests.arrivals_only == 0
    assert a.quality.dialects == {"source-0.log": ("fastify",)}


def test_fastify_request_ids_start_again_after_a_restart():
    # fastify counts req-1, req-2, ... from 1 in each process: after the restart's banner,
    # req-1 is a new request. Grouped by id alone, the first life's requests were lost.
    banner = (
        f'{engine(5.0)} {{"level":30,"time":1,"pid":1,"hostname":"h",'
        '"msg":"Server listening at http://0.0.0.0:3456"}'
    )
    lines = [
        *fastify_lines(0.0, "req-1", "POST", "/v1/messages", 300.0),
        *fastify_lines(1.0, "req-2", "POST", "/v1/messages", 1500.0, status=503),
        banner,
        *fastify_lines(6.0, "req-1", "POST", "/v1/messages", 800.0),
        *fastify_lines(7.0, "req-2", "POST", "/v1/messages", 400.0),
    ]
    got = requests(analysis(lines))
    assert got["latency_s"].round(6).tolist() == [0.3, 1.5, 0.8, 0.4]
    assert got["status"].tolist() == [200, 503, 200, 200]
    assert list(got["request_id"]) == ["req-1", "req-2", "req-1#2", "req-2#2"]


def test_claude_code_router_names_the_model_asked_provider_and_all():
    # claude-code-router logs the body of each /v1/messages request ("request body"): its
    # model is "provider,model" (the generic reader cut it at the comma: "fake").
    lines = fastify_lines(0.0, "req-1", "POST", "/v1/messages", 300.0)
    body = (
        f'{engine(0.001)} {{"level":30,"time":1,"pid":1,"hostname":"h","reqId":"req-1",'
        '"data":{"model":"openrouter,google/gemini-2.5-pro","max_tokens":64,'
        '"messages":[{"role":"user","content":"hi"}],"stream":true},"type":"request body"}'
    )
    a = analysis([lines[0], body, lines[1]])
    got = requests(a)
    assert list(got["model"]) == ["openrouter,google/gemini-2.5-pro"]
    # its completion comes at the stream's end: the whole time, not a time to first byte
    assert got["latency_s"].round(6).tolist() == [0.3]
    assert got["ttfb_s"].isna().all()
    assert a.quality.dialects == {"source-0.log": ("claude-code-router", "fastify")}


def rgs_request(t: float, model: str, mapped: str = "gpt-4.1") -> list[str]:
    """The two lines 1rgs/claude-code-proxy print()s as a request reaches LiteLLM (coloured)."""
    bold, green, cyan, reset = "\x1b[1m", "\x1b[92m", "\x1b[96m", "\x1b[0m"
    return [
        f"{engine(t)} {bold}POST /v1/messages{reset} {green}✓ 200 OK{reset}",
        f"{engine(t)} {cyan}{model}{reset} → {green}{mapped}{reset} "
        "\x1b[95m0 tools\x1b[0m \x1b[94m1 messages\x1b[0m",
    ]


def test_1rgs_requests_are_arrivals_and_an_error_is_the_one_before():
    # 1rgs/claude-code-proxy logs a request only as it arrives; a failure 1.5 s later (its
    # upstream retries) is the request before it, not the next one arriving 10 ms after it.
    lines = [
        *rgs_request(0.0, "claude-3-5-haiku-20241022", "gpt-4.1-mini"),
        *rgs_request(1.0, "claude-sonnet-4-20250514"),
        f"{engine(2.5)} {asctime(2.5)} - ERROR - Error processing request: {{",
        f'{engine(2.5)}   "status_code": 500,',
        f"{engine(2.5)} }}",
        *rgs_request(2.51, "claude-3-5-haiku-20241022", "gpt-4.1-mini"),
        f"{engine(3.0)} \x1b[1mPOST /v1/messages/count_tokens\x1b[0m \x1b[92m✓ 200 OK\x1b[0m",
        f"{engine(3.0)} gpt-4.1 → gpt-4.1 0 tools 1 messages",
    ]
    a = analysis(lines)
    got = requests(a)
    assert list(got["model"]) == [
        "claude-3-5-haiku-20241022",
        "claude-sonnet-4-20250514",
        "claude-3-5-haiku-20241022",
    ]
    assert list(got["outcome"]) == ["succeeded", "failed", "succeeded"]
    assert got["latency_s"].isna().all() and got["status"].isna().all()
    assert a.quality.dialects == {"source-0.log": ("1rgs-claude-code-proxy",)}


def test_fuergaosi_debug_puts_a_stream_start_back_before_its_access_line():
    def record(t: float, level: str, message: str) -> str:
        return f"{engine(t)} {asctime(t)} - {level} - {message}"

    upstream = 'HTTP Request: POST http://127.0.0.1:9100/v1/chat/completions "HTTP/1.1 200 OK"'
    lines = [
        record(0.0, "DEBUG", "Processing Claude request: model=claude-sonnet-4, stream=False"),
        record(0.001, "DEBUG", "Building HTTP request: method=POST retries_taken=0"),
        record(1.2, "INFO", upstream),
        access(1.201, path="/v1/messages"),
        # a stream's access line can come before its start line (stdout against stderr)
        access(2.0, path="/v1/messages"),
        record(2.00004, "DEBUG", "Processing Claude request: model=claude-opus-4, stream=True"),
        record(2.01, "INFO", upstream),
        record(3.0, "DEBUG", "Processing Claude request: model=claude-3-5-haiku, stream=False"),
        access(3.3, path="/v1/messages"),
    ]
    a = analysis(lines)
    got = requests(a)
    assert got["model"].tolist() == ["claude-sonnet-4", "claude-opus-4", "claude-3-5-haiku"]
    assert got["latency_s"].round(3).tolist()[0::2] == [1.201, 0.3]
    # the stream: its time to first byte, never negative (the two lines were written together)
    assert pd.isna(got["latency_s"][1]) and got["ttfb_s"][1] == 0.0
    assert a.requests.ambiguous_pairings == 0 and a.requests.unmatched_starts == 0
    assert a.quality.dialects == {"source-0.log": ("fuergaosi233-claude-code-proxy-debug",)}


def test_a_health_check_between_a_start_and_its_body_takes_neither_its_model_nor_doubt():
    """DEBUG mode on a loaded machine: Docker's HEALTHCHECK probe arrived between a chat
    request's start and its body (read after an await). A body names a model request's model:
    the probe is no candidate for it, so the request keeps its model, sure (the live test's
    sequential phase once reported it inferred)."""
    health = debug_health(0.005)  # its start, its response 1 ms later, its access line
    lines = [debug_start(0.0), health[0], *debug_body(0.0055, "opus"), *health[1:]]
    a = analysis([*lines, *debug_end(0.0, 1.2)])
    got = requests(a)
    assert list(text_values(got["model"])) == ["opus"]
    assert list(got["ambiguous"]) == [False]
    assert len(requests(a, "health")) == 1


def test_a_health_check_starting_within_a_fast_requests_window_is_no_rival():
    """DEBUG mode: a request refused in 2 ms (a bad key's 401) and Docker's health probe that
    arrived 1 ms after it, whose own response record comes later. Both starts fit the 401's
    logged time, but the completion beside its record is a chat completion's: the probe is
    another kind of request, so the pairing is sure (it was marked inferred)."""
    post = f"{engine(0.0)} {asctime(0.0)} - src.main - DEBUG - 🔍 [unknown] Incoming request: POST http://h/v1/chat/completions"
    probe = f"{engine(0.001)} {asctime(0.001)} - src.main - DEBUG - 🔍 [unknown] Incoming request: GET http://h/health"
    refused = f"{engine(0.002)} {asctime(0.002)} - src.main - DEBUG - 🔍 Response: 401 in 2.00ms"
    probed = f"{engine(0.003)} {asctime(0.003)} - src.main - DEBUG - 🔍 Response: 200 in 2.00ms"
    lines = [post, probe, refused, access(0.0024, 401), probed, access(0.0034, path="/health")]
    a = analysis(lines)
    got = requests(a)
    assert list(got["status"]) == [401]
    assert list(got["ambiguous"]) == [False]
    health = requests(a, "health")
    assert list(health["latency_s"].round(3)) == [0.002]
