"""One finding: a rule that fired, with its evidence. A leaf module, so that rules kept beside
their figures (analysis/replicas.py) and the rule book (analysis/findings.py) share it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One rule that fired: what, how bad, the figure behind it, and what to do."""

    rule: str
    severity: str  # critical | warning | info
    title: str
    evidence: str
    recommendation: str
