"""Helpers to run the REAL claude-code-router (npm) in a container, routing to a fake provider.

- ``ensure_installed(package)``: a pinned package, ``CCR2`` (2.0.0, the default) under
  ``.cache/ccr`` (``.ci/ccr-up.sh``) or ``CCR1`` (1.0.73, the 1.0.x line) under ``.cache/ccr1``
  (``.ci/ccr1-up.sh``), installed when missing; skips loudly without node/npm (fails under
  ``CI=true``).
- ``start_ccr(client, name, home, ...)``: ``FROM scratch`` + busybox (the maxproxy base image),
  read-only binds of this host's node, /lib, /lib64, the npm package and ``tests/standin_ccr``
  (``upstream.js``: an OpenAI-compatible fake provider on 127.0.0.1:8999 inside the same
  container, answering per ``models.json``); ``home`` (a host folder) is bound read-write as the
  router's ``~/.claude-code-router``: its ``config.json`` in, its pino log files
  (``logs/ccr-<start time>.log``) out, as a Docker user mounts it. Returns ``(container, url)``
  once the router answers ``GET /health`` (one probe request, logged like any other).
- The router (2.0.0 and 1.0.73 alike) logs nothing on stdout but ``Loaded JSON config from: …``:
  its server log is a file. With ``tail_log`` the container's command also tails that file to stdout
  (``tail -F``, the usual way to see a file-logging app in ``docker logs``; the host's GNU
  tail, bound read-only).
- ``send_raw`` / ``raw_record``: one hand-made request (a bad body, no key, a health check) as a
  client record, for what ``claude-perf load`` never sends.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_perf.ingest.client_records import ClientRecord
from tests.docker_support import (
    LABELS,
    TEST_LABEL,
    ensure_npm_package,
    logs_text,
    remove_container,
)
from tests.maxproxy_support import BASE_TAG, build_base_image, node_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
STANDIN_CCR_DIR = REPO_ROOT / "tests" / "standin_ccr"
UP_SCRIPT = REPO_ROOT / ".ci" / "ccr-up.sh"
CACHE_DIR = Path(os.environ.get("CCR_CACHE", REPO_ROOT / ".cache" / "ccr"))
PACKAGE = "@musistudio/claude-code-router"
PINNED_VERSION = "2.0.0"


@dataclass(frozen=True)
class RouterPackage:
    """One pinned version of the router: its npm folder and the script that installs it."""

    version: str
    cache_dir: Path
    up_script: Path


CCR2 = RouterPackage(PINNED_VERSION, CACHE_DIR, UP_SCRIPT)
CCR1 = RouterPackage(
    "1.0.73",
    Path(os.environ.get("CCR1_CACHE", REPO_ROOT / ".cache" / "ccr1")),
    REPO_ROOT / ".ci" / "ccr1-up.sh",
)
ENTRY = f"/app/node_modules/{PACKAGE}/dist/cli.js"
ROUTER_PORT = 3456  # the package's default PORT (dist/cli.js: `t.PORT||3456`)
UPSTREAM_PORT = 8999
API_KEY = "ccr-test-key"  # without APIKEY the router forces HOST to 127.0.0.1 (its README)
HOME_IN_CONTAINER = "/root"
GNU_TAIL = "/usr/bin/tail"
POLL_S = 0.1


def ensure_installed(package: RouterPackage = CCR2) -> Path:
    """The package folder of a pinned claude-code-router, installing it when missing."""
    return ensure_npm_package(package.cache_dir, PACKAGE, package.version, package.up_script)


def standin_models() -> dict[str, Any]:
    """The fake provider's per-model behaviour (delay, tokens, a failing status)."""
    spec: dict[str, Any] = json.loads((STANDIN_CCR_DIR / "models.json").read_text())
    return spec


def router_config(log: bool | None = True, log_level: str | None = None) -> dict[str, Any]:
    """A config.json with one provider, the fake, and its models. ``log=None`` and
    ``log_level=None`` leave the keys out (the router's defaults: LOG on, LOG_LEVEL debug)."""
    models = [m for m in standin_models()["models"] if m != "default"]
    config: dict[str, Any] = {
        "APIKEY": API_KEY,
        "HOST": "0.0.0.0",
        "PORT": ROUTER_PORT,
        "Providers": [
            {
                "name": "fake",
                "api_base_url": f"http://127.0.0.1:{UPSTREAM_PORT}/v1/chat/completions",
                "api_key": "sk-fake-upstream",
                "models": models,
            }
        ],
        "Router": {"default": "fake,mid-model", "background": "fake,fast-model"},
    }
    if log is not None:
        config["LOG"] = log
    if log_level is not None:
        config["LOG_LEVEL"] = log_level
    return config


def _binds(home: Path, package: RouterPackage) -> dict[str, dict[str, str]]:
    binds: dict[str, dict[str, str]] = {
        str(node_binary()): {"bind": "/usr/bin/node", "mode": "ro"},
        str(package.cache_dir.resolve()): {"bind": "/app", "mode": "ro"},
        str(STANDIN_CCR_DIR): {"bind": "/opt/standin", "mode": "ro"},
        str(home.resolve()): {"bind": f"{HOME_IN_CONTAINER}/.claude-code-router", "mode": "rw"},
        # GNU tail follows with inotify, at once; busybox's polls once a second, which would
        # put up to a second between a line's pino time and its engine time.
        os.path.realpath(GNU_TAIL): {"bind": "/opt/gnu/tail", "mode": "ro"},
    }
    for d in ("/lib", "/lib64"):  # libc, libstdc++, ld.so (merged-/usr: symlinks into /usr)
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def log_files(home: Path) -> list[Path]:
    """The router's pino log files in its home, oldest first (named by their start time)."""
    return sorted((home / "logs").glob("ccr-*.log"))


