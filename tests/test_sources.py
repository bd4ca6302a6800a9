"""Reading inputs: form detection, gzip, json-file partials and rotation, bad bytes, bad paths."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.errors import InputError
from claude_perf.ingest.files import (
    FORM_DOCKER,
    FORM_JSON_FILE,
    FORM_PLAIN,
    read_log,
    read_logs,
    sniff_form,
)

TS = "2026-11-29T00:50:49.843913252Z"
ACCESS = 'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK'


def jf(log, stream="stdout", time=TS):
    return json.dumps({"log": log, "stream": stream, "time": time}) + "\n"


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def test_sniff_forms():
    assert sniff_form(f"{TS} {ACCESS}\n".encode()) == FORM_DOCKER
    assert sniff_form(jf(ACCESS + "\n").encode()) == FORM_JSON_FILE
    assert sniff_form(f"{ACCESS}\n".encode()) == FORM_PLAIN
    assert sniff_form(b"") == FORM_PLAIN


def test_docker_timestamps_keep_nanoseconds(tmp_path):
    path = write(tmp_path, "a.log", f"{TS} {ACCESS}\n2026-11-29T00:50:49.9Z second\n")
    table, info, _ = read_log(path)
    assert info.form == FORM_DOCKER and info.lines == 2
    ns = table.column("ts").cast("int64").to_pylist()
    assert ns[0] % 1_000_000_000 == 843913252
    assert table.column("text").to_pylist() == [ACCESS, "second"]


def test_last_line_without_newline_counts_and_blank_lines_count(tmp_path):
    path = write(tmp_path, "a.log", "one\n\nthree")
    assert read_logs([path]).total == 3
    path = write(tmp_path, "b.log", "one\r\ntwo\r\n")
    logs = read_logs([path])
    assert logs.total == 2
    assert logs.table.column("text").to_pylist() == ["one", "two"]


def test_gzip_is_read_transparently_and_truncated_gzip_keeps_what_it_can(tmp_path):
    body = "".join(f"{TS} line {i}\n" for i in range(2000)).encode()
    packed = gzip.compress(body)
    assert read_logs([write(tmp_path, "a.log.gz", packed)]).total == 2000
    logs = read_logs([write(tmp_path, "b.log.gz", packed[: len(packed) // 2])])
    assert 0 < logs.total < 2000
    assert any("truncated" in note for note in logs.notes)


def test_json_file_partial_lines_are_joined(tmp_path):
    data = jf("first half ", "stderr") + jf("rest\n", "stderr") + jf("own line\n", "stdout")
    logs = read_logs([write(tmp_path, "c-json.log", data)])
    assert logs.table.column("text").to_pylist() == ["first half rest", "own line"]
    assert logs.partial_merged == 1


def test_json_file_broken_lines_are_counted_and_kept(tmp_path):
    data = jf("good\n") + '{"log":"trunc' + "\n" + jf("also good\n")
    logs = read_logs([write(tmp_path, "c-json.log", data)])
    assert logs.total == 3
    assert logs.broken_json_lines == 1


def test_rotated_json_files_merge_in_time_order(tmp_path):
    older = jf("old\n", time="2026-11-29T00:00:01.000000001Z")
    newer = jf("new\n", time="2026-11-29T00:00:02.5Z")
    logs = read_logs([write(tmp_path, "x-json.log", newer), write(tmp_path, "x-json.log.1", older)])
    assert logs.table.column("text").to_pylist() == ["old", "new"]


def test_duplicates_across_inputs_are_counted_once(tmp_path):
    body = f"{TS} {ACCESS}\n2026-11-29T00:50:50Z other\n"
    logs = read_logs([write(tmp_path, "a.log", body), write(tmp_path, "b.log", body)])
    assert logs.total == 4
    assert logs.duplicate_lines == 2
    assert logs.table.num_rows == 2


def test_invalid_utf8_and_nul_bytes_are_kept_and_counted(tmp_path):
    path = write(tmp_path, "bad.log", b"ok\n\xff\xfe broken\nnul \x00 byte\n")
    logs = read_logs([path])
    assert logs.total == 3
    assert logs.invalid_utf8_lines == 1
    assert "\x00" in logs.table.column("text").to_pylist()[2]


def test_missing_file_directory_and_unreadable_are_input_errors(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="no such file"):
        read_logs([str(tmp_path / "nope.log")])
    with pytest.raises(InputError, match="is a directory"):
        read_logs([str(tmp_path)])
    secret = tmp_path / "secret.log"
    secret.write_text("x\n")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # CI runs as root, whom file modes do not stop: make the open itself fail instead (inputs
    # are streamed through Path.open, ingest/bounded.py).
    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(InputError, match="permission denied"):
        read_logs([str(secret)])


def test_stdin_is_read(monkeypatch, tmp_path):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{TS} {ACCESS}\n".encode())))
    logs = read_logs(["-"])
    assert logs.total == 1 and logs.inputs[0].form == FORM_DOCKER


# The fixed-layout reader of `docker logs -t` output must give what the general regex way gives
# for every line: these inputs mix fixed lines with every kind it hands over to that way.
FIXED_TIMES = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:09d}Z".format,
    st.integers(1970, 2100),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999_999_999),
)
OTHER_TIMES = st.sampled_from(
    [
        "2026-11-29T00:50:49.9Z",  # trimmed fraction
        "2026-11-29T00:50:49Z",  # no fraction
        "2026-11-29T02:50:49.843913252+02:00",  # offset
        "2024-02-29T23:59:59.999999999Z",  # leap day
        "2026-11-29t00:50:49.843913252Z",  # lower-case t: not a time
        "2026-11-29T00:50:49.843913252z",  # lower-case z: not a time
        "2026-11-29 00:50:49.843913252Z",  # space: not a time
        "1677-09-22T00:00:00.000000000Z",  # outside the fixed reader's years, Arrow still reads it
    ]
)
TEXTS = st.one_of(
    st.sampled_from(["", " ", ACCESS, "é ünïcode ☃", "a\rb", "tab\there", "\x00nul", "Z"]),
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]), max_size=40),
)
DOCKER_LINES = st.one_of(
    st.builds("{} {}".format, FIXED_TIMES, TEXTS),
    st.builds("{} {}".format, FIXED_TIMES, TEXTS),
    st.builds("{} {}".format, OTHER_TIMES, TEXTS),
    st.builds("{}{}".format, FIXED_TIMES, st.sampled_from(["", "\t", "x"])),  # no space after
    TEXTS,  # no time at all (short lines included)
)


def docker_reference(data):
    """The general regex way over every line: what the fixed-layout reader must reproduce."""
    from claude_perf.ingest.files import _docker_table_general, _split_lines

    lines, _ = _split_lines(data, trim=False)
    return _docker_table_general(lines)


def docker_read(data):
    from claude_perf.ingest.files import _docker_table, _utf8_lines

    repaired, offsets, lines, _ = _utf8_lines(data)
    return _docker_table(repaired, offsets, lines)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(DOCKER_LINES, st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n"])),
        max_size=40,
    ),
    st.booleans(),
)
def test_fixed_layout_reader_matches_the_general_way(lines, ends_in_newline):
    data = "".join(text + end for text, end in lines)
    if not ends_in_newline:
        data = data.rstrip("\n")
    table = docker_read(data.encode())
    expected = docker_reference(data.encode())
    assert table.column("ts").equals(expected.column("ts"))
    assert table.column("text").equals(expected.column("text"))
    assert table.column("stream").null_count == table.num_rows
    assert table.schema.names == ["ts", "stream", "text"]
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("text").type == pa.large_string()


@pytest.mark.parametrize(
    "data",
    [
        f"{TS} a\n{TS} b\n",  # all fixed
        f"{TS} a\n{TS} b",  # last line without newline
        f"{TS} a\r\n{TS} b\n",  # a "\r\n" end
        f"{TS} \n{TS} x\n",  # empty text: a 32-byte line
        f"{TS} \n{TS} ",  # a last line that is the prefix alone
        f"{TS} a\nshort\n\n{TS} b\n",  # lines shorter than the prefix
        f"{TS} a\n2026-11-29T00:50:49.9Z b\n{TS} c\n",  # another layout in the middle
        "2026-11-29T00:50:49.843913252Z a\n2026-11-29T00:49:49.843913252Z b\n",  # out of order
        "2026-11-29T00:50:49.843913252Z a\n2026-11-30T00:50:49.843913252Z b\n",  # new day, minute
        f"{TS} \xe9\u2603 bytes\n" * 3,  # multi-byte text
    ],
)
def test_fixed_layout_reader_edges(data):
    table = docker_read(data.encode())
    expected = docker_reference(data.encode())
    assert table.column("ts").equals(expected.column("ts"))
    assert table.column("text").equals(expected.column("text"))


@pytest.mark.parametrize(
    "bad_time",
    [
        "2026-13-01T00:00:00.000000000Z",
        "2026-02-29T00:00:00.000000000Z",
        "2026-01-01T24:00:00.000000000Z",
        "2026-01-01T00:60:00.000000000Z",
        "2026-01-01T00:00:60.000000000Z",
        "2300-01-01T00:00:00.000000000Z",
        "0000-00-00T00:00:00Z",
    ],
)
def test_times_that_are_no_instant_leave_the_line_without_a_time(bad_time):
    # Arrow refuses to cast them; the read used to fail on the first such line.
    data = f"{TS} a\n{bad_time} b\n".encode()
    for table in (docker_read(data), docker_reference(data)):
        assert table.column("ts").null_count == 1
        assert table.column("text").to_pylist() == ["a", f"{bad_time} b"]
    logs = read_logs_from_bytes(jf("a\n") + jf("b\n", time=bad_time))
    assert logs.column("ts").null_count == 1
    assert logs.column("text").to_pylist() == ["a", "b"]


def read_logs_from_bytes(text):
    table, _, _ = read_log("mem", data=text.encode())
    return table


def test_clean_docker_output_never_takes_the_general_way(monkeypatch, tmp_path):
    import claude_perf.ingest.files as sources

    def general(lines):
        raise AssertionError(f"{len(lines)} line(s) took the general way")

    monkeypatch.setattr(sources, "_docker_table_general", general)
    body = "".join(
        f"2026-11-29T00:{i // 60 % 60:02d}:{i % 60:02d}.{i:09d}Z line {i}\n" for i in range(5000)
    )
    table, info, _ = read_log(write(tmp_path, "a.log", body))
    assert info.form == FORM_DOCKER and table.num_rows == 5000
    assert table.column("text")[4999].as_py() == "line 4999"


def test_fixed_layout_reader_handles_bad_utf8_like_the_general_way(tmp_path):
    data = f"{TS} ok\n{TS} \xff\xfe broken\n{TS} end\n".encode("latin-1")
    table, info, counts = read_log(write(tmp_path, "bad.log", data))
    assert info.form == FORM_DOCKER and counts["invalid_utf8"] == 1
    assert table.column("text").to_pylist() == ["ok", "\ufffd\ufffd broken", "end"]


def test_days_from_civil_agrees_with_the_standard_library():
    import datetime

    import numpy as np

    from claude_perf.ingest.engine_times import _days_from_civil

    epoch = datetime.date(1970, 1, 1).toordinal()
    days = np.arange(datetime.date(1678, 1, 1).toordinal(), datetime.date(2262, 1, 1).toordinal())
    dates = [datetime.date.fromordinal(int(d)) for d in days[::7]] + [
        datetime.date(2000, 2, 29),
        datetime.date(1900, 2, 28),
        datetime.date(1900, 3, 1),
    ]
    year, month, day = (np.array([getattr(d, f) for d in dates]) for f in ("year", "month", "day"))
    expected = np.array([d.toordinal() - epoch for d in dates])
    assert np.array_equal(_days_from_civil(year, month, day), expected)
