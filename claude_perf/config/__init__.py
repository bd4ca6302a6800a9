"""config: every key of ``claude-perf.toml`` / ``[tool.claude-perf]``, declared once, read once.

- ``keys``: how a key is declared (``key()``, ``table()``);
- ``schema``: the tables as frozen dataclasses (``Config`` and its sections), each key with its
  type, default and one line of documentation;
- ``dialect``: ``[[dialects]]``, a proxy's log language (``Dialect``, ``DialectLine``);
- ``families``: model names as logged → canonical families (aliases);
- ``load``: the one validator (unknown keys with a suggestion, types, zones), the provenance
  of each value, ``load_config``, and the built-in dialect files read through the same reader;
- ``show``: ``claude-perf config``, the effective values and where each came from.
"""
