"""Durations logged without a unit: the unit inferred from their magnitude, and said out loud.

``{"duration": 850}`` or ``took=5900`` name no unit. A unit in the text (``873.00ms``) or in
the key (``durationMs``, ``duration_ms``) or in a dialect line (``duration_unit``) always wins;
only bare numbers after a plain key get here. A Claude request takes from a few hundred
milliseconds to a few minutes, so a median of 100 or more cannot be seconds (that would be a
median request of 100 s and more) and is read as milliseconds; below it, as seconds. Go's JSON
loggers write a time.Duration as whole nanoseconds (log/slog's JSONHandler, as Echo v5 logs
each request; logrus; Echo v4's `"latency"`): when the 99th percentile is 10^8 or more, which
as milliseconds would be 28 hours and as nanoseconds is 0.1 s, it is read as nanoseconds.

This is a guess, and the note says so: magnitude cannot tell microseconds (Apache's ``%D``
writes them) from milliseconds or nanoseconds: a Claude request of 0.3-300 s is 3*10^5-3*10^8
us, inside both other ranges, so bare microseconds come out 1000 times too long or too short. A
unit in the key (``elapsed_us``) is exact (parse/fields.py); for a bare one, a dialect line's
or a ``[[patterns]]`` line's ``duration_unit`` settles it, and the note names that way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claude_perf.parse.entries import Entries

BARE_MS_MEDIAN = 100.0
BARE_NS_P99 = 1e8
_UNIT_WORDS = {1.0: "seconds", 1e-3: "milliseconds", 1e-9: "nanoseconds"}


def infer_bare_units(entries: Entries) -> Entries:
    """Entries whose bare durations are scaled to seconds, with a note saying how."""
    import numpy as np

    ev = entries.events
    if "duration_bare" not in ev.columns or not len(ev):
        return entries
    bare = ev["duration_bare"].to_numpy(dtype=float) == 1.0
    del ev["duration_bare"]  # in place: the frame is the classifier's own, just made (no copy)
    if not bare.any():
        return entries
    values = ev["duration_s"].to_numpy(dtype=float)
    # Decided per source: two proxies in one session need not share a unit.
    source = ev["source"].to_numpy() if "source" in ev.columns else np.zeros(len(ev), np.int32)
    scaled, notes = values.copy(), []
    for s in np.unique(source[bare]).tolist():
        rows = bare & (source == s)
        median = float(np.nanmedian(values[rows]))
        p99 = float(np.nanpercentile(values[rows], 99))
        scale = 1e-9 if p99 >= BARE_NS_P99 else 1e-3 if median >= BARE_MS_MEDIAN else 1.0
        if scale != 1.0:
            scaled[rows] = values[rows] * scale
        notes.append(
            f'{int(rows.sum())} duration(s) carry no unit (e.g. {{"duration": 850}}): read as '
            f"{_UNIT_WORDS[scale]} from their magnitude (median {median:g}, 99th percentile "
            f"{p99:g}; a median of {BARE_MS_MEDIAN:g} or more is read as milliseconds, a 99th "
            f"percentile of {BARE_NS_P99:g} or more as nanoseconds). A guess: magnitude cannot "
            "tell microseconds from milliseconds or nanoseconds; if the proxy logs another unit, "
            "a [[patterns]] entry for the line with duration_unit (s, ms, us, ns) settles it"
        )
    ev["duration_s"] = scaled
    return replace(entries, events=ev, notes=(*entries.notes, *notes))
