"""The store's tables: numbered migrations, recorded in ``schema_version``.

Opening a store applies the missing migrations in order, each in its own transaction
(``Store.migrate``). A change to the schema is a new migration at the end, never an edit of one
already released.
"""

from __future__ import annotations

from claude_perf.ingest.session import SAMPLE_COLUMNS

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
    # 3: what clients saw (claude-perf/client-record/1 lines, as `claude-perf load` writes them);
    # read by their start time (store/clients.py).
    """
    CREATE TABLE client_records (
        tool TEXT NOT NULL,
        id TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (tool, id, start_ns)
    );
    CREATE INDEX client_records_by_start ON client_records (start_ns);
    """,
    # 4: containers are keyed by (engine, container id): a session spans several engines, and
    # a container id seen on two engines stays two containers (two sources, two cursors). Rows
    # of older stores get engine '' and are adopted by the first collect that meets them again
    # (Store.save_container). SQLite cannot drop a UNIQUE constraint in place: the table is
    # rebuilt, keeping its keys (log lines, samples, events and cursors refer to them); the
    # migration runs with foreign keys off, as https://sqlite.org/lang_altertable.html#otheralter
    # prescribes.
    """
    CREATE TABLE containers_v3 (
        key INTEGER PRIMARY KEY,
        engine TEXT NOT NULL DEFAULT '',
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        image TEXT,
        facts TEXT NOT NULL,
        updated_ns INTEGER NOT NULL,
        UNIQUE (engine, id)
    );
    INSERT INTO containers_v3 (key, engine, id, name, image, facts, updated_ns)
        SELECT key, '', id, name, image, facts, updated_ns FROM containers;
    DROP TABLE containers;
    ALTER TABLE containers_v3 RENAME TO containers;
    """,
    # 5: log lines in blocks, one row per stored batch (issue 13). A row per line cost about
    # 0.7 s of CPU per 1M lines in the B-tree of (container, time, stream, text), most of
    # collect's own work beside the parse; a block per batch of 20,000 lines, with its time
    # span indexed, costs a fraction of that, and a report reads it into Arrow columns without
    # a Python object per line. A block holds its lines in the order they arrived (readers
    # sort) in one of two forms: 'lines' (``ts`` the times as little-endian int64, ``streams``
    # and ``texts`` joined by newlines; a batch with a newline inside a text cannot take it)
    # or 'json' (``texts`` a JSON array of [ts_ns, stream, text]; ``ts`` and ``streams``
    # NULL). A line is stored once (Store.add_lines compares a batch with the blocks its time
    # span meets). ``text_chars`` (the texts' characters) sizes a window before it is read.
    # The rows of older stores move into 'json' blocks of at most 20,000 lines of one container
    # (blocks.MAX_BLOCK_LINES: a window is read a block at a time, so a block bounds its memory).
    """
    CREATE TABLE log_blocks (
        id INTEGER PRIMARY KEY,
        container_key INTEGER NOT NULL REFERENCES containers(key),
        min_ts_ns INTEGER NOT NULL,
        max_ts_ns INTEGER NOT NULL,
        lines INTEGER NOT NULL,
        text_chars INTEGER NOT NULL,
        form TEXT NOT NULL,
        ts BLOB,
        streams TEXT,
        texts TEXT NOT NULL
    );
    CREATE INDEX log_blocks_by_end ON log_blocks (container_key, max_ts_ns);
    INSERT INTO log_blocks (container_key, min_ts_ns, max_ts_ns, lines, text_chars, form, texts)
        SELECT container_key, MIN(ts_ns), MAX(ts_ns), COUNT(*), SUM(LENGTH(line)), 'json',
            json_group_array(json_array(ts_ns, stream, line))
        FROM (
            SELECT container_key, ts_ns, stream, line, (ROW_NUMBER() OVER (
                PARTITION BY container_key ORDER BY ts_ns, stream, line) - 1) / 20000 AS part
            FROM log_lines
        ) GROUP BY container_key, part;
    DROP TABLE log_lines;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# The measured figures of a sample: the session schema less who and when (stored as keys).
SAMPLE_FIELDS = tuple(
    c for c in SAMPLE_COLUMNS if c not in ("ts", "container_id", "container_name", "cgroup")
)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
