"""Session bundles: written then read gives the same report; hostile or damaged bundles refused."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.errors import InputError
from claude_perf.ingest.bundle import (
    BundleLimits,
    is_bundle,
    read_bundle,
    safe_file_name,
    write_bundle,
)
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import SAMPLE_COLUMNS, Session
from claude_perf.report import summary as summary_mod

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "fixtures" / "capture" / "docker-logs-t.txt"
STANDIN_JSON = ROOT / "fixtures" / "standin" / "json-file.log"
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def summary_of(session: Session) -> dict[str, Any]:
    analysis = analyse(session.logs, Config(), session.samples, session.containers)
    return summary_mod.build(analysis)


def samples_frame() -> pd.DataFrame:
    ts = pd.to_datetime(
        [1_700_000_000_123_456_789, 1_700_000_005_123_456_789, 1_700_000_010_000_000_001],
        unit="ns",
        utc=True,
    )
    frame = pd.DataFrame(
        {
            "ts": ts,
            "container_id": ["abc123"] * 3,
            "container_name": ["proxy"] * 3,
            "cpu_pct": [float("nan"), 12.5, 3.25],  # the first sample has no previous: a gap
            "online_cpus": [2.0, 2.0, 2.0],
            "mem_used_bytes": [1.5e8, float("nan"), 1.6e8],
            "mem_limit_bytes": [2.0e9] * 3,
            "mem_pct": [7.5, float("nan"), 8.0],
            "net_rx_bytes": [100.0, 200.0, 300.0],
            "net_tx_bytes": [10.0, 20.0, 30.0],
            "blk_read_bytes": [0.0, 0.0, 4096.0],
            "blk_write_bytes": [0.0, 8192.0, 8192.0],
            "pids": [5.0, 6.0, 6.0],
            "cgroup": ["v2"] * 3,
        }
    )
    for column in ("container_id", "container_name", "cgroup"):
        frame[column] = frame[column].astype("object")
    return frame.loc[:, list(SAMPLE_COLUMNS)]


CONTAINERS = (
    {
        "id": "abc123",
        "name": "proxy",
        "image": "standin:latest",
        "restart_count": 0,
        "oom_killed": False,
        "health_log": [{"start": "2026-01-01T00:00:00Z", "end": "x", "exit_code": 0, "output": ""}],
        "events": [{"time": "2026-01-01T00:00:00.000000Z", "action": "start"}],
    },
)


@pytest.mark.parametrize("name", ["folder", "run.tar.gz", "run.tgz"])
def test_round_trip_gives_the_same_summary(tmp_path: Path, name: str) -> None:
    logs = read_logs([str(CAPTURE)])
    original = Session(logs=logs)
    dest = write_bundle(original, tmp_path / name, created=CREATED)
    assert is_bundle(dest)
    back = read_bundle(dest)
    assert back.origin == "bundle"
    assert summary_of(back) == summary_of(original)


def test_round_trip_keeps_streams_nanoseconds_and_input_order(tmp_path: Path) -> None:
    logs = read_logs([str(STANDIN_JSON), str(CAPTURE)])
    original = Session(logs=logs, samples=samples_frame(), containers=CONTAINERS)
    back = read_bundle(write_bundle(original, tmp_path / "b.tar.gz", created=CREATED))
    for column in ("ts", "stream", "text"):
        assert back.logs.table.column(column).equals(logs.table.column(column)), column
    assert set(back.logs.table.column("stream").to_pylist()) == {"stderr", "stdout", None}
    assert back.logs.inputs == logs.inputs
    assert summary_of(back) == summary_of(original)
    pd.testing.assert_frame_equal(back.samples, original.samples)
    assert back.containers == CONTAINERS


def test_bundle_layout_and_manifest(tmp_path: Path) -> None:
    logs = read_logs([str(CAPTURE)])
    report = tmp_path / "report.md"
    report.write_text("# report\n")
    session = Session(logs=logs, samples=samples_frame(), containers=CONTAINERS, origin="store")
    dest = write_bundle(
        session, tmp_path / "b", extra_files={"report/report.md": report}, created=CREATED
    )
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["schema"] == "claude-perf/session/1"
    assert manifest["created"] == "2026-01-02T03:04:05.000000Z"
    assert manifest["origin"] == "store"
    assert manifest["containers"] == [
        {"name": "proxy", "id": "abc123", "log": "logs/proxy.log", "lines": 108}
    ]
    assert manifest["window"] == {
        "start": "2023-11-14T22:13:20.123456789Z",  # the first resource sample
        "end": "2026-11-29T00:51:18.494831614Z",  # the last log line
    }
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {
        "logs/proxy.log",
        "samples.jsonl",
        "containers.json",
        "report/report.md",
    }
    data = (dest / "logs" / "proxy.log").read_bytes()
    assert files["logs/proxy.log"]["sha256"] == hashlib.sha256(data).hexdigest()
    first = json.loads(data.splitlines()[0])
    assert first == {
        "log": "INFO:     Will watch for changes in these directories: ['/app']\n",
        "stream": None,
        "time": "2026-11-29T00:50:45.792168672Z",
    }
    sample = json.loads((dest / "samples.jsonl").read_text().splitlines()[0])
    assert sample["ts"] == "2023-11-14T22:13:20.123456789Z" and sample["cpu_pct"] is None
    assert (dest / "report" / "report.md").read_text() == "# report\n"
    assert (dest / "logs" / "proxy.log").stat().st_mode & 0o777 == 0o600


def test_tar_is_reproducible(tmp_path: Path) -> None:
    session = Session(logs=read_logs([str(CAPTURE)]))
    a = write_bundle(session, tmp_path / "a.tar.gz", created=CREATED).read_bytes()
    b = write_bundle(session, tmp_path / "b.tar.gz", created=CREATED).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(a)) as tar:
        assert tar.getnames()[0] == "manifest.json"
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/proxy", "proxy"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("", "container"),
        ("a b", "a_b"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_plain_log_is_not_a_bundle(tmp_path: Path) -> None:
    assert not is_bundle(CAPTURE)
    assert not is_bundle(tmp_path)  # a folder without manifest.json
    gz = tmp_path / "log.gz"
    import gzip

    gz.write_bytes(gzip.compress(CAPTURE.read_bytes()))
    assert not is_bundle(gz)


# --------------------------------------------------------------------------- hostile bundles


def _good_files(tmp_path: Path) -> dict[str, bytes]:
    dest = write_bundle(Session(logs=read_logs([str(CAPTURE)])), tmp_path / "good", created=CREATED)
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _with_manifest(tmp_path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    files = _good_files(tmp_path)
    return [_file(name, data) for name, data in files.items()]


@pytest.mark.parametrize(
    "evil",
    ["../evil.txt", "/etc/evil", "logs/../../evil", "a\\..\\evil", "./../x"],
)
def test_path_traversal_refused(tmp_path: Path, evil: str) -> None:
    members = [*_with_manifest(tmp_path), _file(evil, b"x")]
    path = _tar(tmp_path / "evil.tar.gz", members)
    with pytest.raises(InputError, match="refused unsafe file name"):
        read_bundle(path)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    "kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE]
)
def test_links_and_special_files_refused(tmp_path: Path, kind: bytes) -> None:
    info = tarfile.TarInfo("logs/link.log")
    info.type = kind
    info.linkname = "/etc/passwd"
    path = _tar(tmp_path / "links.tar.gz", [*_with_manifest(tmp_path), (info, None)])
    with pytest.raises(InputError, match=r"is a (link|special file): refused"):
        read_bundle(path)


def test_size_and_member_limits(tmp_path: Path) -> None:
    path = _tar(tmp_path / "big.tar.gz", [*_with_manifest(tmp_path), _file("pad", b"\0" * 50_000)])
    with pytest.raises(InputError, match="unpacks to more than 40000 bytes"):
        read_bundle(path, BundleLimits(max_total_bytes=40_000))
    many = [*_with_manifest(tmp_path), *[_file(f"f{i}", b"") for i in range(20)]]
    path = _tar(tmp_path / "many.tar.gz", many)
    with pytest.raises(InputError, match="more than 10 members"):
        read_bundle(path, BundleLimits(max_members=10))


def test_duplicate_member_refused(tmp_path: Path) -> None:
    members = _with_manifest(tmp_path)
    path = _tar(tmp_path / "dup.tar.gz", [*members, members[-1]])
    with pytest.raises(InputError, match="appears twice"):
        read_bundle(path)


def test_damaged_or_foreign_bundles(tmp_path: Path) -> None:
    files = _good_files(tmp_path)
    log_name = next(n for n in files if n.startswith("logs/"))
    tampered = [_file(n, d + b"{}\n" if n == log_name else d) for n, d in files.items()]
    with pytest.raises(InputError, match=r"does not match manifest\.json"):
        read_bundle(_tar(tmp_path / "tampered.tar.gz", tampered))
    missing = [_file(n, d) for n, d in files.items() if n != log_name]
    with pytest.raises(InputError, match=r"listed in manifest\.json is missing"):
        read_bundle(_tar(tmp_path / "missing.tar.gz", missing))
    foreign = [_file("manifest.json", b'{"schema": "other/1", "files": []}')]
    with pytest.raises(InputError, match="expected 'claude-perf/session/1'"):
        read_bundle(_tar(tmp_path / "foreign.tar.gz", foreign))
    no_manifest = [_file(log_name, files[log_name])]
    with pytest.raises(InputError, match=r"no manifest\.json"):
        read_bundle(_tar(tmp_path / "none.tar.gz", no_manifest))
    truncated = tmp_path / "truncated.tar.gz"
    whole = tmp_path / "whole.tar.gz"
    _tar(whole, _with_manifest(tmp_path))
    truncated.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(InputError):
        read_bundle(truncated)


def test_folder_symlink_escape_refused(tmp_path: Path) -> None:
    dest = write_bundle(Session(logs=read_logs([str(CAPTURE)])), tmp_path / "b", created=CREATED)
    log = next((dest / "logs").iterdir())
    secret = tmp_path / "secret.txt"
    secret.write_bytes(log.read_bytes())  # same bytes, so only the escape can be the refusal
    log.unlink()
    log.symlink_to(secret)
    with pytest.raises(InputError, match="points outside the bundle"):
        read_bundle(dest)


def test_manifest_path_traversal_refused_in_folder(tmp_path: Path) -> None:
    dest = write_bundle(Session(logs=read_logs([str(CAPTURE)])), tmp_path / "b", created=CREATED)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["files"].append({"path": "../outside.txt", "bytes": 1, "sha256": "0"})
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"refused unsafe file name '\.\./outside\.txt'"):
        read_bundle(dest)


def test_client_records_travel_in_bundles_with_their_error_text_redacted(tmp_path: Path) -> None:
    from claude_perf.ingest.client_records import ClientRecord

    leak = "upstream said: invalid x-api-key sk-ant-api03-" + "A" * 40
    records = (
        ClientRecord(
            "r1", "claude-perf load", 1, 3_000_000_000, first_token_ns=900_000_000, ok=True
        ),
        ClientRecord(
            "r2", "claude-perf load", 5, 9, status=401, error=leak, error_class="http_4xx"
        ),
    )
    session = Session(logs=read_logs([str(CAPTURE)]), clients=records)
    back = read_bundle(write_bundle(session, tmp_path / "b", created=CREATED))
    assert back.clients[0] == records[0]  # times and counts untouched
    assert back.clients[1].error is not None and "A" * 40 not in back.clients[1].error
    raw = read_bundle(write_bundle(session, tmp_path / "raw", created=CREATED, redacted=False))
    assert raw.clients == records
