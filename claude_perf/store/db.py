"""The embedded store: one SQLite file holding collected log lines, samples, events and facts.

Where: ``--store PATH``, else ``$CLAUDE_PERF_STORE``, else ``.claude-perf/claude-perf.db`` in the
working directory. The file is created 0600 (its folder 0700) before SQLite opens it, because
logs can hold secrets; SQLite gives its ``-wal``/``-shm`` files the same mode as the database.

Consistency: WAL journal, and every batch (log lines plus the collection cursor that covers them,
a round of samples, a set of events) is one transaction, so a collect killed at any moment,
SIGKILL included, leaves the last committed batch and nothing half-written. Log lines are keyed
by (container, engine timestamp in ns, stream, text) and inserted with ``INSERT OR IGNORE``, so
fetching a window again (overlapping ``--since``, a boundary line, a resumed collect) never
stores a line twice.

Schema changes are numbered migrations recorded in ``schema_version``; opening a store applies
the missing ones in order, each in its own transaction.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.durations import MAX_NS, NAT_NS
from claude_perf.errors import StoreError
from claude_perf.ingest.session import SAMPLE_COLUMNS

if TYPE_CHECKING:
    from claude_perf.collect.stats import Sample
    from claude_perf.ingest.session import Session

STORE_ENV = "CLAUDE_PERF_STORE"
DEFAULT_STORE = Path(".claude-perf") / "claude-perf.db"
BUSY_TIMEOUT_MS = 30_000
_FETCH_ROWS = 65_536

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema.
    """
    CREATE TABLE containers (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        image TEXT,
        facts TEXT NOT NULL,
        updated_ns INTEGER NOT NULL
    );
    -- The key is the line itself: a WITHOUT ROWID table stores it once, in key order, which is
    -- also the order every window query reads (container, then time).
    CREATE TABLE log_lines (
        container_key INTEGER NOT NULL REFERENCES containers(key),
        ts_ns INTEGER NOT NULL,
        stream TEXT NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (container_key, ts_ns, stream, line)
    ) WITHOUT ROWID;
    CREATE TABLE samples (
        container_key INTEGER NOT NULL REFERENCES containers(key),
        ts_ns INTEGER NOT NULL,
        cpu_pct REAL,
        online_cpus REAL,
        mem_used_bytes REAL,
        mem_limit_bytes REAL,
        mem_pct REAL,
        net_rx_bytes REAL,
        net_tx_bytes REAL,
        blk_read_bytes REAL,
        blk_write_bytes REAL,
        pids REAL,
        cgroup TEXT,
        PRIMARY KEY (container_key, ts_ns)
    );
    CREATE TABLE events (
        container_key INTEGER NOT NULL REFERENCES containers(key),
        time_ns INTEGER NOT NULL,
        action TEXT NOT NULL,
        attributes TEXT,
        PRIMARY KEY (container_key, time_ns, action)
    );
    -- Per container: every line with ts_ns <= log_ts_ns and >= from_ns is stored.
    CREATE TABLE cursors (
        container_key INTEGER PRIMARY KEY REFERENCES containers(key),
        from_ns INTEGER NOT NULL,
        log_ts_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL
    );
    """,
    # 2: a record of each collect run (what it asked, what came, what it could not get).
    """
    CREATE TABLE collections (
        id INTEGER PRIMARY KEY,
        started_ns INTEGER NOT NULL,
        finished_ns INTEGER,
        interrupted INTEGER NOT NULL DEFAULT 0,
        request TEXT NOT NULL,
        outcome TEXT
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# The measured figures of a sample: the session schema less who and when (stored as keys).
_SAMPLE_FIELDS = tuple(
    c for c in SAMPLE_COLUMNS if c not in ("ts", "container_id", "container_name", "cgroup")
)


def store_path(option: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The store to use: the option, else ``$CLAUDE_PERF_STORE``, else the default path."""
    if option:
        return Path(option)
    env = os.environ if environ is None else environ
    if env.get(STORE_ENV):
        return Path(env[STORE_ENV])
    return DEFAULT_STORE


@dataclass(frozen=True)
class Cursor:
    """How far a container's logs are stored: every line in [from_ns, log_ts_ns]."""

    from_ns: int
    log_ts_ns: int


@dataclass(frozen=True)
class StoreQuery:
    """Which part of the store a report reads."""

    path: Path | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    containers: tuple[str, ...] = ()


def _create_private(path: Path) -> None:
    """Create the database file 0600 (and its folder 0700) before SQLite opens it."""
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {parent}: {exc.strerror}") from exc
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror}") from exc
    os.close(fd)


def _bounds(since_ns: int | None, until_ns: int | None) -> tuple[int, int]:
    """An inclusive SQL window; open ends become the widest int64 range."""
    return (NAT_NS if since_ns is None else since_ns, MAX_NS if until_ns is None else until_ns)


class Store:
    """An open store. Use as a context manager; one thread at a time uses it."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if create:
            _create_private(self.path)
        elif not self.path.is_file():
            raise StoreError(f"no store at {self.path}: run `claude-perf collect` first")
        try:
            self.conn = sqlite3.connect(
                f"file:{self.path}?mode=rw",
                uri=True,
                isolation_level=None,
                timeout=30,
                # The collector hands batches to one writer thread at a time (never two at once).
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                # Larger pages keep typical log lines inside their B-tree cell.
                if not self._version_table_exists():
                    self.conn.execute("PRAGMA page_size = 16384")
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise StoreError(f"{self.path}: cannot switch the store to WAL mode")
            # NORMAL in WAL mode: a committed batch survives a killed process, SIGKILL included
            # (not a power cut). It syncs only at checkpoints, not per commit, so OFF during
            # bulk inserts measured no faster (1M lines: 1.07 s either way) and would only add
            # the risk of a damaged store after an OS crash: it stays NORMAL.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.migrate()
            self._json_rows = _has_json(self.conn)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{self.path}: not a claude-perf store or damaged ({exc})") from exc

    # ----------------------------------------------------------------- life cycle

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (committed batches are already safe)."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One batch: BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: the store is busy or read-only ({exc})") from exc
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot commit ({exc})") from exc

    def _version_table_exists(self) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        return row is not None

    def schema_version(self) -> int:
        """The migration level of this file (0 for an empty file)."""
        if not self._version_table_exists():
            return 0
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        """Apply the missing migrations in order; returns the resulting version."""
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_ns INTEGER NOT NULL)"
            )
        version = self.schema_version()
        if version > len(migrations):
            raise StoreError(
                f"{self.path}: written by a newer claude-perf (schema {version}, this one knows "
                f"{len(migrations)}); upgrade claude-perf"
            )
        from claude_perf.durations import now_ns

        for number in range(version + 1, len(migrations) + 1):
            with self.transaction() as conn:
                for statement in _statements(migrations[number - 1]):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (number, now_ns()))
        return len(migrations)

    # ----------------------------------------------------------------- containers

    def container_key(self, container_id: str) -> int | None:
        """The store's key for an engine container id, None when unknown."""
        row = self.conn.execute(
            "SELECT key FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def save_container(self, facts: Mapping[str, Any]) -> int:
        """Insert or update a container's facts (keeping health probes seen earlier)."""
        from claude_perf.durations import now_ns

        cid = str(facts["id"])
        with self.transaction() as conn:
            row = conn.execute("SELECT key, facts FROM containers WHERE id = ?", (cid,)).fetchone()
            merged = dict(facts)
            if row is not None:
                old = json.loads(row[1])
                merged["health_log"] = _merge_probes(
                    old.get("health_log") or [], facts.get("health_log") or []
                )
                conn.execute(
                    "UPDATE containers SET name = ?, image = ?, facts = ?, updated_ns = ? "
                    "WHERE key = ?",
                    (
                        merged.get("name") or cid[:12],
                        merged.get("image"),
                        json.dumps(merged),
                        now_ns(),
                        row[0],
                    ),
                )
                return int(row[0])
            cursor = conn.execute(
                "INSERT INTO containers (id, name, image, facts, updated_ns) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    cid,
                    merged.get("name") or cid[:12],
                    merged.get("image"),
                    json.dumps(merged),
                    now_ns(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def containers(self) -> list[dict[str, Any]]:
        """Every stored container's facts, with its key, ordered by name."""
        rows = self.conn.execute("SELECT key, facts FROM containers ORDER BY name, key")
        return [{**json.loads(facts), "_key": int(key)} for key, facts in rows]

    # ----------------------------------------------------------------- logs

    def cursor(self, key: int) -> Cursor | None:
        """How far this container's logs are stored, None before the first batch."""
        row = self.conn.execute(
            "SELECT from_ns, log_ts_ns FROM cursors WHERE container_key = ?", (key,)
        ).fetchone()
        return None if row is None else Cursor(int(row[0]), int(row[1]))

    def add_lines(self, key: int, rows: Sequence[tuple[int, str, str]], from_ns: int) -> int:
        """Store a batch of (ts_ns, stream, text) and advance the cursor, in one transaction.

        ``from_ns`` is where this fetch started; the cursor covers [from_ns, last ts stored]
        once joined with what it covered before. Returns how many lines were new.
        """
        from claude_perf.durations import now_ns

        # SQLite checks the container key's foreign key on every row (a lookup in containers
        # per line: 0.12 s of CPU per 1M lines); the key is the same for the whole batch, so it
        # is checked once here instead. The pragma takes effect outside a transaction only.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction() as conn:
                found = conn.execute("SELECT 1 FROM containers WHERE key = ?", (key,)).fetchone()
                if found is None:
                    raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: container {key}")
                before = conn.total_changes
                # The whole batch as one JSON array in ONE statement: the rows are encoded by
                # the json module's C encoder and unpacked by SQLite, so there is no Python work
                # per line here and the GIL is released once per batch rather than once per row
                # (the collector's reader thread runs meanwhile). SQLite's JSON functions cut a
                # text at a NUL character: such a batch (rare) goes row by row.
                payload = (
                    json.dumps(rows, ensure_ascii=False, check_circular=False)
                    if self._json_rows
                    else None
                )
                if payload is not None and "\\u0000" not in payload:
                    conn.execute(
                        "INSERT OR IGNORE INTO log_lines (container_key, ts_ns, stream, line) "
                        "SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                        "json_extract(value, '$[2]') FROM json_each(?)",
                        (key, payload),
                    )
                else:
                    conn.executemany(
                        "INSERT OR IGNORE INTO log_lines (container_key, ts_ns, stream, line) "
                        "VALUES (?, ?, ?, ?)",
                        ((key, ts, stream, text) for ts, stream, text in rows),
                    )
                new = conn.total_changes - before
                if rows:
                    last = max(rows)[0]  # compared in C: by time first
                    self._advance(conn, key, from_ns, last, now_ns())
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        return new

    def mark_covered(self, key: int, from_ns: int, to_ns: int) -> None:
        """Record that a fetch covering [from_ns, to_ns] completed (even with no new lines)."""
        from claude_perf.durations import now_ns

        with self.transaction() as conn:
            self._advance(conn, key, from_ns, to_ns, now_ns())

    @staticmethod
    def _advance(conn: sqlite3.Connection, key: int, from_ns: int, to_ns: int, at: int) -> None:
        # Coverage only ever describes lines really stored. A fetch that starts within the
        # covered range extends it; one that starts before it joins it once the fetch has
        # reached the range (until then the old range stands: re-fetching is harmless); one that
        # starts after it leaves a hole, so coverage restarts at the fetch's own start.
        conn.execute(
            """
            INSERT INTO cursors (container_key, from_ns, log_ts_ns, updated_ns)
            VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (container_key) DO UPDATE SET
                from_ns = CASE
                    WHEN ?2 > cursors.log_ts_ns THEN ?2
                    WHEN ?2 >= cursors.from_ns THEN cursors.from_ns
                    WHEN ?3 >= cursors.from_ns THEN ?2
                    ELSE cursors.from_ns END,
                log_ts_ns = CASE
                    WHEN ?2 > cursors.log_ts_ns THEN ?3
                    WHEN ?2 >= cursors.from_ns OR ?3 >= cursors.from_ns
                        THEN MAX(cursors.log_ts_ns, ?3)
                    ELSE cursors.log_ts_ns END,
                updated_ns = ?4
            """,
            (key, from_ns, to_ns, at),
        )

    def line_count(self, key: int | None = None) -> int:
        """Stored lines, for one container or all."""
        if key is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM log_lines").fetchone()[0])
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM log_lines WHERE container_key = ?", (key,)
            ).fetchone()[0]
        )

    def iter_lines(
        self, key: int, since_ns: int | None = None, until_ns: int | None = None
    ) -> Iterator[list[tuple[int, str, str]]]:
        """Chunks of (ts_ns, stream, text) in time order within the window (bounds inclusive)."""
        low, high = _bounds(since_ns, until_ns)
        cursor = self.conn.execute(
            "SELECT ts_ns, stream, line FROM log_lines "
            "WHERE container_key = ? AND ts_ns BETWEEN ? AND ? ORDER BY ts_ns",
            (key, low, high),
        )
        while True:
            chunk = cursor.fetchmany(_FETCH_ROWS)
            if not chunk:
                return
            yield chunk

    # ----------------------------------------------------------------- samples and events

    def add_samples(self, rows: Iterable[tuple[int, Sample]]) -> int:
        """Store one round of (container key, sample) in one transaction; returns rows new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO samples (container_key, ts_ns, {', '.join(_SAMPLE_FIELDS)},"
                f" cgroup) VALUES (?, ?, {', '.join('?' * len(_SAMPLE_FIELDS))}, ?)",
                (
                    (key, s.ts_ns, *(_real(getattr(s, f)) for f in _SAMPLE_FIELDS), s.cgroup)
                    for key, s in rows
                ),
            )
            return conn.total_changes - before

    def add_events(self, key: int, events: Iterable[tuple[int, str, Mapping[str, Any]]]) -> int:
        """Store engine events (time_ns, action, attributes) once each; returns rows new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events (container_key, time_ns, action, attributes) "
                "VALUES (?, ?, ?, ?)",
                ((key, t, action, json.dumps(dict(attrs))) for t, action, attrs in events),
            )
            return conn.total_changes - before

    def events(
        self, key: int, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[tuple[int, str]]:
        """(time_ns, action) of a container's events within the window, in time order."""
        low, high = _bounds(since_ns, until_ns)
        rows = self.conn.execute(
            "SELECT time_ns, action FROM events WHERE container_key = ? AND time_ns BETWEEN ? "
            "AND ? ORDER BY time_ns, action",
            (key, low, high),
        )
        return [(int(t), str(a)) for t, a in rows]

    def sample_rows(
        self, since_ns: int | None, until_ns: int | None, keys: Sequence[int]
    ) -> list[tuple[Any, ...]]:
        """Raw sample rows (container id, name, ts_ns, fields…, cgroup) for the window."""
        if not keys:
            return []
        low, high = _bounds(since_ns, until_ns)
        marks = ", ".join("?" * len(keys))
        return list(
            self.conn.execute(
                f"SELECT c.id, c.name, s.ts_ns, {', '.join('s.' + f for f in _SAMPLE_FIELDS)}, "
                f"s.cgroup FROM samples s JOIN containers c ON c.key = s.container_key "
                f"WHERE s.container_key IN ({marks}) AND s.ts_ns BETWEEN ? AND ? "
                f"ORDER BY c.name, s.ts_ns",
                (*keys, low, high),
            )
        )

    # ----------------------------------------------------------------- collection runs

    def begin_collection(self, request: Mapping[str, Any]) -> int:
        """Record that a collect started (what it was asked)."""
        from claude_perf.durations import now_ns

        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO collections (started_ns, request) VALUES (?, ?)",
                (now_ns(), json.dumps(dict(request))),
            )
            return int(cursor.lastrowid or 0)

    def collection_gaps(
        self, since_ns: int | None, until_ns: int | None, names: Sequence[str]
    ) -> list[str]:
        """Gaps recorded by collects of these containers whose span meets the window.

        A collect's span runs from the ``--since`` it was asked (the start of the logs when
        none) to when it finished (or started, when it never finished).
        """
        low, high = _bounds(since_ns, until_ns)
        wanted = set(names)
        gaps: list[str] = []
        rows = self.conn.execute(
            "SELECT started_ns, finished_ns, request, outcome FROM collections "
            "WHERE outcome IS NOT NULL ORDER BY started_ns, id"
        )
        for started, finished, request_json, outcome_json in rows:
            try:
                request, outcome = json.loads(request_json), json.loads(outcome_json)
            except ValueError:
                continue
            notes = outcome.get("gaps") or []
            if not notes or not wanted & set(request.get("containers") or ()):
                continue
            span_low = request.get("since_ns") or NAT_NS
            span_high = finished or started
            if span_low <= high and span_high >= low:
                from claude_perf.durations import from_ns, iso

                at = iso(from_ns(int(started)))
                gaps += [f"the collect started {at} noted: {note}" for note in notes]
        return gaps

    def finish_collection(
        self, collection_id: int, outcome: Mapping[str, Any], interrupted: bool
    ) -> None:
        """Record how a collect ended."""
        from claude_perf.durations import now_ns

        with self.transaction() as conn:
            conn.execute(
                "UPDATE collections SET finished_ns = ?, interrupted = ?, outcome = ? WHERE id = ?",
                (now_ns(), int(interrupted), json.dumps(dict(outcome)), collection_id),
            )


def _has_json(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in since 3.38, usually long before)."""
    try:
        conn.execute("SELECT json_extract(value, '$[0]') FROM json_each('[[1]]')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _real(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _merge_probes(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Health probes from earlier inspects plus new ones, once each, in start order.

    The engine keeps only the last five probes in ``State.Health.Log``; collecting again keeps
    the older ones here.
    """
    by_start: dict[str, dict[str, Any]] = {}
    for probe in [*old, *new]:
        by_start[str(probe.get("start"))] = dict(probe)
    return [by_start[k] for k in sorted(by_start)]


def _ns_bound(value: int | datetime | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from claude_perf.durations import to_ns

    return to_ns(value)


def _select(
    stored: list[dict[str, Any]], wanted: Sequence[str], path: Path
) -> list[dict[str, Any]]:
    if not wanted:
        return stored
    chosen = []
    for name in wanted:
        bare = name.lstrip("/")
        hits = [c for c in stored if c.get("name") == bare or str(c["id"]).startswith(bare)]
        if not hits:
            known = ", ".join(sorted({str(c.get("name")) for c in stored})) or "none"
            raise StoreError(f"no container '{name}' in the store {path} (stored: {known})")
        chosen += [c for c in hits if c not in chosen]
    return chosen


def load_session(
    path: Path | str,
    since: int | datetime | None = None,
    until: int | datetime | None = None,
    containers: Sequence[str] = (),
) -> Session:
    """Build a Session (lines, samples, facts) from the store for a window.

    ``since``/``until`` are inclusive bounds (UTC datetimes or integer ns); ``containers``
    selects by name or id prefix (default: every stored container).
    """
    import pyarrow as pa

    from claude_perf.durations import from_ns, iso
    from claude_perf.ingest.files import InputInfo, combine
    from claude_perf.ingest.session import SAMPLE_COLUMNS, Session

    store_file = Path(path)
    since_ns, until_ns = _ns_bound(since), _ns_bound(until)
    with Store(store_file, create=False) as store:
        chosen = _select(store.containers(), containers, store_file)
        tables, infos, counts, facts = [], [], [], []
        for container in chosen:
            key = int(container.pop("_key"))
            ts: list[int] = []
            streams: list[str] = []
            texts: list[str] = []
            for chunk in store.iter_lines(key, since_ns, until_ns):
                for t, s, x in chunk:
                    ts.append(t)
                    streams.append(s)
                    texts.append(x)
            table = pa.table(
                {
                    "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
                    "stream": pa.array(streams, pa.string()),
                    "text": pa.array(texts, pa.large_string()),
                }
            )
            size = sum(len(x) for x in texts)
            del ts, streams, texts
            label = f"store:{container.get('name') or container['id'][:12]}"
            tables.append(table)
            infos.append(InputInfo(label, "store", table.num_rows, size))
            counts.append({"invalid_utf8": 0, "partial_merged": 0, "broken_json": 0})
            container["events"] = [
                {"time": iso(from_ns(t)), "action": a}
                for t, a in store.events(key, since_ns, until_ns)
            ]
            container["_key"] = key
            facts.append(container)
        raw = store.sample_rows(since_ns, until_ns, [int(c["_key"]) for c in facts])
        gaps = store.collection_gaps(since_ns, until_ns, [str(c.get("name")) for c in facts])
    for container in facts:
        container.pop("_key", None)
    logs = combine(tables, infos, counts)
    samples = _samples_frame(raw, SAMPLE_COLUMNS) if raw else None
    notes: list[str] = []
    if not chosen:
        notes.append(f"the store {store_file} holds no container yet")
    elif logs.table.num_rows == 0:
        notes.append("the store holds no log line in the asked window")
    notes += gaps
    return Session(
        logs=logs,
        samples=samples,
        containers=tuple(facts),
        sample_interval_s=_median_interval_s(samples),
        origin="store",
        notes=tuple(notes),
    )


def _samples_frame(raw: list[tuple[Any, ...]], columns: Sequence[str]) -> Any:
    import pandas as pd

    names = ["container_id", "container_name", "ts_ns", *_SAMPLE_FIELDS, "cgroup"]
    frame = pd.DataFrame.from_records(raw, columns=names)
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ts_ns").astype("int64"), unit="ns", utc=True))
    for field in _SAMPLE_FIELDS:
        frame[field] = pd.to_numeric(frame[field], errors="coerce").astype("float64")
    frame["container_id"] = frame["container_id"].astype("object")
    frame["container_name"] = frame["container_name"].astype("object")
    frame["cgroup"] = frame["cgroup"].astype("object")
    return frame.loc[:, list(columns)]


def _median_interval_s(samples: Any) -> float | None:
    if samples is None or len(samples) < 2:
        return None
    gaps = (
        samples.sort_values(["container_id", "ts"])
        .groupby("container_id")["ts"]
        .diff()
        .dropna()
        .dt.total_seconds()
    )
    return None if gaps.empty else float(gaps.median())
