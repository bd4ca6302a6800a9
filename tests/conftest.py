"""Shared fixtures. Docker-related only for now (real engine via the docker SDK)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

try:  # tests/ as a package (python -m / tests/__init__.py) or as a plain rootdir folder
    from tests.docker_support import engine_or_skip, remove_test_containers, start_standin_proxy
except ImportError:
    from docker_support import (  # type: ignore[no-redef]
        engine_or_skip,
        remove_test_containers,
        start_standin_proxy,
    )


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client for a real Docker Engine (skips loudly without one; fails under CI=true)."""
    client = engine_or_skip()
    yield client
    remove_test_containers(client)
    client.close()


@pytest.fixture
def standin_proxy(docker_client: Any) -> Iterator[tuple[Any, str]]:
    """The stand-in proxy, healthy, as ``(container, base_url)``; removed afterwards.

    Rate limit 14/min per client IP and API key ``tests.docker_support.DEFAULT_API_KEY``.
    """
    name = f"claude-perf-test-standin-{uuid.uuid4().hex[:8]}"
    container, base_url = start_standin_proxy(docker_client, name, RATE_LIMIT_PER_MIN="14")
    try:
        yield container, base_url
    finally:
        container.remove(force=True, v=True)
