"""cli: the ``claude-perf`` command line, the only place that prints to the terminal or exits.

- ``app``: the typer commands (report, compare, export, collect), their options, ``main``;
- ``commands``: each command as a function over frozen options that returns an outcome and
  never prints, so tests call it directly;
- ``console``: what is printed besides the report (the headline table, collect progress).

A command flows app → commands → (ci, report, analysis, ingest, collect, store) and back; core
code raises typed errors from ``claude_perf.errors``, which ``app`` turns into one line and an
exit code. Heavy libraries are imported inside the commands, so ``--help`` answers at once.
"""
