"""Known answers for the unit of a logged duration: a unit after the number or in the key is
exact, a bare number's unit is a guess that is said (parse/fields.py, parse/units.py).

The lines are the shapes real loggers write: key=value and JSON records with ``duration_ms``,
``durationMs`` (pino-http's ``responseTime`` too), ``elapsed_us``, ``latency_ns``; Go's
time.Duration (``1m15.5s``; ``µs`` is U+00B5), tower-http's ``μs`` (U+03BC); LiteLLM's
``response_time`` (seconds, its StandardLoggingPayload).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.config.load import config_from_mapping
from claude_perf.parse.text import _durations
from tests.test_truth import analysis, engine, requests

LATENCIES_S = [0.85, 1.2, 75.5, 130.25]  # two over a minute: Go writes them 1m15.5s, 2m10.25s


def _go(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{rest:g}s"


def _values(seconds: float) -> dict[str, object]:
    return {
        "s": seconds,
        "ms": round(seconds * 1e3, 3),
        "us": round(seconds * 1e6),
        "ns": round(seconds * 1e9),
        "go": _go(seconds),
    }


def _read(template: str, config_rows: list[dict[str, object]] | None = None):
    lines = [
        f"{engine(200.0 * i)} " + template.format(**_values(s)) for i, s in enumerate(LATENCIES_S)
    ]
    config = config_from_mapping({"patterns": config_rows}) if config_rows else None
    a = analysis(lines, config=config)
    return requests(a)["latency_s"].round(6).tolist(), a.quality.notes


EXACT = {
    "key ms": "request done path=/v1/messages status=200 duration_ms={ms}",
    "camel key ms": '{{"msg":"done","path":"/v1/messages","status":200,"durationMs":{ms}}}',
    "key us": '{{"event":"request.complete","path":"/v1/messages","status":200,"elapsed_us":{us}}}',
    "camel key us": '{{"msg":"done","path":"/v1/messages","status":200,"latencyMicros":{us}}}',
    "key ns": '{{"event":"request.complete","path":"/v1/messages","status":200,"latency_ns":{ns}}}',
    "key s": "request done path=/v1/messages status=200 elapsed_s={s}",
    "key seconds": "request done path=/v1/messages status=200 duration_seconds={s}",
    "suffix ns": "request done path=/v1/messages status=200 latency={ns}ns",
    "suffix us": "request done path=/v1/messages status=200 duration={us}us",
    "suffix micro sign": "request done path=/v1/messages status=200 duration={us}\u00b5s",
    "suffix greek mu": "request done path=/v1/messages status=200 duration={us}\u03bcs",
    "suffix upper": "request done path=/v1/messages status=200 took={ms}MS",
    "go duration": "request done path=/v1/messages status=200 latency={go}",
    "snake response_time": (
        '{{"event":"request.complete","path":"/v1/messages","status":200,"response_time":{s}}}'
    ),
    "pino responseTime": (
        '{{"msg":"request completed","path":"/v1/messages","status":200,"responseTime":{ms}}}'
    ),
}


@pytest.mark.parametrize("template", EXACT.values(), ids=EXACT.keys())
def test_a_unit_in_the_key_or_after_the_number_is_exact(template: str) -> None:
    latencies, notes = _read(template)
    assert latencies == LATENCIES_S
    assert not any("carry no unit" in note for note in notes)


BARE_US = '{{"event":"request.complete","path":"/v1/messages","status":200,"duration":{us}}}'


def test_bare_microseconds_are_a_guess_that_is_said() -> None:
    # Magnitude cannot tell them: the reading is wrong by 1000 and the note says it may be.
    latencies, notes = _read(BARE_US)
    assert latencies != LATENCIES_S
    (note,) = [n for n in notes if "carry no unit" in n]
    assert "A guess" in note and "microseconds" in note and "duration_unit" in note


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_a_pattern_s_duration_unit_settles_a_bare_number(unit: str) -> None:
    pattern = {
        "name": "mine",
        "regex": r'"path":"(?P<path>[^"]+)","status":(?P<status>\d{3}),"duration":(?P<duration>\d+)',
        "role": "end",
        "duration_unit": unit,
    }
    latencies, notes = _read(BARE_US.replace("{us}", "{" + unit + "}"), [pattern])
    assert latencies == LATENCIES_S
    assert not any("carry no unit" in note for note in notes)  # the pattern said it


def test_go_and_rust_micro_signs_in_a_dialect_group() -> None:
    got = _durations(
        __import__("numpy").array(["1m2.5s", "2h0m0s", "850µs", "850μs", "12.5 μs", "3ns"]), "s"
    )
    assert got.round(9).tolist() == [62.5, 7200.0, 0.00085, 0.00085, 0.0000125, 3e-9]


UNIT_FORMS = {
    "ms": ("duration_ms={ms}", 1e3),
    "us": ("elapsed_us={us}", 1e6),
    "ns": ("latency={ns}ns", 1e9),
    "s": ("took={s}s", 1.0),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=600_000), st.sampled_from(sorted(UNIT_FORMS))),
        min_size=1,
        max_size=6,
    )
)
def test_a_unit_said_is_read_whatever_the_magnitudes(cases: list[tuple[int, str]]) -> None:
    # Durations from 1 ms to 10 min, each in a unit its line says: every one read exactly,
    # whatever the others' magnitudes (the bare-unit guess never touches them).
    lines = []
    for i, (ms, unit) in enumerate(cases):
        form, per_s = UNIT_FORMS[unit]
        seconds = ms / 1e3
        number = round(seconds * per_s) if per_s >= 1e3 else seconds
        value = form.split("=")[1].format(**{unit: number})
        key = form.split("=")[0]
        lines.append(f"{engine(700.0 * i)} request done path=/v1/messages status=200 {key}={value}")
    a = analysis(lines)
    want = [round(ms / 1e3, 6) for ms, _ in cases]
    assert requests(a)["latency_s"].round(6).tolist() == want
    assert not any("carry no unit" in note for note in a.quality.notes)
