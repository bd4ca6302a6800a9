"""Helpers for tests that use the REAL Docker Engine, through the docker SDK (never the CLI).

- ``engine_or_skip()``: a client when an engine answers; otherwise a loud skip (``pytest.fail``
  under ``CI=true``). Start one with ``bash .ci/docker-up.sh``.
- ``build_busybox_image(client)``: ``FROM scratch`` + Debian's static busybox, cached by tag.
- ``start_standin_proxy(client, name, debug=False, **env)``: the stand-in
  claude-code-openai-wrapper (``tests/standin``) in a container made of read-only bind mounts of
  this host's Python and the repo's venv, with an in-container HEALTHCHECK; returns
  ``(container, base_url)`` once healthy. ``debug=True`` sets ``DEBUG_MODE=true`` (the wrapper's
  DEBUG logging: ``🔍`` request/response records, every SDK message).
- ``drive_workload(base_url, plan)``: sends a known plan of requests with urllib (sequential
  steps, or tuples of steps sent at once from threads); returns what the client saw (send,
  first-byte and end times, status, streaming). ``drive_concurrent(base_url, steps, in_flight)``
  keeps ``in_flight`` requests going until all are sent. ``client_view(outcomes)`` turns
  outcomes into JSON-ready records with RFC 3339 UTC times.
- ``remove_test_containers(client)``: removes every container labelled ``claude-perf-test=1``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

try:  # the docker SDK is a dependency of the project; keep import errors readable
    import docker
    from docker.errors import DockerException, ImageNotFound, NotFound
    from docker.types import LogConfig
except ImportError:  # pragma: no cover
    docker = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parent.parent
STANDIN_DIR = REPO_ROOT / "tests" / "standin"

TEST_LABEL = "claude-perf-test"
LABELS = {TEST_LABEL: "1"}
BUSYBOX_TAG = "claude-perf-test/busybox:latest"
BUSYBOX_HOST_PATH = Path("/bin/busybox")  # Debian's busybox-static (statically linked)
PROXY_PORT = 8000
HEALTH_INTERVAL_S = 1.0
POLL_S = 0.2
DEFAULT_API_KEY = "standin-test-key"


# --------------------------------------------------------------------------- engine


def engine_or_skip(timeout: int = 30) -> Any:
    """Return a docker client whose engine answers ``ping``.

    No engine: ``pytest.skip`` with a loud reason locally, ``pytest.fail`` when ``CI=true``
    (CI must never silently skip the real-engine tests).
    """
    reason = None
    if docker is None:
        reason = "the docker SDK (docker-py) is not installed"
    else:
        try:
            client = docker.from_env(timeout=timeout)
            client.ping()
            return client
        except DockerException as e:
            reason = f"{type(e).__name__}: {e}"
    msg = (
        "NO DOCKER ENGINE ANSWERS - real-engine tests not run "
        f"({reason}). Start one with: bash .ci/docker-up.sh"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def engine_summary(client: Any) -> dict[str, Any]:
    """Engine facts worth recording next to a capture (version, cgroup version, kernel)."""
    v = client.version()
    info = client.info()
    return {
        "engine_version": v.get("Version"),
        "api_version": v.get("ApiVersion"),
        "os_arch": f"{v.get('Os')}/{v.get('Arch')}",
        "kernel": info.get("KernelVersion"),
        "cgroup_version": info.get("CgroupVersion"),
        "cgroup_driver": info.get("CgroupDriver"),
        "storage_driver": info.get("Driver"),
        "ncpu": info.get("NCPU"),
        "mem_total": info.get("MemTotal"),
    }


# --------------------------------------------------------------------------- installs


def fail_or_skip(msg: str) -> None:
    """A missing prerequisite: a failure under CI (where .ci/run installs everything), else a
    skip that says how to install it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def run_up_script(script: Path, timeout_s: int = 600) -> None:
    """Run an idempotent .ci/*-up.sh install script; fail_or_skip with its stderr's tail."""
    import subprocess

    proc = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if proc.returncode != 0:
        fail_or_skip(f".ci/{script.name} failed: {proc.stderr.strip()[-500:]}")


