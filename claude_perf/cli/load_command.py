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


def load(
    url: Annotated[
        str, typer.Option("--url", help="The proxy: http://127.0.0.1:3456 (or the endpoint).")
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="MODEL=PCT% (sonnet=60%); one model may omit it. Repeatable."
        ),
    ] = None,
    api: Annotated[
        str,
        typer.Option("--api", help="openai (/v1/chat/completions) or anthropic (/v1/messages)."),
    ] = "openai",
    requests: Annotated[
        int | None, typer.Option("--requests", "-n", help="Send this many requests.")
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration", help="Send for this long (5m); with --requests, whichever ends first."
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Requests in flight (closed loop).")
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option("--rate", help="Requests started per time (2/s, 30/min; open loop)."),
    ] = None,
    stream_share: Annotated[
        str, typer.Option("--stream-share", help="Share of requests that stream (SSE), per model.")
    ] = "0%",
    prompt_file: Annotated[
        Path | None, typer.Option("--prompt-file", help="The prompt, from this file.")
    ] = None,
    prompt_tokens: Annotated[
        int | None, typer.Option("--prompt-tokens", help="A prompt of about N tokens (default 32).")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="max_tokens asked for.")] = 256,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="The API key is in this environment variable (never on the command line).",
        ),
    ] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Per request, to the last byte.")
    ] = "300s",
    slo: Annotated[
        list[str] | None,
        typer.Option("--slo", help="ttft=2s or latency=10s, for goodput. Repeatable."),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container", help="Sample this container through the load and collect its logs after."
        ),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Docker context for --container.")
    ] = None,
    store: StoreOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Also write the records here as JSON lines."),
    ] = None,
    grace: Annotated[
        str,
        typer.Option("--grace", help="At Ctrl-C/SIGTERM, how long requests in flight may finish."),
    ] = "10s",
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
