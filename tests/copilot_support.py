"""Helpers to run the REAL copilot-api (npm, ericc-ch/copilot-api) in a container, against a fake
GitHub and GitHub Copilot API in the same container.

- ``ensure_installed()``: the pinned package under ``.cache/copilot-api`` (``.ci/copilot-up.sh``),
  installed when missing; skips loudly without node/npm (fails under ``CI=true``).
- copilot-api hard-codes its upstreams (``https://api.github.com``, ``https://api.githubcopilot.com``
  and, for VS Code's version, ``https://aur.archlinux.org``: its dist/main.js). The container's
  /etc/hosts maps those names to 127.0.0.1 (the engine's ``--add-host``), where
  ``tests/standin_copilot/upstream.js`` answers over HTTPS on port 443 with a certificate for
  those names, signed by a CA made for the run with openssl (``make_tls``); copilot-api trusts
  it through ``NODE_EXTRA_CA_CERTS``. No traffic leaves the container but the client's.
- ``start_copilot(client, name, tls_dir, ...)``: ``FROM scratch`` + busybox (the maxproxy base
  image), read-only binds of this host's node, /lib, /lib64, the npm package,
  ``tests/standin_copilot`` and the certificates; ``copilot-api start -g <token>`` (a GitHub
  token given, so no device login) on port 4141, published on 127.0.0.1. Returns
  ``(container, url, probe)`` once it answers ``GET /`` (one probe request, logged like any
  other by Hono's logger).
- ``send_raw``: one hand-made request (a bad body, an unknown path) as a client record.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import time
import urllib.parse
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
STANDIN_DIR = REPO_ROOT / "tests" / "standin_copilot"
UP_SCRIPT = REPO_ROOT / ".ci" / "copilot-up.sh"
CACHE_DIR = Path(os.environ.get("COPILOT_CACHE", REPO_ROOT / ".cache" / "copilot-api"))
PACKAGE = "copilot-api"
PINNED_VERSION = "0.7.0"
ENTRY = f"/app/node_modules/{PACKAGE}/dist/main.js"
PORT = 4141  # the package's default (`start --port`, default "4141")
# The names copilot-api's dist/main.js calls (GITHUB_API_BASE_URL, copilotBaseUrl for an
# "individual" account, getVSCodeVersion's PKGBUILD; github.com only for the device login).
UPSTREAM_HOSTS = ("api.github.com", "api.githubcopilot.com", "aur.archlinux.org", "github.com")
GITHUB_TOKEN = "ghu_fake-token-for-tests"
POLL_S = 0.1


def ensure_installed() -> Path:
    """The package folder of the pinned copilot-api, installing it when missing."""
    return ensure_npm_package(CACHE_DIR, PACKAGE, PINNED_VERSION, UP_SCRIPT)


def standin_models() -> dict[str, Any]:
    """The fake Copilot API's per-model behaviour (delay, tokens, a failing status)."""
    spec: dict[str, Any] = json.loads((STANDIN_DIR / "models.json").read_text())
    return spec


def make_tls(folder: Path) -> Path:
    """A CA and a certificate for UPSTREAM_HOSTS signed by it (openssl), in ``folder``:
    ca.pem (what NODE_EXTRA_CA_CERTS names), leaf.pem and leaf.key (the fake's)."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=claude-perf test CA", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=api.github.com",
        "-keyout", "leaf.key", "-out", "leaf.csr")  # fmt: skip
    sans = ",".join(f"DNS:{h}" for h in UPSTREAM_HOSTS)
    (folder / "leaf.ext").write_text(f"subjectAltName={sans}\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem")  # fmt: skip
    for p in folder.iterdir():  # the container's node runs as root, but keep them readable
        p.chmod(0o644)
    return folder


def _binds(tls_dir: Path) -> dict[str, dict[str, str]]:
    binds: dict[str, dict[str, str]] = {
        str(node_binary()): {"bind": "/usr/bin/node", "mode": "ro"},
        str(CACHE_DIR.resolve()): {"bind": "/app", "mode": "ro"},
        str(STANDIN_DIR): {"bind": "/opt/standin", "mode": "ro"},
        str(tls_dir.resolve()): {"bind": "/opt/tls", "mode": "ro"},
    }
    for d in ("/lib", "/lib64"):  # libc, libstdc++, ld.so (merged-/usr: symlinks into /usr)
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def _script(args: list[str]) -> str:
    upstream = (
        "node /opt/standin/upstream.js 443 /opt/tls/leaf.pem /opt/tls/leaf.key "
        "/tmp/upstream.ready &"
    )
    wait_upstream = "until [ -e /tmp/upstream.ready ]; do sleep 0.05; done; "
    extra = " ".join(args)
    return f"{upstream} {wait_upstream}exec node {ENTRY} start -g {GITHUB_TOKEN} {extra}".strip()


def base_url_of(container: Any) -> str:
    """``http://127.0.0.1:<published port>`` (read again after a restart: it may change)."""
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"][f"{PORT}/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{port}"


