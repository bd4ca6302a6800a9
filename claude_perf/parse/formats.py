"""The generic line formats and message fields, as RE2 regexes (dialects add proxies' own)."""

from __future__ import annotations

# "request": a line no format reads holding a request line and its status (_REQUEST_LINE); kept
# apart from "access" (uvicorn's, morgan's) so that one beside the other is seen as two loggers
# (analysis/echoes.py).
KINDS = ("access", "leveled", "continuation", "json", "kv", "pattern", "blank", "other", "request")


K_ACCESS, K_LEVELED, K_CONT, K_JSON, K_KV, K_PATTERN, K_BLANK, K_OTHER, K_REQUEST = range(
    len(KINDS)
)


_ANSI = r"\x1b\[[0-9;?]*[ -/]*[@-~]"


_ACCESS = (
    r'^INFO:\s+(?P<client>\S+):(?P<port>\d+) - "(?P<method>[A-Z]+) (?P<path>[^ "?]*)[^ "]*'
    r' HTTP/[\d.]+" (?P<status>\d{3})'
)


# The request part of an _ACCESS line, after its `` - "`` (see _access_fields).
_ACCESS_REQUEST = r'^(?P<method>[A-Z]+) (?P<path>[^ "?]*)[^ "]* HTTP/[\d.]+" (?P<status>\d{3})'


_MORGAN = (
    r"^(?:(?P<client>[\d.:a-f\[\]]+) - \S+ )?(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) "
    r"(?P<path>/[^ ?]*)\S* (?P<status>\d{3}) (?P<duration>\d+(?:\.\d+)?) ms"
)


_MORGAN_PREFIX = r"^(?:[\d.:a-f\[\]]+ - \S+ )?[A-Z]{3,7} /"


# A request line and the status answered, in a line no known format reads (Go's chi logger,
# Django's runserver, loguru's or Elysia's messages, aiohttp's access log, a plain logging call):
# the quoted request line of the common log format (its target may be an absolute URL, as chi
# logs it, then chi's `from ADDR -`), or a method and a path (from `/`: an absolute URL there is
# an upstream call's), then the status, then perhaps a time with its unit. The unit is required:
# a bare number after a status is a byte count as often as a time.
_REQUEST_LINE = (
    r'(?:"(?P<qmethod>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?:https?://[^/\s"]+)?'
    r'(?P<qpath>/[^\s"?]*)[^\s"]* HTTP/\d(?:\.\d)?"(?: from \S+ -)?'
    r"|(?:^|[\s|:\]])(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>/[^\s\"?]*)\S*)"
    r" (?P<status>\d\d\d)\b"
    r"(?:.*?\b(?P<duration>\d+(?:\.\d+)?) ?(?P<unit>ms|s|µs|μs|us|ns)\b)?"
)


# An application timestamp at the head of a line (Python logging's asctime, ISO 8601): the
# clock the proxy's middleware timed the request with, to the millisecond.
_APP_STAMP = r"^(?P<at>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"


# A line's head stamp, read where the engine gave none (text.read_head_stamps): _APP_STAMP's, the
# date's dashes or slashes (Go's log package writes `2026/12/01 10:00:00` before a line: go-chi's
# logger), or gin's and its forks' (one-api, new-api): `[GIN] 2026/12/01 - 03:13:24 |`, a
# bracketed tag first and " - " between date and time (gin's logger.go defaultLogFormatter,
# `param.TimeStamp.Format("2006/01/02 - 15:04:05")`: whole seconds, the handler's return).
_HEAD_STAMP = (
    r"^(?:\[[A-Z]+\] )?"
    r"(?P<at>\d{4}[-/]\d\d[-/]\d\d(?:[ T]| - )\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
)


# Leveled formats are matched on their head only: the message is searched in the whole line
# later, which saves copying every message out (the single most expensive step at 1M lines).
_PYLOG = (
    r"^(?P<asctime>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?) - (?P<logger>\S+) - "
    r"(?P<level>[A-Z]+) - "
)


