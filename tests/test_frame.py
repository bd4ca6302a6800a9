"""Line formats recognised per line, fields extracted, and the user's own patterns."""

import math

import pandas as pd
import pyarrow as pa
import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.load import config_from_mapping
from claude_perf.config.schema import Config
from claude_perf.ingest.files import combine, read_log
from claude_perf.parse.classify import classify
from claude_perf.parse.events import text_values
from claude_perf.report.summary import build


def lines_table(*texts, ts=None):
    n = len(texts)
    stamps = [None if t is None else pd.Timestamp(t) for t in (ts or [None] * n)]
    table = pa.table(
        {
            "ts": pa.array(stamps, pa.timestamp("ns", tz="UTC")),
            "stream": pa.nulls(n, pa.string()),
            "text": pa.array(list(texts), pa.large_string()),
        }
    )
    from claude_perf.ingest.files import InputInfo

    return combine(
        [table],
        [InputInfo("t", "plain", n, 0)],
        [{"invalid_utf8": 0, "partial_merged": 0, "broken_json": 0}],
    )


def events_of(*texts, config=None):
    logs = lines_table(*texts)
    return classify(logs.table, config or Config())


def test_kinds_are_counted_and_sum_to_all_lines():
    entries = events_of(
        'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        "2026-11-29 00:51:07,390 - src.claude_cli - ERROR - Claude Agent SDK error: exit code 1",
        "Error output: Check stderr output for details",
        '{"event": "request.complete", "requestId": "r1", "model": "opus", "durationMs": 5910}',
        "request done model=opus duration=5.91s status=200",
        "",
        "random words",
        "INFO:     Application startup complete.",
    )
    counts = entries.kind_counts
    assert counts["access"] == 1
    assert counts["leveled"] == 2
    assert counts["continuation"] == 1  # no time known: belongs to the record above
    assert counts["json"] == 1
    assert counts["kv"] == 1
    assert counts["blank"] == 1
    assert counts["other"] == 1
    assert sum(counts.values()) == 8


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        ("2026-11-29 00:50:49,843 - app - INFO - Completed request in 986.00ms", 0.986),
        ("INFO:     chat took 5.9s", 5.9),
        ("POST /v1/messages 200 5910.123 ms - 1234", 5.910123),
        ("done duration_ms=859 status=200", 0.859),
        ('{"event":"request.complete","durationMs":5910,"status":200}', 5.91),
        ("finished elapsed=1.25 status=200", 1.25),
        ("model=opus duration=5.91s status=200", 5.91),
        ('{"msg":"request completed","responseTime":120,"statusCode":200}', 0.12),
    ],
)
def test_duration_spellings(line, seconds):
    events = events_of(line).events
    assert len(events) == 1
    assert events["duration_s"].iloc[0] == pytest.approx(seconds)


def test_access_line_fields_and_ipv6_client():
    events = events_of(
        'INFO:     ::1:53422 - "GET /health?x=1 HTTP/1.1" 503 Service Unavailable'
    ).events
    row = events.iloc[0]
    assert (row["client"], row["method"], row["path"], row["status"]) == (
        "::1",
        "GET",
        "/health",
        503,
    )
    assert row["role"] == "end"


def test_structlog_and_pino_levels():
    events = events_of(
        '{"event": "upstream failed", "level": "error", "timestamp": "2026-11-29T00:00:01Z"}',
        '{"level":50,"time":1764374400000,"msg":"boom"}',
    ).events
    assert list(events["level"]) == ["ERROR", "ERROR"]
    assert list(events["role"]) == ["error", "error"]
    # no engine time: the application's own time is used, and said to be so
    assert list(events["ts_source"]) == ["app", "app"]
    assert str(events["ts"].iloc[1]) == "2025-11-29 00:00:00+00:00"


def test_python_asctime_is_used_when_there_is_no_engine_time():
    events = events_of(
        "2026-11-29 00:50:49,843 - src.main - INFO - Chat completion: session_id=None"
    ).events
    assert events["role"].iloc[0] == "start"
    assert str(events["ts"].iloc[0]) == "2026-11-29 00:50:49.843000+00:00"


def test_loguru_lines_are_leveled_and_their_errors_are_error_records():
    # loguru's default format (its LOGURU_FORMAT); before, its ERROR lines were no error records
    logs = lines_table(
        "2026-12-01 03:13:24.100 | INFO     | app.main:chat:42 - Request model=claude-haiku-4-5",
        "2026-12-01 03:13:26.050 | ERROR    | app.main:<module>:77 - Claude CLI failed: exit 1",
        "2026-12-01 03:13:26.060 | INFO     | app.main:log_requests:60 - POST /v1/messages 500 0.06s",
    )
    entries = classify(logs.table, Config())
    assert entries.kind_counts["leveled"] == 3
    events = entries.events.set_index("row")
    assert events.loc[1, "level"] == "ERROR" and events.loc[1, "role"] == "error"
    assert events.loc[1, "logger"] == "app.main"
    # the stamp, local time without a zone, is the time where the engine gave none
    assert str(events.loc[1, "ts"]) == "2026-12-01 03:13:26.050000+00:00"
    summary = build(analyse(logs, Config()))
    assert (summary["requests"]["failed"], summary["errors"]["records"]) == (1, 1)
    assert summary["errors"]["by_class"] == {"cli": 1}