def ensure_npm_package(cache_dir: Path, package: str, pinned: str, script: Path) -> Path:
    """The folder of the pinned npm ``package`` under ``cache_dir``/node_modules, installed by
    ``script`` when missing (node and npm required)."""
    pkg = cache_dir / "node_modules" / package
    if not (pkg / "package.json").is_file():
        if not (shutil.which("node") and shutil.which("npm")):
            fail_or_skip(f"node/npm missing - {package} tests not run. Run: bash .ci/{script.name}")
        run_up_script(script)
    version = json.loads((pkg / "package.json").read_text())["version"]
    if version != pinned:
        raise RuntimeError(f"{pkg} is {version}, pinned {pinned}: bash .ci/{script.name}")
    return pkg


# --------------------------------------------------------------------------- images


def _tar_context(files: dict[str, tuple[bytes, int]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build_busybox_image(client: Any, tag: str = BUSYBOX_TAG) -> Any:
    """``FROM scratch`` + ``/bin/busybox`` (+ its applet symlinks); reused when the tag exists."""
    try:
        return client.images.get(tag)
    except ImageNotFound:
        pass
    if not BUSYBOX_HOST_PATH.is_file():
        raise RuntimeError(
            f"{BUSYBOX_HOST_PATH} missing: apt-get install -y busybox-static "
            "(bash .ci/docker-up.sh does it)"
        )
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        f'LABEL {TEST_LABEL}="1"\n'
        'CMD ["/bin/sh"]\n'
    )
    ctx = _tar_context(
        {
            "Dockerfile": (dockerfile.encode(), 0o644),
            "busybox": (BUSYBOX_HOST_PATH.read_bytes(), 0o755),
        }
    )
    image, _ = client.images.build(
        fileobj=ctx, custom_context=True, tag=tag, rm=True, forcerm=True, labels=LABELS
    )
    return image


# --------------------------------------------------------------------------- stand-in proxy


def _python_mounts() -> tuple[str, dict[str, dict[str, str]]]:
    """The venv's python and the read-only binds it needs inside a ``FROM scratch`` container.

    Minimal working set (host Python from pyenv, merged-/usr Debian): the venv, the base
    interpreter's prefix (binary, libpython, stdlib), and /lib + /lib64 for libc, libm, ld.so,
    libssl/libcrypto, libgcc_s (on merged-/usr hosts these are symlinks into /usr, which Docker
    resolves when binding). /usr itself is not needed.
    """
    venv = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()
    python = venv / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable).resolve()
    binds: dict[str, dict[str, str]] = {}
    for p in {venv, base}:
        binds[str(p)] = {"bind": str(p), "mode": "ro"}
    for d in ("/lib", "/lib64"):
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    binds[str(STANDIN_DIR)] = {"bind": "/app", "mode": "ro"}
    return str(python), binds


