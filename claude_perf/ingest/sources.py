"""Sources: which input lines belong to one container's (or one file's) log.

Nothing pairs across sources. A rotated json-file part (``…-json.log.1``) is its container's
log; every other input is a source of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_ROTATED = re.compile(r"(-json\.log)\.\d+$")


def source_name(path: str) -> str:
    """An input's source: a rotated json-file part is its container's log."""
    return _ROTATED.sub(r"\1", path)


def bundle_sources(
    named: Any, input_paths: Sequence[str], read: tuple[str, ...]
) -> tuple[str, ...]:
    """The sources of a re-read bundle as the session named them (the bundle holds one log per
    source, in their order): from the manifest, else (older bundles) from the original inputs
    when they match one to one, else the bundle's own log files."""
    listed = tuple(str(s) for s in named or ())
    if len(listed) == len(read):
        return listed
    from_inputs = tuple(dict.fromkeys(source_name(path) for path in input_paths))
    return from_inputs if len(from_inputs) == len(read) else read