@pytest.mark.parametrize(
    ("line", "stamped"),
    [
        ("2026-12-01T03:13:24.123456Z ERROR claude_proxy::handler: upstream failed", True),
        ("[2026-12-01T03:13:24Z ERROR claude_proxy] upstream failed", True),  # env_logger
        ("[2026-12-01 03:13:24,123] ERROR in app: Exception on /v1/messages [POST]", True),
        ("2026/12/01 03:13:24 [ERROR] upstream failed", True),  # Go's log with a level
        # (its words "processing request" no start: before, the record was read as one)
        ("2026-12-01 03:13:24,123 - ERROR - Error processing request: {", True),
        ("2026-12-01 03:13:24.123 ERROR 1 --- [nio-8080-exec-1] c.e.Proxy : failed", True),
        ("[03:13:24.123] ERROR (1): upstream failed", False),  # pino-pretty: no day, no time
        ("[Nest] 1  - 12/01/2026, 3:13:24 AM   ERROR [ExceptionsHandler] failed", False),
        (" ERROR  upstream failed", False),  # consola
        ("[error] upstream failed", False),
        ('error: upstream failed {"status":502}', False),  # winston's simple format
        ('time="2026-12-01T03:13:24Z" level=error msg="upstream failed"', True),  # logrus
        ('time=2026-12-01T03:13:24.123Z level=ERROR msg="upstream failed"', True),  # slog
    ],
)
def test_a_level_at_the_head_makes_an_error_record(line, stamped):
    # before: each of these was an unparsed line, and no error record
    events = events_of(line).events
    assert list(events["level"]) == ["ERROR"]
    assert list(events["role"]) == ["error"]
    assert bool(events["ts"].notna().iloc[0]) == stamped  # no engine time: the line's own


def test_a_javascript_error_heading_a_stack_is_no_record_and_a_request_line_stays_one():
    assert len(events_of("Error: connect ECONNREFUSED 127.0.0.1:9100").events) == 0
    events = events_of("2026-12-01T03:13:24.123456Z  INFO app: POST /v1/messages 200 12ms").events
    assert list(events["role"]) == ["end"]
    assert list(events["status"]) == [200]


def test_ansi_colours_do_not_hide_access_lines():
    line = '\x1b[32mINFO\x1b[0m:     172.17.0.1:1 - "\x1b[1mPOST /v1/messages HTTP/1.1\x1b[0m" \x1b[32m200 OK\x1b[0m'
    assert events_of(line).kind_counts["access"] == 1


def test_user_patterns_add_a_format_without_code():
    config = config_from_mapping(
        {
            "patterns": [
                {
                    "name": "node-proxy",
                    "regex": r"^\[(?P<ts>[^\]]+)\] (?P<method>[A-Z]+) (?P<path>\S+) -> (?P<status>\d{3}) (?P<model>\S+) (?P<duration>\d+)$",
                    "role": "end",
                    "duration_unit": "ms",
                }
            ]
        }
    )
    logs = lines_table(
        "[2026-11-29T10:00:00Z] POST /v1/messages -> 200 claude-3-7-sonnet-20250219 14800",
        "[2026-11-29T10:00:20Z] POST /v1/messages -> 500 claude-3-7-sonnet-20250219 300",
    )
    analysis = analyse(logs, config)
    summary = build(analysis)
    assert summary["lines"]["by_kind"]["pattern"] == 2
    assert summary["requests"]["total"] == 2 and summary["requests"]["failed"] == 1
    model = summary["models"][0]
    assert model["family"] == "Sonnet 3.7"
    assert model["latency_s"]["mean"] == pytest.approx(14.8)


def test_request_ids_pair_start_and_end_exactly():
    logs = lines_table(
        '{"event":"request.start","requestId":"a","model":"opus","path":"/v1/messages"}',
        '{"event":"request.start","requestId":"b","model":"haiku","path":"/v1/messages"}',
        '{"event":"request.complete","requestId":"b","status":200,"path":"/v1/messages"}',
        '{"event":"request.complete","requestId":"a","status":200,"path":"/v1/messages"}',
        ts=[f"2026-11-29T00:00:0{s}Z" for s in (0, 1, 2, 7)],
    )
    table = analyse(logs, Config()).requests.table
    latency = dict(zip(table["model"], table["latency_s"], strict=True))
    assert latency == {"haiku": 1.0, "opus": 7.0}
    assert not table["ambiguous"].any()


