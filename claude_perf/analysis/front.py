"""A front proxy's access log beside the application's: the same traffic, counted once.

nginx, Traefik or Caddy in front of a Claude proxy log every request the proxy logs. Collected
or given together, each request would be counted twice (once per tier) and the front proxy
would pass for a replica that took no model request. When some sources speak only dialects
marked ``front = true`` and others speak something else, those with a logged duration become
client records (the front proxy is a client of the application: its time includes the hop
between them). When most of them join the application's rows (FRONT_MATCH_SHARE), the front
sources' rows leave the request table and that join is the client view; otherwise (no duration
logged, or another service's traffic in a front proxy's format, e.g. gunicorn's sync workers
writing the combined format) the source stays one of its own, and a note says why
(analysis/pipeline.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from claude_perf.analysis.client_view import ClientView, client_view
from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.ingest.client_records import ClientRecord

if TYPE_CHECKING:
    import pandas as pd

    from claude_perf.analysis.assemble import Requests


@dataclass(frozen=True)
class FrontTier:
    """The front proxy sources set apart: their names, their requests, and those with a
    logged duration as client records."""

    sources: tuple[str, ...]
    dialects: tuple[str, ...]
    requests: int
    records: tuple[ClientRecord, ...]


def front_sources(
    dialects: Mapping[str, Sequence[str]], front_dialects: frozenset[str]
) -> tuple[str, ...]:
    """The sources that speak only front dialects, when another source speaks something else
    (a front proxy alone is the only view there is: it stays)."""
    front = tuple(n for n, found in dialects.items() if found and set(found) <= front_dialects)
    app = [n for n, found in dialects.items() if not found or not set(found) <= front_dialects]
    return front if app else ()


@dataclass(frozen=True)
class FrontOutcome:
    """What set_apart decided: the requests to analyse, the front tier when it was set apart
    (else None), its join with the application's rows (the client view it gives), and the
    data-quality note (None: no front proxy beside an application)."""

    requests: Requests
    front: FrontTier | None
    view: ClientView | None
    note: str | None


def set_apart(
    requests: Requests,
    dialects: Mapping[str, Sequence[str]],
    config: Config,
    clients_given: bool,
) -> FrontOutcome:
    """The requests without a front proxy's rows when it is seen to be the same traffic as
    the application's (``dialects``: per source name, the dialects found in it)."""
    front_dialects = frozenset(d.name for d in dialects_for(config.dialects) if d.front)
    sources = front_sources(dialects, front_dialects)
    if not sources:
        return FrontOutcome(requests, None, None, None)
    found = tuple(sorted({d for name in sources for d in dialects[name]}))
    apart, front = _split(requests, sources, found)
    view = _same_traffic(front, apart, config)
    app = [name for name in dialects if name not in sources]
    note = _note(front, app, clients_given, view)
    if view is None:
        return FrontOutcome(requests, None, None, note)
    return FrontOutcome(apart, front, view, note)


def _split(
    requests: Requests, sources: Sequence[str], dialects: Sequence[str]
) -> tuple[Requests, FrontTier]:
    """The requests without the front sources' rows, and those rows as the front tier."""
    table = requests.table
    mine = table["source"].isin(list(sources)).to_numpy()
    front = table[mine]
    rest = table[~mine].reset_index(drop=True)
    if hasattr(rest["source"], "cat"):
        rest["source"] = rest["source"].cat.remove_unused_categories()
    kept = replace(requests, table=rest, ambiguous_pairings=int(rest["ambiguous"].sum()))
    tier = FrontTier(tuple(sources), tuple(dialects), int(mine.sum()), _records(front))
    return kept, tier


