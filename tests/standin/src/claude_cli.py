"""Stand-in of the wrapper's ``src.claude_cli`` plus the Claude Agent SDK's subprocess reader.

Runs the stand-in ``claude`` CLI (``tests/standin/claude``) as an asyncio subprocess per request,
reads its stream-json stdout and lets its stderr go straight to the server's stderr (the SDK does
not pipe it unless asked), so a crash's node-style lines land in ``docker logs`` as they do for
the real wrapper. At DEBUG level a request's run logs every SDK message three times, as the
wrapper's ``run_completion`` does (``Raw SDK message type``, ``Raw SDK message``, ``Converted
message dict``); the start-up check (``verify_cli``) calls the SDK's ``query`` directly there,
so it logs none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.sdk_types import converted_dict, parse_message

logger = logging.getLogger(__name__)
# The real SDK logs its reader failures under this name.
sdk_logger = logging.getLogger("claude_agent_sdk._internal.query")

CLI_PATH = os.environ.get("CLAUDE_CLI_PATH", str(Path(__file__).resolve().parent.parent / "claude"))
USAGE_LIMIT_PREFIX = "Claude AI usage limit reached"


class ProcessError(Exception):
    """Same text as claude_agent_sdk's ProcessError: message, exit code, error output."""

    def __init__(self, message: str, exit_code: int, stderr: str) -> None:
        self.exit_code = exit_code
        self.stderr = stderr
        super().__init__(f"{message} (exit code: {exit_code})\nError output: {stderr}")


@dataclass
class RunResult:
    texts: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: ProcessError | None = None

    @property
    def text(self) -> str:
        return "".join(self.texts)


class ClaudeCodeCLI:
    def __init__(self) -> None:
        self.cwd = tempfile.mkdtemp(prefix="claude_code_workspace_")
        logger.info("Using temporary isolated workspace: %s", self.cwd)
        from src.auth import validate_claude_code_auth

        _, method = validate_claude_code_auth()
        logger.info("Claude Code authentication method: %s", method)

    async def verify_cli(self) -> bool:
        logger.info("Testing Claude Agent SDK...")
        result = await self.run(
            "Hello", model="claude-haiku-4-5-20251001", max_turns=1, log_messages=False
        )
        if result.error is None:
            logger.info("✅ Claude Agent SDK verified successfully")
            return True
        logger.warning("⚠️ Claude Agent SDK verification failed")
        return False

    async def stream(
        self, prompt: str, model: str, max_turns: int = 10, log_messages: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the CLI's stream-json messages; raise ProcessError on a non-zero exit.

        With ``log_messages`` each message is logged at DEBUG as the wrapper does (see module doc).
        """
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            CLI_PATH,
            "--output-format",
            "stream-json",
            "--verbose",
            "--max-turns",
            str(max_turns),
            "--model",
            model,
            "--print",
            prompt,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # inherited: the CLI's own stderr goes to the container's stderr
        )
        assert proc.stdout is not None
        try:
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if log_messages and logger.isEnabledFor(logging.DEBUG):
                    log_sdk_message(msg)
                yield msg
            rc = await proc.wait()
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if rc != 0:
            err = ProcessError(
                f"Command failed with exit code {rc}", rc, "Check stderr output for details"
            )
            sdk_logger.error("Fatal error in message reader: %s", err)
            raise err

    async def run(
        self, prompt: str, model: str, max_turns: int = 10, log_messages: bool = True
    ) -> RunResult:
        out = RunResult()
        try:
            async for msg in self.stream(prompt, model, max_turns, log_messages):
                collect(out, msg)
        except ProcessError as e:
            logger.error("Claude Agent SDK error: %s", e)
            out.error = e
            if out.text.startswith(USAGE_LIMIT_PREFIX):
                logger.error("%s", out.text)
        return out


def log_sdk_message(raw: dict[str, Any]) -> None:
    """The wrapper's three DEBUG records per SDK message (src/claude_cli.py, run_completion)."""
    message = parse_message(raw)
    if message is None:
        return
    logger.debug(f"Raw SDK message type: {type(message)}")
    logger.debug(f"Raw SDK message: {message}")
    logger.debug(f"Converted message dict: {converted_dict(message)}")


def collect(out: RunResult, msg: dict[str, Any]) -> None:
    kind = msg.get("type")
    if kind == "assistant":
        for block in msg.get("message", {}).get("content", []):
            if block.get("type") == "text":
                out.texts.append(block.get("text", ""))
    elif kind == "result":
        out.result = msg
        if not out.texts and msg.get("result"):
            out.texts.append(str(msg["result"]))