def log_file_text(home: Path) -> str:
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in log_files(home))


def wait_listening(container: Any, timeout_s: float = 60.0) -> tuple[str, ClientRecord]:
    """Until the router answers ``GET /health`` (it may log nothing: LOG false), or its container
    died; returns its base URL (read again after a restart: the published port may change) and
    the probe that answered: a request the router logs like any other. Probes before it found
    no server listening (refused or reset by the engine's port proxy): not logged."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RuntimeError(f"{container.name} exited; logs:\n{logs_text(container)[-4000:]}")
        if container.status == "running":
            base_url = base_url_of(container)
            with contextlib.suppress(OSError, http.client.HTTPException):
                probe = send_raw(base_url, "ready-probe", "GET", "/health", key=None)
                if probe.status == 200:
                    return base_url, probe
        if time.monotonic() > deadline:
            raise TimeoutError(f"{container.name} not answering after {timeout_s}s")
        time.sleep(POLL_S)


COMPLETED = '"msg":"request completed"'


def wait_logged(
    home: Path, requests: int, timeout_s: float = 30.0, marker: str = COMPLETED
) -> None:
    """Until the log files hold ``requests`` completions (fastify's ``request completed``; or
    ``requests`` lines holding ``marker``, at a level that logs no completion). The router
    writes its log through a stream that queues lines: stopped (SIGTERM) right after its last
    answer, it lost the last lines once at LOG_LEVEL debug (the last two requests and the
    third's completion), so a capture waits for them before it stops the container."""
    deadline = time.monotonic() + timeout_s
    while log_file_text(home).count(marker) < requests:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {requests} {marker} logged after {timeout_s}s")
        time.sleep(POLL_S)


def _script(tail_log: bool) -> str:
    upstream = f"node /opt/standin/upstream.js {UPSTREAM_PORT} /tmp/upstream.ready &"
    logs = f"{HOME_IN_CONTAINER}/.claude-code-router/logs"
    # The router opens a new file at each start (a restart included): tail the one that
    # appears after this start, the newest.
    tail = (
        f"(until [ $(ls {logs} 2>/dev/null | wc -l) -gt $n ]; do sleep 0.05; done; "
        f"exec /opt/gnu/tail -n +1 -F {logs}/$(ls -t {logs} | head -n 1)) & "
        if tail_log
        else ""
    )
    wait_upstream = "until [ -e /tmp/upstream.ready ]; do sleep 0.05; done; "
    # (the files there before this start are counted before the router can open its own)
    count = f"n=$(ls {logs} 2>/dev/null | wc -l); "
    # `ccr start` exits at once ("claude-code-router server is running") when its pid file
    # names a live process: after a restart with ~/.claude-code-router kept, the file names
    # pid 1, the new router itself (2.0.0 leaves the file at SIGTERM).
    stale_pid = f"rm -f {HOME_IN_CONTAINER}/.claude-code-router/.claude-code-router.pid; "
    return f"{count}{stale_pid}{upstream} {wait_upstream}{tail}exec node {ENTRY} start"


def base_url_of(container: Any) -> str:
    """``http://127.0.0.1:<published port>`` (read again after a restart: it may change)."""
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"][f"{ROUTER_PORT}/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{port}"


def start_ccr(
    client: Any,
    name: str,
    home: Path,
    *,
    config: dict[str, Any],
    tail_log: bool = True,
    labels: dict[str, str] | None = None,
    timeout_s: float = 60.0,
    package: RouterPackage = CCR2,
) -> tuple[Any, str, ClientRecord]:
    """Run ``ccr start`` on port 3456 (published on 127.0.0.1 at a port the engine picks);
    returns the container, its base URL and the readiness probe's record (see wait_listening)."""
    ensure_installed(package)
    build_base_image(client)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(config, indent=2))
    from docker.types import LogConfig

    remove_container(client, name)
    container = client.containers.run(
        BASE_TAG,
        command=["/bin/sh", "-c", _script(tail_log)],
        name=name,
        working_dir="/app",
        environment={"PATH": "/usr/bin:/bin", "HOME": HOME_IN_CONTAINER},
        volumes=_binds(home, package),
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{ROUTER_PORT}/tcp": ("127.0.0.1", None)},
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "ccr"},
        detach=True,
    )
    try:
        base_url, probe = wait_listening(container, timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise
    return container, base_url, probe


def send_raw(
    base_url: str,
    rid: str,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = API_KEY,
    timeout_s: float = 30.0,
) -> ClientRecord:
    """One hand-made request (what ``claude-perf load`` never sends: a malformed body, a missing
    key, a health check), as a client record (its times from the wall clock, ns)."""
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout_s)
    headers = {"X-Request-Id": rid}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["x-api-key"] = key
    start = time.time_ns()
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    first = time.time_ns()
    data = resp.read()
    end = time.time_ns()
    conn.close()
    ok = 200 <= resp.status < 300
    error = None if ok else data.decode("utf-8", "replace").splitlines()[0][:200]
    return ClientRecord(
        id=rid,
        tool="capture script",
        start_ns=start,
        end_ns=end,
        method=method,
        path=path,
        first_byte_ns=first,
        status=resp.status,
        ok=ok,
        error_class=None if ok else f"http_{resp.status // 100}xx",
        error=error,
    )
