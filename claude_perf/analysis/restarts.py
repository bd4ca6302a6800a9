"""Restarts seen in the logs alone: the proxy's start-up banners (dialect lines of role
``startup``) logged after it had served requests (reliability.py reports them when no
container facts were collected)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.ingest.files import LogLines
from claude_perf.parse.entries import Entries

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

    out: dict[str, tuple[datetime, ...]] = {}
    ends = table["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    sources = table["source"].astype(object).to_numpy()
    for name, banners in startup_ns.items():
        served = np.sort(ends[(sources == name) & (ends != np.iinfo(np.int64).min)])
        restarts, previous = [], None
        for at in sorted(banners):
            since = np.searchsorted(served, previous, side="right") if previous is not None else 0
            if np.searchsorted(served, at, side="left") > since:
                restarts.append(pd.Timestamp(at, tz="UTC").to_pydatetime(warn=False))
            previous = at
        out[name] = tuple(restarts)
    return out


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
            name = names[code] if code < len(names) else f"source-{code}"
            out.setdefault(name, []).append(at)
    return out
