"""Shared fixtures (Docker-related: a real engine via the docker SDK), and Hypothesis's profile.

Under CI (``CI`` set, as ``.ci/run`` sets it) the property tests run derandomized: the same
examples on every run, so that a red CI is the change's and not a new random draw's. Anywhere
else they draw new examples each run (``make test`` locally; ``make fuzz`` draws 50 times as
many for the input fuzzers): the subnormal percentile bug was found that way, in a local run.

Containers are cleaned up per test run, never by the shared ``claude-perf-test=1`` label alone:
every container a fixture here starts is recorded in this run's :class:`DockerRun` (its id, and
the label ``claude-perf-test.run=<run id>`` where the fixture sets labels), and the session's
teardown removes only those. Parallel runs (xdist workers, other sessions, a benchmark) on the
same engine therefore never remove each other's containers. Every removal tolerates a container
that is already gone (404) or already being removed (409).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings

from tests.docker_support import (
    BUSYBOX_TAG,
    LABELS,
    TEST_LABEL,
    build_busybox_image,
    engine_or_skip,
    start_standin_proxy,
)

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

RUN_LABEL = f"{TEST_LABEL}.run"
_DOCKER_FIXTURES = {
    "docker_client",
    "docker_run",
    "standin_proxy",
    "standin_debug_proxy",
    "busybox",
}


def remove_quietly(container: Any) -> None:
    """Force-remove a container; one that is gone or already being removed is fine."""
    from docker.errors import APIError, NotFound

    try:
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except APIError as exc:  # 409: "removal of container ... is already in progress"
        if exc.status_code != 409:
            raise


@dataclass
class DockerRun:
    """The containers this test run created, and the labels that mark them as this run's."""

    client: Any
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: dict[str, Any] = field(default_factory=dict)  # id -> container

    @property
    def labels(self) -> dict[str, str]:
        """Labels for a container of this run (the shared test label plus the run's own)."""
        return {**LABELS, RUN_LABEL: self.run_id}

    @property
    def label_filter(self) -> str:
        return f"{RUN_LABEL}={self.run_id}"

    def track(self, container: Any) -> Any:
        """Record a container this run made (for ones started without this run's labels)."""
        self.created[container.id] = container
        return container

    def cleanup(self) -> int:
        """Remove this run's containers only (by run label and by recorded id); how many."""
        from docker.errors import NotFound

        mine = dict(self.created)
        for container in self.client.containers.list(
            all=True, filters={"label": self.label_filter}
        ):
            mine[container.id] = container
        for container in mine.values():
            remove_quietly(container)
        self.created.clear()
        left = 0
        for cid in mine:
            with contextlib.suppress(NotFound):
                self.client.containers.get(cid)
                left += 1
        return len(mine) - left


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real engine carries the ``docker`` mark (``-m "not docker"``)."""
    for item in items:
        if _DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client for a real Docker Engine (skips loudly without one; fails under CI=true)."""
    client = engine_or_skip()
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_run(docker_client: Any) -> Iterator[DockerRun]:
    """This run's container registry; its teardown removes this run's containers only."""
    run = DockerRun(docker_client)
    yield run
    run.cleanup()


@contextlib.contextmanager
def run_container(
    docker_run: DockerRun, start: Callable[[str], tuple[Any, str]], kind: str
) -> Iterator[tuple[Any, str]]:
    """A proxy container of this run, ``start(name)`` → ``(container, base_url)``, tracked and
    removed afterwards whatever happens."""
    name = f"claude-perf-test-{kind}-{docker_run.run_id}-{uuid.uuid4().hex[:8]}"
    container, base_url = start(name)
    docker_run.track(container)
    try:
        yield container, base_url
    finally:
        remove_quietly(container)
        docker_run.created.pop(container.id, None)


def standin_of_run(docker_run: DockerRun, **kwargs: Any) -> Iterator[tuple[Any, str]]:
    """The stand-in proxy (``start_standin_proxy`` settings as keywords) for a fixture."""
    with run_container(
        docker_run, lambda name: start_standin_proxy(docker_run.client, name, **kwargs), "standin"
    ) as pair:
        yield pair


@pytest.fixture
def standin_proxy(docker_run: DockerRun) -> Iterator[tuple[Any, str]]:
    """The stand-in proxy, healthy, as ``(container, base_url)``; removed afterwards.

    Rate limit 14/min per client IP and API key ``tests.docker_support.DEFAULT_API_KEY``.
    """
    yield from standin_of_run(docker_run, RATE_LIMIT_PER_MIN="14")


@pytest.fixture
def standin_debug_proxy(docker_run: DockerRun) -> Iterator[tuple[Any, str]]:
    """The stand-in proxy with ``DEBUG_MODE=true`` and no rate limit; removed afterwards."""
    yield from standin_of_run(docker_run, debug=True, RATE_LIMIT_PER_MIN="0")


@pytest.fixture
def busybox(docker_run: DockerRun) -> Iterator[Callable[..., Any]]:
    """``start(command, **run_kwargs)`` runs busybox in a container of this run; removed after.

    ``labels`` given to ``start`` are added to this run's labels.
    """
    client = docker_run.client
    build_busybox_image(client)
    made: list[Any] = []

    def start(command: list[str], *, labels: dict[str, str] | None = None, **kwargs: Any) -> Any:
        container = client.containers.run(
            BUSYBOX_TAG,
            command,
            name=f"claude-perf-test-bb-{docker_run.run_id}-{uuid.uuid4().hex[:8]}",
            labels={**docker_run.labels, **(labels or {})},
            detach=True,
            **kwargs,
        )
        made.append(docker_run.track(container))
        return container

    yield start
    for container in made:
        remove_quietly(container)
        docker_run.created.pop(container.id, None)
