"""Stand-in of claude-code-openai-wrapper's ``src.main`` (FastAPI app served by uvicorn).

Reproduces the wrapper's log records and status codes (see tests/standin/README.md); the Claude
CLI is the stand-in script ``tests/standin/claude``. ``DEBUG_MODE`` / ``VERBOSE`` switch on the
wrapper's DEBUG logging (start-up block, per-request ``🔍`` records from its
``DebugLoggingMiddleware``, ``Compatibility report``, every SDK message), copied from
RichardAtCT/claude-code-openai-wrapper ``src/main.py`` (v2.2.0, commit f6994d0). Run: ``python -m uvicorn src.main:app
--host 0.0.0.0 --port 8000`` from ``tests/standin`` (uvicorn's default logging config: access
records on stdout, its other records and the app's on stderr).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response

# Same switches and same root-logger set-up as the wrapper's src/main.py.
DEBUG_MODE = os.getenv("DEBUG_MODE", "false").lower() in ("true", "1", "yes", "on")
VERBOSE = os.getenv("VERBOSE", "false").lower() in ("true", "1", "yes", "on")
logging.basicConfig(
    level=logging.DEBUG if (DEBUG_MODE or VERBOSE) else logging.INFO,
    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
)
# The wrapper runs on uvloop (uvicorn[standard]), which never logs asyncio's DEBUG "Using
# selector: EpollSelector"; the stand-in's stdlib loop would, once the root logger is at DEBUG.
logging.getLogger("asyncio").setLevel(logging.INFO)
logger = logging.getLogger(__name__)
# slowapi logs rate-limit hits under its own name.
ratelimit_logger = logging.getLogger("slowapi")

from src.auth import validate_claude_code_auth, verify_api_key  # noqa: E402
from src.claude_cli import ClaudeCodeCLI, ProcessError, RunResult, collect  # noqa: E402
from src.claude_cli import logger as cli_logger  # noqa: E402
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
    if DEBUG_MODE or VERBOSE:
        log_debug_banner()
    start_cleanup_task()
    yield


def log_debug_banner() -> None:
    """The wrapper's start-up DEBUG block, line for line (its lifespan, after the SDK check)."""
    logger.debug("🔧 Debug mode enabled - Enhanced logging active")
    logger.debug("🔧 Environment variables:")
    logger.debug(f"   DEBUG_MODE: {DEBUG_MODE}")
    logger.debug(f"   VERBOSE: {VERBOSE}")
    logger.debug(f"   PORT: {os.getenv('PORT', '8000')}")
    cors_origins_val = os.getenv("CORS_ORIGINS", '["*"]')
    logger.debug(f"   CORS_ORIGINS: {cors_origins_val}")
    logger.debug(f"   MAX_TIMEOUT: {os.getenv('MAX_TIMEOUT', '600000')}")
    logger.debug(f"   CLAUDE_CWD: {os.getenv('CLAUDE_CWD', 'Not set')}")
    logger.debug("🔧 Available endpoints:")
    logger.debug("   POST /v1/chat/completions - Main chat endpoint")
    logger.debug("   GET  /v1/models - List available models")
    logger.debug("   POST /v1/debug/request - Debug request validation")
    logger.debug("   GET  /v1/auth/status - Authentication status")
    logger.debug("   GET  /health - Health check")
    logger.debug(f"🔧 API Key protection: {'Enabled' if os.getenv('API_KEY') else 'Disabled'}")


app = FastAPI(title="Claude Code OpenAI API Wrapper (stand-in)", lifespan=lifespan)

CallNext = Callable[[Request], Awaitable[Response]]


class RequestIDMiddleware(BaseHTTPMiddleware):
    """The wrapper's: an ``X-Request-ID`` per request, set on ``request.state`` and the response."""

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        return response


