"""Stand-in of ``claude_agent_sdk.types`` and its message parser, as of claude-agent-sdk 0.1.18.

The wrapper logs each SDK message in DEBUG mode as ``Raw SDK message type: {type(message)}`` and
``Raw SDK message: {message}`` (src/claude_cli.py, ``run_completion``), so these classes have the
real names, field order and module (``claude_agent_sdk.types``): the dataclass ``repr`` and
``str(type(m))`` then print byte for byte what the real SDK's do. Field lists and the parser
follow claude-agent-sdk-python at the v0.1.18 release commit a3df944 (``types.py``,
``_internal/message_parser.py``); 0.1.18 is the version pinned in the wrapper's poetry.lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SDK_MODULE = "claude_agent_sdk.types"


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class AssistantMessage:
    content: list[TextBlock]
    model: str
    parent_tool_use_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SystemMessage:
    subtype: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ResultMessage:
    subtype: str
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    num_turns: int
    session_id: str
    total_cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    result: str | None = None
    structured_output: Any = None


for _cls in (TextBlock, AssistantMessage, SystemMessage, ResultMessage):
    _cls.__module__ = SDK_MODULE

SdkMessage = AssistantMessage | SystemMessage | ResultMessage


def parse_message(data: dict[str, Any]) -> SdkMessage | None:
    """The SDK's ``parse_message`` for the three kinds the CLI prints for a one-turn answer.

    Returns None for anything else (the stand-in CLI prints nothing else).
    """
    kind = data.get("type")
    if kind == "system":
        return SystemMessage(subtype=data["subtype"], data=data)
    if kind == "assistant":
        return AssistantMessage(
            content=[
                TextBlock(text=b["text"]) for b in data["message"]["content"] if b["type"] == "text"
            ],
            model=data["message"]["model"],
            parent_tool_use_id=data.get("parent_tool_use_id"),
            error=data["message"].get("error"),
        )
    if kind == "result":
        return ResultMessage(
            subtype=data["subtype"],
            duration_ms=data["duration_ms"],
            duration_api_ms=data["duration_api_ms"],
            is_error=data["is_error"],
            num_turns=data["num_turns"],
            session_id=data["session_id"],
            total_cost_usd=data.get("total_cost_usd"),
            usage=data.get("usage"),
            result=data.get("result"),
            structured_output=data.get("structured_output"),
        )
    return None


def converted_dict(message: object) -> dict[str, Any]:
    """What the wrapper's ``run_completion`` builds and logs as ``Converted message dict``:
    every public, non-callable attribute in ``dir()`` order (copied from src/claude_cli.py)."""
    out: dict[str, Any] = {}
    for attr_name in dir(message):
        if not attr_name.startswith("_"):
            value = getattr(message, attr_name)
            if not callable(value):
                out[attr_name] = value
    return out