def wait_listening(container: Any, timeout_s: float = 60.0) -> tuple[str, ClientRecord]:
    """Until copilot-api answers ``GET /`` (``Server running``), or its container died; returns
    its base URL and the probe that answered (logged by Hono's logger like any request).
    Probes before it found nothing listening (refused or reset by the engine's port proxy):
    not logged."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RuntimeError(f"{container.name} exited; logs:\n{logs_text(container)[-4000:]}")
        if container.status == "running":
            base_url = base_url_of(container)
            with contextlib.suppress(OSError, http.client.HTTPException):
                probe = send_raw(base_url, "ready-probe", "GET", "/")
                if probe.status == 200:
                    return base_url, probe
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{container.name} not answering after {timeout_s}s; logs:\n"
                f"{logs_text(container)[-4000:]}"
            )
        time.sleep(POLL_S)


def start_copilot(
    client: Any,
    name: str,
    tls_dir: Path,
    *,
    args: list[str] | None = None,
    no_color: bool = False,
    labels: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> tuple[Any, str, ClientRecord]:
    """Run ``copilot-api start -g <token> ARGS`` (published on 127.0.0.1 at a port the engine
    picks); returns the container, its base URL and the readiness probe's record."""
    ensure_installed()
    build_base_image(client)
    from docker.types import LogConfig

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp/home",
        "NODE_EXTRA_CA_CERTS": "/opt/tls/ca.pem",
    }
    if no_color:
        env["NO_COLOR"] = "1"
    remove_container(client, name)
    container = client.containers.run(
        BASE_TAG,
        command=["/bin/sh", "-c", _script(args or [])],
        name=name,
        working_dir="/app",
        environment=env,
        volumes=_binds(tls_dir),
        tmpfs={"/tmp": "rw,size=64m"},
        extra_hosts={h: "127.0.0.1" for h in UPSTREAM_HOSTS},
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},
        # node as pid 1 would ignore SIGTERM (no handler): the engine's init forwards it.
        init=True,
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "copilot-api"},
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
    timeout_s: float = 30.0,
    model: str | None = None,
) -> ClientRecord:
    """One hand-made request (what ``claude-perf load`` never sends: a malformed body, the
    server's root, a model listing), as a client record (its times from the wall clock, ns;
    ``model``: the model its body asks for, when it has one)."""
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout_s)
    headers = {"X-Request-Id": rid}
    if body is not None:
        headers["Content-Type"] = "application/json"
    start = time.time_ns()
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    first = time.time_ns()
    data = resp.read()
    end = time.time_ns()
    conn.close()
    ok = 200 <= resp.status < 300
    error = None if ok else (data.decode("utf-8", "replace").splitlines() or [""])[0][:200]
    return ClientRecord(
        id=rid,
        tool="capture script",
        start_ns=start,
        end_ns=end,
        method=method,
        path=path,
        model_asked=model,
        first_byte_ns=first,
        status=resp.status,
        ok=ok,
        error_class=None if ok else f"http_{resp.status // 100}xx",
        error=error,
    )
