"""`python -m claude_perf` runs the CLI."""

from claude_perf.cli.app import main

main()
