"""Application timestamps (ISO-ish strings or epoch numbers) to UTC nanoseconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np


def _parse_times(values: np.ndarray, timezone: str) -> np.ndarray:
    """Application timestamps (ISO-ish strings or epoch numbers) → UTC nanoseconds (NaT if bad).

    Times with a zone (``Z``, ``+02:00``) are converted; times without one (Python's asctime)
    are taken in ``timezone``. A log may mix both, so they are parsed as two groups.
    """
    import numpy as np
    import pandas as pd

    series = pd.Series(values, dtype="object").astype("str").str.replace(",", ".", regex=False)
    nat = NAT_NS
    out = np.full(len(series), nat, dtype=np.int64)
    zoned = series.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy(dtype=bool)

    def fill(mask: np.ndarray, parsed: pd.Series) -> None:
        stamps = parsed.astype("datetime64[ns, UTC]")
        known = stamps.notna().to_numpy()
        ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
        rows = np.flatnonzero(mask)
        out[rows[known]] = ns[known]

    if zoned.any():
        fill(zoned, pd.to_datetime(series[zoned], errors="coerce", format="ISO8601", utc=True))
    naive = ~zoned
    if naive.any():
        parsed = pd.to_datetime(series[naive], errors="coerce", format="ISO8601")
        # The zone name was checked when the configuration was read (config.schema.time_zone).
        local = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        fill(naive, local.dt.tz_convert("UTC"))
    # Epoch numbers (pino's milliseconds, or seconds) where nothing else parsed.
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    epoch = (out == nat) & ~np.isnan(numeric)
    if epoch.any():
        seconds = np.where(numeric[epoch] < 1e11, numeric[epoch], numeric[epoch] / 1000.0)
        fill(epoch, pd.Series(pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")))
    return out
