"""The options of `claude-perf load` as one frozen, validated LoadPlan.

Every option is checked here, so a mistake is a one-line UsageError (exit 2) before any request
goes out. Models are chosen by smooth weighted round-robin (nginx's upstream algorithm) and the
stream share by a running quota, so 60 %/40 % of 10 requests is exactly 6 and 4, the same in
every run: the known answers of the tests depend on it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from claude_perf.durations import parse_duration_s
from claude_perf.errors import UsageError

APIS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
SLO_KEYS = ("ttft", "latency")
# Hard ceilings whatever the options say: every loop is bounded by count and by time.
MAX_REQUESTS = 1_000_000
MAX_DURATION_S = 24 * 3600.0
MAX_CONCURRENCY = 1024
MAX_PROMPT_TOKENS = 200_000
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_GRACE_S = 10.0
_WEIGHT_RE = re.compile(r"^(?P<model>[^=\s]+)(?:=(?P<pct>\d+(?:\.\d+)?)%?)?$")
_RATE_RE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|sec|m|min|h)$")
_PCT_RE = re.compile(r"^(?P<pct>\d+(?:\.\d+)?)%?$")


@dataclass(frozen=True)
class LoadPlan:
    """What one `claude-perf load` run does; ``None`` means the option was not given."""

    url: str  # the full endpoint URL, path included
    api: str  # openai | anthropic
    models: tuple[tuple[str, float], ...]  # (model, share 0..1), shares sum to 1
    requests: int | None
    duration_s: float | None
    concurrency: int | None
    rate_per_s: float | None
    stream_share: float
    prompt: str
    max_tokens: int
    timeout_s: float
    slo: tuple[tuple[str, float], ...] = ()  # (ttft | latency, seconds)
    api_key: str | None = None  # from the environment only; never written anywhere
    grace_s: float = DEFAULT_GRACE_S

    def __repr__(self) -> str:  # the key must not reach a log or a traceback
        return f"LoadPlan(url={self.url!r}, api={self.api!r}, models={self.models!r}, ...)"

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def max_requests(self) -> int:
        return min(self.requests or MAX_REQUESTS, MAX_REQUESTS)

    @property
    def max_duration_s(self) -> float:
        return min(self.duration_s or MAX_DURATION_S, MAX_DURATION_S)


def endpoint_url(url: str, api: str) -> str:
    """The endpoint for a base URL: ``http://h:p`` and ``http://h:p/v1`` get the API's path."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url '{url}' is not an http(s) URL (example: http://127.0.0.1:3456)")
    path = parts.path.rstrip("/")
    full = APIS[api]
    if path.endswith(full):
        return url.strip()
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}{full}"


