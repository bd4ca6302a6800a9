"""The embedded store: one SQLite file holding collected log lines, samples, events and facts.

Where: ``--store PATH``, else ``$CLAUDE_PERF_STORE``, else ``.claude-perf/claude-perf.db`` in the
working directory. The file is created 0600 (its folder 0700) before SQLite opens it, because
logs can hold secrets; SQLite gives its ``-wal``/``-shm`` files the same mode as the database.

Consistency: WAL journal, and every batch (log lines plus the collection cursor that covers them,
a round of samples, a set of events) is one transaction, so a collect killed at any moment,
SIGKILL included, leaves the last committed batch and nothing half-written. A batch's log lines
are stored as one block (schema migration 5), leaving out every line (container, engine
timestamp in ns, stream, text) the store already holds, so fetching a window again (overlapping
``--since``, a boundary line, a resumed collect) never stores a line twice.

This module opens the store and writes to it; the tables are in ``claude_perf.store.schema``,
the window queries a report reads in ``claude_perf.store.read``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.errors import StoreError
from claude_perf.runtime.private_files import make_private_dirs, open_private, tighten
from claude_perf.store import blocks
from claude_perf.store.schema import MIGRATIONS, SAMPLE_FIELDS, statements

if TYPE_CHECKING:
    from claude_perf.ingest.session import Sample

STORE_ENV = "CLAUDE_PERF_STORE"
DEFAULT_DIR_NAME = ".claude-perf"
DEFAULT_STORE = Path(DEFAULT_DIR_NAME) / "claude-perf.db"
BUSY_TIMEOUT_MS = 30_000


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


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the new file: the
    switch takes an exclusive lock and does not wait on the busy timeout, so two first opens of
    one store (two engines' threads, two collect processes) raced into "database is locked"."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # a lock held for one statement: retry, bounded by the deadline


def _create_private(path: Path) -> list[str]:
    """Create the database file 0600 (and its folder 0700) before SQLite opens it; an existing
    store more open than that is tightened (and its own folder, ``.claude-perf``), with notes."""
    parent = path.parent
    if not parent.exists():
        try:
            make_private_dirs(parent)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {parent}: {exc.strerror}") from exc
    if path.is_symlink():  # SQLite would follow it: the store is never written through a link
        raise StoreError(f"the store {path} is a symbolic link: refused; give its real path")
    notes: list[str] = []
    try:
        if parent.name == DEFAULT_DIR_NAME:  # the tool's own folder; never a shared one like /tmp
            notes.append(tighten(parent, "store folder") or "")
        if path.exists():
            notes.append(tighten(path, "store") or "")
            for suffix in ("-wal", "-shm"):
                notes.append(tighten(path.with_name(path.name + suffix), "store") or "")
            return [n for n in notes if n]
        os.close(open_private(path))
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror or exc}") from exc
    return [n for n in notes if n]


class Store:
    """An open store. Use as a context manager; one thread at a time uses it."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        # Notes for the user: a store that was more open than 0600 and was tightened.
        self.notes: list[str] = []
        if not create and not self.path.is_file():
            raise StoreError(f"no store at {self.path}: run `claude-perf collect` first")
        self.notes = _create_private(self.path)
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
                mode = _switch_to_wal(self.conn)
                if mode != "wal":
                    raise StoreError(f"{self.path}: cannot switch the store to WAL mode")
            # NORMAL in WAL mode: a committed batch survives a killed process, SIGKILL included
            # (not a power cut). It syncs only at checkpoints, not per commit, so OFF during
            # bulk inserts measured no faster (1M lines: 1.07 s either way) and would only add
            # the risk of a damaged store after an OS crash: it stays NORMAL.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.migrate()
            # The last block stored, (container key, block id, rows): the next batch of a
            # collect is compared with it without decoding it again (Store.add_lines). One
            # only: a Store's containers are collected one after another.
            self._last_block: tuple[int, int, list[tuple[int, str, str]]] | None = None
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

        # A migration may rebuild a table others refer to (3: containers): foreign keys are off
        # while migrating (the pragma is a no-op inside a transaction, so it is set around them).
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for number in range(version + 1, len(migrations) + 1):
                with self.transaction() as conn:
                    # Another process opening the same new store may have applied it since
                    # the version was read: checked again under the write lock.
                    if self.schema_version() >= number:
                        continue
                    for statement in statements(migrations[number - 1]):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version VALUES (?, ?)", (number, now_ns()))
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        return len(migrations)

    # ----------------------------------------------------------------- containers

    def container_key(self, container_id: str, engine: str | None = None) -> int | None:
        """The store's key for a container id (on this engine id, when given), None if unknown."""
        if engine is None:
            row = self.conn.execute(
                "SELECT key FROM containers WHERE id = ? ORDER BY key", (container_id,)
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT key FROM containers WHERE engine = ? AND id = ?", (engine, container_id)
            ).fetchone()
        return None if row is None else int(row[0])

    def save_container(self, facts: Mapping[str, Any]) -> int:
        """Insert or update a container's facts (keeping health probes seen earlier).

        A container is (engine id, container id): ``facts["engine"]["id"]`` when the collector
        knows its engine, else ''. A row stored before engines were recorded (engine '') is
        adopted by the first engine that reports its container id again, so its cursor and
        lines carry on rather than being fetched a second time under a new key.
        """
        from claude_perf.durations import now_ns

        cid = str(facts["id"])
        engine = str((facts.get("engine") or {}).get("id") or "")
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT key, facts FROM containers WHERE engine = ? AND id = ?", (engine, cid)
            ).fetchone()
            if row is None and engine:
                row = conn.execute(
                    "SELECT key, facts FROM containers WHERE engine = '' AND id = ?", (cid,)
                ).fetchone()
            merged = dict(facts)
            if row is not None:
                old = json.loads(row[1])
                merged["health_log"] = _merge_probes(
                    old.get("health_log") or [], facts.get("health_log") or []
                )
                conn.execute(
                    "UPDATE containers SET engine = ?, name = ?, image = ?, facts = ?, "
                    "updated_ns = ? WHERE key = ?",
                    (
                        engine,
                        merged.get("name") or cid[:12],
                        merged.get("image"),
                        json.dumps(merged),
                        now_ns(),
                        row[0],
                    ),
                )
                return int(row[0])
            cursor = conn.execute(
                "INSERT INTO containers (engine, id, name, image, facts, updated_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    engine,
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

        The lines not stored yet become a block (schema migration 5, store/blocks.py; more
        than blocks.MAX_BLOCK_LINES become several),
        encoded with a few C-level joins for the whole batch, so there is no Python work per
        line here and the GIL is released for the one insert (the collector's reader thread
        runs meanwhile).
        """
        from claude_perf.durations import now_ns

        with self.transaction() as conn:
            found = conn.execute("SELECT 1 FROM containers WHERE key = ?", (key,)).fetchone()
            if found is None:
                raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: container {key}")
            fresh, low, high = self._unstored(conn, key, rows)
            block_id, part = None, fresh
            for at in range(0, len(fresh), blocks.MAX_BLOCK_LINES):
                part = fresh[at : at + blocks.MAX_BLOCK_LINES]
                first, last = low, high
                if len(part) < len(rows):
                    first, last = min(r[0] for r in part), max(r[0] for r in part)
                block_id = conn.execute(
                    "INSERT INTO log_blocks (container_key, min_ts_ns, max_ts_ns, lines, "
                    "text_chars, form, ts, streams, texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, first, last, len(part), *blocks.encode(part)),
                ).lastrowid
            if rows:
                self._advance(conn, key, from_ns, high, now_ns())
        if block_id is not None:  # committed: the next batch compares with it from memory
            self._last_block = (key, int(block_id), part)
        return len(fresh)

    def _unstored(
        self, conn: sqlite3.Connection, key: int, rows: Sequence[tuple[int, str, str]]
    ) -> tuple[list[tuple[int, str, str]], int, int]:
        """The rows of a batch not stored yet (nor earlier in the batch), in their order, and
        the batch's first and last time.

        Only blocks whose time span meets the batch's are read: in a collect that runs
        forward, the last block or none (it is kept in memory, so not decoded again), and a
        few more where a collect fetches again from before its cursor.
        """
        if not rows:
            return [], 0, 0
        times = [row[0] for row in rows]
        low, high = min(times), max(times)
        stored: set[tuple[int, str, str]] = set()
        spans = conn.execute(
            "SELECT id FROM log_blocks WHERE container_key = ? AND max_ts_ns >= ? "
            "AND min_ts_ns <= ?",
            (key, low, high),
        ).fetchall()
        last = self._last_block
        for (block_id,) in spans:
            if last is not None and last[:2] == (key, block_id):
                old = last[2]
            else:
                old = blocks.decode_rows(
                    conn.execute(
                        "SELECT form, ts, streams, texts FROM log_blocks WHERE id = ?",
                        (block_id,),
                    ).fetchone()
                )
            stored.update((r[0], r[1], r[2]) for r in old if low <= r[0] <= high)
        if not stored and len(set(times)) == len(times):
            return list(rows), low, high  # the usual case: nothing stored meets it, no tie
        fresh = []
        for row in rows:
            line = (row[0], row[1], row[2])
            if line not in stored:
                stored.add(line)
                fresh.append(line)
        return fresh, low, high

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
            row = self.conn.execute("SELECT SUM(lines) FROM log_blocks").fetchone()
        else:
            row = self.conn.execute(
                "SELECT SUM(lines) FROM log_blocks WHERE container_key = ?", (key,)
            ).fetchone()
        return int(row[0] or 0)

    # ----------------------------------------------------------------- samples and events

    def add_samples(self, rows: Iterable[tuple[int, Sample]]) -> int:
        """Store one round of (container key, sample) in one transaction; returns rows new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO samples (container_key, ts_ns, {', '.join(SAMPLE_FIELDS)},"
                f" cgroup) VALUES (?, ?, {', '.join('?' * len(SAMPLE_FIELDS))}, ?)",
                (
                    (key, s.ts_ns, *(_real(getattr(s, f)) for f in SAMPLE_FIELDS), s.cgroup)
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
