"""Process-wide helpers under every stage: ``parallel`` (work on both cores: ``parallel_map``,
``kernel``, the background import) and ``memory`` (freed memory handed back to the system)."""
