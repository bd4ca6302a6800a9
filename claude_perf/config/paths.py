"""Request paths that are model calls: ``model_paths`` matched whole, behind a prefix, with ``*``.

A logged path is first made bare: a full URL loses its scheme and host, a query string
(Claude Code asks ``/v1/messages?beta=true``) and a fragment are cut, and trailing slashes go
(``/v1/messages/`` is the same route to Starlette and Express). A model path that starts with
"/" then matches the bare path whole or as its last segments behind any prefix (ccproxy-api's
``/claude/sdk/v1/messages``, claude-relay-service's ``/api/v1/messages``, Azure OpenAI's
``/openai/deployments/NAME/chat/completions``), never inside a segment (``/v1/chat/completionsX``,
``/api/v1/messages_archive``) nor followed by more (``/v1/messages/count_tokens`` counts tokens
and generates nothing). ``*`` stands for the text of one segment or of a part of it (Google's
``/v1beta/models/gemini-2.5-pro:generateContent``, Bedrock's ``/model/MODEL-ID/invoke``).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Where the route is served under another prefix too, a suffix covers it: LiteLLM and vLLM serve
# /chat/completions, /completions and /responses beside their /v1/ forms; the OpenAI SDKs
# append them to a base URL that may lack /v1. Gemini's generateContent and
# streamGenerateContent, and Claude on Vertex AI (rawPredict, streamRawPredict) and on
# Amazon Bedrock (invoke, invoke-with-response-stream, converse, converse-stream) are the
# model calls of those APIs' REST references.
DEFAULT_MODEL_PATHS = (
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/completions",
    "/v1/responses",
    "/chat/completions",
    "/completions",
    "/responses",
    "/models/*:generateContent",
    "/models/*:streamGenerateContent",
    "/models/*:rawPredict",
    "/models/*:streamRawPredict",
    "/model/*/invoke",
    "/model/*/invoke-with-response-stream",
    "/model/*/converse",
    "/model/*/converse-stream",
)

_URL_HEAD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def bare_path(path: str) -> str:
    """A logged path without scheme and host, query, fragment and trailing slashes."""
    bare = _URL_HEAD.sub("", path, count=1)
    for mark in ("?", "#"):
        cut = bare.find(mark)
        if cut >= 0:
            bare = bare[:cut]
    stripped = bare.rstrip("/")
    return stripped if stripped or not bare else "/"


@lru_cache(maxsize=256)
def _matcher(model_path: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in bare_path(model_path).split("*")]
    body = r"[^/]+".join(parts)
    # A leading "/" puts the match's start at a segment boundary; without one, only the whole
    # path matches (the old rule for such entries).
    return re.compile(rf"{body}\Z" if model_path.startswith("/") else rf"\A{body}\Z")


def is_model_path(path: str, model_paths: tuple[str, ...]) -> bool:
    """Whether a request path is a model call: one of ``model_paths`` (see the module)."""
    bare = bare_path(path)
    return any(_matcher(p).search(bare) is not None for p in model_paths)


def is_health_path(path: str | None, health_paths: tuple[str, ...]) -> bool:
    """Whether a request path is a health check: one of ``health_paths``, matched as model
    paths are (bare, whole or behind a prefix at a segment boundary): a probe's
    ``/health?probe=1``, ``/healthz/`` or ``/api/health`` is one, ``/healthcare`` is not."""
    return path is not None and is_model_path(path, health_paths)