def remove_container(client: Any, name_or_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.containers.get(name_or_id).remove(force=True, v=True)


def remove_test_containers(client: Any, label: str = f"{TEST_LABEL}=1") -> int:
    """Force-remove every container carrying ``label``; returns how many went."""
    n = 0
    for c in client.containers.list(all=True, filters={"label": label}):
        try:
            c.remove(force=True, v=True)
            n += 1
        except NotFound:
            pass
    return n


def wait_healthy(container: Any, timeout_s: float = 60.0) -> None:
    """Poll the engine's view of the container until its health is ``healthy``."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        state = container.attrs["State"]
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            return
        if state.get("Status") in ("exited", "dead"):
            raise RuntimeError(
                f"container {container.name} exited (code {state.get('ExitCode')}) before it "
                f"was healthy; logs:\n{logs_text(container)[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"container {container.name} not healthy after {timeout_s}s "
                f"(status={state.get('Status')}, health={health}); "
                f"logs:\n{logs_text(container)[-4000:]}"
            )
        time.sleep(POLL_S)


def start_standin_proxy(
    client: Any,
    name: str,
    *,
    timeout_s: float = 60.0,
    health_interval_s: float = HEALTH_INTERVAL_S,
    mem_limit: str | None = None,
    debug: bool = False,
    server: str = "uvicorn",
    **env: str,
) -> tuple[Any, str]:
    """Run the stand-in proxy; return ``(container, base_url)`` once the engine says healthy.

    ``env`` goes to the container (e.g. ``API_KEY``, ``RATE_LIMIT_PER_MIN``,
    ``STANDIN_MODEL_DELAYS="haiku=0.2,opus=1"``, ``VERBOSE="true"``). ``API_KEY`` defaults to
    ``DEFAULT_API_KEY``; ``debug=True`` adds ``DEBUG_MODE=true``. Port 8000 is published on
    127.0.0.1 at a port the engine picks. ``server="gunicorn"`` serves the same app the way many
    FastAPI images do (tiangolo/uvicorn-gunicorn-fastapi's gunicorn_conf: uvicorn workers, access
    log to stdout through gunicorn's loggers): two worker processes, gunicorn's own records; ``"hypercorn"``: hypercorn, access log on; ``"uvicorn-json"``: every
    record as JSON through python-json-logger (tests/standin/json-logging.json); ``"granian"``:
    granian (Rust) with its access log on.
    """
    if debug:
        env = {"DEBUG_MODE": "true", **env}
    build_busybox_image(client)
    python, binds = _python_mounts()
    environment = {
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": "/tmp",
        "PATH": "/bin",
        "API_KEY": DEFAULT_API_KEY,
        **env,
    }
    remove_container(client, name)
    interval_ns = int(health_interval_s * 1e9)
    container = client.containers.run(
        BUSYBOX_TAG,
        command=_server_command(python, server),
        name=name,
        working_dir="/app",
        environment=environment,
        volumes=binds,
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{PROXY_PORT}/tcp": ("127.0.0.1", None)},
        healthcheck={
            "test": [
                "CMD",
                "/bin/busybox",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                f"http://127.0.0.1:{PROXY_PORT}/health",
            ],
            "interval": interval_ns,
            "timeout": 5 * 1_000_000_000,
            "retries": 3,
            "start_period": 0,
        },
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, f"{TEST_LABEL}.role": "standin-proxy"},
        mem_limit=mem_limit,
        detach=True,
    )
    try:
        wait_healthy(container, timeout_s)
        container.reload()
        host_port = container.attrs["NetworkSettings"]["Ports"][f"{PROXY_PORT}/tcp"][0]["HostPort"]
    except BaseException:
        container.remove(force=True)
        raise
    return container, f"http://127.0.0.1:{host_port}"


NGINX_PORT = 8080
# nginx in front of one upstream: the combined format plus $request_time, to the engine's stdout
_NGINX_CONF = """user root;
worker_processes 1;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fcgi;
    uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
    log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
    access_log /dev/stdout timed;
    error_log stderr warn;
    server {
        listen %(port)d;
        location / {
            proxy_pass http://%(upstream)s;
            proxy_buffering off;
            proxy_read_timeout 60s;
        }
    }
}
"""


def start_nginx(client: Any, name: str, upstream: str, conf_dir: Path) -> tuple[Any, str]:
    """Debian's nginx (the host's binary, its libraries bound read-only, as the stand-in's
    Python is) in front of ``upstream`` (``IP:PORT``); ``(container, base_url)`` once it
    answers. ``conf_dir`` receives the configuration."""
    build_busybox_image(client)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "nginx.conf").write_text(_NGINX_CONF % {"port": NGINX_PORT, "upstream": upstream})
    binds = {nginx: {"bind": "/usr/sbin/nginx", "mode": "ro"}}
    binds[str(conf_dir)] = {"bind": "/conf", "mode": "ro"}
    for path in ("/etc/passwd", "/etc/group"):
        binds[path] = {"bind": path, "mode": "ro"}
    for d in ("/lib", "/lib64"):
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    remove_container(client, name)
    container = client.containers.run(
        BUSYBOX_TAG,
        command=["/usr/sbin/nginx", "-e", "stderr", "-c", "/conf/nginx.conf", "-g", "daemon off;"],
        name=name,
        volumes=binds,
        tmpfs={"/tmp": "rw,size=16m"},
        ports={f"{NGINX_PORT}/tcp": ("127.0.0.1", None)},
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, f"{TEST_LABEL}.role": "nginx"},
        detach=True,
    )
    try:
        container.reload()
        host_port = container.attrs["NetworkSettings"]["Ports"][f"{NGINX_PORT}/tcp"][0]["HostPort"]
        base_url = f"http://127.0.0.1:{host_port}"
        poll(lambda: _answers(f"{base_url}/health"), "nginx answering", 30)
    except BaseException:
        container.remove(force=True)
        raise
    return container, base_url


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _server_command(python: str, server: str) -> list[str]:
    """The stand-in's command line: uvicorn alone, gunicorn with two uvicorn workers, or
    hypercorn with its access log on."""
    if server == "uvicorn":
        return [
            python,
            "-m",
            "uvicorn",
            "src.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            str(PROXY_PORT),
        ]
    if server == "gunicorn":
        return [
            *(python, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2"),
            *("--access-logfile", "-", "--error-logfile", "-", "-b", f"0.0.0.0:{PROXY_PORT}"),
            "src.main:app",
        ]
    if server == "uvicorn-json":  # every record as JSON (python-json-logger), on stdout
        return [
            *(python, "-m", "uvicorn", "src.main:app", "--host", "0.0.0.0"),
            *("--port", str(PROXY_PORT), "--log-config", "/app/json-logging.json"),
        ]
    if server == "granian":
        return [
            *(python, "-m", "granian", "--interface", "asgi", "--host", "0.0.0.0"),
            *("--port", str(PROXY_PORT), "--access-log", "src.main:app"),
        ]
    if server == "hypercorn":
        return [
            *(python, "-m", "hypercorn", "src.main:app", "--bind", f"0.0.0.0:{PROXY_PORT}"),
            *("--access-logfile", "-", "--error-logfile", "-"),
        ]
    raise ValueError(f"unknown server {server!r}")


def poll(check: Callable[[], Any], what: str, deadline_s: float = 120.0) -> Any:
    """Call ``check`` until it returns something truthy (returned); fail after the deadline.
    Bounded, never a fixed sleep: the deadline is only a bound for a test that is failing."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {deadline_s:g} s")
        time.sleep(0.1)


