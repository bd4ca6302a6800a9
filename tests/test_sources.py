"""Reading inputs: form detection, gzip, json-file partials and rotation, bad bytes, bad paths."""

import gzip
import json
from pathlib import Path

import pytest

from claude_perf.errors import InputError
from claude_perf.sources import (
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

    def denied(self):
        raise PermissionError(13, "Permission denied")

    # CI runs as root, whom file modes do not stop: make the read itself fail instead.
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(InputError, match="permission denied"):
        read_logs([str(secret)])


def test_stdin_is_read(monkeypatch, tmp_path):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{TS} {ACCESS}\n".encode())))
    logs = read_logs(["-"])
    assert logs.total == 1 and logs.inputs[0].form == FORM_DOCKER
