"""Known answers for which request paths are model calls (config/paths.py).

The model paths are the real routes of the proxies and APIs named (their docs and captures):
Anthropic's /v1/messages (Claude Code adds ``?beta=true``), OpenAI's chat, completions and
responses routes, served bare by LiteLLM, behind ``/openai/deployments/NAME`` by Azure OpenAI,
behind ``/claude/``, ``/claude/sdk/`` by ccproxy-api and ``/api/`` by claude-relay-service;
Gemini's ``models/NAME:generateContent``; Claude on Vertex AI and Bedrock. The others are the
near misses a suffix match got wrong or nearly did.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_perf.config.paths import bare_path
from claude_perf.config.schema import Config, is_model_path
from tests.test_truth import access, analysis

DEFAULTS = Config().model_paths

MODEL = [
    "/v1/messages",
    "/v1/messages?beta=true",
    "/v1/messages/",
    "/v1/messages#x",
    "http://127.0.0.1:8000/v1/messages?beta=true",
    "/v1/chat/completions",
    "/v1/chat/completions/",
    "/v1/completions",
    "/v1/responses",
    "/responses",
    "/chat/completions",
    "/completions",
    "/openai/v1/chat/completions",
    "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    "/api/v1/messages",
    "/api/chat/completions",
    "/claude/v1/messages",
    "/claude/sdk/v1/messages",
    "/claude/v1/chat/completions",
    "/v1beta/models/gemini-2.5-pro:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict",
    "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
    "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke",
    "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke-with-response-stream",
    "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/converse",
]
OTHER = [
    "/v1/messages/count_tokens",
    "/v1/messages/count_tokens?beta=true",
    "/v1/messages/batches",
    "/api/v1/messages_archive",
    "/v1/chat/completionsX",
    "/v1/chat/completions/abc/messages_list",
    "/v1/messagesX",
    "/xv1/messages",
    "/v1/models",
    "/v1/models?limit=5",
    "/v1beta/models/gemini-2.5-pro:countTokens",
    "/v1beta/models/gemini-2.5-pro",
    "/model/x/invoke/extra",
    "/health",
    "/",
    "",
]


@pytest.mark.parametrize("path", MODEL)
def test_model_endpoints_of_real_proxies_are_model_paths(path: str) -> None:
    assert is_model_path(path, DEFAULTS)


@pytest.mark.parametrize("path", OTHER)
def test_near_misses_are_not(path: str) -> None:
    assert not is_model_path(path, DEFAULTS)


def test_a_model_path_without_a_leading_slash_matches_only_whole() -> None:
    assert is_model_path("v1/messages", ("v1/messages",))
    assert not is_model_path("/x/v1/messages", ("v1/messages",))


def test_a_star_is_one_segment() -> None:
    paths = ("/deploy/*/chat",)
    assert is_model_path("/deploy/a.b-c/chat", paths)
    assert not is_model_path("/deploy/a/b/chat", paths)
    assert not is_model_path("/deploy//chat", paths)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/messages/", "model"),
        ("/v1/responses", "model"),
        ("/v1/messages/count_tokens", "other"),
        # health paths are matched the same way: a probe's query, a trailing slash, a prefix
        ("/health?probe=1", "health"),
        ("/healthz/", "health"),
        ("/api/health", "health"),
        ("/readyz", "health"),
        ("/healthcare", "other"),
    ],
)
def test_the_report_counts_them_so(path: str, kind: str) -> None:
    table = analysis([access(1.0, path=path)]).requests.table
    assert table["kind"].tolist() == [kind]


@given(
    st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8), max_size=3
    ),
    st.sampled_from(["/v1/messages", "/v1/chat/completions", "/v1/count", "/v1/messages/x"]),
    st.sampled_from(["", "/", "//", "?beta=true", "/?a=1&b=/v1/x", "#frag"]),
)
def test_a_prefix_and_a_query_or_slashes_never_change_the_answer(
    prefix: list[str], route: str, tail: str
) -> None:
    path = "".join("/" + segment for segment in prefix) + route + tail
    assert bare_path(path) == "".join("/" + segment for segment in prefix) + route
    assert is_model_path(path, DEFAULTS) == is_model_path(route, DEFAULTS)
