"""Deterministic synthetic proxy log for benchmarks, with the ground truth it was built from.

The output imitates `docker logs --timestamps` of a Claude API proxy container: every line is an
RFC 3339 UTC timestamp with nine fractional digits and "Z", a space, then the application line.
Two styles share the stream, as when two proxies log to one place:

* claude-code-openai-wrapper (FastAPI/uvicorn, Python logging), modelled on
  /work/shared/reference/real-proxy-capture/docker-logs-t.txt: auth, "Chat completion", the
  parameter_validator warning for model aliases, "Tools disabled", the uvicorn access line; in-
  container /health probes every 5 s; SDK errors with "Error output:" continuation lines, 500s,
  slowapi 429s, 422 validation errors and bare 401s.
* a Node proxy's JSON events (request.start / request.complete with requestId and durationMs),
  plus single key=value lines ("request done model=opus duration=5.91s status=200 ...").

Requests overlap: each request's records are scheduled when it arrives and a heap releases all
records in time order, so concurrent requests interleave as in a real log.

With ``--access FILE`` the same traffic is also written as one Apache/NGINX combined-format
access line per HTTP request (model requests, health checks and model listings), stamped at the
request's completion as a web server logs it: the input GoAccess reads in ``make bench``, so
the two tools analyse the same requests.

CLI: python -m benchmarks.gen_log OUT [--lines N] [--seed S] [--truth TRUTH.json] [--access F]
"""

from __future__ import annotations

import argparse
import array
import calendar
import heapq
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["generate"]

START_NS = calendar.timegm((2026, 11, 29, 0, 50, 45, 0, 0, 0)) * 1_000_000_000 + 792_168_672
HEALTH_INTERVAL_NS = 5_000_000_000
MEAN_INTERARRIVAL_S = 0.4
WRITE_CHUNK_LINES = 50_000

MS = 1_000_000
US = 1_000
SEC = 1_000_000_000

# What arrives: a model request in one of three log styles, or a client listing models
# (a one-line uvicorn access record that is not a model request). The shares also set the
# average line length (~125 bytes): the wrapper's validator warning is ~380 bytes.
ARRIVALS = (("wrapper", 0.42), ("json", 0.12), ("kv", 0.31), ("models_list", 0.15))
STYLES = ("wrapper", "json", "kv")

# Median latency (s) of each model family; lognormal with this sigma around it.
FAMILY_MEDIAN_S = {"haiku": 0.5, "sonnet": 1.0, "opus": 2.0, "sonnet-3.7": 5.0}
LATENCY_SIGMA = 0.35

# Wrapper: model as sent by the client. Aliases (and unknown names) trigger the validator warning.
WRAPPER_MODELS = (
    ("sonnet", 0.04),
    ("opus", 0.025),
    ("haiku", 0.03),
    ("claude-sonnet-4-5-20250929", 0.42),
    ("claude-opus-4-1-20250805", 0.19),
    ("claude-haiku-4-5-20251001", 0.29),
    ("gpt-4", 0.005),
)
KNOWN_MODELS = frozenset(
    {
        "claude-haiku-4-5-20251001",
        "claude-opus-4-1-20250805",
        "claude-opus-4-20250514",
        "claude-opus-4-5-20250929",
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-5-20250929",
    }
)
JSON_MODELS = (
    ("claude-3-7-sonnet-20250219", 0.25),
    ("claude-sonnet-4-5-20250929", 0.35),
    ("claude-haiku-4-5-20251001", 0.25),
    ("claude-opus-4-1-20250805", 0.15),
)
KV_MODELS = (("sonnet", 0.45), ("haiku", 0.35), ("opus", 0.20))

# Wrapper outcomes (model-less failures are decided before the model is read).
WRAPPER_OUTCOMES = (
    ("ok", 0.905),
    ("sdk_error_200", 0.025),
    ("cli_crash_500", 0.015),
    ("rate_limited_429", 0.025),
    ("validation_422", 0.015),
    ("unauthorized_401", 0.015),
)
STREAM_SHARE = 0.15
JSON_STATUSES = ((200, 0.95), (429, 0.02), (529, 0.02), (500, 0.01))
KV_STATUSES = ((200, 0.96), (429, 0.02), (500, 0.02))

FAILURE_KINDS = (
    "sdk_error_200",
    "cli_crash_500",
    "rate_limited_429",
    "validation_422",
    "unauthorized_401",
    "upstream_429",
    "upstream_500",
    "overloaded_529",
)

