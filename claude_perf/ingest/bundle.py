"""Session bundles: one test session as a folder or ``.tar.gz`` that re-makes its report anywhere.

Layout (schema ``claude-perf/session/1``)::

    manifest.json       schema, created, tool, origin, window, containers, log-reading facts,
                        samples facts, and every file with its size and SHA-256
    logs/<name>.log     one per container: Docker json-file lines
                        {"log": "<line>\\n", "stream": "stdout"|"stderr"|null,
                         "time": "<RFC 3339, nanoseconds>"|null}
                        so that streams and nanosecond times survive the trip
    samples.jsonl       resource samples, one JSON object per row (NaN gaps as null), when any
    containers.json     container facts (inspect, health log, events), when any
    clients.jsonl       client records (claude-perf/client-record/1), when the session has them
    report/...          optionally the report and its charts (never read back)

Logs, container facts and notes are redacted unless ``redacted=False`` (``export --raw``); the
manifest says which. Redaction keeps ids, counts and times: either bundle re-makes the same figures.

Reading never extracts to disk: tar members are read into memory after every member has been
checked (regular files and folders only, relative names without ``..``, at most ``MAX_MEMBERS``
members and ``MAX_TOTAL_BYTES`` in all, from ``[limits]``: the memory it may take), and every
file named by the manifest must match its recorded size and SHA-256. What the log reader learnt
from the original inputs (their paths and forms, duplicate and invalid-UTF-8 counts, notes) is
kept in the manifest and restored, so a report re-made from a bundle equals the original one.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from claude_perf import __version__
from claude_perf.errors import InputError
from claude_perf.ingest.bounded import is_gzip
from claude_perf.ingest.bundle_shape import manifest_problem
from claude_perf.ingest.client_files import CLIENTS_FILE, read_own, records_jsonl
from claude_perf.ingest.files import InputInfo, LogLines
from claude_perf.ingest.session import SAMPLE_COLUMNS, Session
from claude_perf.ingest.sources import bundle_sources
from claude_perf.runtime.private_files import write_private
from claude_perf.secrets import redact, redact_many

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SCHEMA = "claude-perf/session/1"
MANIFEST = "manifest.json"
SAMPLES_FILE = "samples.jsonl"
CONTAINERS_FILE = "containers.json"
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 256 * 1024**2  # unpacked, all members: [limits] max_input_bytes
MAX_MANIFEST_BYTES = 16 * 1024**2
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_FLOAT_COLUMNS = SAMPLE_COLUMNS[3:-1]
_TEXT_COLUMNS = ("container_id", "container_name", "cgroup")


@dataclass(frozen=True)
class BundleLimits:
    """What a bundle may hold before it is refused as hostile or broken."""

    max_members: int = MAX_MEMBERS
    max_total_bytes: int = MAX_TOTAL_BYTES


def is_bundle(path: str | Path) -> bool:
    """A folder holding manifest.json, or a tar.gz whose members include manifest.json."""
    p = Path(path)
    if p.is_dir():
        return (p / MANIFEST).is_file()
    if not p.is_file() or not is_gzip(p):
        return False
    try:
        with tarfile.open(p, "r:gz") as tar:
            # Only the first few members are looked at: manifest.json is written first.
            for index, member in enumerate(tar):
                if _member_name(member.name) == MANIFEST:
                    return True
                if index >= 8:
                    break
    except (tarfile.TarError, OSError, EOFError):
        return False
    return False


# --------------------------------------------------------------------------- writing


def _rfc3339_ns(value_ns: int) -> str:
    seconds, nanos = divmod(value_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def safe_file_name(name: str) -> str:
    """A container name as a file name: no separators, no leading dots, never empty."""
    cleaned = _SAFE_NAME.sub("_", name.lstrip("/")).lstrip(".")
    return cleaned[:100] or "container"


def _log_groups(session: Session) -> list[tuple[str, list[int]]]:
    """Row indexes of the log table per source (one per container), in source order.

    Keeping the input order means that reading the bundle back merges lines in the same order
    (time, then input, then position), so the re-made report is the same.
    """
    table = session.logs.table
    labels = session.logs.sources or tuple(i.path for i in session.logs.inputs)
    if "source" in table.column_names:
        sources = table.column("source").to_pylist()
    else:
        sources = [0] * table.num_rows
    rows: dict[int, list[int]] = {i: [] for i in range(len(labels))}
    for index, source in enumerate(sources):
        rows.setdefault(int(source or 0), []).append(index)
    if not rows:
        rows[0] = []

    def name_of(source: int) -> str:
        label = labels[source] if source < len(labels) else "session"
        if label.startswith("store:"):
            return label[len("store:") :]
        if len(session.containers) == 1 and len(rows) == 1:
            return str(session.containers[0].get("name") or "session")
        return Path(label).name if label != "-" else "stdin"

    return [(name_of(source), indexes) for source, indexes in sorted(rows.items())]


def _json_file_lines(table: pa.Table, rows: list[int], redacted: bool = True) -> bytes:
    import pyarrow as pa

    part = table.take(pa.array(rows, type=pa.int64())) if rows else table.slice(0, 0)
    ts = part.column("ts").cast(pa.int64()).to_pylist()
    streams = part.column("stream").to_pylist()
    texts = part.column("text").to_pylist()
    if redacted:
        texts = redact_many([t or "" for t in texts])
    out = io.StringIO()
    for t, stream, text in zip(ts, streams, texts, strict=True):
        record = {"log": (text or "") + "\n", "stream": stream, "time": None}
        if t is not None:
            record["time"] = _rfc3339_ns(t)
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
    return out.getvalue().encode("utf-8")


def _samples_jsonl(samples: pd.DataFrame) -> bytes:
    import pandas as pd

    out = io.StringIO()
    columns = [c for c in samples.columns]
    for row in samples.itertuples(index=False, name=None):
        record: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                record[column] = _rfc3339_ns(int(value.value))
            elif value is None or (not isinstance(value, str) and bool(pd.isna(value))):
                record[column] = None
            elif hasattr(value, "item"):  # numpy scalars
                record[column] = value.item()
            else:
                record[column] = value
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
        out.write("\n")
    return out.getvalue().encode("utf-8")


def _window(session: Session) -> dict[str, str | None]:
    import pyarrow.compute as pc

    stamps: list[int] = []
    ts = session.logs.table.column("ts")
    if len(ts) - ts.null_count:
        import pyarrow as pa

        bounds = pc.min_max(ts.cast(pa.int64()))
        stamps += [bounds["min"].as_py(), bounds["max"].as_py()]
    if session.samples is not None and len(session.samples):
        known = session.samples["ts"].dropna()
        if len(known):
            stamps += [int(known.min().value), int(known.max().value)]
    if not stamps:
        return {"start": None, "end": None}
    return {"start": _rfc3339_ns(min(stamps)), "end": _rfc3339_ns(max(stamps))}


def bundle_files(
    session: Session,
    extra_files: Mapping[str, Path] | None = None,
    created: datetime | None = None,
    redacted: bool = True,
) -> dict[str, bytes]:
    """Every file of the bundle by its relative name, manifest.json first (logs, container facts
    and notes redacted unless ``redacted`` is False)."""
    clean = redact if redacted else (lambda text: text)
    files: dict[str, bytes] = {}
    containers = []
    used: set[str] = set()
    for name, rows in _log_groups(session):
        file_name = safe_file_name(name)
        while f"logs/{file_name}.log" in used:  # two containers with one cleaned name
            file_name += "_"
        path = f"logs/{file_name}.log"
        used.add(path)
        files[path] = _json_file_lines(session.logs.table, rows, redacted)
        facts = next((c for c in session.containers if name in (c.get("name"), c.get("id"))), None)
        containers.append(
            {
                "name": name,
                "id": facts.get("id") if facts else None,
                "log": path,
                "lines": len(rows),
            }
        )
    for facts in session.containers:  # containers with facts but no log line
        if not any(
            facts.get("name") == c["name"] or facts.get("id") == c["name"] for c in containers
        ):
            containers.append(
                {"name": facts.get("name"), "id": facts.get("id"), "log": None, "lines": 0}
            )
    samples_facts = None
    if session.samples is not None:
        files[SAMPLES_FILE] = _samples_jsonl(session.samples)
        samples_facts = {
            "file": SAMPLES_FILE,
            "rows": len(session.samples),
            "columns": [str(c) for c in session.samples.columns],
        }
    if session.clients:  # the client's error text is raw (an echoed key): redacted like logs
        files[CLIENTS_FILE] = records_jsonl(
            replace(r, error=clean(r.error)) if r.error else r for r in session.clients
        )
    if session.containers:
        facts_text = json.dumps(list(session.containers), indent=2, ensure_ascii=False, default=str)
        files[CONTAINERS_FILE] = (clean(facts_text) + "\n").encode("utf-8")
    for name, source in (extra_files or {}).items():
        relative = _checked_relative(name)
        try:
            files[relative] = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(
                f"{source}: cannot read for the bundle ({exc.strerror or exc})"
            ) from exc
    logs = session.logs
    manifest = {
        "schema": SCHEMA,
        "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tool": f"claude-perf {__version__}",
        "origin": session.origin,
        "redacted": redacted,
        "window": _window(session),
        "containers": containers,
        "sample_interval_s": session.sample_interval_s,
        "samples": samples_facts,
        "logs": {
            "inputs": [asdict(i) for i in logs.inputs],
            "sources": list(logs.sources),
            "invalid_utf8_lines": logs.invalid_utf8_lines,
            "partial_lines_merged": logs.partial_merged,
            "broken_json_lines": logs.broken_json_lines,
            "duplicate_lines": logs.duplicate_lines,
            "notes": [clean(n) for n in logs.notes],
        },
        "session_notes": [clean(n) for n in session.notes],
        "files": [
            {"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        ],
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    return {MANIFEST: text.encode("utf-8"), **files}


def write_bundle(
    session: Session,
    dest: Path,
    extra_files: Mapping[str, Path] | None = None,
    created: datetime | None = None,
    redacted: bool = True,
) -> Path:
    """Write the bundle: a ``.tar.gz``/``.tgz`` archive when ``dest`` ends so, else a folder.

    Files are created with mode 0600: even redacted logs are private by default.
    """
    files = bundle_files(session, extra_files, created, redacted)
    try:
        if dest.name.endswith((".tar.gz", ".tgz")):
            _write_tar(dest, files)
        else:
            for name, data in files.items():
                write_private(dest / name, data)
    except OSError as exc:
        raise InputError(f"{dest}: cannot write the bundle ({exc.strerror or exc})") from exc
    return dest


def _write_tar(dest: Path, files: Mapping[str, bytes]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            info.mtime = 0  # reproducible archives: the manifest carries the creation time
            tar.addfile(info, io.BytesIO(data))
    write_private(dest, buffer.getvalue())


# --------------------------------------------------------------------------- reading


def _member_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _checked_relative(name: str) -> str:
    """A bundle-relative POSIX path, or InputError when it could leave the bundle."""
    if not name or "\\" in name or "\x00" in name:
        raise InputError(f"bundle: refused unsafe file name {name!r}")
    path = PurePosixPath(_member_name(name))
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or not path.parts:
        raise InputError(f"bundle: refused unsafe file name {name!r}")
    return str(path)


def _read_tar(path: Path, limits: BundleLimits) -> dict[str, bytes]:
    """Every regular member in memory, after checking each one; hostile archives are refused."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > limits.max_members:
                    raise InputError(f"{path}: bundle has more than {limits.max_members} members")
                name = _checked_relative(member.name.rstrip("/") or member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise InputError(f"{path}: bundle member {member.name!r} is a {kind}: refused")
                total += member.size
                if total > limits.max_total_bytes:
                    raise InputError(
                        f"{path}: bundle unpacks to more than "
                        f"{limits.max_total_bytes} bytes: refused"
                    )
                handle = tar.extractfile(member)
                if handle is None:
                    raise InputError(f"{path}: bundle member {member.name!r} cannot be read")
                if name in files:
                    raise InputError(f"{path}: bundle member {name!r} appears twice: refused")
                files[name] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{path}: not a readable tar.gz bundle ({exc})") from exc
    return files


def _read_folder_file(root: Path, name: str, limit: int) -> bytes:
    relative = _checked_relative(name)
    target = root / relative
    resolved_root = root.resolve()
    try:
        resolved = target.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"{root}: bundle file {relative} is missing") from None
    except OSError as exc:
        raise InputError(f"{root}: bundle file {relative}: {exc.strerror or exc}") from exc
    if not resolved.is_relative_to(resolved_root) or not resolved.is_file():
        raise InputError(f"{root}: bundle file {relative} points outside the bundle: refused")
    if resolved.stat().st_size > limit:
        raise InputError(f"{root}: bundle file {relative} is larger than {limit} bytes: refused")
    return resolved.read_bytes()


