"""Benchmark: the `claude-perf load` driver against a local instant-answer server.

Targets (issue 11): the driver is never the bottleneck: its own overhead per request at
concurrency 16 below 5 ms, and at least 500 requests/s on these 2-core machines.

The server is a child process (its own interpreter, so it does not share the driver's GIL): raw
HTTP/1.1 on asyncio streams on 127.0.0.1, answering every POST at once with a fixed chat
completion (keep-alive), or with a five-chunk SSE stream. Against it, each figure is what the
driver costs:

- requests/s: finished records over the drive's wall time (the server's share included, so
  this is a floor of what the driver alone could do);
- driver CPU per request: this process's user + system seconds over the requests;
- record latency at saturation: with instant answers the loop runs as fast as it can, so a
  record's latency is queueing (Little's law: concurrency / rate), not a fixed overhead;
- added to a 100 ms answer: the same concurrency against answers that take 100 ms (the loop not
  saturated); a record's latency beyond 100 ms is what the driver (and the loopback, and this
  server's own turns at writing 16 answers) adds to a measured latency. All 16 answers arrive
  together, the case where one core reads them in turns;
- the yardstick: when ``hey`` (Go, several cores) is on the PATH, what it adds to the same
  100 ms answers against the same server (its ``-o csv`` per-request times, 0.1 ms steps).

Run: ``python -m benchmarks.load_bench [--requests N] [--concurrency C]``; ``--serve PORT``
runs only the server (for a yardstick such as ``hey`` against the same server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUESTS = 5000
CONCURRENCY = 16
OVERHEAD_TARGET_S = 0.005
RATE_TARGET = 500.0
DELAY_S = 0.1  # the "delayed" model's answer time: what the driver adds is latency - this
REPO = Path(__file__).resolve().parent.parent
_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()
_JSON = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(_BODY),
    _BODY,
)
_CHUNKS = [b'data: {"choices":[{"delta":{"content":"w%d "}}]}\n\n' % i for i in range(5)]
_CHUNKS.append(b"data: [DONE]\n\n")
_SSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_SSE += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _CHUNKS) + b"0\r\n\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if b'"model": "delayed"' in body:
                await asyncio.sleep(DELAY_S)
            writer.write(_SSE if b'"stream": true' in body else _JSON)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int, ready: Path | None) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.write_text(str(bound))
    print(f"instant server on 127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def instant_server() -> object:
    """The server as a child process; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="claude-perf-load-bench-") as tmp:
        ready = Path(tmp) / "port"
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.load_bench", "--serve", "0", "--ready", str(ready)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not (ready.exists() and ready.read_text()):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the instant server did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{ready.read_text()}"
        finally:
            proc.terminate()
            proc.wait(10)


def drive(
    url: str, requests: int, concurrency: int, stream: bool, model: str = "bench"
) -> dict[str, float]:
    from claude_perf.load.driver import Driver, run_async
    from claude_perf.load.plan import build_plan

    plan = build_plan(
        url=url,
        models=[model],
        requests=requests,
        concurrency=concurrency,
        stream_share="100%" if stream else "0%",
        timeout="30s",
    )
    records: list[float] = []
    failed = [0]

    def keep(record: object) -> None:
        records.append(record.latency_s)  # type: ignore[attr-defined]
        failed[0] += not record.ok  # type: ignore[attr-defined]

    before = resource.getrusage(resource.RUSAGE_SELF)
    outcome = run_async(Driver(plan, keep).run())
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lat = sorted(records)
    return {
        "requests": len(records),
        "failed": failed[0],
        "wall_s": outcome.elapsed_s,
        "rate": len(records) / outcome.elapsed_s,
        "p50_s": statistics.median(lat),
        "p95_s": lat[int(0.95 * (len(lat) - 1))],
        "cpu_per_request_s": cpu_s / max(1, len(records)),
    }


def hey_added(url: str, requests: int, concurrency: int) -> tuple[float, float] | None:
    """p50 and p95 of what ``hey`` adds to the 100 ms answers (None when it is not installed)."""
    hey = shutil.which("hey")
    if hey is None:
        return None
    body = json.dumps({"model": "delayed", "stream": False, "messages": []})
    command = [hey, "-n", str(requests), "-c", str(concurrency), "-m", "POST"]
    command += ["-T", "application/json", "-d", body, "-o", "csv", url + "/v1/chat/completions"]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    # The csv: response-time (s) first, status-code seventh; a header line first.
    rows = [line.split(",") for line in out.splitlines()[1:] if line.count(",") >= 6]
    lat = sorted(float(r[0]) for r in rows if r[6] == "200")
    if not lat:
        return None
    return statistics.median(lat) - DELAY_S, lat[int(0.95 * (len(lat) - 1))] - DELAY_S


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.load_bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--serve", type=int, default=None, help="only serve on this port")
    parser.add_argument("--ready", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help="drive this server instead of starting one")
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve, args.ready))
        return 0
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(instant_server())  # type: ignore[arg-type]
        drive(url, 200, args.concurrency, False)  # warm-up: imports, connections
        for stream in (False, True):
            f = drive(url, args.requests, args.concurrency, stream)
            kind = "SSE stream (5 chunks)" if stream else "JSON"
            print(
                f"load driver, {kind}, concurrency {args.concurrency}, instant answers: "
                f"{f['requests']:.0f} requests ({f['failed']:.0f} failed) in {f['wall_s']:.2f} s"
            )
            print(
                f"  requests/s: {f['rate']:,.0f}  target >= {RATE_TARGET:.0f}  "
                f"{_verdict(f['rate'] >= RATE_TARGET)}"
            )
            print(
                f"  driver CPU per request: {1000 * f['cpu_per_request_s']:.2f} ms  target < "
                f"{1000 * OVERHEAD_TARGET_S:.0f} ms  "
                f"{_verdict(f['cpu_per_request_s'] < OVERHEAD_TARGET_S)}"
            )
            print(
                f"  record latency at saturation: p50 {1000 * f['p50_s']:.2f} ms, p95 "
                f"{1000 * f['p95_s']:.2f} ms (times at the bytes' arrival: the wait for a "
                "turn to parse is not in them)"
            )
            # Not saturated: answers that take DELAY_S; what a record measures beyond that is
            # what the driver (and the loopback) adds to a measured latency.
            n = max(1, min(args.requests, int(20 * args.concurrency / DELAY_S)))
            d = drive(url, n, args.concurrency, stream, model="delayed")
            added_p50, added_p95 = d["p50_s"] - DELAY_S, d["p95_s"] - DELAY_S
            print(
                f"  added to a {1000 * DELAY_S:.0f} ms answer ({d['requests']:.0f} requests, "
                f"{d['rate']:,.0f}/s): p50 {1000 * added_p50:.2f} ms, p95 {1000 * added_p95:.2f} "
                f"ms  target p50 < {1000 * OVERHEAD_TARGET_S:.0f} ms  "
                f"{_verdict(added_p50 < OVERHEAD_TARGET_S)}"
            )
        n = max(1, min(args.requests, int(20 * args.concurrency / DELAY_S)))
        yardstick = hey_added(url, n, args.concurrency)
        if yardstick is not None:
            print(
                f"hey (Go), JSON, concurrency {args.concurrency}, added to a "
                f"{1000 * DELAY_S:.0f} ms answer ({n} requests): p50 {1000 * yardstick[0]:.2f} "
                f"ms, p95 {1000 * yardstick[1]:.2f} ms (the yardstick, same server)"
            )
    print(f"(pid {os.getpid()}; figures from one run on a shared machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
