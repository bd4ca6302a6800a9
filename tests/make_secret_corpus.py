"""Generate tests/secret_corpus.json: one sample of every gitleaks rule's shape, from its regex.

`python -m tests.make_secret_corpus` (deterministic). gitleaks' rules carry no samples, so each
is drawn with hypothesis' ``from_regex`` (Python's regex parser reads Go's syntax for nearly all of
them) and kept when gitleaks' own checks would report it: the rule matches, the secret passes the
rule's entropy and allowlists (claude_perf/secrets/gitleaks.py). A rule that cannot be sampled that
way is listed with the reason, never silently left out.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from claude_perf.secrets.gitleaks import _allowed, _first_finding, rule_set, shannon_bits

OUT = Path(__file__).resolve().parent / "secret_corpus.json"


def reported(rule, text: str) -> str | None:
    """The secret gitleaks' checks would report in `text`, or None."""
    try:
        return _reported(rule, text)
    except Exception:  # text Arrow will not take (e.g. surrogates): not a usable sample
        return None


def _reported(rule, text: str) -> str | None:
    if not any(k in text.lower() for k in rule.keywords):
        return None
    found = _first_finding(rule, text)
    if found is None:
        return None
    match, secret = found
    _, global_allows, _ = rule_set()
    if len(secret) < 8 or shannon_bits(secret) < max(rule.entropy, 3.0):
        return None  # short or plain samples say little; ask for a secret-like one
    if _allowed(secret, match, text, (*rule.allows, *global_allows)):
        return None
    return secret


def python_flags(regex: str) -> str:
    """Go allows ``(?i)`` anywhere (to the end of its group); Python only at the start: write a
    later one as a scoped group ``(?i:...)`` closed where its enclosing group closes."""
    regex = regex.replace(r"\z", r"\Z")  # Go's end of text is Python's \Z
    start = 1  # a leading (?i) is fine as it is
    while (at := regex.find("(?i)", start)) > 0:
        depth, i, in_class = 0, at + 4, False
        while i < len(regex):
            ch = regex[i]
            if ch == "\\":
                i += 2
                continue
            if in_class:
                in_class = ch != "]"
            elif ch == "[":
                in_class = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        regex = regex[:at] + "(?i:" + regex[at + 4 : i] + ")" + regex[i:]
        start = at + 4
    return regex


def sample(rule) -> tuple[str, str] | str:
    """(text, secret), or why no sample could be drawn."""
    try:
        # ASCII: RE2 (and Go) read \w, \d, \s as ASCII classes; Python would draw Unicode.
        strategy = st.from_regex(re.compile(python_flags(rule.regex), re.ASCII), fullmatch=True)
    except (re.error, ValueError, TypeError) as exc:
        return f"Python's regex parser cannot read it ({exc})"
    strategy = strategy.filter(lambda s: "\n" not in s and "\r" not in s and s.isprintable())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text = find(
                strategy,
                lambda s: reported(rule, s) is not None,
                settings=settings(
                    max_examples=300,
                    database=None,
                    derandomize=True,
                    phases=[Phase.generate],  # the first sample found; shrinking costs minutes
                    suppress_health_check=list(HealthCheck),
                ),
            )
    except (NoSuchExample, Unsatisfiable):
        return "no sample in 300 draws passed the rule's own checks (keywords, entropy, allowlists)"
    except Exception as exc:  # hypothesis cannot draw from some Go constructs
        return f"hypothesis cannot draw from it ({type(exc).__name__}: {exc})"[:200]
    secret = reported(rule, text)
    assert secret is not None
    return text, secret


def main() -> None:
    rules, _, _ = rule_set()
    samples, unsampled = [], {}
    for rule in rules:
        got = sample(rule)
        if isinstance(got, str):
            unsampled[rule.id] = got
        else:
            samples.append({"rule": rule.id, "text": got[0], "secret": got[1]})
    OUT.write_text(
        json.dumps({"samples": samples, "unsampled": unsampled}, indent=1, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(samples)} rules sampled, {len(unsampled)} not; wrote {OUT}")


if __name__ == "__main__":
    main()
