"""Helpers to run the REAL claude-max-api-proxy (npm) in a container, with a stand-in ``claude``.

- ``ensure_installed()``: the pinned npm package under ``.cache/claude-max-api-proxy`` (runs
  ``.ci/maxproxy-up.sh`` when missing); skips loudly without node/npm (fails under ``CI=true``).
- ``start_maxproxy(client, name, debug=...)``: ``FROM scratch`` + busybox, with read-only binds
  of this host's node, /lib, /lib64, the npm package and ``tests/standin_max`` (the stand-in
  ``claude`` and a TCP relay, because the proxy listens on 127.0.0.1 only); returns
  ``(container, base_url)`` once the proxy has logged that it listens and the relay is up.
- ``MaxStep`` / ``send_max`` / ``run_steps``: one request (or many, N in flight) with the
  times the client saw: sent, first byte, first content (SSE), end; status; output tokens.
- ``standin_spec()``: tests/standin_max/models.json (per-model delays and token counts).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.docker_support import (
    BUSYBOX_TAG,
    LABELS,
    TEST_LABEL,
    _tar_context,
    build_busybox_image,
    ensure_npm_package,
    fail_or_skip,
    logs_text,
    remove_container,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
STANDIN_MAX_DIR = REPO_ROOT / "tests" / "standin_max"
UP_SCRIPT = REPO_ROOT / ".ci" / "maxproxy-up.sh"
CACHE_DIR = Path(os.environ.get("MAXPROXY_CACHE", REPO_ROOT / ".cache" / "claude-max-api-proxy"))
PACKAGE = "claude-max-api-proxy"
PINNED_VERSION = "1.0.0"
ENTRY = f"/app/node_modules/{PACKAGE}/dist/server/standalone.js"
PROXY_PORT = 3456  # the package's DEFAULT_PORT (dist/server/standalone.js)
BASE_TAG = "claude-perf-test/maxproxy-base:1"
LISTENING = "[Server] Claude Code CLI provider running at"
RELAY_READY = "/tmp/relay.ready"
POLL_S = 0.1


def standin_spec() -> dict[str, Any]:
    """The stand-in's per-model behaviour (delays, output tokens, usage, prices)."""
    spec: dict[str, Any] = json.loads((STANDIN_MAX_DIR / "models.json").read_text())
    return spec


def ensure_installed() -> Path:
    """The package folder of the pinned claude-max-api-proxy, installing it when missing."""
    return ensure_npm_package(CACHE_DIR, PACKAGE, PINNED_VERSION, UP_SCRIPT)


def node_binary() -> Path:
    """This host's node (the container bind-mounts it read-only); it must be >= 20."""
    found = shutil.which("node")
    if found is None:
        fail_or_skip("node missing - run: bash .ci/maxproxy-up.sh")
    return Path(str(found)).resolve()


def build_base_image(client: Any, tag: str = BASE_TAG) -> Any:
    """busybox + ``/usr/bin/env`` (the stand-in's ``#!/usr/bin/env node``); cached by tag."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        pass
    build_busybox_image(client)
    dockerfile = (
        f"FROM {BUSYBOX_TAG}\n"
        'RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/app", "/opt/standin"]\n'
        'RUN ["/bin/busybox", "ln", "-s", "/bin/busybox", "/usr/bin/env"]\n'
        f'LABEL {TEST_LABEL}="1"\n'
    )
    ctx = _tar_context({"Dockerfile": (dockerfile.encode(), 0o644)})
    image, _ = client.images.build(
        fileobj=ctx, custom_context=True, tag=tag, rm=True, forcerm=True, labels=LABELS
    )
    return image


def _binds() -> dict[str, dict[str, str]]:
    binds: dict[str, dict[str, str]] = {
        str(node_binary()): {"bind": "/usr/bin/node", "mode": "ro"},
        str(CACHE_DIR.resolve()): {"bind": "/app", "mode": "ro"},
        str(STANDIN_MAX_DIR): {"bind": "/opt/standin", "mode": "ro"},
    }
    for d in ("/lib", "/lib64"):  # libc, libstdc++, ld.so (merged-/usr: symlinks into /usr)
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def wait_listening(container: Any, timeout_s: float = 60.0, starts: int = 1) -> None:
    """Until the proxy has logged that it listens (``starts`` times: restarts included) and
    the relay has written its marker (in /tmp, a tmpfs that each start makes afresh)."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RuntimeError(
                f"container {container.name} exited before listening; logs:\n"
                f"{logs_text(container)[-4000:]}"
            )
        if logs_text(container, timestamps=False).count(LISTENING) >= starts:
            code, _ = container.exec_run(["/bin/test", "-e", RELAY_READY])
            if code == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"container {container.name} not listening after {timeout_s}s; logs:\n"
                f"{logs_text(container)[-4000:]}"
            )
        time.sleep(POLL_S)


