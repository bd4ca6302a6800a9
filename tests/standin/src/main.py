"""Stand-in of claude-code-openai-wrapper's ``src.main`` (FastAPI app served by uvicorn).

Reproduces the wrapper's log records and status codes (see tests/standin/README.md); the Claude
CLI is the stand-in script ``tests/standin/claude``. Run: ``python -m uvicorn src.main:app
--host 0.0.0.0 --port 8000`` from ``tests/standin`` (uvicorn's default logging config: access
records on stdout, its other records and the app's on stderr).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

logging.basicConfig(
    level=logging.DEBUG if os.environ.get("DEBUG_MODE", "").lower() == "true" else logging.INFO,
    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
)
logger = logging.getLogger(__name__)
# slowapi logs rate-limit hits under its own name.
ratelimit_logger = logging.getLogger("slowapi")

from src.auth import validate_claude_code_auth, verify_api_key  # noqa: E402
from src.claude_cli import ClaudeCodeCLI, ProcessError, RunResult, collect  # noqa: E402
from src.parameter_validator import SUPPORTED_MODELS, validate_model  # noqa: E402
from src.session_manager import start_cleanup_task  # noqa: E402

claude_cli = ClaudeCodeCLI()


class RateLimiter:
    """Fixed window per client IP, like slowapi's default (window opens at the first hit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        start, count = self.windows.get(key, (now, 0))
        if now - start >= 60.0:
            start, count = now, 0
        count += 1
        self.windows[key] = (start, count)
        return count <= self.per_minute

    @property
    def description(self) -> str:
        return f"{self.per_minute} per 1 minute"


limiter = RateLimiter(int(os.environ.get("RATE_LIMIT_PER_MIN", "14")))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logger.info("Verifying Claude Code authentication and CLI...")
    ok, method = validate_claude_code_auth()
    if ok:
        logger.info("✅ Claude Code authentication validated: %s", method)
    logger.info("Testing Claude Agent SDK connection...")
    if await claude_cli.verify_cli():
        logger.info("✅ Claude Agent SDK verified successfully")
    start_cleanup_task()
    yield


app = FastAPI(title="Claude Code OpenAI API Wrapper (stand-in)", lifespan=lifespan)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message]
    stream: bool = False
    session_id: str | None = None
    enable_tools: bool = False
    max_tokens: int | None = None


@app.exception_handler(RequestValidationError)
async def validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    logger.error("❌ Request validation failed for %s %s", request.method, request.url)
    logger.error("❌ Validation errors: %s", exc.errors())
    return JSONResponse(
        status_code=422,
        content={
            "error": {
                "message": "Request validation failed - the request body doesn't match the "
                "expected format",
                "type": "validation_error",
                "code": "invalid_request_error",
                "details": [
                    {"field": " -> ".join(str(p) for p in e.get("loc", ())), "message": e["msg"]}
                    for e in exc.errors()
                ],
            }
        },
    )


def client_key(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


def prompt_of(body: ChatCompletionRequest) -> str:
    parts = []
    for m in body.messages:
        if isinstance(m.content, str):
            parts.append(m.content)
        elif m.content:
            parts.extend(str(b.get("text", "")) for b in m.content if isinstance(b, dict))
    return "\n\n".join(parts)


def completion(body: ChatCompletionRequest, text: str, result: dict[str, Any] | None) -> dict:
    usage = (result or {}).get("usage") or {}
    prompt_tokens = int(usage.get("input_tokens", 0))
    completion_tokens = int(usage.get("output_tokens", 0))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n"


async def stream_response(body: ChatCompletionRequest, prompt: str) -> AsyncIterator[str]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:8]}"
    yield chunk(cid, body.model, {"role": "assistant", "content": ""})
    out = RunResult()
    try:
        async for msg in claude_cli.stream(prompt, body.model):
            before = len(out.texts)
            collect(out, msg)
            for text in out.texts[before:]:
                yield chunk(cid, body.model, {"content": text})
    except ProcessError as e:
        logger.error("Claude Agent SDK error: %s", e)
        if not out.texts:
            err = {"error": {"message": str(e), "type": "streaming_error"}}
            yield f"data: {json.dumps(err)}\n\n"
    yield chunk(cid, body.model, {}, "stop")
    yield "data: [DONE]\n\n"


@app.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request
) -> JSONResponse | StreamingResponse:
    key = client_key(request)
    if not limiter.hit(key):
        ratelimit_logger.warning(
            "ratelimit %s (%s) exceeded at endpoint: %s",
            limiter.description,
            key,
            request.url.path,
        )
        return JSONResponse(
            status_code=429, content={"error": f"Rate limit exceeded: {limiter.description}"}
        )
    verify_api_key(request)
    validate_claude_code_auth()
    prompt = prompt_of(body)
    if body.stream:
        validate_model(body.model)
        logger.info("Tools disabled (default behavior for OpenAI compatibility)")
        return StreamingResponse(stream_response(body, prompt), media_type="text/event-stream")

    logger.info(
        "Chat completion: session_id=%s, total_messages=%d", body.session_id, len(body.messages)
    )
    validate_model(body.model)
    logger.info("Tools disabled (default behavior for OpenAI compatibility)")
    out = await claude_cli.run(prompt, body.model)
    if not out.text:
        raise HTTPException(status_code=500, detail="No response from Claude Code")
    return JSONResponse(completion(body, out.text, out.result))


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "healthy", "service": "claude-code-openai-wrapper"}


@app.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    verify_api_key(request)
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "owned_by": "anthropic"}
            for m in [*SUPPORTED_MODELS, "claude-3-7-sonnet-20250219"]
        ],
    }
