"""The `load` command: parse options, build the plan, run it, print, exit (app.py registers it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from claude_perf.cli.console import LoadProgress, print_load
from claude_perf.errors import ClaudePerfError

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="The store (default $CLAUDE_PERF_STORE or .claude-perf/claude-perf.db)."
    ),
]


def _fail(error: ClaudePerfError) -> NoReturn:
    typer.echo(f"claude-perf: error: {error}", err=True)
    raise typer.Exit(error.exit_code)


# The options, declared once at module level (typer reads the Annotated metadata).
UrlOpt = Annotated[
    str, typer.Option("--url", help="The proxy: http://127.0.0.1:3456 (or the endpoint).")
]
ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", help="MODEL=PCT% (sonnet=60%); one model may omit it. Repeatable."
    ),
]
ApiOpt = Annotated[
    str,
    typer.Option("--api", help="openai (/v1/chat/completions) or anthropic (/v1/messages)."),
]
RequestsOpt = Annotated[
    int | None, typer.Option("--requests", "-n", help="Send this many requests.")
]
DurationOpt = Annotated[
    str | None,
    typer.Option(
        "--duration", help="Send for this long (5m); with --requests, whichever ends first."
    ),
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", "-c", help="Requests in flight (closed loop).")
]
RateOpt = Annotated[
    str | None,
    typer.Option("--rate", help="Requests started per time (2/s, 30/min; open loop)."),
]
StreamShareOpt = Annotated[
    str, typer.Option("--stream-share", help="Share of requests that stream (SSE), per model.")
]
PromptFileOpt = Annotated[
    Path | None, typer.Option("--prompt-file", help="The prompt, from this file.")
]
PromptTokensOpt = Annotated[
    int | None, typer.Option("--prompt-tokens", help="A prompt of about N tokens (default 32).")
]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", help="max_tokens asked for.")]
ApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key-env",
        help="The API key is in this environment variable (never on the command line).",
    ),
]
TimeoutOpt = Annotated[str, typer.Option("--timeout", help="Per request, to the last byte.")]
SloOpt = Annotated[
    list[str] | None,
    typer.Option("--slo", help="ttft=2s or latency=10s, for goodput. Repeatable."),
]
ContainerOpt = Annotated[
    str | None,
    typer.Option(
        "--container", help="Sample this container through the load and collect its logs after."
    ),
]
ContextOpt = Annotated[
    str | None, typer.Option("--context", help="Docker context for --container.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Also write the records here as JSON lines."),
]
GraceOpt = Annotated[
    str,
    typer.Option("--grace", help="At Ctrl-C/SIGTERM, how long requests in flight may finish."),
]


def load(
    url: UrlOpt,
    model: ModelOpt = None,
    api: ApiOpt = "openai",
    requests: RequestsOpt = None,
    duration: DurationOpt = None,
    concurrency: ConcurrencyOpt = None,
    rate: RateOpt = None,
    stream_share: StreamShareOpt = "0%",
    prompt_file: PromptFileOpt = None,
    prompt_tokens: PromptTokensOpt = None,
    max_tokens: MaxTokensOpt = 256,
    api_key_env: ApiKeyEnvOpt = None,
    timeout: TimeoutOpt = "300s",
    slo: SloOpt = None,
    container: ContainerOpt = None,
    context: ContextOpt = None,
    store: StoreOpt = None,
    output: OutputOpt = None,
    grace: GraceOpt = "10s",
) -> None:
    """Drive a bounded test session against a proxy; record each request as the client saw it."""
    from claude_perf.load.plan import build_plan
    from claude_perf.load.run import run_load

    try:
        plan = build_plan(
            url=url,
            api=api,
            models=tuple(model or ()),
            requests=requests,
            duration=duration,
            concurrency=concurrency,
            rate=rate,
            stream_share=stream_share,
            prompt_file=prompt_file,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            timeout=timeout,
            slo=tuple(slo or ()),
            api_key_env=api_key_env,
            grace=grace,
        )
        with LoadProgress() as progress:
            outcome = run_load(
                plan,
                output=output,
                store=store,
                container=container,
                context=context,
                progress=progress,
            )
    except ClaudePerfError as error:
        _fail(error)
    print_load(outcome)
    if outcome.failure is not None:
        _fail(outcome.failure)
