"""The async driver: sends the plan's requests on httpx and reads every answer as it arrives.

One scheduler task hands out request numbers (at most ``max_requests``) to request tasks, at
most ``concurrency`` in flight (closed loop) or one each 1/rate seconds (open loop, up to
``MAX_IN_FLIGHT`` in flight). The scheduler is cancelled when the duration is over or when
``stop()`` is called (Ctrl-C, SIGTERM); the requests in flight then get the request timeout
(duration over) or the grace (a stop) to finish, and the rest are cancelled and not recorded.
Every request has its own total timeout, so no loop here waits without bound.

Times: a request's clock is ``time.time_ns()`` when its task begins plus ``perf_counter_ns``
offsets, so wall-clock steps do not bend durations. The instants themselves come from the
connection (wire.py): ``start_ns`` is when the connection was opened or the request's first
byte written (the task's start when no connection came), ``first_byte_ns``, a token's time and
``end_ns`` are when the chunk that carried it arrived, not when the task got its turn to parse
it (a timeout's end is when it fired).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource

from claude_perf.ingest.client_records import ClientRecord
from claude_perf.load.answers import Reading, short
from claude_perf.load.plan import Chooser, LoadPlan
from claude_perf.load.wire import Marks, timed_transport

T = TypeVar("T")
MAX_IN_FLIGHT = 1024  # open loop: the most requests in flight before sending waits
PROGRESS_EVERY_S = 0.25
ANTHROPIC_VERSION = "2023-06-01"  # the anthropic-version header every Messages call needs


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where it is installed (measured: 0.45 against 0.70 ms of CPU a request,
    about twice the requests/s against an instant server), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


@dataclass(frozen=True)
class Progress:
    """A snapshot for the progress display."""

    done: int
    in_flight: int
    errors: int
    p50_s: float | None
    elapsed_s: float
    planned: int | None


@dataclass(frozen=True)
class DriveOutcome:
    """How the drive ended; the records went to ``on_record`` as they finished."""

    sent: int
    finished: int
    cancelled: int  # in flight at a stop after the grace: not recorded
    ended_by: str  # requests | duration | stop
    elapsed_s: float


def request_body(plan: LoadPlan, model: str, stream: bool) -> bytes:
    """The JSON body, encoded once per (model, stream)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": plan.max_tokens,
        "messages": [{"role": "user", "content": plan.prompt}],
        "stream": stream,
    }
    if stream and plan.api == "openai":
        body["stream_options"] = {"include_usage": True}  # the usage chunk before [DONE]
    return json.dumps(body).encode()


def base_headers(plan: LoadPlan) -> dict[str, str]:
    # Accept as the OpenAI and Anthropic SDKs send it, streamed or not (the body's `stream`
    # asks for a stream): ccproxy-api answered a plain request that also accepted
    # text/event-stream with an empty stream (`data: [DONE]`, no message).
    headers = {"content-type": "application/json", "accept": "application/json"}
    if plan.api == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if plan.api_key:
            headers["x-api-key"] = plan.api_key
    elif plan.api_key:
        headers["authorization"] = f"Bearer {plan.api_key}"
    return headers


