"""The embedded store without an engine: privacy, WAL, migrations, idempotent inserts, windows."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from claude_perf.errors import StoreError
from claude_perf.ingest.session import SAMPLE_COLUMNS, Sample
from claude_perf.store import db as store_mod
from claude_perf.store.db import Store, store_path
from claude_perf.store.read import load_session
from claude_perf.store.schema import MIGRATIONS, SCHEMA_VERSION
from claude_perf.store.window import iter_lines

S = 1_000_000_000
T0 = 1_700_000_000 * S


def facts(cid: str = "c" * 64, name: str = "proxy", **extra: object) -> dict[str, object]:
    return {"id": cid, "name": name, "image": "img", "health_log": [], **extra}


def sample(ts_ns: int, cpu: float, rx: float, cid: str = "c" * 64) -> Sample:
    nan = float("nan")
    return Sample(ts_ns, cid, "proxy", cpu, 2.0, 100.0, 1000.0, 10.0, rx, 0.0, nan, nan, 3.0, "v1")


def test_store_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_path(Path("x.db"), {"CLAUDE_PERF_STORE": "y.db"}) == Path("x.db")
    assert store_path(None, {"CLAUDE_PERF_STORE": "y.db"}) == Path("y.db")
    assert store_path(None, {}) == Path(".claude-perf/claude-perf.db")


def test_new_store_is_private_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "claude-perf.db"
    old = os.umask(0o022)
    try:
        with Store(path) as store:
            store.add_lines(store.save_container(facts()), [(T0, "stdout", "secret")], 0)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            wal = Path(str(path) + "-wal")
            assert wal.exists()
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600  # SQLite copies the db's mode
            mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
            assert mode == "wal"
            assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    finally:
        os.umask(old)


def store_at_version(path: Path, version: int) -> Store:
    """A store as an older release wrote it: only the first ``version`` migrations applied."""
    store = Store.__new__(Store)
    store.path = path
    store_mod._create_private(path)
    store.conn = sqlite3.connect(path, isolation_level=None)
    store.migrate(MIGRATIONS[:version])
    return store


def test_migrations_apply_in_order_to_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = store_at_version(path, 1)  # as the first release wrote it
    assert store.schema_version() == 1
    store.conn.execute("INSERT INTO containers VALUES (1, 'a', 'n', NULL, '{}', 0)")
    store.close()
    with Store(path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        tables = {r[0] for r in upgraded.conn.execute("SELECT name FROM sqlite_master")}
        assert {"collections", "client_records"} <= tables
        assert upgraded.container_key("a") == 1  # data kept across the migration
        rows = upgraded.conn.execute("SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as store:
        store.conn.execute("INSERT INTO schema_version VALUES (99, 0)")
    with pytest.raises(StoreError, match="newer claude-perf"):
        Store(path)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a claude-perf store"):
        Store(path)


def test_missing_store_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store at .*nothing\.db: run `claude-perf collect`"):
        load_session(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()  # reading never creates a store


def test_inserting_the_same_lines_twice_stores_them_once(tmp_path: Path) -> None:
    rows = [(T0 + i, "stdout" if i % 2 else "stderr", f"line {i}") for i in range(10)]
    with Store(tmp_path / "s.db") as store:
        key = store.save_container(facts())
        assert store.add_lines(key, rows, 0) == 10
        assert store.add_lines(key, [*rows[5:], (T0 + 99, "stdout", "new")], 0) == 1
        # same time and text but another stream is another line
        assert store.add_lines(key, [(T0, "stdout", "line 0")], 0) == 1
        assert store.line_count(key) == 12
        cursor = store.cursor(key)
        assert cursor is not None and cursor.from_ns == 0 and cursor.log_ts_ns == T0 + 99


def test_a_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        key = store.save_container(facts())
        bad = [(T0, "stdout", "ok"), (T0 + 1, "stdout", object())]  # unbindable mid-batch
        with pytest.raises((sqlite3.Error, TypeError)):  # TypeError: the batch's JSON encoding
            store.add_lines(key, bad, 0)  # type: ignore[arg-type]
        assert store.line_count(key) == 0
        assert store.cursor(key) is None


def test_lines_of_an_unknown_container_are_refused_and_foreign_keys_stay_on(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db") as store:
        key = store.save_container(facts())
        with pytest.raises(sqlite3.IntegrityError):
            store.add_lines(key + 1, [(T0, "stdout", "orphan")], 0)
        assert store.line_count() == 0 and store.cursor(key + 1) is None
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):  # checked by SQLite again
            store.conn.execute("INSERT INTO cursors VALUES (?, 0, 0, 0)", (key + 1,))
        assert store.add_lines(key, [(T0, "stdout", "kept")], 0) == 1


def test_cursor_only_claims_what_is_stored(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        key = store.save_container(facts())
        store.add_lines(key, [(T0 + 10 * S, "stdout", "a")], T0)
        # a later fetch starting inside the covered range extends it
        store.add_lines(key, [(T0 + 20 * S, "stdout", "b")], T0 + 9 * S)
        assert store.cursor(key) == store_mod.Cursor(T0, T0 + 20 * S)
        # a fetch from earlier that has not reached the range yet changes nothing
        store.add_lines(key, [(T0 - 50 * S, "stdout", "old")], T0 - 60 * S)
        assert store.cursor(key) == store_mod.Cursor(T0, T0 + 20 * S)
        # once it reaches the range, coverage starts at its start
        store.add_lines(key, [(T0 + 1 * S, "stdout", "c")], T0 - 60 * S)
        assert store.cursor(key) == store_mod.Cursor(T0 - 60 * S, T0 + 20 * S)
        # a fetch starting after the covered range leaves a hole: coverage restarts
        store.add_lines(key, [(T0 + 100 * S, "stdout", "d")], T0 + 90 * S)
        assert store.cursor(key) == store_mod.Cursor(T0 + 90 * S, T0 + 100 * S)


def test_health_probes_accumulate_across_inspects(tmp_path: Path) -> None:
    probe = {"start": "2025-01-01T00:00:0{}Z", "end": "x", "exit_code": 0, "output": ""}
    first = [dict(probe, start=probe["start"].format(i)) for i in range(5)]
    later = [dict(probe, start=probe["start"].format(i)) for i in range(3, 8)]
    with Store(tmp_path / "s.db") as store:
        store.save_container(facts(health_log=first))
        store.save_container(facts(health_log=later))
        (saved,) = store.containers()
    assert [p["start"][-2] for p in saved["health_log"]] == [str(i) for i in range(8)]


def test_load_session_window_and_selection(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        a = store.save_container(facts("a" * 64, "proxy"))
        b = store.save_container(facts("b" * 64, "other"))
        store.add_lines(a, [(T0 + i * S, "stdout", f"a{i}") for i in range(10)], 0)
        store.add_lines(b, [(T0 + i * S + 1, "stderr", f"b{i}") for i in range(10)], 0)
        store.add_samples(
            [(a, sample(T0 + i * S, float(i), 100.0 * i, "a" * 64)) for i in range(10)]
        )
        store.add_events(a, [(T0 + 2 * S, "start", {}), (T0 + 8 * S, "die", {"exitCode": "1"})])
        store.add_events(a, [(T0 + 2 * S, "start", {})])  # again: stored once
    session = load_session(path, T0 + 3 * S, T0 + 6 * S, ["proxy"])
    table = session.logs.table
    assert table.column("text").to_pylist() == ["a3", "a4", "a5", "a6"]  # bounds inclusive
    assert set(table.column("stream").to_pylist()) == {"stdout"}
    assert str(table.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
    assert session.origin == "store"
    assert session.samples is not None
    assert list(session.samples.columns) == list(SAMPLE_COLUMNS)
    assert session.samples["cpu_pct"].tolist() == [3.0, 4.0, 5.0, 6.0]
    assert session.samples["blk_read_bytes"].isna().all()  # NaN went in as NULL, came back NaN
    assert session.sample_interval_s == pytest.approx(1.0)
    (container,) = session.containers
    assert container["name"] == "proxy" and container["events"] == []  # events outside window
    everything = load_session(path)
    assert everything.logs.table.num_rows == 20
    texts = everything.logs.table.column("text").to_pylist()
    assert texts[:4] == ["a0", "b0", "a1", "b1"]  # merged in time order
    assert [e["action"] for e in everything.containers[1]["events"]] == ["start", "die"]
    by_prefix = load_session(path, containers=["bbbb"])
    assert by_prefix.logs.table.num_rows == 10
    with pytest.raises(StoreError, match=r"no container 'ghost'.*stored: other, proxy"):
        load_session(path, containers=["ghost"])


def test_empty_store_session_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    session = load_session(path)
    assert session.logs.table.num_rows == 0
    assert session.samples is None
    assert any("no container" in n for n in session.notes)


def stored_rows(store: Store, key: int, since: int | None = None) -> list[tuple[int, str, str]]:
    got: list[tuple[int, str, str]] = []
    for table in iter_lines(store, key, since):
        columns = [table.column(c).to_pylist() for c in ("ts", "stream", "text")]
        got += zip(*columns, strict=True)
    return got


def test_batch_insert_keeps_every_text_exactly_in_both_block_forms(tmp_path: Path) -> None:
    texts = [
        'quote " back \\ slash',
        "tab\tnul\x00end",
        "é ü 中文 🙂",
        "\ufffd",
        "",
        " x ",
        "[1,2]",
        "carriage\rreturn",
    ]
    rows = [(T0 + i, "stderr" if i % 2 else "stdout", t) for i, t in enumerate(texts)]
    rows.append((2**62, "stdout", "a large time"))
    # a text holding a newline cannot be split back from joined lines: that batch is JSON
    for extra, form in (([], "lines"), ([(T0 + 99, "stdout", "two\nlines")], "json")):
        batch = rows + extra
        path = tmp_path / f"s-{form}.db"
        with Store(path) as store:
            key = store.save_container(facts())
            assert store.add_lines(key, batch, 0) == len(batch)
            assert store.add_lines(key, batch, 0) == 0  # compared with the block in memory
            assert stored_rows(store, key) == sorted(batch)
            assert store.conn.execute("SELECT form FROM log_blocks").fetchall() == [(form,)]
        with Store(path) as store:  # compared with the block decoded from the file
            assert store.add_lines(key, [*batch, (T0 + 5, "stdout", "new")], 0) == 1
            assert store.line_count() == len(batch) + 1


def test_migration_5_moves_old_rows_into_blocks_and_reads_them_in_the_same_order(
    tmp_path: Path,
) -> None:
    """A store of schema 4 (a row per line): its lines, any text, come back the same, and new
    batches are compared with them (nothing stored twice)."""
    path = tmp_path / "v4.db"
    store = store_at_version(path, 4)
    store.conn.execute("INSERT INTO containers VALUES (7, '', 'c1', 'proxy', NULL, '{}', 0)")
    old = [(T0 + i * 7 * S, "stdout" if i % 3 else "stderr", f"line {i}") for i in range(40)]
    old += [(T0, "stdout", "nul\x00inside"), (T0, "stdout", "new\nline"), (T0 + 1, "stderr", "")]
    store.conn.executemany("INSERT INTO log_lines VALUES (7, ?, ?, ?)", old)
    store.conn.execute("INSERT INTO cursors VALUES (7, 0, ?, 0)", (old[-4][0],))
    store.close()
    with Store(path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert upgraded.line_count(7) == len(old)
        blocks = upgraded.conn.execute("SELECT COUNT(*) FROM log_blocks").fetchone()[0]
        assert blocks == 1  # 43 lines: one block (at most MAX_BLOCK_LINES each)
        assert stored_rows(upgraded, 7) == sorted(old)
        assert stored_rows(upgraded, 7, T0 + 100 * S) == sorted(
            r for r in old if r[0] >= T0 + 100 * S
        )
        assert upgraded.add_lines(7, [*old[30:], (T0 + 999 * S, "stdout", "later")], 0) == 1
        assert upgraded.line_count(7) == len(old) + 1


def test_migration_3_keeps_lines_and_cursors_and_an_engine_adopts_its_old_rows(
    tmp_path: Path,
) -> None:
    """A store written before engines were recorded: its container, lines and cursor survive the
    rebuild of the containers table, and the first collect that names the engine adopts the row
    (same key: its cursor carries on, nothing is fetched twice under a new key)."""
    path = tmp_path / "v2.db"
    store = Store.__new__(Store)
    store.path = path
    store_mod._create_private(path)
    store.conn = sqlite3.connect(path, isolation_level=None)
    store.conn.execute("PRAGMA foreign_keys = ON")
    store.migrate(MIGRATIONS[:2])
    store.conn.execute("INSERT INTO containers VALUES (7, 'c1', 'proxy', NULL, '{}', 0)")
    store.conn.execute("INSERT INTO log_lines VALUES (7, 5, 'stdout', 'kept')")
    store.conn.execute("INSERT INTO cursors VALUES (7, 0, 5, 0)")
    store.close()
    with Store(path) as upgraded:
        assert upgraded.line_count(7) == 1 and upgraded.cursor(7) == store_mod.Cursor(0, 5)
        key = upgraded.save_container({"id": "c1", "name": "proxy", "engine": {"id": "E1"}})
        assert key == 7 and upgraded.container_key("c1", "E1") == 7
        assert upgraded.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_same_container_id_on_two_engines_is_two_containers(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        a = store.save_container(facts("c" * 64, "proxy", engine={"id": "E1", "name": "one"}))
        b = store.save_container(facts("c" * 64, "proxy", engine={"id": "E2", "name": "two"}))
        assert a != b
        again = facts("c" * 64, "proxy", engine={"id": "E2", "name": "two"})
        assert store.save_container(again) == b
        store.add_lines(a, [(T0, "stdout", "from one")], 0)
        store.add_lines(b, [(T0, "stdout", "from two")], 0)
        assert store.line_count() == 2
        assert store.cursor(a) == store.cursor(b) == store_mod.Cursor(0, T0)
    session = load_session(path)
    assert session.logs.table.num_rows == 2
    # two sources, though name and id are the same
    assert session.logs.sources == ("store:one/proxy", "store:two/proxy")
    assert [c["engine"]["id"] for c in session.containers] == ["E1", "E2"]


def test_first_opens_of_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Two engines' threads (or two collect processes) may open a new store at the same moment:
    the WAL switch and the migrations must not race ("database is locked", "table collections
    already exists": 4 of 30 rounds of 4 threads failed before)."""
    import threading

    failures: list[BaseException] = []
    for round_no in range(30):
        path = tmp_path / f"s{round_no}.db"
        barrier = threading.Barrier(4)

        def open_it(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                with Store(path) as store:
                    assert store.schema_version() == SCHEMA_VERSION
            except BaseException as exc:  # collected: the assertion below names it
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_a_large_batch_or_old_store_is_kept_in_bounded_blocks(tmp_path: Path) -> None:
    """A Swarm service's whole log comes as one batch, an old store's rows in one migration:
    both are cut into blocks of at most MAX_BLOCK_LINES, which a window read decodes one at a
    time (a block of 300k lines made the chunked read's peak that of a whole read)."""
    from claude_perf.store.blocks import MAX_BLOCK_LINES

    n = 2 * MAX_BLOCK_LINES + 5
    rows = [(T0 + i * 1000, "stdout", f"line {i}") for i in range(n)]
    with Store(tmp_path / "new.db") as store:
        key = store.save_container(facts())
        assert store.add_lines(key, rows, 0) == n
        sizes = [r[0] for r in store.conn.execute("SELECT lines FROM log_blocks ORDER BY id")]
        assert sizes == [MAX_BLOCK_LINES, MAX_BLOCK_LINES, 5]
        assert stored_rows(store, key) == rows
        assert store.add_lines(key, rows[-10:], 0) == 0  # compared with every block it meets
    path = tmp_path / "v4.db"
    old_store = store_at_version(path, 4)
    old_store.conn.execute("INSERT INTO containers VALUES (7, '', 'c1', 'proxy', NULL, '{}', 0)")
    old_store.conn.executemany("INSERT INTO log_lines VALUES (7, ?, ?, ?)", rows)
    old_store.close()
    with Store(path) as upgraded:
        sizes = [r[0] for r in upgraded.conn.execute("SELECT lines FROM log_blocks ORDER BY id")]
        assert sorted(sizes) == [5, MAX_BLOCK_LINES, MAX_BLOCK_LINES]
        assert stored_rows(upgraded, 7) == rows


def test_a_damaged_block_is_a_store_error_not_a_traceback(tmp_path: Path) -> None:
    from claude_perf.store.read import load_session

    path = tmp_path / "s.db"
    with Store(path) as store:
        key = store.save_container(facts())
        store.add_lines(key, [(T0 + i, "stdout", f"line {i}") for i in range(10)], 0)
        store.conn.execute("UPDATE log_blocks SET ts = ?", (b"\x00" * 8,))
    with pytest.raises(StoreError, match="block of stored log lines is damaged"):
        load_session(path).logs.table.num_rows  # noqa: B018
