"""Stand-in of the wrapper's ``src.parameter_validator``."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

SUPPORTED_MODELS = [
    "claude-haiku-4-5-20251001",
    "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",
    "claude-opus-4-5-20250929",
    "claude-sonnet-4-20250514",
    "claude-sonnet-4-5-20250929",
]


def validate_model(model: str) -> bool:
    """Warn (never reject) for a model outside the known list, as the wrapper does."""
    if model in SUPPORTED_MODELS:
        return True
    logger.warning(
        "Model '%s' is not in the known supported models list. "
        "It will still be attempted but may fail. Supported models: %s",
        model,
        SUPPORTED_MODELS,
    )
    return False
