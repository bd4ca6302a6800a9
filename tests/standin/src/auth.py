"""Stand-in of the wrapper's ``src.auth``: Claude CLI auth check and the API-key guard."""

from __future__ import annotations

import logging
import os
import secrets

from fastapi import HTTPException, Request

logger = logging.getLogger(__name__)

AUTH_METHOD = "claude_cli"


def validate_claude_code_auth() -> tuple[bool, str]:
    """The real wrapper checks the CLI's credentials; the stand-in always has them."""
    logger.info("Claude Code authentication validated: %s", AUTH_METHOD)
    return True, AUTH_METHOD


def verify_api_key(request: Request) -> None:
    """401 unless ``Authorization: Bearer <API_KEY>`` matches (no key configured: open)."""
    expected = os.environ.get("API_KEY", "")
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
        raise HTTPException(
            status_code=401,
            detail="Invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
