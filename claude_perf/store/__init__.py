"""The embedded SQLite store that `collect` fills and `report` reads.

- ``schema``: the tables, as numbered migrations;
- ``db``: ``Store`` (open, migrate, write batches, cursors) and ``store_path``;
- ``read``: the window queries and ``load_session``, the store as a ``Session``.
"""
