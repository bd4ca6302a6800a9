"""Restarts seen in the logs alone: the proxy's start-up banners (dialect lines of role
``startup``) logged after it had served requests (reliability.py reports them when no
container facts were collected)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.ingest.files import LogLines
from claude_perf.parse.entries import Entries, source_name

if TYPE_CHECKING:
    import pandas as pd


def restarts_seen(
    startup_ns: Mapping[str, Sequence[int]], table: pd.DataFrame
) -> dict[str, tuple[datetime, ...]]:
    """Per source, the start-up banners that were restarts: those with a request completed in
    that source since the banner before them (or since its first line). Several banners with
    no request between them are one start (gunicorn's workers each print one)."""
    import numpy as np
    import pandas as pd

    from claude_perf.analysis.metrics import is_value, ns_values

    out: dict[str, tuple[datetime, ...]] = {}
    if not startup_ns:  # no banner read: nothing to look up (most logs)
        return out
    # The table's own ends, read a block at a time: no sorted copy of every end (with an object
    # array of the sources, +116 MB resident at 10M lines).
    ends = ns_values(table["end"])
    for name, banners in startup_ns.items():
        at = np.sort(np.asarray(banners, dtype=np.int64))
        mine = is_value(table["source"], name)
        # A banner is a restart when a request of its source completed strictly between the
        # banner before it (or the first line) and itself: each end marks the first banner at
        # or after it, unless it fell on that banner's very instant.
        served = np.zeros(len(at), dtype=bool)
        for first in range(0, len(ends), _BLOCK):
            block = ends[first : first + _BLOCK][mine[first : first + _BLOCK]]
            block = block[block != NAT_NS]
            k = np.searchsorted(at, block, side="left")
            inside = k < len(at)
            k, block = k[inside], block[inside]
            served[k[at[k] != block]] = True
        out[name] = tuple(
            pd.Timestamp(int(t), tz="UTC").to_pydatetime(warn=False) for t in at[served]
        )
    return out


_BLOCK = 1 << 16  # ends read at a time (restarts_seen): a few temporaries of 0.5 MB


def startups_known(entries: Entries, config: Config) -> bool:
    """Whether a dialect active in some source reads the proxy's start-up banner (then a
    restart would show in the logs; else restarts are unknown from them)."""
    active = {name for found in entries.dialects.values() for name in found}
    return any(d.name in active and "startup" in d.roles for d in dialects_for(config.dialects))


def startup_times(entries: Entries, logs: LogLines) -> dict[str, list[int]]:
    """Per source name, the times (ns) of the lines a dialect reads as the proxy's start-up."""
    import numpy as np

    ev = entries.events
    if not len(ev) or "role" not in ev.columns:
        return {}
    banner = (ev["role"] == "startup").to_numpy(dtype=bool)
    if not banner.any():
        return {}
    ts = ev["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)[banner]
    codes = ev["source"].to_numpy()[banner] if "source" in ev.columns else np.zeros(len(ts), int)
    names = list(logs.sources) or ["input"]
    out: dict[str, list[int]] = {}
    for code, at in zip(codes.tolist(), ts.tolist(), strict=True):
        if at != np.iinfo(np.int64).min:
            out.setdefault(source_name(names, code), []).append(at)
    return out
