"""Known answers for a usage record's model (analysis/usage.models_from_usage), on real captures.

claude-relay-service logs each answer's usage with its model (``usage recorded - Model: X``);
the request's own model is in its body line under the completion (``├─ req: {...}``). With
the body lines taken out, the usage records must give each answered request its model, the
same as the whole capture gives it, marked inferred where the record's attachment was. A
usage line whose dialect line names no model (ccproxy-api's stream usage, whose ``model=`` is a
fixed default) gives none. claude-code-router's answers name the provider's model after its
Router's mapping (``fast-model`` for ``fake,fast-model``): not read as the request's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_truth import analysis, requests

CAPTURES = Path(__file__).parent.parent / "fixtures" / "captures"


def _lines(name: str, drop: str | None = None) -> list[str]:
    text = (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if drop is None or drop not in line]


def _per_model(a, column: str = "outcome", value: str = "succeeded") -> dict[object, int]:
    table = requests(a)
    table = table[table[column] == value]
    return (
        table["model"]
        .astype(object)
        .where(table["model"].notna(), None)
        .value_counts(dropna=False)
        .to_dict()
    )


@pytest.mark.parametrize("capture", ["relay-default-sequential", "relay-default-concurrent"])
def test_usage_records_name_the_model_a_request_lacks(capture: str) -> None:
    whole = analysis(_lines(capture))
    no_bodies = analysis(_lines(capture, drop="├─ req: "))
    # every answered request has a usage record: its model is the whole capture's
    assert _per_model(no_bodies) == _per_model(whole)
    assert None not in _per_model(no_bodies)
    got = requests(no_bodies)
    want = requests(whole)
    answered = got["outcome"] == "succeeded"
    assert got["model"][answered].tolist() == want["model"][answered].tolist()
    # a model given by an inferred usage attachment is itself inferred
    inferred_usage = got["usage_inferred"].to_numpy(dtype=bool)
    assert (got["ambiguous"].to_numpy(dtype=bool) >= inferred_usage).all()
    if capture.endswith("concurrent"):
        assert inferred_usage.sum() == 9  # 4 in flight: three, one and five per model
    # the failures have no usage record: their model stays unknown
    assert got["model"][~answered].isna().all()
    assert no_bodies.requests.usage_models_differ == 0


def test_a_request_keeps_its_own_model_and_the_disagreement_is_counted() -> None:
    lines = _lines("relay-default-sequential")
    at = next(i for i, line in enumerate(lines) if "usage recorded" in line and "opus" in line)
    lines[at] = lines[at].replace("claude-opus-4-1-20250805", "claude-3-5-haiku-20241022")
    a = analysis(lines)
    assert _per_model(a) == _per_model(analysis(_lines("relay-default-sequential")))
    assert a.requests.usage_models_differ == 1
    assert any(
        "1 request(s) name another model than their usage record" in n for n in a.quality.notes
    )


def test_a_usage_line_s_generic_model_is_not_the_request_s() -> None:
    # ccproxy-api's stream usage says model=claude-3-5-sonnet-20241022 whatever answered; with
    # its plugin_request lines (the model asked) gone, no request may take that default.
    a = analysis(_lines("ccproxy-console-sequential", drop="plugin_request"))
    assert requests(a)["model"].isna().all()
