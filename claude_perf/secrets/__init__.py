"""Secrets out of every text that leaves the tool: one redaction pass, rules kept as data.

Two rule sets run in turn (``redact.redact`` for one text, ``redact.redact_many`` for a column):
``keynames`` (Python ``re``: the value of any key whose name says it is a secret, in JSON, Python
reprs, key=value, ``KEY: value``, command-line flags and URL query parameters, in any case style;
plus the token shapes that keep their prefix, such as ``Bearer …`` and ``sk-ant-…``), then
``gitleaks`` (the gitleaks default rule set, ``gitleaks.toml``, MIT, run by RE2 through Arrow with
its keywords, entropy thresholds and allowlists). The room sits low (under ingest) so that bundle
export, the CLI and the report share the one pass.
"""

from claude_perf.secrets.redact import MARKER, redact, redact_many, redact_tree

__all__ = ["MARKER", "redact", "redact_many", "redact_tree"]