def test_plain_access_lines_without_time_have_no_latency():
    logs = lines_table(
        "2026-11-29 00:50:49,843 - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    )
    table = analyse(logs, Config()).requests.table
    assert len(table) == 1
    assert math.isnan(table["latency_s"].iloc[0])
    assert table["outcome"].iloc[0] == "succeeded"


def test_read_log_of_real_capture_counts_every_line(tmp_path):
    from pathlib import Path

    capture = Path(__file__).resolve().parent.parent / "fixtures" / "capture" / "docker-logs-t.txt"
    _table, info, _ = read_log(str(capture))
    assert info.lines == len(capture.read_text().splitlines())


def test_error_records_stamped_just_after_their_access_line_stay_with_it():
    # stdout (access line) and stderr (records) are stamped separately by the engine, so a
    # request's error records may follow its own completion by microseconds; the next request
    # (a 401 a few ms later) must not take them.
    logs = lines_table(
        "2026-11-29 02:01:47,124 - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        "2026-11-29 02:01:47,124 - src.parameter_validator - WARNING - Model 'gpt-4' is not in the known supported models list.",
        'INFO:     172.17.0.1:58862 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        "2026-11-29 02:01:47,364 - claude_agent_sdk._internal.query - ERROR - Fatal error in message reader: Command failed with exit code 1 (exit code: 1)",
        'INFO:     172.17.0.1:58872 - "POST /v1/chat/completions HTTP/1.1" 401 Unauthorized',
        "2026-11-29 02:01:47,370 - src.main - ERROR - ❌ Request validation failed for POST http://127.0.0.1:32773/v1/chat/completions",
        "2026-11-29 02:01:47,375 - src.main - ERROR - ❌ Validation errors: [{'type': 'json_invalid'}]",
        'INFO:     172.17.0.1:58874 - "POST /v1/chat/completions HTTP/1.1" 422 Unprocessable Entity',
        ts=[
            "2026-11-29T02:01:47.124651679Z",
            "2026-11-29T02:01:47.124654022Z",
            "2026-11-29T02:01:47.365510160Z",
            "2026-11-29T02:01:47.365552263Z",
            "2026-11-29T02:01:47.368351085Z",
            "2026-11-29T02:01:47.370165570Z",
            "2026-11-29T02:01:47.376567263Z",
            "2026-11-29T02:01:47.376584960Z",
        ],
    )
    table = analyse(logs, Config()).requests.table
    assert list(table["error_class"]) == ["routing", "auth", "validation"]
    assert list(table["error_records"]) == [1, 0, 2]


def test_application_times_may_mix_zoned_and_local_forms():
    events = events_of(
        '{"event": "request.start", "timestamp": "2026-11-29T10:00:00Z", "request_id": "a"}',
        "2026-11-29 10:00:01,500 - app - INFO - request.complete request_id=a status=200",
        '{"level":30,"time":1764410402000,"msg":"x model=opus"}',
        '{"event": "e", "timestamp": "2026-11-29T12:00:03+02:00", "model": "opus"}',
    ).events
    assert [str(t) for t in events["ts"]] == [
        "2026-11-29 10:00:00+00:00",
        "2026-11-29 10:00:01.500000+00:00",
        "2025-11-29 10:00:02+00:00",
        "2026-11-29 10:00:03+00:00",
    ]


def test_assemble_joins_error_records_per_request_and_counts_erroring_completions():
    from claude_perf.analysis.assemble import assemble
    from claude_perf.parse.entries import Entries

    # role, path, status, request_id, is_error, message, model, seconds
    records = [
        ("start", "/v1/messages", None, "a", False, None, "opus", 0),
        ("error", None, None, "a", True, "first problem", None, 1),
        ("error", None, None, "a", True, "then a rate limit", None, 2),
        ("end", "/v1/messages", 500, "a", False, None, None, 3),
        ("start", "/v1/chat/completions", None, None, False, None, "sonnet", 10),
        ("end", "/v1/chat/completions", 200, None, True, "upstream timed out", None, 11),
        ("end", "/health", 200, None, False, None, None, 12),
    ]
    n = len(records)
    column = list(zip(*records, strict=True))

    def text(values):
        return pd.Series(values, dtype=object)

    events = pd.DataFrame(
        {
            "row": range(n),
            "level": text([None] * n),
            "logger": text([None] * n),
            "method": text(["POST"] * n),
            "path": text(column[1]),
            "client": text(["172.17.0.1"] * n),
            "model": text(column[6]),
            "request_id": text(column[3]),
            "role": text(column[0]),
            "status": pd.array(column[2], dtype="Int16"),
            "duration_s": [math.nan] * n,
            "kind": pd.Categorical(["app"] * n),
            "is_error": list(column[4]),
            "ts": pd.to_datetime([f"2026-11-29T00:00:{s:02d}Z" for s in column[7]], utc=True),
            "ts_source": text(["engine"] * n),
            "message": text(column[5]),
        }
    )
    requests = assemble(Entries({}, events, 0, 0), Config())
    table = requests.table
    assert list(table["kind"]) == ["model", "model", "health"]
    assert list(text_values(table["request_id"])) == ["a", None, None]  # Arrow text: NA → None
    assert list(table["latency_s"][:2]) == [3.0, 1.0]
    assert list(text_values(table["model"])) == ["opus", "sonnet", None]  # categorical
    assert list(table["error_records"]) == [2, 1, 0]
    assert list(text_values(table["error_message"])) == [
        "first problem",
        "upstream timed out",
        None,
    ]
    # The class reads every record of the request, not only the first.
    assert list(text_values(table["error_class"])) == ["rate_limit", "timeout", None]
    assert list(table["outcome"]) == ["failed", "failed", "succeeded"]
    assert requests.error_records == 3 and requests.orphan_error_records == 0


def test_health_and_other_completions_with_request_ids_keep_their_kind():
    # pino-http style: every completion carries an id; a failing health check logs at error.
    lines = [
        '{"level":"info","event":"request.start","requestId":"r-1","model":"opus","path":"/v1/chat/completions"}',
        '{"level":"info","event":"request.complete","requestId":"r-1","status":200,"path":"/v1/chat/completions"}',
        '{"level":"error","event":"request.complete","requestId":"r-2","status":503,"method":"GET","path":"/health"}',
        '{"level":"info","event":"request.complete","requestId":"r-3","status":200,"method":"GET","path":"/v1/models"}',
    ]
    stamped = "".join(f"2026-11-29T00:00:0{i}.000000000Z {line}\n" for i, line in enumerate(lines))
    table, info, counts = read_log("ids", data=stamped.encode())
    requests = analyse(combine([table], [info], [counts]), Config()).requests.table
    assert list(requests["kind"]) == ["model", "health", "other"]
    assert list(requests["request_id"]) == ["r-1", "r-2", "r-3"]
    assert list(requests["outcome"][:2]) == ["succeeded", "failed"]


def test_every_start_that_never_completed_is_dropped_before_pairing():
    # 60 blocks (more than any fixed number of retries): a start whose completion was never
    # logged, then 1000 s later a request of 1 s. First-in-first-out alone would give each
    # completion the abandoned start and a latency of 1001 s.
    lines = []
    for block in range(60):
        t0 = 1_764_374_400 + block * 2000  # 2026-11-29T00:00:00Z + block * 2000 s
        for offset_s, body in (
            (0, "2026-11-29 00:00:00,000 - src.main - INFO - Chat completion: session_id=None"),
            (1000, "2026-11-29 00:00:00,000 - src.main - INFO - Chat completion: session_id=None"),
            (1001, 'INFO:     172.17.0.1:1 - "POST /v1/chat/completions HTTP/1.1" 200 OK'),
        ):
            stamp = pd.Timestamp(t0 + offset_s, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
            lines.append(f"{stamp}.000000000Z {body}\n")
    table, info, counts = read_log("stale", data="".join(lines).encode())
    analysis = analyse(combine([table], [info], [counts]), Config())
    requests = analysis.requests
    assert requests.stale_starts == 60
    assert list(requests.table["latency_s"]) == [1.0] * 60
    assert analysis.quality.stale_starts == 60
    assert any(
        note.startswith("60 request start(s) had no completion") for note in analysis.quality.notes
    )


def test_a_pattern_status_that_is_not_three_digits_is_unknown():
    config = config_from_mapping(
        {"patterns": [{"name": "p", "regex": r"^done (?P<status>\S+)$", "role": "end"}]}
    )
    lines = lines_table("done 200", "done OK", "done 2000", "done 4.5")
    events = classify(lines.table, config).events
    assert list(events["status"].astype(object).where(events["status"].notna(), None)) == [
        200,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ("request done model=opus status=200", "opus"),
        ("request done model='claude-3-5-haiku-20241022' status=200", "claude-3-5-haiku-20241022"),
        ('{"msg": "done", "model": "claude-sonnet-4-5"}', "claude-sonnet-4-5"),
        # key=value with an empty model (ccproxy-api's access_log plugin): no model "path"
        ("access_log model= path=/claude/v1/messages status=200", None),
    ],
)
def test_model_fields_in_message_text(line, model):
    ev = events_of(line).events
    assert text_values(ev["model"]) == [model]
