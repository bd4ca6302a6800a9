"""Helpers to run the REAL ccproxy-api (PyPI) in a container, in Claude SDK mode, with the
stand-in ``claude`` of tests/standin_max.

- ``ensure_installed()``: the pinned package in its own venv under ``.cache/ccproxy`` (runs
  ``.ci/ccproxy-up.sh`` when missing; its pins, httpx among them, stay out of the project's
  .venv); skips loudly when it cannot be installed (fails under ``CI=true``).
- ``start_ccproxy(client, name, log_format=..., log_level=...)``: ``FROM scratch`` + busybox, with
  read-only binds of this host's Python (the venv's base interpreter), node, /lib, /lib64, the
  venv and ``tests/standin_max``; the stand-in is bound over the claude-agent-sdk's bundled
  ``claude`` (the SDK runs its bundled CLI before any on PATH), so ccproxy-api's SDK path runs the
  stand-in with ``--input-format stream-json``. Returns ``(container, base_url)`` once
  ``/health`` answers.
- ``CcStep`` / ``send_cc`` / ``run_cc``: one request (or many, N in flight) with the times the
  client saw, as client-record-shaped dicts (see tests/maxproxy_support.send_max).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_perf.ingest.client_records import ClientRecord
from tests.docker_support import (
    LABELS,
    TEST_LABEL,
    logs_text,
    remove_container,
    run_up_script,
)
from tests.maxproxy_support import (
    BASE_TAG,
    STANDIN_MAX_DIR,
    build_base_image,
    node_binary,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
UP_SCRIPT = REPO_ROOT / ".ci" / "ccproxy-up.sh"
VENV = Path(os.environ.get("CCPROXY_VENV", REPO_ROOT / ".cache" / "ccproxy"))
PACKAGE = "ccproxy-api"
PINNED_VERSION = "0.2.10"
PROXY_PORT = 8000
POLL_S = 0.1
# The SDK prefers the CLI it bundles (claude_agent_sdk/_internal/transport/subprocess_cli.py,
# _find_cli: bundled first, then PATH): the stand-in is bound over that file.
BUNDLED_CLI = "claude_agent_sdk/_bundled/claude"


def site_packages(venv: Path = VENV) -> Path:
    """The venv's site-packages (one python3.X folder)."""
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}: bash .ci/ccproxy-up.sh")
    return found[0]


def installed_version(venv: Path = VENV) -> str | None:
    """The ccproxy-api version in the venv, or None."""
    for meta in site_packages(venv).glob("ccproxy_api-*.dist-info/METADATA"):
        for line in meta.read_text().splitlines():
            if line.startswith("Version: "):
                return line.split(": ", 1)[1].strip()
    return None


def ensure_installed() -> Path:
    """The venv holding the pinned ccproxy-api, installing it when missing."""
    ok = (VENV / "bin" / "ccproxy").exists()
    if not ok or installed_version() != PINNED_VERSION:
        run_up_script(UP_SCRIPT, timeout_s=900)
    version = installed_version()
    if version != PINNED_VERSION:
        raise RuntimeError(f"{VENV} has ccproxy-api {version}, pinned {PINNED_VERSION}")
    return VENV


def _binds() -> dict[str, dict[str, str]]:
    venv = VENV.resolve()
    base = Path(os.path.realpath(venv / "bin" / "python3")).parent.parent
    binds: dict[str, dict[str, str]] = {
        str(venv): {"bind": str(venv), "mode": "ro"},
        str(base): {"bind": str(base), "mode": "ro"},
        str(node_binary()): {"bind": "/usr/bin/node", "mode": "ro"},
        str(STANDIN_MAX_DIR): {"bind": "/opt/standin", "mode": "ro"},
        str(STANDIN_MAX_DIR / "claude"): {
            "bind": str(site_packages(venv) / BUNDLED_CLI),
            "mode": "ro",
        },
    }
    for d in ("/lib", "/lib64"):
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def wait_answering(container: Any, base_url: str, timeout_s: float) -> list[ClientRecord]:
    """Until ``GET /health`` answers 200 (polled, bounded). Returns the probes that were
    answered, as client records: they reached the proxy, so its log holds them too."""
    deadline = time.monotonic() + timeout_s
    answered: list[ClientRecord] = []
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RuntimeError(
                f"container {container.name} exited before answering; logs:\n"
                f"{logs_text(container)[-4000:]}"
            )
        probe = send_cc(base_url, PROBE, f"probe-{len(answered) + 1}")
        if probe.status is not None:
            answered.append(probe)
            if probe.status == 200:
                return answered
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"container {container.name} not answering after {timeout_s}s; logs:\n"
                f"{logs_text(container)[-4000:]}"
            )
        time.sleep(POLL_S)