# The same head in its usual layout (asctime with milliseconds): checked by one anchored match
# over the lines; logger and level are then read from the distinct remainders only.
_PYLOG_FIXED_HEAD = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3} - "


_PYLOG_TAIL = r"^(?P<logger>\S+) - (?P<level>[A-Z]+) - "


# loguru's default format (loguru/_defaults.py LOGURU_FORMAT: `{time:YYYY-MM-DD HH:mm:ss.SSS} |
# {level: <8} | {name}:{function}:{line} - {message}`), e.g. `2026-12-01 03:13:24.100 | ERROR    |
# app.main:chat:77 - Claude CLI failed`, or its common variant with ` | ` before the message: its
# lines start like asctime's, so they are among read_python_logging's candidates. The logger is
# loguru's {name}, the module.
_LOGURU = (
    r"^(?P<asctime>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?) \| (?P<level>[A-Z]+) *\| "
    r"(?P<logger>[^\s:]+):[^\s:]*:\d+ [-|] "
)


_UVICORN = r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?:\s+|(?P<logger>[\w.]+):)"


# A level word at the head of a line no other format read, after a stamp or alone: Rust's
# tracing (`2026-12-01T03:13:24.123456Z ERROR app::handler: …`) and env_logger (`[2026-12-01T03:13:
# 24Z ERROR app] …`), Flask's default (`[2026-12-01 03:13:24,123] ERROR in app: …`), Go's log
# with a level (`2026/12/01 03:13:24 [ERROR] …`), Python and Java layouts with the level after
# the time, and level-first ones: consola's ` ERROR  …`, `[error] …`, winston's simple `error: …`
# (a head without a date gives no time: see the time-of-day branch).
# Upper case, or lower case only where a colon or brackets mark it (a JavaScript `Error: …`
# heads a stack trace, not a record).
_LEVEL_WORDS = (
    "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|PANIC|ALERT|EMERG"
)
_LEVEL_HEAD = (
    r"^\s*(?:\[?(?P<at>\d{4}[-/]\d\d[-/]\d\d(?:[ T]| - )\d\d:\d\d:\d\d(?:[.,]\d+)?"
    r"(?:Z|[+-]\d\d:?\d\d)?)\]?\s+(?:- )?"
    # a time of day only (pino-pretty's `[03:13:24.123] ERROR (1): …`, zerolog's console `3:13AM
    # ERR …`: the level read, the time not, its day unknown) or NestJS's Logger head
    r"|\[?\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?(?: ?[AP]M)?\]?\s+"
    r"|\[Nest\] \d+\s+- [\d/.-]+,? [\d:]+(?: [AP]M)?\s+)?"
    rf"(?:\[?(?P<level>{_LEVEL_WORDS})\]?(?:[:\s]|$)"
    r"|\[(?P<lower>error|warn|warning|info|debug|fatal|trace)\]\s"
    r"|(?P<colon>error|warn|info|debug|fatal|verbose|silly): )"
)


# `model: X` may have spaces after its colon; `model=` is key=value, whose value follows at once:
# `model= path=/v1` is an empty model (ccproxy-api's access_log plugin), not a model "path".
_FIELD_MODEL = (
    r"(?i)(?:\"model\"\s*:\s*\"|\bmodel(?:=|:\s*)['\"]?|\bmodel ')(?P<v>[A-Za-z0-9][\w.\-:/@\[\]]*)"
)


_FIELD_STATUS = (
    r"(?i)(?:\"(?:status|statusCode|status_code)\"\s*:\s*\"?|\b(?:status|status_code)[=:]\s*)"
    r"(?P<v>[1-5]\d\d)\b"
)


# _FIELD_STATUS with ``\d`` for ``[1-5]``: the regex run on message shapes (see _Templates).
_FIELD_STATUS_SHAPE = (
    r"(?i)(?:\"(?:status|statusCode|status_code)\"\s*:\s*\"?|\b(?:status|status_code)[=:]\s*)"
    r"(?P<v>\d\d\d)\b"
)