def logs_text(container: Any, timestamps: bool = True) -> str:
    """``docker logs -t`` equivalent through the SDK: stdout and stderr merged."""
    raw = container.logs(timestamps=timestamps, stdout=True, stderr=True)
    return raw.decode("utf-8", "replace")


def logs_once(
    container: Any, check: Callable[[str], bool], what: str, deadline_s: float = 30.0
) -> str:
    """The container's log (``logs_text``) once ``check`` holds for it. A proxy answers its
    client before its last lines reach the engine (stdout and stderr are separate pipes, and a
    loaded machine delays either): a test reads the log when it holds what it will assert on,
    polled (bounded), never after a fixed time."""
    return str(
        poll(lambda: text if check(text := logs_text(container)) else None, what, deadline_s)
    )


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Step:
    """One request. ``raw_body`` (bytes) replaces the JSON body (e.g. malformed JSON)."""

    label: str
    model: str = "sonnet"
    prompt: str = "Say hello."
    stream: bool = False
    api_key: str | None = DEFAULT_API_KEY
    raw_body: bytes | None = None
    path: str = "/v1/chat/completions"
    method: str = "POST"
    timeout_s: float = 60.0


@dataclass
class Outcome:
    """What the client saw of one request. Times: ``started_at`` is the wall clock (UTC epoch
    seconds) when the request was sent; the ``*_s`` are monotonic seconds after that."""

    label: str
    model: str
    status: int
    elapsed_s: float  # to the last body byte
    started_at: float
    body: bytes = field(default=b"", repr=False)
    first_byte_s: float | None = None  # status line and headers in (urlopen returned)
    first_body_s: float | None = None  # first body bytes in (for a stream: the first SSE event)
    stream: bool = False
    method: str = "POST"
    path: str = "/v1/chat/completions"

    def json(self) -> Any:
        return json.loads(self.body)


