"""Restarts seen in the logs alone: the proxy's start-up banners (dialect lines of role
``startup``) logged after it had served requests (reliability.py reports them when no
container facts were collected)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

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
