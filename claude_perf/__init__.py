"""claude-perf: honest, reproducible performance reports for Claude API proxy containers."""

__version__ = "0.1.0"