class Driver:
    """One drive of a plan; ``stop()`` may be called from a signal handler on the loop."""

    def __init__(
        self,
        plan: LoadPlan,
        on_record: Callable[[ClientRecord], None],
        progress: Callable[[Progress], None] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.plan = plan
        self.on_record = on_record
        self.progress = progress
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.chooser = Chooser(plan)
        self.bodies = {
            (m, s): request_body(plan, m, s) for m, _ in plan.models for s in (False, True)
        }
        self.url = httpx.URL(plan.url)  # parsed once (httpx parses a str at every request)
        # The headers httpx's client adds by default, then ours. Accept-Encoding is fixed to
        # gzip and deflate: httpx's client would add br or zstd when brotli or zstandard happen
        # to be installed, and two machines' runs would then not ask for the same answer.
        self.headers = {
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
            "User-Agent": f"python-httpx/{httpx.__version__}",
            **base_headers(plan),
        }
        timeout = httpx.Timeout(plan.timeout_s, connect=min(plan.timeout_s, 10.0))
        self.timeouts = timeout.as_dict()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.sent = self.finished = self.errors = 0
        self.latencies_s: list[float] = []  # sorted, for the running p50
        self.stopping = False
        self._scheduler: asyncio.Task[None] | None = None
        self._transports: list[httpx.AsyncHTTPTransport] = []  # every one made (closed at end)
        self._free: list[tuple[httpx.AsyncHTTPTransport, Marks]] = []  # no request in flight
        self._tls: Any = None
        self._started = time.monotonic()

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        """Stop sending; a second call cancels the requests in flight at once."""
        if self.stopping:
            for task in list(self.in_flight):
                task.cancel()
            return
        self.stopping = True
        if self._scheduler is not None:
            self._scheduler.cancel()

    def snapshot(self) -> Progress:
        n = len(self.latencies_s)
        p50 = None if n == 0 else self.latencies_s[n // 2]
        return Progress(
            self.finished,
            len(self.in_flight),
            self.errors,
            p50,
            time.monotonic() - self._started,
            self.plan.requests,
        )

    async def run(self) -> DriveOutcome:
        self._started = time.monotonic()
        ticker = asyncio.create_task(self._tick()) if self.progress else None
        try:
            self._scheduler = asyncio.create_task(self._schedule())
            if self.stopping:  # stopped before the scheduler existed
                self._scheduler.cancel()
            done, _ = await asyncio.wait({self._scheduler}, timeout=self.plan.max_duration_s)
            ended_by = "stop" if self.stopping else "requests" if done else "duration"
            if not done:
                self._scheduler.cancel()
                await asyncio.gather(self._scheduler, return_exceptions=True)
            cancelled = await self._drain(
                self.plan.grace_s if self.stopping else self.plan.timeout_s + 1.0
            )
        finally:
            for transport in self._transports:
                await transport.aclose()
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            assert self.progress is not None
            self.progress(self.snapshot())
        return DriveOutcome(
            self.sent, self.finished, cancelled, ended_by, time.monotonic() - self._started
        )

    def _transport(self) -> tuple[httpx.AsyncHTTPTransport, Marks]:
        """A transport of one connection, free for this request (made when none is free), and
        the Marks its connection notes the request's times in (wire.py).

        One small pool per request in flight instead of one pool for all: httpcore's pool
        walks every connection at each request and response (measured: 30 % of the driver's
        time at concurrency 16), a pool of one does not; and each keeps its connection alive.
        Requests go to httpx's transport, not through a client: the client's per-request
        layers (URL merging, auth, redirects, the cookie jar) were ~20 % of the driver's
        profile and this driver needs none of them (no redirects are followed, as before).
        """
        if self._free:
            return self._free.pop()
        if self._tls is None:  # one context for all: loading the CA bundle took 40 ms a client
            self._tls = httpx.create_ssl_context()
        made = timed_transport(self._tls)
        self._transports.append(made[0])
        return made

    async def _drain(self, within_s: float) -> int:
        """Let the requests in flight finish within ``within_s``; cancel the rest."""
        if not self.in_flight:
            return 0
        _, pending = await asyncio.wait(set(self.in_flight), timeout=within_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    async def _tick(self) -> None:
        assert self.progress is not None
        while True:
            self.progress(self.snapshot())
            await asyncio.sleep(PROGRESS_EVERY_S)

    async def _schedule(self) -> None:
        slots = asyncio.Semaphore(self.plan.concurrency or MAX_IN_FLIGHT)
        rate = self.plan.rate_per_s
        t0 = time.monotonic()
        for i in range(self.plan.max_requests):
            await slots.acquire()
            if rate is not None:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.sleep(delay)
                    except BaseException:
                        slots.release()
                        raise
            model, stream = self.chooser.next()
            task = asyncio.create_task(self._one(i, model, stream, slots))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            self.sent += 1

    # ------------------------------------------------------------------ one request

    async def _one(self, i: int, model: str, stream: bool, slots: asyncio.Semaphore) -> None:
        made = self._transport()
        try:
            record = await self._exchange(made, f"load-{self.run_id}-{i:06d}", model, stream)
        finally:
            self._free.append(made)
            slots.release()
        self.finished += 1
        if not record.ok:
            self.errors += 1
        bisect.insort(self.latencies_s, record.latency_s)
        self.on_record(record)

    async def _exchange(
        self, made: tuple[httpx.AsyncHTTPTransport, Marks], rid: str, model: str, stream: bool
    ) -> ClientRecord:
        plan = self.plan
        transport, marks = made
        reading = Reading(rid, plan.api, plan.path, model, stream)
        headers = {**self.headers, "x-request-id": rid}
        marks.reset()
        t0 = time.perf_counter_ns()
        reading.start_ns = start_ns = time.time_ns()

        def at(perf_ns: int | None) -> int:
            """A wall-clock time from a perf_counter one (now when None)."""
            return start_ns + ((time.perf_counter_ns() if perf_ns is None else perf_ns) - t0)

        # Times come from the connection (wire.py): the request starts when its connection is
        # opened or its first byte written, a chunk's time is when it arrived, not when this
        # task got its turn to parse it (the tasks of a burst take turns).
        arrived = True  # the end is the last arrival, unless nothing more came (a timeout)
        request = httpx.Request(
            "POST",
            self.url,
            headers=headers,
            content=self.bodies[(model, stream)],
            extensions={"timeout": self.timeouts},
        )
        try:
            async with asyncio.timeout(plan.timeout_s):
                resp = await transport.handle_async_request(request)
                resp.request = request
                try:
                    reading.headers(
                        resp.status_code, resp.headers.get("x-request-id"), at(marks.first_ns)
                    )
                    sse = "text/event-stream" in resp.headers.get("content-type", "")
                    if sse and resp.is_success:
                        async for event in EventSource(resp).aiter_sse():
                            reading.event(event.event, event.data, at(marks.last_ns))
                    else:
                        reading.body(await resp.aread())
                finally:
                    await resp.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            arrived = False
            if isinstance(exc, httpx.ConnectTimeout):
                reading.fail("connect", f"connect timed out: {exc}")
            else:
                reading.fail("timeout", f"no complete answer within {plan.timeout_s:g} s")
        except httpx.ConnectError as exc:
            arrived = False
            reading.fail("connect", f"cannot connect to {plan.url}: {exc}")
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            cut = "stream_cut" if reading.status is not None else "other"
            reading.fail(cut, f"{type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:
            reading.fail("other", f"{type(exc).__name__}: {short(str(exc))}")
        if marks.started_ns is not None:
            reading.start_ns = at(marks.started_ns)
        return reading.record(at(marks.last_ns if arrived else None))