PlanItem = Step | Sequence[Step]


def send(base_url: str, step: Step) -> Outcome:
    """Send one request; status and time to the last body byte, as the client saw them."""
    if step.method == "GET":
        data = None
    elif step.raw_body is not None:
        data = step.raw_body
    else:
        data = json.dumps(
            {
                "model": step.model,
                "messages": [{"role": "user", "content": step.prompt}],
                "stream": step.stream,
            }
        ).encode()
    req = urllib.request.Request(base_url + step.path, data=data, method=step.method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if step.api_key is not None:
        req.add_header("Authorization", f"Bearer {step.api_key}")
    started_at = time.time()
    t0 = time.perf_counter()
    first_body_s = None
    try:
        with urllib.request.urlopen(req, timeout=step.timeout_s) as resp:
            first_byte_s = time.perf_counter() - t0
            head = resp.read1(65536)  # returns as soon as some body bytes are in
            first_body_s = time.perf_counter() - t0 if head else None
            body = head + resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        first_byte_s = time.perf_counter() - t0
        body = e.read()
        status = e.code
    elapsed = time.perf_counter() - t0
    return Outcome(
        step.label,
        step.model,
        status,
        elapsed,
        started_at,
        body,
        first_byte_s=first_byte_s,
        first_body_s=first_body_s,
        stream=step.stream and step.method == "POST" and step.raw_body is None,
        method=step.method,
        path=step.path,
    )


def _send_together(base_url: str, group: Sequence[Step]) -> list[Outcome]:
    """Send ``group`` at once (one thread each, released by a barrier); outcomes in order."""
    results: list[Outcome | BaseException | None] = [None] * len(group)
    barrier = threading.Barrier(len(group))

    def worker(i: int, s: Step) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = send(base_url, s)
        except BaseException as e:  # re-raised in the caller's thread
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(group)]
    for t in threads:
        t.start()
    for t, s in zip(threads, group, strict=True):
        t.join(timeout=s.timeout_s + 15)
    out: list[Outcome] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        if r is None:
            raise TimeoutError("an overlapping request did not finish")
        out.append(r)
    return out


def drive_workload(base_url: str, plan: Iterable[PlanItem]) -> list[Outcome]:
    """Run ``plan`` in order. A ``Step`` is sent alone; a tuple/list of steps is sent at once
    (one thread each, released together) and waited for before the next item. Outcomes come
    back in plan order."""
    outcomes: list[Outcome] = []
    for item in plan:
        if isinstance(item, Step):
            outcomes.append(send(base_url, item))
        else:
            outcomes.extend(_send_together(base_url, list(item)))
    return outcomes


def drive_concurrent(base_url: str, steps: Sequence[Step], in_flight: int) -> list[Outcome]:
    """Send ``steps`` keeping ``in_flight`` requests open at once (a new one as soon as one
    ends, in plan order); outcomes come back in plan order."""
    if in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, not {in_flight}")
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="client") as pool:
        return list(pool.map(lambda s: send(base_url, s), steps))


def rfc3339_utc(epoch_s: float) -> str:
    """``2026-11-30T17:33:42.562123Z`` (UTC, microseconds)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def client_view(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """JSON-ready records of what the client saw, one per request, in the given order."""
    view = []
    for o in outcomes:
        view.append(
            {
                "label": o.label,
                "method": o.method,
                "path": o.path,
                "model": o.model,
                "stream": o.stream,
                "status": o.status,
                "sent_at": rfc3339_utc(o.started_at),
                "first_byte_at": (
                    None if o.first_byte_s is None else rfc3339_utc(o.started_at + o.first_byte_s)
                ),
                "first_body_at": (
                    None if o.first_body_s is None else rfc3339_utc(o.started_at + o.first_body_s)
                ),
                "ended_at": rfc3339_utc(o.started_at + o.elapsed_s),
                "first_byte_s": None if o.first_byte_s is None else round(o.first_byte_s, 6),
                "elapsed_s": round(o.elapsed_s, 6),
            }
        )
    return view