# A unit after the number (``850ms``, ``1.2µs`` with either mu, ``5s``) is exact; so is one in
# the key (``duration_ms``, ``durationMs``, ``elapsed_us``, ``latency_ns``, ``took_s``): see
# parse/fields.py. Go's time.Duration prints whole minutes and hours as ``1m2.5s``, ``2h0m0s``
# (group ``g``). A number with neither is bare: its unit is inferred and said (parse/units.py).
_DURATION_KEY_UNITS = (
    r"_?(?:ms|us|µs|μs|ns|millis|micros|nanos|milliseconds|microseconds|nanoseconds|secs?|seconds)"
    r"|_s"
)
_VALUE_UNITS = r"ms|us|µs|μs|ns|s|sec|secs|seconds"
_FIELD_DURATION = (
    rf"(?i)(?P<k>(?:duration|elapsed|latency|took|response_?time)(?:{_DURATION_KEY_UNITS})?)"
    r"\"?\s*[=:]?\s*\"?"
    r"(?:(?P<g>\d+(?:\.\d+)?[hm](?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|μs|ns))+)"
    rf"|(?P<v>\d+(?:\.\d+)?)\s*(?P<u>{_VALUE_UNITS})?)\b"
)


_FIELD_PROSE_DURATION = rf"\b(?:in|after) (?P<v>\d+(?:\.\d+)?) ?(?P<u>{_VALUE_UNITS})\b"


_FIELD_REQUEST_ID = (
    r"(?i)(?:\"(?:request_?id|req_?id|correlation_?id)\"\s*:\s*\"?|"
    r"\b(?:request_?id|req_?id|rid|correlation_?id)[=:]\s*['\"]?)(?P<v>[\w\-.:]+)"
)


_FIELD_METHOD_PATH = r"\b(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>/[^\s\"?]*)"


_FIELD_JSON_PATH = r"\"(?:path|url|uri|route|endpoint)\"\s*:\s*\"(?P<path>/[^\"?]*)"


_FIELD_JSON_METHOD = r"\"method\"\s*:\s*\"(?P<method>[A-Z]+)\""


_FIELD_JSON_LEVEL = r"(?i)\"(?:level|severity|lvl|levelname)\"\s*:\s*\"?(?P<v>[A-Za-z]+|\d+)"


# A key=value line's level (Go's logrus `level=error`, log/slog's `level=ERROR`, zap's logfmt).
_FIELD_KV_LEVEL = r"(?:^|\s)(?:level|lvl|severity)=\"?(?P<v>[A-Za-z]+)\b"
# ... and its time (`time="2026-12-01T03:13:24Z"`, `ts=2026-12-01T03:13:24.123Z`), ISO 8601.
_FIELD_KV_TIME = (
    r"(?:^|\s)(?:time|ts|timestamp)=\"?(?P<v>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?"
    r"(?:Z|[+-]\d\d:?\d\d)?)"
)


_FIELD_JSON_TIME = r"\"(?:timestamp|time|ts|@timestamp|asctime)\"\s*:\s*\"?(?P<v>[^\",}]+)"


_START_WORDS = (
    r"(?i)(?:request[._ ]?(?:start(?:ed)?|received|begin)\b|incoming request|"
    r"processing request|started request)"
)


# ... but `Error processing request: {` (1rgs/claude-code-proxy) reports a failure, not a start.
_FAILED_START_WORDS = r"(?i)\b(?:error|failed|failure|exception)\b.{0,20}processing request"


_END_WORDS = (
    r"(?i)(?:request[._ ]?(?:complete[d]?|finish(?:ed)?|end(?:ed)?|done)\b|response[._ ]sent|"
    r"completed request|request finished)"
)


_ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL", "ERR", "EMERG", "ALERT", "CRIT")


# Lines printed within 5 ms of a record belong to it (measured on fixtures/captures: a Python
# record's extra lines come within 0.05 ms; tests/test_constants_on_captures.py holds it).
_CONTINUATION_GAP_NS = 5_000_000