def start_ccproxy(
    client: Any,
    name: str,
    *,
    log_format: str = "console",
    log_level: str = "INFO",
    labels: dict[str, str] | None = None,
    timeout_s: float = 90.0,
    spec: str = "/opt/standin/models.json",
    **env: str,
) -> tuple[Any, str, list[ClientRecord]]:
    """Run ``ccproxy serve`` on port 8000; return ``(container, url, probes)`` once /health
    answers (``probes``: the readiness probes the proxy answered, as client records).

    ``log_format="json"`` sets ``LOGGING__FORMAT=json`` (structlog's JSONRenderer on stdout);
    ``log_level`` goes to ``--log-level`` (DEBUG also lets uvicorn's access records through).
    The port is published on 127.0.0.1 only, at a port the engine picks.
    """
    ensure_installed()
    build_base_image(client)
    environment = {
        "PATH": "/opt/standin:/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "STANDIN_MAX_SPEC": spec,
        # ccproxy-api looks for CLIs through bunx/pnpm/npx only by default
        # (config/runtime.py, BinarySettings.package_manager_only); a Docker image with the CLI
        # installed on PATH turns that off to be found.
        "BINARY__PACKAGE_MANAGER_ONLY": "false",
        **env,
    }
    if log_format == "json":
        environment["LOGGING__FORMAT"] = "json"
    command = [
        str(VENV.resolve() / "bin" / "ccproxy"),
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(PROXY_PORT),
        "--log-level",
        log_level,
    ]
    from docker.types import LogConfig

    remove_container(client, name)
    container = client.containers.run(
        BASE_TAG,
        command=command,
        name=name,
        working_dir="/tmp",
        environment=environment,
        volumes=_binds(),
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{PROXY_PORT}/tcp": ("127.0.0.1", None)},
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "ccproxy"},
        detach=True,
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][f"{PROXY_PORT}/tcp"][0]["HostPort"]
        base_url = f"http://127.0.0.1:{port}"
        probes = wait_answering(container, base_url, timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise
    return container, base_url, probes


# --------------------------------------------------------------------------- client

CHAT = "/claude/sdk/v1/chat/completions"  # the SDK plugin's OpenAI route
MESSAGES = "/claude/sdk/v1/messages"  # the SDK plugin's Anthropic route
# the claude_api plugin's (direct mode: tests/ccproxy_direct_support.py) routes
APIS = {
    CHAT: "openai",
    MESSAGES: "anthropic",
    "/claude/v1/chat/completions": "openai",
    "/claude/v1/messages": "anthropic",
}
TOOL = "ccproxy-recorder"
# A CLI failure answered with 200: ccproxy-api wraps the text (``<text>\n…``), so the load
# driver's start-anchored check (claude_perf/load/answers.py) is searched for anywhere here.
_ERROR_TEXT = ("Invalid API key", "You've hit your limit", "API Error:")


@dataclass(frozen=True)
class CcStep:
    """One request. ``raw_body`` replaces the JSON body; ``model=None`` leaves it out."""

    label: str
    path: str = CHAT
    model: str | None = "claude-sonnet-4-5-20250929"
    prompt: str = "Say hello."
    stream: bool = False
    method: str = "POST"
    raw_body: bytes | None = None
    timeout_s: float = 60.0

    @property
    def api(self) -> str | None:
        return APIS.get(self.path)


PROBE = CcStep("probe", path="/health", method="GET", model=None, timeout_s=2)


def _body(step: CcStep) -> bytes | None:
    if step.method == "GET":
        return None
    if step.raw_body is not None:
        return step.raw_body
    payload: dict[str, Any] = {
        "messages": [{"role": "user", "content": step.prompt}],
        "stream": step.stream,
    }
    if step.api == "anthropic":
        payload["max_tokens"] = 256
    if step.model is not None:
        payload["model"] = step.model
    return json.dumps(payload).encode()


def _sse_events(buffer: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Whole SSE events (name, data) in ``buffer`` and the rest (an event not yet ended)."""
    events = []
    text = buffer.replace(b"\r\n", b"\n")
    *whole, rest = text.split(b"\n\n")
    for block in whole:
        name, data = "message", []
        for line in block.decode("utf-8", "replace").split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            events.append((name, "\n".join(data)))
    return events, rest


def send_cc(base_url: str, step: CcStep, record_id: str) -> ClientRecord:
    """Send one request; what the client saw, as a client record (``claude-perf/client-record/1``;
    no X-Request-Id is sent: ccproxy-api makes its own id and answers it in ``x-request-id``)."""
    from claude_perf.load.answers import Reading

    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=step.timeout_s)
    data = _body(step)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    reading = Reading(record_id, step.api or "openai", step.path, step.model or "", step.stream)
    reading.api = step.api  # type: ignore[assignment]  # None for health and listings
    reading.model_asked = step.model  # type: ignore[assignment]
    reading.start_ns = time.time_ns()
    raw: list[bytes] = []
    try:
        conn.request(step.method, step.path, body=data, headers=headers)
        resp = conn.getresponse()
        reading.headers(resp.status, resp.getheader("x-request-id"), time.time_ns())
        sse = "text/event-stream" in (resp.getheader("content-type") or "")
        pending = b""
        while chunk := resp.read1(65536):
            now = time.time_ns()
            if sse and step.api is not None:
                events, pending = _sse_events(pending + chunk)
                for name, payload in events:
                    reading.event(name, payload, now)
            else:
                raw.append(chunk)
        if not sse:
            if step.api is not None or not 200 <= resp.status < 300:
                reading.body(b"".join(raw))
            else:
                reading.finished = True
    except (OSError, http.client.HTTPException) as exc:  # refused: not up yet, or gone
        reading.fail("connect" if reading.status is None else "stream_cut", str(exc))
    finally:
        end_ns = time.time_ns()
        conn.close()
    text = "".join(reading.text)
    if reading.error_class is None and any(e in text for e in _ERROR_TEXT):
        reading.fail("error_in_content", text.strip())
    record = reading.record(end_ns)
    return dataclasses.replace(record, tool=TOOL, method=step.method)


def run_cc(
    base_url: str, steps: Sequence[CcStep], prefix: str, in_flight: int = 1
) -> list[ClientRecord]:
    """Send ``steps`` with at most ``in_flight`` at once; records in step order, ids
    ``<prefix>-<n>``."""
    jobs = [(s, f"{prefix}-{i + 1}") for i, s in enumerate(steps)]
    if in_flight <= 1:
        return [send_cc(base_url, s, rid) for s, rid in jobs]
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        return list(pool.map(lambda job: send_cc(base_url, *job), jobs))