def base_url_of(container: Any) -> str:
    """``http://127.0.0.1:<published port>`` (read again after a restart: it may change)."""
    container.reload()
    host_port = container.attrs["NetworkSettings"]["Ports"][f"{PROXY_PORT}/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{host_port}"


def start_maxproxy(
    client: Any,
    name: str,
    *,
    debug: bool,
    labels: dict[str, str] | None = None,
    healthcheck_interval_s: float | None = None,
    restart_policy: dict[str, Any] | None = None,
    timeout_s: float = 60.0,
    **env: str,
) -> tuple[Any, str]:
    """Run ``claude-max-api`` (the package's bin) on port 3456; return ``(container, url)``.

    ``debug`` sets ``DEBUG=1`` (one ``[ISO time] METHOD path`` line per request; the proxy
    tests ``process.env.DEBUG`` for truth, so off means absent). ``healthcheck_interval_s``
    adds an engine HEALTHCHECK (busybox wget /health), whose requests also show under DEBUG.
    ``restart_policy`` goes to the engine as is (e.g. ``{"Name": "on-failure"}``).
    ``env`` reaches the stand-in ``claude`` too (the proxy spawns it with its own env).
    The port is published on 127.0.0.1 only, at a port the engine picks.
    """
    ensure_installed()
    build_base_image(client)
    environment = {"PATH": "/opt/standin:/usr/bin:/bin", "HOME": "/tmp", **env}
    if debug:
        environment["DEBUG"] = "1"
    healthcheck = None
    if healthcheck_interval_s is not None:
        url = f"http://127.0.0.1:{PROXY_PORT}/health"
        healthcheck = {
            "test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", url],
            "interval": int(healthcheck_interval_s * 1e9),
            "timeout": 5 * 1_000_000_000,
            "retries": 3,
        }
    script = (
        f"node /opt/standin/relay.js {PROXY_PORT} {RELAY_READY} & exec node {ENTRY} {PROXY_PORT}"
    )
    from docker.types import LogConfig

    remove_container(client, name)
    container = client.containers.run(
        BASE_TAG,
        command=["/bin/sh", "-c", script],
        name=name,
        working_dir="/app",
        environment=environment,
        volumes=_binds(),
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{PROXY_PORT}/tcp": ("127.0.0.1", None)},
        healthcheck=healthcheck,
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "maxproxy"},
        restart_policy=restart_policy,
        detach=True,
    )
    try:
        wait_listening(container, timeout_s)
        base_url = base_url_of(container)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise
    return container, base_url


# --------------------------------------------------------------------------- client


@dataclass(frozen=True)
class MaxStep:
    """One request. ``raw_body`` replaces the JSON body; ``model=None`` leaves it out."""

    label: str
    model: str | None = "claude-sonnet-4"
    prompt: str = "Say hello."
    stream: bool = False
    path: str = "/v1/chat/completions"
    method: str = "POST"
    raw_body: bytes | None = None
    timeout_s: float = 60.0


