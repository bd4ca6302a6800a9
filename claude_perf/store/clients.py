"""Client records in the store: what `claude-perf load` (or another client) saw, per request.

Each record is kept as its ``claude-perf/client-record/1`` JSON line, keyed by (tool, id,
start); inserting the same record again changes nothing, so a resumed or repeated import never
counts a request twice. A report's window selects records by their start time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from claude_perf.errors import StoreError
from claude_perf.ingest.client_records import ClientRecord, record_from_json, record_to_json
from claude_perf.store.db import Store


def insert_client_records(store: Store, records: Iterable[ClientRecord]) -> int:
    """Add records in one transaction; returns how many were new."""
    rows = [(r.tool, r.id, r.start_ns, r.end_ns, record_to_json(r)) for r in records]
    if not rows:
        return 0
    with store.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO client_records (tool, id, start_ns, end_ns, record) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        return int(conn.total_changes - before)


def client_records_in(
    store: Store, start_ns: int | None = None, end_ns: int | None = None
) -> list[ClientRecord]:
    """Records that started within [start_ns, end_ns] (open ends: everything), in start order."""
    import json

    from claude_perf.durations import MAX_NS, NAT_NS

    low = NAT_NS if start_ns is None else start_ns
    high = MAX_NS if end_ns is None else end_ns
    rows = store.conn.execute(
        "SELECT tool, id, record FROM client_records WHERE start_ns BETWEEN ? AND ? "
        "ORDER BY start_ns, tool, id",
        (low, high),
    )
    out = []
    for tool, rid, text in rows:
        where = f"{store.path}: client record {tool}/{rid}"
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StoreError(f"{where} is not JSON ({exc})") from exc
        out.append(record_from_json(data, where))
    return out


def read_client_records(
    path: Path | str, start_ns: int | None = None, end_ns: int | None = None
) -> list[ClientRecord]:
    """The client records of a store that started within the window (bounds inclusive)."""
    with Store(Path(path), create=False) as store:
        return client_records_in(store, start_ns, end_ns)
