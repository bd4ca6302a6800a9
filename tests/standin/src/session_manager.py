"""Stand-in of the wrapper's ``src.session_manager`` (only its start-up record)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

CLEANUP_INTERVAL_MINUTES = 5


def start_cleanup_task() -> None:
    logger.info("Started session cleanup task (interval: %d minutes)", CLEANUP_INTERVAL_MINUTES)