def parse_models(items: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``sonnet=60%`` ``haiku=40%`` → shares; one model alone may omit its share."""
    if not items:
        raise UsageError(
            "give at least one --model (example: --model sonnet=60% --model haiku=40%)"
        )
    found: list[tuple[str, float | None]] = []
    for item in items:
        m = _WEIGHT_RE.match(item.strip())
        if not m:
            raise UsageError(f"--model '{item}' is not MODEL or MODEL=PCT% (example: sonnet=60%)")
        if any(name == m["model"] for name, _ in found):
            raise UsageError(f"--model {m['model']} is given twice")
        found.append((m["model"], None if m["pct"] is None else float(m["pct"])))
    if len(found) == 1:
        pct = found[0][1]
        if pct is not None and not math.isclose(pct, 100.0, abs_tol=0.01):
            raise UsageError(f"--model weights must sum to 100%, got {pct:g}%")
        return ((found[0][0], 1.0),)
    if any(pct is None for _, pct in found):
        raise UsageError("with several --model, give each a share (example: sonnet=60%)")
    total = sum(pct or 0.0 for _, pct in found)
    if not math.isclose(total, 100.0, abs_tol=0.01):
        raise UsageError(f"--model weights must sum to 100%, got {total:g}%")
    if any(pct == 0 for _, pct in found):
        raise UsageError("a --model share of 0% sends nothing: leave that model out")
    return tuple((name, (pct or 0.0) / 100.0) for name, pct in found)


def parse_rate(text: str) -> float:
    """``2/s``, ``30/min``, ``600/h`` → requests per second."""
    m = _RATE_RE.match(text.strip())
    if not m or float(m["n"]) <= 0:
        raise UsageError(f"--rate '{text}' is not a positive rate (examples: 2/s, 30/min)")
    per = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[m["unit"]]
    return float(m["n"]) / per


def parse_share(text: str, option: str) -> float:
    m = _PCT_RE.match(text.strip())
    if not m or float(m["pct"]) > 100:
        raise UsageError(f"{option} '{text}' is not a share from 0% to 100%")
    return float(m["pct"]) / 100.0


def parse_slo(items: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``ttft=2s`` ``latency=10s`` → (key, seconds)."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in SLO_KEYS:
            raise UsageError(f"--slo '{item}' is not ttft=DURATION or latency=DURATION")
        out[key.strip()] = _positive_s(value, f"--slo {key.strip()}")
    return tuple(out.items())


def _positive_s(text: str, option: str) -> float:
    value = parse_duration_s(text)
    if value <= 0:
        raise UsageError(f"{option} must be positive, got '{text}'")
    return value


def make_prompt(prompt_file: Path | None, prompt_tokens: int | None) -> str:
    """The prompt: a file's text, or about N tokens (one common English word is one token)."""
    if prompt_file is not None and prompt_tokens is not None:
        raise UsageError("give --prompt-file or --prompt-tokens, not both")
    if prompt_file is not None:
        try:
            text = prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--prompt-file {prompt_file}: cannot read it ({exc})") from exc
        if not text.strip():
            raise UsageError(f"--prompt-file {prompt_file} is empty")
        return text
    n = 32 if prompt_tokens is None else prompt_tokens
    if not 1 <= n <= MAX_PROMPT_TOKENS:
        raise UsageError(f"--prompt-tokens must be from 1 to {MAX_PROMPT_TOKENS}, got {n}")
    return " ".join(["hello"] * n)


def api_key_from(name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The key from the named environment variable; never from the command line."""
    if name is None:
        return None
    env = os.environ if environ is None else environ
    value = env.get(name)
    if not value:
        raise UsageError(f"--api-key-env {name}: the environment variable {name} is not set")
    return value


def build_plan(
    *,
    url: str,
    api: str = "openai",
    models: Sequence[str] = (),
    requests: int | None = None,
    duration: str | None = None,
    concurrency: int | None = None,
    rate: str | None = None,
    stream_share: str = "0%",
    prompt_file: Path | None = None,
    prompt_tokens: int | None = None,
    max_tokens: int = 256,
    timeout: str = "300s",
    slo: Sequence[str] = (),
    api_key_env: str | None = None,
    grace: str = "10s",
    environ: Mapping[str, str] | None = None,
) -> LoadPlan:
    """Validate every option (one-line UsageError) and build the plan."""
    if api not in APIS:
        raise UsageError(f"--api '{api}' is not one of: {', '.join(APIS)}")
    if requests is None and duration is None:
        raise UsageError("give --requests N or --duration D (or both: whichever ends first)")
    if requests is not None and not 1 <= requests <= MAX_REQUESTS:
        raise UsageError(f"--requests must be from 1 to {MAX_REQUESTS}, got {requests}")
    duration_s = None if duration is None else _positive_s(duration, "--duration")
    if duration_s is not None and duration_s > MAX_DURATION_S:
        raise UsageError(f"--duration is at most {MAX_DURATION_S / 3600:g}h")
    if (concurrency is None) == (rate is None):
        raise UsageError("give exactly one of --concurrency N or --rate R (example: 2/s)")
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency}")
    if max_tokens < 1:
        raise UsageError(f"--max-tokens must be at least 1, got {max_tokens}")
    return LoadPlan(
        url=endpoint_url(url, api),
        api=api,
        models=parse_models(models),
        requests=requests,
        duration_s=duration_s,
        concurrency=concurrency,
        rate_per_s=None if rate is None else parse_rate(rate),
        stream_share=parse_share(stream_share, "--stream-share"),
        prompt=make_prompt(prompt_file, prompt_tokens),
        max_tokens=max_tokens,
        timeout_s=_positive_s(timeout, "--timeout"),
        slo=parse_slo(slo),
        api_key=api_key_from(api_key_env, environ),
        grace_s=parse_duration_s(grace),
    )


class Chooser:
    """Which model and whether to stream, request after request (deterministic, exact shares).

    The stream quota is kept per model, so each model gets the stream share (a global quota
    with two models at 50 % would stream every request of one and none of the other).
    """

    def __init__(self, plan: LoadPlan) -> None:
        self._models = plan.models
        self._current = [0.0] * len(plan.models)
        self._share = plan.stream_share
        self._sent = [0] * len(plan.models)
        self._streamed = [0] * len(plan.models)

    def next(self) -> tuple[str, bool]:
        # Smooth weighted round-robin: add each weight, take the largest, subtract the total.
        for i, (_, weight) in enumerate(self._models):
            self._current[i] += weight
        best = max(range(len(self._models)), key=lambda i: self._current[i])
        self._current[best] -= 1.0
        self._sent[best] += 1
        stream = self._streamed[best] < math.floor(self._sent[best] * self._share + 1e-9)
        self._streamed[best] += stream
        return self._models[best][0], stream