def _same_traffic(front: FrontTier, apart: Requests, config: Config) -> ClientView | None:
    """The front tier's timed requests joined with the application's rows, when most of those
    that succeeded join (the same traffic); None otherwise."""
    if not front.records:
        return None
    view = client_view(front.records, (), apart.table, config)
    # its answers that succeeded: a failure may be the front proxy's own (a 502 with the
    # application down), which the application never saw
    ok = [i for i, record in enumerate(front.records) if record.ok]
    joined = {i for i, _row in view.join.pairs}
    same = bool(ok) and sum(i in joined for i in ok) >= FRONT_MATCH_SHARE * len(ok)
    return view if same else None


def _note(
    front: FrontTier, app: Sequence[str], clients_given: bool, view: ClientView | None
) -> str:
    beside = ", ".join(app) or "the application"
    form = f"{', '.join(front.sources)}: a front proxy's access log ({', '.join(front.dialects)})"
    if view is None:
        if not front.records and front.requests > MAX_FRONT_RECORDS:
            why = f"it holds more than {MAX_FRONT_RECORDS:,} requests to join"
        elif not front.records:
            why = "its lines carry no duration to join them by"
        else:
            why = f"its requests do not line up with {beside}'s"
        return (
            f"{form} beside {beside}, but {why}: counted as a source of its own (if it is in "
            "front of the application, its requests are counted twice; log its request time, "
            "e.g. nginx's $request_time, to have them joined)"
        )
    note = (
        f"{form} beside {beside}: its {front.requests} request(s) are the same traffic "
        f"({len(view.join.pairs)} of its {len(front.records)} timed ones join the "
        "application's rows), counted once (from the application's log)"
    )
    if clients_given:
        return (
            note + "; its own timings are not shown: the client records given are the client view"
        )
    return note + (
        f"; the {len(front.records)} with their logged duration are the client view (the "
        "front proxy's time includes the hop to the application)"
    )


# A front proxy's timed requests that succeeded must mostly join the application's rows to be
# taken for the same traffic (its failures may be its own: a 502 with the application down). Not
# all: it serves some paths alone, and a join under concurrency can miss a few; a clear
# majority, never a coincidence of two unrelated services' counts.
FRONT_MATCH_SHARE = 0.8

# Front rows become client records (Python objects joined one by one): past this many the
# client view from the front proxy is left out, with a note, rather than slowing the report
# by minutes (a client records file is thousands of requests; a front log may be millions).
MAX_FRONT_RECORDS = 200_000


def _records(front: pd.DataFrame) -> tuple[ClientRecord, ...]:
    """Client records of the front rows whose duration the front proxy logged."""
    import numpy as np
    import pandas as pd

    latency = front["latency_s"].to_numpy(dtype=float)
    explicit = (front["latency_source"].astype(object) == "explicit").to_numpy()
    end_ns = front["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    known = explicit & ~np.isnan(latency) & ~pd.isna(front["end"]).to_numpy()
    at = np.flatnonzero(known)
    if len(at) > MAX_FRONT_RECORDS:
        return ()
    status = front["status"].to_numpy(dtype=float, na_value=np.nan)[at]
    start_ns = end_ns[at] - np.round(latency[at] * 1e9).astype(np.int64)
    sources = front["source"].astype(object).to_numpy()[at]
    methods = front["method"].astype(object).to_numpy()[at]
    paths = front["path"].astype(object).to_numpy()[at]
    records = []
    for k, i in enumerate(at.tolist()):
        code = None if np.isnan(status[k]) else int(status[k])
        failed = code is None or code >= 400
        path = paths[k]
        records.append(
            ClientRecord(
                id=f"{sources[k]}#{i}",
                tool=f"front proxy ({sources[k]})",
                start_ns=int(start_ns[k]),
                end_ns=int(end_ns[at[k]]),
                method=str(methods[k] or "POST"),
                path=None if pd.isna(path) else str(path),
                status=code,
                ok=not failed,
                error_class=_class(code) if failed else None,
            )
        )
    return tuple(records)


def _class(status: int | None) -> str:
    if status is None:
        return "other"
    return "http_5xx" if status >= 500 else "http_4xx"
