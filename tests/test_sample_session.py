"""The bundled sample session against the workload that recorded it (fixtures/record_sample.py)."""

from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.bundle import read_bundle
from claude_perf.report.summary import build
from fixtures.record_sample import PLAN
from tests.docker_support import DEFAULT_API_KEY

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample-session"


def steps():
    for item in PLAN:
        yield from item if isinstance(item, tuple) else (item,)


@pytest.fixture(scope="module")
def summary():
    session = read_bundle(SAMPLE)
    return build(analyse(session.logs, Config(), session.samples, session.containers))


def test_every_model_request_of_the_plan_is_counted(summary):
    model_steps = [s for s in steps() if s.path.startswith("/v1/")]
    assert summary["requests"]["total"] == len(model_steps)


def test_each_planned_failure_has_its_class(summary):
    # invalid model → routing; bad key → auth; malformed → validation; LOGIN_FAIL and CRASH → cli
    # (the wrapper logs only "exit code 1" for a login failure); USAGE_LIMIT → usage_limit
    assert summary["errors"]["by_class"] == {
        "auth": 1,
        "validation": 1,
        "usage_limit": 1,
        "routing": 1,
        "cli": 2,
    }
    assert summary["errors"]["orphan_records"] == 0


def test_per_model_counts_follow_the_plan(summary):
    planned: dict[str | None, int] = {}
    for step in steps():
        if not step.path.startswith("/v1/"):
            continue
        # requests rejected before routing, and full model ids, name no model in the wrapper's log
        rejected = step.api_key != DEFAULT_API_KEY
        named = step.model if step.model in ("haiku", "sonnet", "opus", "gpt-4") else None
        key = None if rejected or step.raw_body is not None else named
        planned[key] = planned.get(key, 0) + 1
    counted = {m["model"]: m["requests"] for m in summary["models"]}
    assert counted == planned


def test_health_probes_and_resources_are_there(summary):
    assert summary["health"]["in_container"] > 30  # a 1 s HEALTHCHECK over ~40 s
    assert summary["health"]["failed"] == 0
    assert summary["resources"]["samples"] >= 30
    assert summary["throughput"]["max_in_flight"] == 3  # the three-way overlap of the plan