SUPPORTED = (
    "['claude-haiku-4-5-20251001', 'claude-opus-4-1-20250805', 'claude-opus-4-20250514', "
    "'claude-opus-4-5-20250929', 'claude-sonnet-4-20250514', 'claude-sonnet-4-5-20250929']"
)
ACCESS = 'INFO:     172.17.0.1:{port} - "POST /v1/chat/completions HTTP/1.1" {status}'
REASONS = {
    200: "200 OK",
    401: "401 Unauthorized",
    422: "422 Unprocessable Entity",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
}
VALIDATION_ERRORS = (
    "[{'type': 'json_invalid', 'loc': ('body', 9), 'msg': 'JSON decode error', 'input': {}, "
    "'ctx': {'error': 'Expecting value'}}]"
)

# (offset from start in µs, line); "{ws}" is the app's own asctime, as in the capture.
STARTUP: tuple[tuple[int, str], ...] = (
    (0, "INFO:     Will watch for changes in these directories: ['/app']"),
    (155, "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
    (288, "INFO:     Started reloader process [1] using WatchFiles"),
    (
        1_101_071,
        "{ws} - src.claude_cli - INFO - Using temporary isolated workspace: "
        "/tmp/claude_code_workspace_z266se26",
    ),
    (1_101_215, "{ws} - src.auth - INFO - Claude Code authentication validated: claude_cli"),
    (1_101_374, "{ws} - src.claude_cli - INFO - Claude Code authentication method: claude_cli"),
    (1_120_567, "INFO:     Started server process [8]"),
    (1_120_830, "INFO:     Waiting for application startup."),
    (1_121_407, "{ws} - src.main - INFO - Verifying Claude Code authentication and CLI..."),
    (1_121_600, "{ws} - src.auth - INFO - Claude Code authentication validated: claude_cli"),
    (1_121_796, "{ws} - src.main - INFO - ✅ Claude Code authentication validated: claude_cli"),
    (1_121_915, "{ws} - src.main - INFO - Testing Claude Agent SDK connection..."),
    (1_122_163, "{ws} - src.claude_cli - INFO - Testing Claude Agent SDK..."),
    (2_325_909, "{ws} - src.claude_cli - INFO - ✅ Claude Agent SDK verified successfully"),
    (2_325_929, "{ws} - src.main - INFO - ✅ Claude Agent SDK verified successfully"),
    (
        2_325_932,
        "{ws} - src.session_manager - INFO - Started session cleanup task (interval: 5 minutes)",
    ),
    (2_326_073, "INFO:     Application startup complete."),
)


class _Clock:
    """Formats nanosecond epoch times, caching the per-second prefix (most lines share one)."""

    def __init__(self) -> None:
        self._docker: dict[int, str] = {}
        self._app: dict[int, str] = {}

    def docker(self, ns: int) -> str:
        sec, frac = divmod(ns, SEC)
        prefix = self._docker.get(sec)
        if prefix is None:
            if len(self._docker) > 4096:
                self._docker.clear()
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            self._docker[sec] = prefix
        return f"{prefix}.{frac:09d}Z"

    def app(self, ns: int) -> str:
        """Python logging's asctime: "2026-11-29 00:50:49,843" (millisecond, truncated)."""
        sec, frac = divmod(ns, SEC)
        prefix = self._app.get(sec)
        if prefix is None:
            if len(self._app) > 4096:
                self._app.clear()
            prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
            self._app[sec] = prefix
        return f"{prefix},{frac // MS:03d}"


def _picker(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    """Draw one value from a (value, weight) table."""
    values = [v for v, _ in table]
    cum: list[float] = []
    total = 0.0
    for _, w in table:
        total += w
        cum.append(total)

    def pick() -> Any:
        return rng.choices(values, cum_weights=cum)[0]

    return pick


def _family(model: str) -> str:
    if "3-7-sonnet" in model:
        return "sonnet-3.7"
    for fam in ("haiku", "opus", "sonnet"):
        if fam in model:
            return fam
    return "sonnet"


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy/pandas default), so analyses can compare exactly."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


# The truth as the log can show it: a model is named only where a line names it (the wrapper
# names aliases and unknown names in its validator warning, never a listed id), and a latency is
# shown only where the log holds a duration or both a start and an end record (the wrapper's
# streaming responses log no start line). Requests whose model no line names are keyed UNNAMED.
UNNAMED = "(unnamed)"


def _logged_summary(
    durations: dict[str, list[float]], counts: dict[str, Counter[str]]
) -> dict[str, dict[str, Any]]:
    """Per logged model: requests, failed, and count/p50/p95 of its succeeded timed requests."""
    out: dict[str, dict[str, Any]] = {}
    for model in sorted(counts):
        values = sorted(durations.get(model, []))
        out[model] = {
            "requests": counts[model]["requests"],
            "failed": counts[model]["failed"],
            "timed": len(values),
            "p50": round(_quantile(values, 0.50), 6) if values else None,
            "p95": round(_quantile(values, 0.95), 6) if values else None,
        }
    return out


def _latency_summary(durations: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for model in sorted(durations):
        values = sorted(durations[model])
        out[model] = {
            "count": len(values),
            "mean": round(sum(values) / len(values), 6),
            "p50": round(_quantile(values, 0.50), 6),
            "p95": round(_quantile(values, 0.95), 6),
            "max": round(values[-1], 6),
        }
    return out


# Combined-format access lines: (method, path) per kind of request, as a web server in front of
# the proxy would log them; the response size and user agent are fixed (no analysis reads them).
ACCESS_ROUTES = (
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/messages"),
    ("GET", "/health"),
    ("GET", "/v1/models"),
)
ROUTE_CHAT, ROUTE_MESSAGES, ROUTE_HEALTH, ROUTE_MODELS = range(4)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _AccessLog:
    """The traffic's HTTP requests (completion time, route, status), written sorted at the end.

    Kept in typed arrays (17 bytes a request) so that 10M-line logs stay cheap to generate.
    """

    def __init__(self) -> None:
        self.end_ns = array.array("q")
        self.route = array.array("b")
        self.status = array.array("h")

    def add(self, end_ns: int, route: int, status: int) -> None:
        self.end_ns.append(end_ns)
        self.route.append(route)
        self.status.append(status)

    def write(self, path: Path) -> int:
        """Write the combined-format lines in time order; return how many."""
        order = sorted(range(len(self.end_ns)), key=self.end_ns.__getitem__)
        stamps: dict[int, str] = {}
        with Path(path).open("w", encoding="ascii") as fh:
            buf: list[str] = []
            for i in order:
                sec = self.end_ns[i] // SEC
                stamp = stamps.get(sec)
                if stamp is None:
                    if len(stamps) > 4096:
                        stamps.clear()
                    t = time.gmtime(sec)
                    stamp = time.strftime(f"%d/{_MONTHS[t.tm_mon - 1]}/%Y:%H:%M:%S +0000", t)
                    stamps[sec] = stamp
                method, route = ACCESS_ROUTES[self.route[i]]
                client = "127.0.0.1" if self.route[i] == ROUTE_HEALTH else "172.17.0.1"
                buf.append(
                    f'{client} - - [{stamp}] "{method} {route} HTTP/1.1" {self.status[i]} 512 '
                    '"-" "python-httpx/0.27.0"\n'
                )
                if len(buf) >= WRITE_CHUNK_LINES:
                    fh.write("".join(buf))
                    buf.clear()
            fh.write("".join(buf))
        return len(order)


def generate(
    path: Path, n_lines: int = 1_000_000, seed: int = 7, access: Path | None = None
) -> dict[str, Any]:
    """Write a deterministic mixed proxy log of exactly `n_lines` lines to `path`.

    Returns the ground truth (JSON-serialisable counts and latency summaries) it generated.
    With `access`, also write the same traffic's HTTP requests there in combined format.
    """
    http = _AccessLog()
    if n_lines < 0:
        raise ValueError("n_lines must be >= 0")
    rng = random.Random(seed)
    clock = _Clock()
    pick_arrival = _picker(rng, ARRIVALS)
    pick_wrapper_model = _picker(rng, WRAPPER_MODELS)
    pick_json_model = _picker(rng, JSON_MODELS)
    pick_kv_model = _picker(rng, KV_MODELS)
    pick_outcome = _picker(rng, WRAPPER_OUTCOMES)
    pick_json_status = _picker(rng, JSON_STATUSES)
    pick_kv_status = _picker(rng, KV_STATUSES)
    rand = rng.random
    randrange = rng.randrange
    lognorm = rng.lognormvariate

    heap: list[tuple[int, int, str]] = []
    seq = 0
    committed = 0  # lines scheduled so far (emitted or waiting in the heap)

    def push(t_ns: int, body: str) -> None:
        nonlocal seq, committed
        heapq.heappush(heap, (t_ns, seq, body))
        seq += 1
        committed += 1

    def ws(t_ns: int) -> str:
        # The app formats its record a little before Docker stamps the line.
        return clock.app(t_ns - randrange(20 * US, 400 * US))

    def latency_ns(model: str) -> int:
        median = FAMILY_MEDIAN_S[_family(model)]
        return max(5 * MS, int(lognorm(math.log(median), LATENCY_SIGMA) * SEC))

    by_style: Counter[str] = Counter()
    by_style_model: dict[str, Counter[str]] = {s: Counter() for s in STYLES}
    by_status: Counter[str] = Counter()
    failures: Counter[str] = Counter({k: 0 for k in FAILURE_KINDS})
    alias_warnings: Counter[str] = Counter()
    durations: dict[str, list[float]] = {}
    logged_durations: dict[str, list[float]] = {}
    logged_counts: dict[str, Counter[str]] = {}
    health_checks = 0
    models_list = 0
    streaming = 0
    in_flight_ends: list[int] = []
    max_in_flight = 0
    next_request_id = 1

    def track(start_ns: int, end_ns: int) -> None:
        nonlocal max_in_flight
        while in_flight_ends and in_flight_ends[0] <= start_ns:
            heapq.heappop(in_flight_ends)
        heapq.heappush(in_flight_ends, end_ns)
        max_in_flight = max(max_in_flight, len(in_flight_ends))

    def success(model: str, seconds: float) -> None:
        durations.setdefault(model, []).append(seconds)

    def logged(name: str, failed: bool, seconds: float | None) -> None:
        """One model request as the log shows it (``seconds``: None when it shows no latency)."""
        counts = logged_counts.setdefault(name, Counter())
        counts["requests"] += 1
        counts["failed"] += failed
        if seconds is not None and not failed:
            logged_durations.setdefault(name, []).append(seconds)

    def wrapper_request(t: int) -> None:
        nonlocal streaming
        port = randrange(32768, 61000)
        outcome = pick_outcome()
        if outcome == "unauthorized_401":
            end = t + randrange(2 * MS, 7 * MS)
            push(end, ACCESS.format(port=port, status=REASONS[401]))
            status = 401
        elif outcome == "rate_limited_429":
            push(
                t,
                f"{ws(t)} - slowapi - WARNING - ratelimit 14 per 1 minute (172.17.0.1) "
                "exceeded at endpoint: /v1/chat/completions",
            )
            end = t + randrange(2 * MS, 5 * MS)
            push(end, ACCESS.format(port=port, status=REASONS[429]))
            status = 429
        elif outcome == "validation_422":
            push(
                t,
                f"{ws(t)} - src.main - ERROR - ❌ Request validation failed for POST "
                "http://127.0.0.1:8000/v1/chat/completions",
            )
            push(
                t + 250 * US,
                f"{ws(t + 250 * US)} - src.main - ERROR - ❌ Validation errors: "
                + VALIDATION_ERRORS,
            )
            end = t + randrange(900 * US, 3 * MS)
            push(end, ACCESS.format(port=port, status=REASONS[422]))
            status = 422
        else:
            model = pick_wrapper_model()
            if model == "gpt-4":
                outcome = "sdk_error_200"  # unknown model: the CLI fails, the API still says 200
            stream = outcome == "ok" and rand() < STREAM_SHARE
            by_style_model["wrapper"][model] += 1
            push(t, f"{ws(t)} - src.auth - INFO - Claude Code authentication validated: claude_cli")
            if not stream:
                t1 = t + randrange(100 * US, 400 * US)
                push(
                    t1,
                    f"{ws(t1)} - src.main - INFO - Chat completion: session_id=None, "
                    f"total_messages={1 + int(lognorm(0.3, 0.9))}",
                )
            if model not in KNOWN_MODELS:
                alias_warnings[model] += 1
                t2 = t + randrange(500 * US, 2 * MS)
                push(
                    t2,
                    f"{ws(t2)} - src.parameter_validator - WARNING - Model '{model}' is not in "
                    "the known supported models list. It will still be attempted but may fail. "
                    f"Supported models: {SUPPORTED}",
                )
            t3 = t + randrange(2 * MS + 100 * US, 5 * MS)
            push(
                t3,
                f"{ws(t3)} - src.main - INFO - Tools disabled (default behavior for OpenAI "
                "compatibility)",
            )
            if outcome == "ok":
                end = t + max(10 * MS, latency_ns(model))
                status = 200
                streaming += stream
                success(model, (end - t) / SEC)
            else:
                e = t + randrange(180 * MS, 320 * MS)
                if outcome == "cli_crash_500":
                    push(e, "Error: connect ECONNREFUSED 127.0.0.1:443")
                    push(
                        e + 25 * US,
                        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)",
                    )
                    e += 2 * MS
                for logger, prefix in (
                    ("claude_agent_sdk._internal.query", "Fatal error in message reader"),
                    ("src.claude_cli", "Claude Agent SDK error"),
                ):
                    push(
                        e,
                        f"{ws(e)} - {logger} - ERROR - {prefix}: Command failed with exit "
                        "code 1 (exit code: 1)",
                    )
                    push(e + 25 * US, "Error output: Check stderr output for details")
                    e += randrange(400 * US, 800 * US)
                end = e + randrange(1 * MS, 2 * MS)
                status = 500 if outcome == "cli_crash_500" else 200
            push(end, ACCESS.format(port=port, status=REASONS[status]))
        http.add(end, ROUTE_CHAT, status)
        if outcome != "ok":
            failures[outcome] += 1
        if outcome in ("unauthorized_401", "rate_limited_429", "validation_422"):
            logged(UNNAMED, True, None)
        else:
            name = model if model not in KNOWN_MODELS else UNNAMED
            logged(name, outcome != "ok", None if stream else (end - t) / SEC)
        by_status[str(status)] += 1
        track(t, end)

    def json_request(t: int, request_id: int) -> None:
        model = pick_json_model()
        status = pick_json_status()
        by_style_model["json"][model] += 1
        if status == 200:
            duration_ms = max(10, latency_ns(model) // MS)
        elif status == 429:
            duration_ms = randrange(30, 120)
        else:
            duration_ms = randrange(150, 1500)
        rid = f"r-{request_id:06d}"
        iso = clock.docker(t - t % MS)[:23] + "Z"
        push(
            t,
            f'{{"level":"info","time":"{iso}","event":"request.start","requestId":"{rid}",'
            f'"model":"{model}","path":"/v1/messages"}}',
        )
        end = t + duration_ms * MS + randrange(50 * US, 400 * US)
        if status == 200:
            push(
                end,
                f'{{"level":"info","event":"request.complete","requestId":"{rid}",'
                f'"model":"{model}","status":200,"durationMs":{duration_ms}}}',
            )
            success(model, duration_ms / 1000)
            logged(model, False, duration_ms / 1000)
        else:
            level, error, kind = {
                429: ("warn", "rate_limit_error", "upstream_429"),
                529: ("error", "overloaded_error", "overloaded_529"),
                500: ("error", "api_error", "upstream_500"),
            }[status]
            push(
                end,
                f'{{"level":"{level}","event":"request.complete","requestId":"{rid}",'
                f'"model":"{model}","status":{status},"durationMs":{duration_ms},'
                f'"error":"{error}"}}',
            )
            failures[kind] += 1
            logged(model, True, None)
        http.add(end, ROUTE_MESSAGES, status)
        by_status[str(status)] += 1
        track(t, end)

    def kv_request(t: int, request_id: int) -> None:
        model = pick_kv_model()
        status = pick_kv_status()
        by_style_model["kv"][model] += 1
        if status == 200:
            centis = max(1, round(latency_ns(model) / (10 * MS)))
            success(model, centis / 100)
            logged(model, False, centis / 100)
        else:
            centis = randrange(3, 60)
            failures["upstream_429" if status == 429 else "upstream_500"] += 1
            logged(model, True, None)
        end = t + centis * 10 * MS + randrange(50 * US, 400 * US)
        push(
            end,
            f"request done model={model} duration={centis / 100:.2f}s status={status} "
            f"request_id=r-{request_id}",
        )
        http.add(end, ROUTE_MESSAGES, status)
        by_status[str(status)] += 1
        track(t, end)

    # Worst case lines per request style, to keep the total exact at the end.
    max_wrapper_lines = 11
    max_json_lines = 2

    out_bytes = 0
    emitted = 0
    first_ts = last_ts = ""
    buf: list[str] = []
    path = Path(path)
    with path.open("wb") as fh:

        def flush_until(limit_ns: int) -> None:
            nonlocal emitted, first_ts, last_ts, out_bytes
            docker = clock.docker
            while heap and heap[0][0] <= limit_ns:
                t_ns, _, body = heapq.heappop(heap)
                buf.append(f"{docker(t_ns)} {body}\n")
            if len(buf) >= WRITE_CHUNK_LINES or (limit_ns == sys.maxsize and buf):
                if not first_ts:
                    first_ts = buf[0][:30]
                last_ts = buf[-1][:30]
                data = "".join(buf).encode("utf-8")
                fh.write(data)
                out_bytes += len(data)
                emitted += len(buf)
                buf.clear()

        for offset_us, line in STARTUP[:n_lines]:
            t = START_NS + offset_us * US
            push(t, line.replace("{ws}", ws(t)))
        startup_lines = committed

        t_req = START_NS + 3 * SEC
        t_health = START_NS + 5 * SEC
        while committed < n_lines:
            remaining = n_lines - committed
            if t_health <= t_req:
                flush_until(t_health)
                health_checks += 1
                probe = t_health + randrange(3 * MS, 40 * MS)
                port = randrange(32768, 61000)
                push(probe, f'INFO:     127.0.0.1:{port} - "GET /health HTTP/1.1" 200 OK')
                http.add(probe, ROUTE_HEALTH, 200)
                t_health += HEALTH_INTERVAL_NS + randrange(0, 150 * MS)
                continue
            flush_until(t_req)
            style = pick_arrival()
            if style == "models_list":
                models_list += 1
                port = randrange(32768, 61000)
                end = t_req + randrange(1 * MS, 4 * MS)
                push(end, f'INFO:     172.17.0.1:{port} - "GET /v1/models HTTP/1.1" 200 OK')
                http.add(end, ROUTE_MODELS, 200)
                t_req += max(1 * MS, int(rng.expovariate(1 / MEAN_INTERARRIVAL_S) * SEC))
                continue
            # Near the end only requests that surely fit are drawn, so the count is exact.
            if style == "wrapper" and remaining < max_wrapper_lines:
                style = "json" if remaining >= max_json_lines else "kv"
            if style == "json" and remaining < max_json_lines:
                style = "kv"
            by_style[style] += 1
            if style == "wrapper":
                wrapper_request(t_req)
            elif style == "json":
                json_request(t_req, next_request_id)
                next_request_id += 1
            else:
                kv_request(t_req, next_request_id)
                next_request_id += 1
            t_req += max(1 * MS, int(rng.expovariate(1 / MEAN_INTERARRIVAL_S) * SEC))
        flush_until(sys.maxsize)

    if emitted != n_lines:  # pragma: no cover - an internal invariant, not an input error
        raise AssertionError(f"wrote {emitted} lines, wanted {n_lines}")

    access_lines = http.write(access) if access is not None else None
    requests_by_model: Counter[str] = Counter()
    for counts in by_style_model.values():
        requests_by_model.update(counts)
    return {
        "seed": seed,
        "lines": emitted,
        "bytes": out_bytes,
        "first_timestamp": first_ts,
        "last_timestamp": last_ts,
        "startup_lines": startup_lines,
        "health_checks": health_checks,
        "models_list_requests": models_list,
        "requests": sum(by_style.values()),
        "requests_by_style": {s: by_style[s] for s in STYLES},
        "requests_by_model": dict(sorted(requests_by_model.items())),
        "requests_by_style_model": {s: dict(sorted(c.items())) for s, c in by_style_model.items()},
        "requests_by_status": dict(sorted(by_status.items())),
        "failures_by_kind": dict(failures),
        "streaming_requests": streaming,
        "alias_warnings": dict(sorted(alias_warnings.items())),
        "max_in_flight": max_in_flight,
        "latency_s": _latency_summary(durations),
        "logged_models": _logged_summary(logged_durations, logged_counts),
        "access_lines": access_lines,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gen_log", description="Write a synthetic proxy log."
    )
    parser.add_argument("out", type=Path, help="log file to write")
    parser.add_argument("--lines", type=int, default=1_000_000, help="exact line count")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--truth", type=Path, help="also write the ground truth JSON here")
    parser.add_argument(
        "--access", type=Path, help="also write the traffic's combined-format access log here"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    truth = generate(args.out, args.lines, args.seed, args.access)
    elapsed = time.perf_counter() - started
    text = json.dumps(truth, indent=2)
    if args.truth is not None:
        args.truth.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(
        f"wrote {truth['lines']:,} lines, {truth['bytes'] / 1e6:.1f} MB "
        f"({truth['bytes'] / max(1, truth['lines']):.1f} B/line) in {elapsed:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
