"""Helpers to run the REAL claude-relay-service (Wei-Shaw/claude-relay-service) in a container.

The service is not on npm: its source tree is a git checkout outside this repository (never
committed here), ``$RELAY_SRC`` (default ``/tmp/relay-src``), with ``npm ci --omit=dev`` run in it
and ``config/config.js`` copied from ``config.example.js`` (as its Dockerfile does); see
fixtures/captures/relay-*/README.md for the exact steps. Without it the recorder stops with a
line that says so.

- ``start_relay(client, name, work, log_level=...)``: ``FROM scratch`` + busybox (the maxproxy
  base image), read-only binds of this host's node, /lib, /lib64, the source tree (as /app, the
  official image's WORKDIR), Debian's ``redis-server`` and ``tests/standin_relay`` (a fake
  Anthropic Messages API on 127.0.0.1:8999 in the same container); ``data``, ``logs`` and
  ``temp`` are host folders under ``work`` bound read-write. Redis runs in the same container
  (its own output discarded: in docker-compose it is a container of its own). The command is
  the official image's entrypoint (``docker-entrypoint.sh``: first-start setup with
  ADMIN_USERNAME/ADMIN_PASSWORD, then ``node src/app.js``). Returns ``(container, url)`` once
  ``GET /health`` answers 200 (not logged: its request logger skips /health).
- ``set_up(url)``: what an operator does in the web UI, through the same admin API: log in, add
  a Claude Console account whose API URL is the fake upstream, create an API key. Returns the
  key and the three requests as client records (they are logged like any other).
- ``send_raw``: one hand-made request as a client record.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import time
import urllib.parse
from pathlib import Path
from typing import Any

from claude_perf.ingest.client_records import ClientRecord
from tests.docker_support import LABELS, TEST_LABEL, logs_text, remove_container
from tests.maxproxy_support import BASE_TAG, build_base_image, node_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
STANDIN_RELAY_DIR = REPO_ROOT / "tests" / "standin_relay"
SRC_DIR = Path(os.environ.get("RELAY_SRC", "/tmp/relay-src"))
# The same for a release before v1.1.271 (2026-02-09), whose console format was another.
OLD_SRC_DIR = Path(os.environ.get("RELAY_SRC_OLD", "/tmp/relay-src-old"))
RELAY_PORT = 3000  # the official image's PORT (EXPOSE 3000)
UPSTREAM_PORT = 8999
ADMIN_USERNAME = "perf-admin"
ADMIN_PASSWORD = "perf-admin-password-1"  # a throw-away container's, never a real one
JWT_SECRET = "claude-perf-capture-jwt-secret-0123456789abcdef"
ENCRYPTION_KEY = "claude-perf-capture-key-0123456"  # 32 characters, as its README asks
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's (apt-get install -y redis-server)
POLL_S = 0.1


def standin_models() -> dict[str, Any]:
    """The fake upstream's per-model behaviour (delay, tokens, a failing status)."""
    spec: dict[str, Any] = json.loads((STANDIN_RELAY_DIR / "models.json").read_text())
    return spec


def source_commit(src: Path = SRC_DIR, commit_env: str = "RELAY_COMMIT") -> str:
    """The checkout's commit and version, as its README records them (``commit_env``, VERSION)."""
    version = (src / "VERSION").read_text().strip() if (src / "VERSION").exists() else "?"
    return f"{os.environ.get(commit_env, '?')} (VERSION {version})"


def check_source(src: Path = SRC_DIR) -> None:
    """The source tree is ready to run (node_modules, config.js, an .env the setup leaves alone)."""
    missing = [p for p in ("package.json", "src/app.js", "node_modules") if not (src / p).exists()]
    if missing or not Path(REDIS_SERVER).exists():
        raise RuntimeError(
            f"claude-relay-service not ready in {src} (missing {missing or REDIS_SERVER}):"
            " see fixtures/captures/relay-default-sequential/README.md"
        )
    config = src / "config" / "config.js"
    if not config.exists():
        shutil.copy(src / "config" / "config.example.js", config)
    # scripts/setup.js writes .env from .env.example when none exists; /app is read-only here,
    # and every setting comes from the container's environment (dotenv does not override it).
    for sub in ("data", "logs", "temp"):  # mount points of the read-write binds
        (src / sub).mkdir(exist_ok=True)
    env = src / ".env"
    if not env.exists():
        env.write_text("# settings come from the container's environment\n")


