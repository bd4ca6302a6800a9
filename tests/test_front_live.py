"""nginx in front of the stand-in wrapper on the real engine, both containers collected: the
report counts each request once, lists no nginx replica, and shows nginx's timings (a
stream's whole time included) as the client view (analysis/front.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import DockerRun, run_container
from tests.docker_support import (
    Step,
    drive_workload,
    logs_once,
    start_nginx,
    start_standin_proxy,
)
from tests.live_support import claude_perf, report, seen_wrapper

pytestmark = pytest.mark.docker

NGINX_LINE = re.compile(
    r'^\S+ \S+ - \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) ', re.M
)
STEPS = [
    Step("chat 1", "sonnet"),
    Step("chat 2", "haiku"),
    Step("stream 1", "opus", stream=True),
    Step("chat 3", "opus"),
    Step("stream 2", "haiku", stream=True),
    Step("chat 4", "sonnet"),
]


def test_nginx_in_front_is_counted_once_and_is_the_client_view(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    client = docker_run.client
    with run_container(
        docker_run,
        lambda name: start_standin_proxy(
            client,
            name,
            RATE_LIMIT_PER_MIN="0",
            STANDIN_MODEL_DELAYS="haiku=0.3,sonnet=0.6,opus=1.0",
        ),
        "front-app",
    ) as (app, _url):
        upstream = f"{app.attrs['NetworkSettings']['IPAddress']}:8000"
        with run_container(
            docker_run,
            lambda name: start_nginx(client, name, upstream, tmp_path / "nginx"),
            "front-nginx",
        ) as (nginx, base_url):
            seen = seen_wrapper(drive_workload(base_url, STEPS))
            assert not [s.label for s in seen if s.failed]
            chats = len(STEPS)
            log = logs_once(
                nginx,
                lambda text: (
                    sum(m["path"] == "/v1/chat/completions" for m in NGINX_LINE.finditer(text))
                    >= chats
                ),
                f"{chats} nginx access lines",
            )
            front_health = sum(m["path"] == "/health" for m in NGINX_LINE.finditer(log))
            nginx.stop(timeout=10)
            app.stop(timeout=10)
            store = tmp_path / "store.db"
            claude_perf(
                "collect", "--container", app.name, "--container", nginx.name, "--store", str(store)
            )
            rep = report(store, tmp_path / "report")
    s = rep.summary
    assert s["requests"]["total"] == chats  # not twice
    assert s["health"]["external"] == front_health  # nginx's health polls, once
    assert "replicas" not in s  # one replica: the front proxy is none
    assert any(
        f"store:{nginx.name}: a front proxy's access log (nginx)" in n
        for n in s["data_quality"]["notes"]
    )
    c = s["client"]
    assert c is not None and c["tools"] == [f"front proxy (store:{nginx.name})"]
    assert c["matched"] == chats + front_health and c["unmatched_client"] == 0
    (front,) = c["models"]
    assert front["latency_s"]["n"] == chats