class DebugLoggingMiddleware(BaseHTTPMiddleware):
    """The wrapper's request/response DEBUG records (its ``DebugLoggingMiddleware``, verbatim).

    It is the outermost middleware, so it runs before ``RequestIDMiddleware`` has set the id:
    the real records always say ``[unknown]``. ``Response`` is logged when the inner app has
    sent its headers: after the handler for a JSON answer, at once for a stream.
    """

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        request_id = getattr(request.state, "request_id", "unknown")
        if not (DEBUG_MODE or VERBOSE):
            return await call_next(request)
        start_time = asyncio.get_event_loop().time()
        logger.debug(f"🔍 [{request_id}] Incoming request: {request.method} {request.url}")
        logger.debug(f"🔍 [{request_id}] Headers: {dict(request.headers)}")
        body_logged = False
        if request.method == "POST" and request.url.path.startswith("/v1/"):
            try:
                content_length = request.headers.get("content-length")
                if content_length and int(content_length) < 100000:
                    body = await request.body()
                    if body:
                        try:
                            parsed_body = json.loads(body.decode())
                            logger.debug(f"🔍 Request body: {json.dumps(parsed_body, indent=2)}")
                            body_logged = True
                        except Exception:
                            logger.debug(f"🔍 Request body (raw): {body.decode()[:500]}...")
                            body_logged = True
            except Exception as e:
                logger.debug(f"🔍 Could not read request body: {e}")
        if not body_logged and request.method == "POST":
            logger.debug("🔍 Request body: [not logged - streaming or large payload]")
        try:
            response = await call_next(request)
        except Exception as e:
            duration = (asyncio.get_event_loop().time() - start_time) * 1000
            logger.debug(f"🔍 Request failed after {duration:.2f}ms: {e}")
            raise
        duration = (asyncio.get_event_loop().time() - start_time) * 1000
        logger.debug(f"🔍 Response: {response.status_code} in {duration:.2f}ms")
        return response


# Same order as the wrapper (the last added runs first).
app.add_middleware(RequestIDMiddleware)
app.add_middleware(DebugLoggingMiddleware)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message]
    stream: bool | None = False
    session_id: str | None = None
    enable_tools: bool = False
    max_tokens: int | None = None
    # Read only by the compatibility report (defaults as in the wrapper's src/models.py).
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    n: int | None = 1
    stop: str | list[str] | None = None
    presence_penalty: float | None = 0
    frequency_penalty: float | None = 0
    logit_bias: dict[str, float] | None = None
    user: str | None = None


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


