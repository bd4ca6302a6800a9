"""The Docker Engine connection: connect (DOCKER_HOST or a docker context), the API version
check, and engine failures as one actionable line."""

from __future__ import annotations

import os
import re
from typing import Any

from claude_perf.errors import EngineError

MIN_API_VERSION = "1.35"  # `until` on logs (docker-py refuses it below 1.35)
ONE_SHOT_API_VERSION = "1.41"


def _engine_location(context_host: str | None = None) -> str:
    if context_host:
        return context_host
    host = os.environ.get("DOCKER_HOST")
    return f"DOCKER_HOST={host}" if host else "unix:///var/run/docker.sock (DOCKER_HOST is unset)"


def _is_permission_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, PermissionError) or "Permission denied" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def engine_error(exc: BaseException, context_host: str | None = None) -> EngineError:
    """One actionable line for an engine that cannot be used."""
    where = _engine_location(context_host)
    if _is_permission_error(exc):
        return EngineError(
            f"permission denied on the Docker Engine socket at {where}: add this user to the "
            "'docker' group (then log in again) or run as a user who may use the socket"
        )
    return EngineError(
        f"cannot reach the Docker Engine at {where}: {_reason(exc)} "
        "(is dockerd running, and may this user use its socket?)"
    )


# The OS-level cause docker-py / requests / urllib3 wrap several layers deep, said plainly.
_OS_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (FileNotFoundError, "no socket at that path"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (TimeoutError, "timed out"),
)


def _reason(exc: BaseException) -> str:
    """The plainest cause of a failed connection: the OS error docker-py wraps (in causes,
    contexts and exception arguments, as urllib3's ProtocolError carries it), else the
    exception's first line, cut to 200 characters."""
    pending: list[object] = [exc]
    for _ in range(50):  # the chain is a few levels deep; bound it anyway
        if not pending:
            break
        seen = pending.pop(0)
        if not isinstance(seen, BaseException):
            continue
        for kind, reason in _OS_REASONS:
            if isinstance(seen, kind):
                return reason
        if "Name or service not known" in str(seen) or "nodename nor servname" in str(seen):
            return "host name not found"
        pending += [seen.__cause__, seen.__context__, *seen.args]
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def connect(context: str | None = None, timeout_s: int = 120, host: str | None = None) -> Any:
    """A docker client for a host URL (as `docker -H`), a docker context, or DOCKER_HOST
    (unix, tcp, ssh), checked by ping."""
    import docker
    from docker.errors import DockerException

    context_host = None
    try:
        if host:
            context_host = host
            client = docker.DockerClient(base_url=host, timeout=timeout_s)
        elif context:
            ctx = docker.ContextAPI.get_context(context)
            if ctx is None:
                raise EngineError(f"no docker context named '{context}' (see `docker context ls`)")
            context_host = f"context '{context}' ({ctx.Host})"
            client = docker.DockerClient(
                base_url=ctx.Host, tls=ctx.TLSConfig or False, timeout=timeout_s
            )
        else:
            client = docker.from_env(timeout=timeout_s)
        client.ping()
        version = str(client.api.api_version)
    except EngineError:
        raise
    except (DockerException, OSError) as exc:
        raise engine_error(exc, context_host) from exc
    except Exception as exc:  # requests/urllib3 errors carry the reason
        raise engine_error(exc, context_host) from exc
    try:
        check_api_version(version)
    except EngineError:
        client.close()
        raise
    return client


def check_api_version(version: str) -> None:
    """Refuse an Engine API older than MIN_API_VERSION (one clear line)."""
    if version_tuple(version) < version_tuple(MIN_API_VERSION):
        raise EngineError(
            f"the Docker Engine API {version} is too old: claude-perf needs {MIN_API_VERSION} "
            "or newer (Docker 17.12+)"
        )


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def running_names(client: Any) -> list[str]:
    """Names of the running containers, for error messages."""
    try:
        return sorted(c.name for c in client.containers.list(ignore_removed=True))
    except Exception:  # a listing failure must not hide the original error
        return []
