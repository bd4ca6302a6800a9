"""The shape a bundle's manifest.json must have before anything in it is used.

A manifest is input like any other: a hostile or damaged one (a file entry that is not an
object, a count that is a string) must be a one-line InputError, not a traceback deep in the
reader. Only the keys the reader uses are checked; others are left alone (new keys may come).
"""

from __future__ import annotations

from typing import Any

_LIST_OF_OBJECTS = ("files", "containers")
_TEXT_LISTS = ("session_notes",)
_LOG_COUNTS = ("invalid_utf8_lines", "partial_lines_merged", "broken_json_lines", "duplicate_lines")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the manifest's shape, or None."""
    for key in _LIST_OF_OBJECTS:
        value = manifest.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return f"'{key}' must be a list of objects"
    for entry in manifest.get("files", []):
        if not isinstance(entry.get("path"), str) or not _is_int(entry.get("bytes")):
            return "every entry of 'files' needs a 'path' (text) and 'bytes' (an integer)"
    for key in _TEXT_LISTS:
        if not isinstance(manifest.get(key, []), list):
            return f"'{key}' must be a list"
    samples = manifest.get("samples")
    if samples is not None and not (
        isinstance(samples, dict) and isinstance(samples.get("columns", []), list)
    ):
        return "'samples' must be an object with a list of 'columns'"
    logs = manifest.get("logs", {})
    if not isinstance(logs, dict):
        return "'logs' must be an object"
    inputs = logs.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        return "'logs.inputs' must be a list of objects"
    for entry in inputs:
        if not all(_is_int(entry.get(k) or 0) for k in ("lines", "bytes")):
            return "'logs.inputs' entries need integer 'lines' and 'bytes'"
        if not isinstance(entry.get("notes") or [], list):
            return "'logs.inputs' notes must be a list"
    if not all(_is_int(logs.get(k, 0)) for k in _LOG_COUNTS):
        return f"'logs' counts ({', '.join(_LOG_COUNTS)}) must be integers"
    for key in ("notes", "sources"):
        if not isinstance(logs.get(key, []), list):
            return f"'logs.{key}' must be a list"
    return None
