"""ray-project/llmperf's result files → ClientAggregate rows: nothing in them can be joined.

token_benchmark_ray.py (``run_token_benchmark``) writes two files into ``--results-dir``:

- ``<model>_<in>_<out>_summary.json``: one flat object (``LLMPerfResults.to_dict``: ``version``,
  ``name``, the run's parameters, ``metrics_summary``'s figures flattened as
  ``results_<metric>_<stat>``, the user's ``--metadata`` keys, ``timestamp``: ``int(time.time())``
  when it was written). In ``metrics_summary`` the quantiles (pandas, linear), mean, min and max
  are over the requests without an error code; ``num_requests_started`` counts all,
  ``number_errors`` those with one. ``json.dump(..., default=str)`` writes numpy integers (token
  counts' min and max) as strings, and NaN (every request failed) as ``NaN``.
- ``<model>_<in>_<out>_individual_responses.json``: an array of per-request objects
  (``error_code``, ``error_msg``, ``ttft_s``, ``end_to_end_latency_s``, token counts). Newer
  versions add ``start_time``, a monotonic offset from the test's start, not a wall time.

Neither file has a wall-clock time per request, the model per request or a request id, so
neither can be joined with the proxy's requests: both are read as aggregates, as Locust's stats
are. The individual responses' values are kept as read (``ClientAggregate.latencies_s``,
``ttfts_s``); the analysis makes their figures with the project's own percentiles. Unknown keys
(``--metadata``) are ignored; a figure that is null, NaN or missing is unknown.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from claude_perf.errors import InputError
from claude_perf.ingest.client_aggregates import ClientAggregate

_E2E = "end_to_end_latency_s"
_TTFT = "ttft_s"
_SUMMARY_E2E_P50 = "results_end_to_end_latency_s_quantiles_p50"
RESPONSES_NAME = "individual responses (no model in the file)"
_NOT_JOINED = (
    "llmperf writes no wall-clock time, model per request or request id, "
    "so nothing is joined with the proxy's requests"
)


@functools.lru_cache(maxsize=1)
def _document(text: str) -> Any:
    """The file's JSON document, or None. Cached for the one file being read: the detection
    (``is_summary``, ``is_individual_responses``) and then its reader parse the same text, and
    an llmperf run of thousands of responses is MBs of indented JSON (20,000 responses, 7.2 MB:
    0.086 against 0.122 s a read, medians of 7 in one process). Nothing mutates it."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, or an integer of over 4300 digits
        return None


def is_summary(head: Any, text: str) -> bool:
    """A JSON object with the end-to-end p50, or ``version`` and a ``results_`` key.

    ``head`` is the first line decoded (None when it is not JSON on its own, as ``indent=4``
    output is not). A document with GenAI-Perf's ``experiments`` key is never one.
    """
    if '"results_' not in text:
        return False  # the cheap test first: most client files are not llmperf's
    document = head if isinstance(head, dict) else _document(text)
    if not isinstance(document, dict) or "experiments" in document:
        return False
    return _SUMMARY_E2E_P50 in document or (
        "version" in document and any(str(k).startswith("results_") for k in document)
    )


def is_individual_responses(text: str) -> bool:
    """A JSON array whose first item is an object with ``end_to_end_latency_s`` and ``ttft_s``."""
    if f'"{_E2E}"' not in text or f'"{_TTFT}"' not in text:
        return False
    document = _document(text)
    return (
        isinstance(document, list)
        and bool(document)
        and isinstance(document[0], dict)
        and {_E2E, _TTFT} <= document[0].keys()
    )


def _number(value: Any, where: str) -> float | None:
    """A figure: None, NaN, ±inf and missing are unknown; numeric text (default=str) is read."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{where} {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} {value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise InputError(f"{where} is out of range") from None
    return number if math.isfinite(number) else None


def _count(document: dict[str, Any], key: str, path: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{path}: llmperf summary {key} {value!r} is not a count (an integer)")
    return value


def read_summary(path: str, text: str) -> tuple[ClientAggregate, str]:
    """``*_summary.json``: one aggregate row, its figures as llmperf computed them."""
    document = _document(text)
    if not isinstance(document, dict):
        raise InputError(f"{path}: llmperf summary is not one JSON object")
    requests = _count(document, "results_num_requests_started", path)
    failures = _count(document, "results_number_errors", path)
    if failures > requests:
        raise InputError(f"{path}: llmperf summary has more errors ({failures}) than requests")

    def figure(key: str) -> float | None:
        return _number(document.get(key), f"{path}: llmperf summary {key}")

    per_min = figure("results_num_completed_requests_per_min")
    model = document.get("model")
    aggregate = ClientAggregate(
        tool="llmperf",
        name=model if isinstance(model, str) and model else "(model not recorded)",
        method=None,
        requests=requests,
        failures=failures,
        mean_s=figure("results_end_to_end_latency_s_mean"),
        p50_s=figure(_SUMMARY_E2E_P50),
        p95_s=figure("results_end_to_end_latency_s_quantiles_p95"),
        p99_s=figure("results_end_to_end_latency_s_quantiles_p99"),
        max_s=figure("results_end_to_end_latency_s_max"),
        # completed (no error code) requests over the run's monotonic span, per minute
        requests_per_s=None if per_min is None else per_min / 60,
        ttft_p50_s=figure("results_ttft_s_quantiles_p50"),
        ttft_p95_s=figure("results_ttft_s_quantiles_p95"),
    )
    return aggregate, f"{path}: llmperf summary, aggregates only: {_NOT_JOINED}"


def _failed(error_code: Any) -> bool:
    # llmperf's metrics_summary counts an error where error_code is not NA (pandas isna: None, NaN)
    return not (error_code is None or (isinstance(error_code, float) and math.isnan(error_code)))


def read_individual_responses(path: str, text: str) -> tuple[ClientAggregate, str]:
    """``*_individual_responses.json``: one aggregate row of the records' counts and values."""
    items = _document(text)
    if not isinstance(items, list):
        raise InputError(f"{path}: llmperf individual responses are not one JSON array")
    latencies: list[float] = []
    ttfts: list[float] = []
    failures = 0
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InputError(f"{path}: llmperf response {n} is not a JSON object")
        if _failed(item.get("error_code")):
            failures += 1  # its latency fields are llmperf's 0 or null, not a measurement
            continue
        latency = _number(item.get(_E2E), f"{path}: llmperf response {n} {_E2E}")
        ttft = _number(item.get(_TTFT), f"{path}: llmperf response {n} {_TTFT}")
        if latency is not None:
            latencies.append(latency)
        # llmperf's clients start ttft at 0 and set it at the first content token: 0 means no
        # token arrived, not an instant one (its summary counts these 0s; here they are unknown)
        if ttft is not None and ttft > 0:
            ttfts.append(ttft)
    aggregate = ClientAggregate(
        tool="llmperf",
        name=RESPONSES_NAME,
        method=None,
        requests=len(items),
        failures=failures,
        mean_s=None,  # (made of the values by the analysis: client_view.reduce_aggregate)
        p50_s=None,
        p95_s=None,
        p99_s=None,
        max_s=None,
        requests_per_s=None,  # no times: start_time, where written, is a monotonic offset only
        latencies_s=tuple(latencies),
        ttfts_s=tuple(ttfts),
    )
    note = f"{path}: llmperf individual responses, aggregated here: {_NOT_JOINED}"
    return aggregate, note