def rfc3339_us(epoch_s: float) -> str:
    """UTC, microseconds, ``Z`` (the client-view's time format)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(step: MaxStep) -> bytes | None:
    if step.method == "GET":
        return None
    if step.raw_body is not None:
        return step.raw_body
    payload: dict[str, Any] = {
        "messages": [{"role": "user", "content": step.prompt}],
        "stream": step.stream,
    }
    if step.model is not None:
        payload["model"] = step.model
    return json.dumps(payload).encode()


def _sse_content(body: bytes) -> tuple[str, str | None]:
    """The streamed text and the first in-band error message, from an SSE body."""
    text, error = [], None
    for line in body.decode("utf-8", "replace").splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        obj = json.loads(line[6:])
        if "error" in obj:
            error = error or obj["error"].get("message")
            continue
        for choice in obj.get("choices", []):
            text.append(choice.get("delta", {}).get("content") or "")
    return "".join(text), error


@dataclass(frozen=True)
class Answer:
    """What a chat response said: output tokens, the error shown (if any), the text's head."""

    output_tokens: int | None = None
    error: str | None = None
    content_head: str | None = None


def read_answer(step: MaxStep, status: int, body: bytes) -> Answer:
    """Output tokens as the client can know them. Non-streaming: ``usage.completion_tokens``.
    Streaming: the proxy sends no usage, so the words of the streamed text (the stand-in
    writes one word per token). A CLI failure the proxy answers with 200 shows only in the
    text (``content_head``), as a client would see it."""
    if step.path != "/v1/chat/completions":
        return Answer()
    if step.stream and status == 200:
        text, error = _sse_content(body)
        return Answer(len(text.split()), error, text[:80])
    try:
        obj = json.loads(body)
    except ValueError:
        return Answer(error=body.decode("utf-8", "replace")[:200])
    if "error" in obj:
        return Answer(error=obj["error"].get("message"))
    content = obj["choices"][0]["message"]["content"] or ""
    return Answer(obj.get("usage", {}).get("completion_tokens"), None, content[:80])


def send_max(base_url: str, step: MaxStep) -> dict[str, Any]:
    """Send one request; what the client saw, as one client-view record (times RFC 3339).
    A connection that ends without a response is a record with ``status`` None."""
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=step.timeout_s)
    data = _body(step)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    first_byte = first_content = None
    chunks: list[bytes] = []
    status: int | None = None
    failure = ""
    sent = time.time()
    try:
        conn.request(step.method, step.path, body=data, headers=headers)
        resp = conn.getresponse()
        while chunk := resp.read1(65536):
            now = time.time()
            first_byte = first_byte or now
            if first_content is None and b'"content":' in chunk:
                first_content = now
            chunks.append(chunk)
        status = resp.status
    except (ConnectionError, http.client.HTTPException) as exc:
        failure = f"{type(exc).__name__}: {exc}"  # e.g. the proxy process died mid-request
    finally:
        end = time.time()
        conn.close()
    body = b"".join(chunks)
    answer = read_answer(step, status, body) if status is not None else Answer(error=failure)
    is_chat = step.path == "/v1/chat/completions"
    return {
        "label": step.label,
        "method": step.method,
        "path": step.path,
        "model": step.model if is_chat else None,
        "stream": step.stream if is_chat else None,
        "sent_at": rfc3339_us(sent),
        "first_byte_at": rfc3339_us(first_byte) if first_byte else None,
        "first_content_at": rfc3339_us(first_content) if first_content else None,
        "end_at": rfc3339_us(end),
        "status": status,
        "output_tokens": answer.output_tokens,
        "error": answer.error,
        "content_head": answer.content_head,
        "body_bytes": len(body),
    }


def run_steps(base_url: str, steps: Sequence[MaxStep], in_flight: int = 1) -> list[dict[str, Any]]:
    """Send ``steps`` with at most ``in_flight`` at once (1: one after the other); records come
    back in step order."""
    if in_flight <= 1:
        return [send_max(base_url, s) for s in steps]
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        return list(pool.map(lambda s: send_max(base_url, s), steps))