def _manifest(data: bytes, where: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: manifest.json is not valid JSON ({exc})") from exc
    schema = manifest.get("schema") if isinstance(manifest, dict) else None
    if schema != SCHEMA:
        raise InputError(f"{where}: manifest.json has schema {schema!r}, expected '{SCHEMA}'")
    if not isinstance(manifest.get("files"), list):
        raise InputError(f"{where}: manifest.json lists no files")
    problem = manifest_problem(manifest)
    if problem:
        raise InputError(f"{where}: manifest.json is malformed: {problem}")
    return manifest


def read_bundle_files(
    path: Path, limits: BundleLimits | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the files it lists, each checked against its size and SHA-256."""
    limits = limits or BundleLimits()
    if path.is_dir():
        manifest = _manifest(_read_folder_file(path, MANIFEST, MAX_MANIFEST_BYTES), path)
        listed = [entry.get("path") for entry in manifest["files"]]
        available: dict[str, bytes] = {}
        total = 0
        for name in listed:
            if not isinstance(name, str):
                raise InputError(f"{path}: manifest.json lists a file without a path")
            data = _read_folder_file(path, name, limits.max_total_bytes - total)
            total += len(data)
            available[_checked_relative(name)] = data
    else:
        available = _read_tar(path, limits)
        if MANIFEST not in available:
            raise InputError(f"{path}: no manifest.json in the archive: not a claude-perf bundle")
        manifest = _manifest(available[MANIFEST], path)
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        name = _checked_relative(str(entry.get("path")))
        if name not in available:
            raise InputError(f"{path}: bundle file {name} listed in manifest.json is missing")
        data = available[name]
        if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get(
            "sha256"
        ):
            raise InputError(f"{path}: bundle file {name} does not match manifest.json (damaged?)")
        files[name] = data
    return manifest, files


def _samples_frame(data: bytes, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    records = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    frame = pd.DataFrame.from_records(records, columns=columns)
    if "ts" in frame.columns:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").astype(
            "datetime64[ns, UTC]"
        )
    for column in frame.columns:
        if column in _FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        elif column in _TEXT_COLUMNS:
            frame[column] = frame[column].astype("object")
    return frame


def read_bundle(path: str | Path, limits: BundleLimits | None = None) -> Session:
    """A bundle (folder or .tar.gz) back into a Session, as the report needs it."""
    from claude_perf.ingest.files import combine, read_log

    where = Path(path)
    manifest, files = read_bundle_files(where, limits)
    tables, infos, counts = [], [], []
    for container in manifest.get("containers", []):
        log = container.get("log")
        if not log:
            continue
        name = _checked_relative(str(log))
        if name not in files:
            raise InputError(f"{where}: log {name} is not listed among the bundle's files")
        table, info, count = read_log(f"{where}/{name}", files[name])
        tables.append(table)
        infos.append(info)
        counts.append(count)
    merged = combine(tables, infos, counts)
    facts = manifest.get("logs") or {}
    original_inputs = tuple(
        InputInfo(
            path=str(i.get("path")),
            form=str(i.get("form")),
            lines=int(i.get("lines") or 0),
            bytes=int(i.get("bytes") or 0),
            notes=tuple(i.get("notes") or ()),
        )
        for i in facts.get("inputs", [])
    )
    # The bundle's own lines were written clean; the reading facts are the original inputs'.
    logs = LogLines(
        table=merged.table,
        inputs=original_inputs or merged.inputs,
        invalid_utf8_lines=int(facts.get("invalid_utf8_lines", merged.invalid_utf8_lines)),
        partial_merged=int(facts.get("partial_lines_merged", merged.partial_merged)),
        broken_json_lines=int(facts.get("broken_json_lines", merged.broken_json_lines)),
        duplicate_lines=int(facts.get("duplicate_lines", 0)) + merged.duplicate_lines,
        notes=tuple(facts.get("notes", merged.notes)),
        sources=bundle_sources(
            facts.get("sources"), [i.path for i in original_inputs], merged.sources
        ),
    )
    samples = None
    samples_facts = manifest.get("samples")
    if isinstance(samples_facts, Mapping):
        name = _checked_relative(str(samples_facts.get("file", SAMPLES_FILE)))
        if name not in files:
            raise InputError(f"{where}: samples file {name} is missing from the bundle")
        columns = list(samples_facts.get("columns") or SAMPLE_COLUMNS)
        samples = _samples_frame(files[name], columns)
    containers: tuple[dict[str, Any], ...] = ()
    if CONTAINERS_FILE in files:
        try:
            loaded = json.loads(files[CONTAINERS_FILE])
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: {CONTAINERS_FILE} is not valid JSON ({exc})") from exc
        containers = tuple(c for c in loaded if isinstance(c, dict))
    interval = manifest.get("sample_interval_s")
    clients = read_own(f"{where}/{CLIENTS_FILE}", files.get(CLIENTS_FILE, b"").decode())
    return Session(
        logs=logs,
        samples=samples,
        containers=containers,
        sample_interval_s=float(interval) if isinstance(interval, int | float) else None,
        origin="bundle",
        # Only what the collect recorded (gaps): a bundle must re-make the very same summary.
        notes=tuple(str(n) for n in manifest.get("session_notes", [])) + clients.notes,
        clients=clients.records,
    )
