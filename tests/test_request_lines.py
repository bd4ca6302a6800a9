"""A request line and its status in a line no known format reads (formats._REQUEST_LINE): the
access lines of Go's chi, Django's runserver, aiohttp, and messages of loguru, Elysia or a plain
logging call, each read as a completion with its status and, when it has one, its time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_truth import access, analysis, engine, requests

PATH = "/v1/messages"
# (latency s, status) of six requests, two failed
TRAFFIC = [(0.81, 200), (0.32, 200), (1.52, 500), (0.45, 200), (0.95, 429), (0.61, 200)]


def lines(shape) -> list[str]:
    return [f"{engine(2.0 * i + 1 + lat)} {shape(lat, st)}" for i, (lat, st) in enumerate(TRAFFIC)]


SHAPES = {
    # go-chi/chi middleware.Logger
    "chi": lambda lat, st: (
        f'2026/12/01 10:00:00 "POST http://localhost:8080{PATH} HTTP/1.1" from '
        f"172.17.0.1:54321 - {st} 512B in {lat * 1000:.6f}ms"
    ),
    # loguru's default format, a middleware's message
    "loguru": lambda lat, st: (
        f"2026-12-01 10:00:00.123 | INFO     | app.main:log_requests:42 - "
        f"POST {PATH} {st} {lat * 1000:.0f}ms"
    ),
    # Elysia / Bun loggers
    "elysia": lambda lat, st: f"[10:00:00] POST {PATH} {st} {lat * 1000:.2f}ms",
    # Python's logging.basicConfig default format
    "pylog": lambda lat, st: f"INFO:app:POST {PATH} {st} {lat:.3f}s",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_is_read_with_its_status_and_time(name: str) -> None:
    got = requests(analysis(lines(SHAPES[name])))
    assert list(got["status"]) == [st for _, st in TRAFFIC]
    assert list(got["latency_s"]) == pytest.approx([lat for lat, _ in TRAFFIC], abs=5e-4)
    assert set(got["latency_source"]) == {"explicit"}
    assert list(got["outcome"]).count("failed") == 2


UNTIMED = {
    # Django's runserver
    "django": lambda lat, st: f'[01/Dec/2026 10:00:00] "POST {PATH} HTTP/1.1" {st} 512',
    # aiohttp's access logger through logging's default format
    "aiohttp": lambda lat, st: (
        f'INFO:aiohttp.access:172.17.0.1 [01/Dec/2026:10:00:00 +0000] "POST {PATH} HTTP/1.1" '
        f'{st} 512 "-" "python-httpx/0.27.0"'
    ),
}


@pytest.mark.parametrize("name", sorted(UNTIMED))
def test_a_shape_without_a_time_counts_each_request_and_its_status(name: str) -> None:
    got = requests(analysis(lines(UNTIMED[name])))
    assert list(got["status"]) == [st for _, st in TRAFFIC]
    assert got["latency_s"].isna().all()  # 512 is a byte count, never a time


def test_upstream_calls_are_not_requests_served() -> None:
    # httpx's request log, and a bare absolute URL: the proxy's own calls to the API
    upstream = [
        f'{engine(1.0)} INFO:httpx:HTTP Request: POST https://api.anthropic.com{PATH} "HTTP/1.1 200 OK"',
        f"{engine(2.0)} 2026-12-01 10:00:02.000 | DEBUG | upstream - POST https://api.anthropic.com{PATH} 200 12ms",
    ]
    assert len(analysis(upstream).requests.table) == 0


def test_a_number_that_is_no_status_is_not_read() -> None:
    got = analysis([f"{engine(1.0)} [10:00:00] POST {PATH} 600 12ms"]).requests.table
    assert len(got) == 0


def test_a_request_line_beside_uvicorns_access_line_is_one_request() -> None:
    # loguru's middleware line, then uvicorn's access line for the same response (echoes.py)
    log = []
    for i, (lat, status) in enumerate(TRAFFIC):
        end = 2.0 * i + 1 + lat
        log.append(f"{engine(end)} {SHAPES['loguru'](lat, status)}")
        log.append(access(end + 0.0004, status, PATH))
    a = analysis(log)
    assert len(requests(a)) == len(TRAFFIC)
    assert a.quality.echoes_merged == len(TRAFFIC)


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.text(st.characters(blacklist_characters='\n\r"', max_codepoint=0x2FF), max_size=30),
    status=st.integers(100, 599),
    latency_ms=st.integers(1, 99_999),
)
def test_after_any_head_the_status_and_time_are_read(
    prefix: str, status: int, latency_ms: int
) -> None:
    """Whatever head a logger puts first (ending in white space), the request line after it is
    read: its status and time exactly."""
    line = f"{engine(5.0)} {prefix.strip()} POST {PATH} {status} {latency_ms}ms".replace("  ", " ")
    got = analysis([line]).requests.table
    if len(got) == 1:  # (a head that is itself a known format's may read the line its own way)
        assert int(got["status"][0]) == status
        if got["latency_source"][0] == "explicit":
            assert got["latency_s"][0] == pytest.approx(latency_ms / 1000)
    else:
        assert prefix.strip() and len(got) == 0


def test_a_model_beside_the_request_line_is_read() -> None:
    line = f"{engine(2.0)} [10:00:02] POST {PATH} 200 812.00ms model=claude-sonnet-4 rid=abc-1"
    got = requests(analysis([line]))
    assert list(got["model"].astype(str)) == ["claude-sonnet-4"]
    assert list(got["request_id"].astype(str)) == ["abc-1"]


def test_without_engine_times_an_iso_head_gives_the_times() -> None:
    # `docker logs` without -t: loguru's head stamp is the only clock (Config's app_timezone, UTC)
    plain = [
        f"2026-12-01 10:00:{2 * i:02d}.250 | INFO     | app.main:log:42 - POST {PATH} 200 {100 + i}ms"
        for i in range(5)
    ]
    a = analysis(plain)
    got = requests(a)
    assert [t.isoformat() for t in got["end"]] == [
        f"2026-12-01T10:00:{2 * i:02d}.250000+00:00" for i in range(5)
    ]
    assert a.metrics.duration_s == pytest.approx(8.0)


def test_without_engine_times_gos_log_stamp_gives_the_times() -> None:
    # chi's logger through Go's log package: `2026/12/01 10:00:02 "POST ..." from ... - 200 ...`
    plain = [
        f'2026/12/01 10:00:{2 * i:02d} "POST http://localhost:8080{PATH} HTTP/1.1" from '
        f"172.17.0.1:5432{i} - 200 512B in {100 + i}.5ms"
        for i in range(4)
    ]
    a = analysis(plain)
    assert [t.isoformat() for t in requests(a)["end"]] == [
        f"2026-12-01T10:00:{2 * i:02d}+00:00" for i in range(4)
    ]
