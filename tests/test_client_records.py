"""The client-record schema: a round trip through JSON and one-line errors on bad records."""

import json

import pytest

from claude_perf.errors import InputError
from claude_perf.ingest.client_records import (
    SCHEMA,
    ClientRecord,
    record_from_json,
    record_to_json,
)


def test_a_record_survives_json_and_derives_its_durations():
    record = ClientRecord(
        id="r1",
        tool="claude-perf load",
        start_ns=1_000_000_000,
        end_ns=3_500_000_000,
        first_byte_ns=1_200_000_000,
        first_token_ns=1_700_000_000,
        status=200,
        ok=True,
        stream=True,
        chunks=3,
        chunk_gaps_s=(0.25, 0.5),
        output_tokens=12,
    )
    line = record_to_json(record)
    assert json.loads(line)["schema"] == SCHEMA
    assert "error" not in json.loads(line)
    back = record_from_json(json.loads(line), "f:1")
    assert back == record
    assert (back.latency_s, back.ttfb_s, back.ttft_s) == (2.5, 0.2, 0.7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema": "x"}, "not a claude-perf/client-record/1 record"),
        (
            {"schema": SCHEMA, "id": "a", "tool": "t", "start_ns": 2, "end_ns": 1},
            "end_ns is before",
        ),
        ({"schema": SCHEMA, "id": "a", "tool": "t", "start_ns": 1}, "lacks 'end_ns'"),
        (
            {"schema": SCHEMA, "id": "a", "tool": "t", "start_ns": 1.5, "end_ns": 2},
            "must be an integer",
        ),
        (
            {"schema": SCHEMA, "id": "a", "tool": "t", "start_ns": 1, "end_ns": 2, "modle": "x"},
            "unknown client-record key 'modle'",
        ),
    ],
)
def test_bad_records_are_one_line_errors_naming_the_place(data, message):
    with pytest.raises(InputError, match=message) as caught:
        record_from_json(data, "records.jsonl:7")
    assert str(caught.value).startswith("records.jsonl:7: ")
    assert "\n" not in str(caught.value)