def _binds(work: Path, src: Path) -> dict[str, dict[str, str]]:
    binds: dict[str, dict[str, str]] = {
        str(node_binary()): {"bind": "/usr/bin/node", "mode": "ro"},
        str(src.resolve()): {"bind": "/app", "mode": "ro"},
        os.path.realpath(REDIS_SERVER): {"bind": "/usr/bin/redis-server", "mode": "ro"},
        str(STANDIN_RELAY_DIR): {"bind": "/opt/standin", "mode": "ro"},
    }
    for sub in ("data", "logs", "temp"):
        (work / sub).mkdir(parents=True, exist_ok=True)
        binds[str((work / sub).resolve())] = {"bind": f"/app/{sub}", "mode": "rw"}
    for d in ("/lib", "/lib64"):  # libc, libstdc++, ld.so (merged-/usr: symlinks into /usr)
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def _script() -> str:
    redis = (
        "/usr/bin/redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
        " --daemonize no >/dev/null 2>&1 &"
    )
    upstream = f"node /opt/standin/upstream.js {UPSTREAM_PORT} /tmp/upstream.ready &"
    wait_upstream = "until [ -e /tmp/upstream.ready ]; do sleep 0.05; done; "
    return (
        f"{redis} {upstream} {wait_upstream}exec /bin/sh /app/docker-entrypoint.sh node src/app.js"
    )


def base_url_of(container: Any) -> str:
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"][f"{RELAY_PORT}/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{port}"


def start_relay(
    client: Any,
    name: str,
    work: Path,
    *,
    log_level: str | None = None,
    src: Path = SRC_DIR,
    labels: dict[str, str] | None = None,
    timeout_s: float = 90.0,
) -> tuple[Any, str]:
    """Run the relay in ``src`` on port 3000 (published on 127.0.0.1 at a port the engine
    picks)."""
    check_source(src)
    build_base_image(client)
    from docker.types import LogConfig

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "NODE_ENV": "production",
        "PORT": str(RELAY_PORT),
        "HOST": "0.0.0.0",
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
    }
    if log_level is not None:
        env["LOG_LEVEL"] = log_level
    remove_container(client, name)
    container = client.containers.run(
        BASE_TAG,
        command=["/bin/sh", "-c", _script()],
        name=name,
        working_dir="/app",
        environment=env,
        volumes=_binds(work, src),
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{RELAY_PORT}/tcp": ("127.0.0.1", None)},
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "relay"},
        detach=True,
    )
    try:
        base_url = wait_ready(container, timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise
    return container, base_url


def wait_ready(container: Any, timeout_s: float) -> str:
    """Until ``GET /health`` answers 200 (it is not logged), or the container died."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RuntimeError(f"{container.name} exited; logs:\n{logs_text(container)[-4000:]}")
        if container.status == "running":
            base_url = base_url_of(container)
            with contextlib.suppress(OSError, http.client.HTTPException):
                if send_raw(base_url, "ready-probe", "GET", "/health").status == 200:
                    return base_url
        if time.monotonic() > deadline:
            raise TimeoutError(f"{container.name} not answering after {timeout_s}s")
        time.sleep(POLL_S)


def set_up(base_url: str) -> tuple[str, list[ClientRecord]]:
    """Log in as the admin, add the fake upstream as a Claude Console account, create a key."""
    login = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    rec, body = _call(base_url, "setup-login", "POST", "/web/auth/login", login)
    token = body["token"]
    account = {
        "name": "fake-upstream",
        "apiUrl": f"http://127.0.0.1:{UPSTREAM_PORT}",
        "apiKey": "sk-ant-fake-upstream",
        # an upstream 500/429 must stay that request's failure, not take the account out
        "disableAutoProtection": True,
    }
    auth = {"Authorization": f"Bearer {token}"}
    rec2, _ = _call(
        base_url, "setup-account", "POST", "/admin/claude-console-accounts", account, auth
    )
    rec3, body = _call(
        base_url, "setup-key", "POST", "/admin/api-keys", {"name": "perf-client"}, auth
    )
    return str(body["data"]["apiKey"]), [rec, rec2, rec3]


def _call(
    base_url: str,
    rid: str,
    method: str,
    path: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> tuple[ClientRecord, dict[str, Any]]:
    record, data = _send(base_url, rid, method, path, json.dumps(payload).encode(), headers or {})
    if record.status != 200:
        raise RuntimeError(f"{method} {path}: {record.status} {data[:300]!r}")
    return record, json.loads(data)


def send_raw(
    base_url: str,
    rid: str,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = None,
) -> ClientRecord:
    """One hand-made request (a health check, a bad key, a malformed body) as a client record."""
    headers = {"x-api-key": key} if key is not None else {}
    return _send(base_url, rid, method, path, body, headers)[0]


def _send(
    base_url: str,
    rid: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout_s: float = 30.0,
) -> tuple[ClientRecord, bytes]:
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout_s)
    sent = {"X-Request-Id": rid, **headers}
    if body is not None:
        sent["Content-Type"] = "application/json"
    start = time.time_ns()
    conn.request(method, path, body=body, headers=sent)
    resp = conn.getresponse()
    first = time.time_ns()
    data = resp.read()
    end = time.time_ns()
    server_id = resp.getheader("X-Request-ID")
    conn.close()
    ok = 200 <= resp.status < 300
    error = None if ok else data.decode("utf-8", "replace").splitlines()[0][:200]
    record = ClientRecord(
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
        server_request_id=server_id,
    )
    return record, data