def compatibility_report(request: ChatCompletionRequest) -> dict[str, list[str]]:
    """The wrapper's ``CompatibilityReporter.generate_compatibility_report`` (suggestion texts
    copied from its src/parameter_validator.py)."""
    report: dict[str, list[str]] = {
        "supported_parameters": [],
        "unsupported_parameters": [],
        "warnings": [],
        "suggestions": [],
    }
    supported = report["supported_parameters"]
    unsupported = report["unsupported_parameters"]
    suggestions = report["suggestions"]
    if request.model:
        supported.append("model")
    if request.messages:
        supported.append("messages")
    if request.stream is not None:
        supported.append("stream")
    if request.user:
        supported.append("user (for logging)")
    if request.temperature != 1.0:
        unsupported.append("temperature")
        suggestions.append(
            "Claude Code SDK does not support temperature control. Consider using different "
            "models for varied response styles (e.g., claude-3-5-haiku for more focused "
            "responses)."
        )
    if request.top_p != 1.0:
        unsupported.append("top_p")
        suggestions.append(
            "Claude Code SDK does not support top_p. This parameter will be ignored."
        )
    if request.max_tokens:
        unsupported.append("max_tokens")
        suggestions.append(
            "Use max_turns parameter instead to limit conversation length, or use "
            "max_thinking_tokens to limit internal reasoning."
        )
    if (request.n or 1) > 1:
        unsupported.append("n")
        suggestions.append(
            "Claude Code SDK only supports single responses (n=1). For multiple variations, "
            "make separate API calls."
        )
    if request.stop:
        unsupported.append("stop")
        suggestions.append(
            "Stop sequences are not supported. Consider post-processing responses or using "
            "max_turns to limit output."
        )
    if request.presence_penalty != 0 or request.frequency_penalty != 0:
        unsupported.extend(["presence_penalty", "frequency_penalty"])
        suggestions.append(
            "Penalty parameters are not supported. Consider using different system prompts to "
            "encourage varied responses."
        )
    if request.logit_bias:
        unsupported.append("logit_bias")
        suggestions.append(
            "Logit bias is not supported. Consider using system prompts to guide response style."
        )
    return report


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
    """SSE chunks. As in the wrapper, the role chunk goes out with the first answer text (or at
    the end if there is none), so the first body byte comes after the CLI has answered."""
    cid = f"chatcmpl-{uuid.uuid4().hex[:8]}"
    role = chunk(cid, body.model, {"role": "assistant", "content": ""})
    role_sent = False
    out = RunResult()
    try:
        async for msg in claude_cli.stream(prompt, body.model):
            before = len(out.texts)
            collect(out, msg)
            for text in out.texts[before:]:
                if not role_sent:
                    role_sent = True
                    yield role
                yield chunk(cid, body.model, {"content": text})
    except ProcessError as e:
        # the wrapper logs this in src/claude_cli.py (run_completion), for streams too
        cli_logger.error("Claude Agent SDK error: %s", e)
        if not role_sent:
            role_sent = True
            yield role
        if not out.texts:
            err = {"error": {"message": str(e), "type": "streaming_error"}}
            yield f"data: {json.dumps(err)}\n\n"
    if not role_sent:
        yield role
    yield chunk(cid, body.model, {}, "stop")
    yield "data: [DONE]\n\n"


def rate_limited(request: Request) -> JSONResponse | None:
    """slowapi's 429 and its WARNING when the client is over the limit (the wrapper's
    @rate_limit_endpoint("chat") on both chat endpoints), else None."""
    key = client_key(request)
    if limiter.hit(key):
        return None
    ratelimit_logger.warning(
        "ratelimit %s (%s) exceeded at endpoint: %s",
        limiter.description,
        key,
        request.url.path,
    )
    return JSONResponse(
        status_code=429, content={"error": f"Rate limit exceeded: {limiter.description}"}
    )


@app.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request
) -> JSONResponse | StreamingResponse:
    refused = rate_limited(request)
    if refused is not None:
        return refused
    verify_api_key(request)
    validate_claude_code_auth()
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(f"Compatibility report: {compatibility_report(body)}")
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


class AnthropicMessagesRequest(BaseModel):
    """The wrapper's src/models.py AnthropicMessagesRequest (v2.2.0), as far as it is read."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message]
    max_tokens: int = 4096
    system: str | None = None
    stream: bool | None = False  # accepted, never honoured: the answer is always one JSON


@app.post("/v1/messages", response_model=None)
async def anthropic_messages(body: AnthropicMessagesRequest, request: Request) -> JSONResponse:
    """The wrapper's /v1/messages (v2.2.0 src/main.py anthropic_messages): rate-limited as chat,
    no model check and no `Tools disabled` line (tools are on for Anthropic SDK clients), one
    INFO record as it starts, never a stream; an unexpected failure is logged and answered 500."""
    refused = rate_limited(request)
    if refused is not None:
        return refused
    verify_api_key(request)
    validate_claude_code_auth()
    try:
        logger.info(f"Anthropic Messages API request: model={body.model}")
        prompt = prompt_of(ChatCompletionRequest(model=body.model, messages=body.messages))
        out = await claude_cli.run(prompt, body.model)
        if not out.text:
            raise HTTPException(status_code=500, detail="No response from Claude Code")
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": out.text}],
                "model": body.model,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": len(prompt) // 4, "output_tokens": len(out.text) // 4},
            }
        )
    except HTTPException:
        raise
    except Exception as e:
        logger.error(f"Anthropic Messages API error: {e}")
        raise HTTPException(status_code=500, detail=str(e)) from e


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
