"""Helpers to run the REAL ccproxy-api (PyPI) in a container in its DIRECT API mode: the
claude_api plugin forwards ``/claude/v1/messages`` and ``/claude/v1/chat/completions`` to the
Anthropic Messages API with the subscription's OAuth token, here to the fake Anthropic API of
fixtures/captures/anthropic_upstream.py running in the same container (127.0.0.1 only).

- ``start_direct(client, name, log_format=..., log_level=..., access_log=...)``: ``FROM scratch``
  + busybox, read-only binds of this host's Python, the ccproxy venv (``.cache/ccproxy``, see
  tests/ccproxy_support.py) and the fake upstream; HOME on the container's tmpfs, where the
  command first writes a fake OAuth credential in Claude Code's file
  (``~/.claude/.credentials.json``, read by the oauth_claude plugin:
  ccproxy/plugins/oauth_claude/storage.py) with an expiry in 2100, so no refresh is tried. Plugins and the upstream through ccproxy-api's own settings, as environment variables
  (pydantic-settings, ``__`` nesting: ccproxy/config/settings.py): ``ENABLED_PLUGINS``,
  ``PLUGINS__CLAUDE_API__BASE_URL`` (ClaudeAPISettings.base_url, default
  https://api.anthropic.com), ``PLUGINS__ACCESS_LOG__*`` (AccessLogConfig). No claude CLI on
  PATH and ``BINARY__PACKAGE_MANAGER_ONLY=false``: the plugin's header detection fails at once
  and uses its packaged fallback (detection_service.py) instead of running ``npx``.
  Returns ``(container, base_url, probes)`` once ``/health`` answers.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from claude_perf.ingest.client_records import ClientRecord
from tests.ccproxy_support import PROXY_PORT, VENV, ensure_installed, wait_answering
from tests.docker_support import LABELS, TEST_LABEL, build_busybox_image, remove_container

REPO_ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_DIR = REPO_ROOT / "fixtures" / "captures"
UPSTREAM_PORT = 9100
DIRECT_CHAT = "/claude/v1/chat/completions"  # the claude_api plugin's OpenAI route
DIRECT_MESSAGES = "/claude/v1/messages"  # the claude_api plugin's Anthropic route
DIRECT_MODELS = "/claude/v1/models"
HOME = "/tmp/home"  # on the container's tmpfs
# Claude Code's credential file shape (ClaudeCredentials, oauth_claude/models.py); a fake token
# the fake upstream accepts; expiresAt in ms (2100-01-01), so it is never refreshed.
FAKE_CREDENTIALS = {
    "claudeAiOauth": {
        "accessToken": "sk-ant-oat01-fake-offline-token",
        "refreshToken": "sk-ant-ort01-fake-offline-refresh",
        "expiresAt": 4102444800000,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
}
# access_log: None (plugin off), "plugin" (on, its defaults: structured lines to
# /tmp/ccproxy/access.log inside the container and an `access_log` event on the app's log),
# "stdout-combined" (on, Combined Log Format lines written to /dev/stdout: in `docker logs`).
ACCESS_LOG_MODES = (None, "plugin", "stdout-combined")


def _environment(log_format: str, access_log: str | None) -> dict[str, str]:
    plugins = ["claude_api", "oauth_claude"] + (["access_log"] if access_log else [])
    env = {
        "PATH": "/bin",
        "HOME": HOME,
        "PYTHONDONTWRITEBYTECODE": "1",
        "BINARY__PACKAGE_MANAGER_ONLY": "false",
        "ENABLED_PLUGINS": json.dumps(plugins),
        "PLUGINS__CLAUDE_API__BASE_URL": f"http://127.0.0.1:{UPSTREAM_PORT}",
    }
    if log_format == "json":
        env["LOGGING__FORMAT"] = "json"
    if access_log == "stdout-combined":
        env["PLUGINS__ACCESS_LOG__CLIENT_LOG_FILE"] = "/dev/stdout"
        env["PLUGINS__ACCESS_LOG__CLIENT_FORMAT"] = "combined"
    return env


def _binds() -> dict[str, dict[str, str]]:
    venv = VENV.resolve()
    base = Path(os.path.realpath(venv / "bin" / "python3")).parent.parent
    binds = {
        str(venv): {"bind": str(venv), "mode": "ro"},
        str(base): {"bind": str(base), "mode": "ro"},
        str(UPSTREAM_DIR): {"bind": "/opt/upstream", "mode": "ro"},
    }
    for d in ("/lib", "/lib64"):
        if os.path.exists(d):
            binds[os.path.realpath(d)] = {"bind": d, "mode": "ro"}
    return binds


def start_direct(
    client: Any,
    name: str,
    *,
    log_format: str = "console",
    log_level: str = "INFO",
    access_log: str | None = "plugin",
    labels: dict[str, str] | None = None,
    timeout_s: float = 90.0,
) -> tuple[Any, str, list[ClientRecord]]:
    """Run the fake Anthropic API and ``ccproxy serve`` on port 8000 in one container; return
    ``(container, url, probes)`` once /health answers. The port is published on 127.0.0.1."""
    if access_log not in ACCESS_LOG_MODES:
        raise ValueError(f"access_log must be one of {ACCESS_LOG_MODES}")
    ensure_installed()
    build_busybox_image(client)
    venv = VENV.resolve()
    # the fake upstream is silent: the container's log is ccproxy-api's alone (the JSON holds
    # no single quote)
    command = (
        f"mkdir -p {HOME}/.claude && echo '{json.dumps(FAKE_CREDENTIALS)}' "
        f"> {HOME}/.claude/.credentials.json && "
        f"{venv}/bin/python /opt/upstream/anthropic_upstream.py {UPSTREAM_PORT} & "
        f"exec {venv}/bin/ccproxy serve --host 0.0.0.0 --port {PROXY_PORT} "
        f"--log-level {log_level}"
    )
    from docker.types import LogConfig

    from tests.docker_support import BUSYBOX_TAG

    remove_container(client, name)
    container = client.containers.run(
        BUSYBOX_TAG,
        command=["/bin/sh", "-c", command],
        name=name,
        working_dir="/tmp",
        environment=_environment(log_format, access_log),
        volumes=_binds(),
        tmpfs={"/tmp": "rw,size=64m"},
        ports={f"{PROXY_PORT}/tcp": ("127.0.0.1", None)},
        log_config=LogConfig(type="json-file", config={"max-size": "20m"}),
        labels={**LABELS, **(labels or {}), f"{TEST_LABEL}.role": "ccproxy-direct"},
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
