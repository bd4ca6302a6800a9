"""Where the records of a load go: a JSON-lines file as they finish, and the store at the end.

The file gets one ``record_to_json`` line per finished request, flushed at once, so a run killed
at any moment (SIGKILL included) leaves a file whose every complete line is a valid record. The
store gets them in batches of ``STORE_BATCH`` and the rest at the end (each batch one
transaction). Both are created private (0600): an error message copied from a proxy's answer can
hold what its logs hold; the report redacts when it renders, the raw record stays raw.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from claude_perf.errors import InputError
from claude_perf.ingest.client_records import ClientRecord, record_to_json
from claude_perf.store.clients import insert_client_records
from claude_perf.store.db import Store

STORE_BATCH = 500


class RecordSink:
    """Receives each finished record; ``close()`` writes what the store has not got yet."""

    def __init__(self, output: Path | None, store: Path | None) -> None:
        self.records: list[ClientRecord] = []
        self.output = output
        self.store_path = store
        self.stored = 0
        self._file: IO[str] | None = None
        self._store: Store | None = None
        if output is not None:
            try:
                fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise InputError(f"-o {output}: cannot write it ({exc.strerror})") from exc
            self._file = os.fdopen(fd, "w", encoding="utf-8")
        if store is not None:
            self._store = Store(store)

    def __call__(self, record: ClientRecord) -> None:
        self.records.append(record)
        if self._file is not None:
            self._file.write(record_to_json(record) + "\n")
            self._file.flush()
        if self._store is not None and len(self.records) - self.stored >= STORE_BATCH:
            self._to_store()

    def _to_store(self) -> None:
        assert self._store is not None
        insert_client_records(self._store, self.records[self.stored :])
        self.stored = len(self.records)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._store is not None:
            try:
                self._to_store()
            finally:
                self._store.close()
                self._store = None
