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

# Written by hand for rules no drawn sample satisfied (their keyword is not in their regex, or
# their shape spans lines); each is still checked by gitleaks' own checks before it is kept.
WRITTEN = {
    "airtable-personnal-access-token": "AIRTABLE token patQ7xK2mN9pL4rT8."
    "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a",
    "facebook-access-token": "facebook login 123456789012345|Qz8XwK2mN9pL4rT7vB3yH6jD1fG5sA0",
    "kubernetes-secret-yaml": "apply kind: Secret metadata: x data: password: c3VwZXJTM2NyZXQ5OA==",
    "microsoft-teams-webhook": "POST https://acme.webhook.office.com/webhookb2/"
    "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d@9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a/IncomingWebhook/"
    "7c3e9a1f5b2d8e4a6c0f9b1d7e3a5c8f/2b4d6f8a-0c1e-4b5d-9f2a-4c6e8b0d1f3a",
    "nuget-config-password": '<add key="ClearTextPassword" value="Xq7!mZ2#pL9@" />',
    "sidekiq-sensitive-url": "bundle config https://1a2b3c4d:9f8e7d6c@gems.contribsys.com/",
    "slack-webhook-url": "POST https://hooks.slack.com/services/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",
}


def reported(rule, text: str, strict: bool = True) -> str | None:
    """The secret gitleaks' checks would report in `text`, or None (`strict`: and secret-like,
    8+ characters of 3+ bits each, so that a drawn sample is not a trivial one)."""
    try:
        return _reported(rule, text, strict)
    except Exception:  # text Arrow will not take (e.g. surrogates): not a usable sample
        return None


def _reported(rule, text: str, strict: bool) -> str | None:
    if not any(k in text.lower() for k in rule.keywords):
        return None
    found = _first_finding(rule, text)
    if found is None:
        return None
    match, secret = found
    _, global_allows, _ = rule_set()
    floor = max(rule.entropy, 3.0) if strict else rule.entropy
    if (strict and len(secret) < 8) or not secret or shannon_bits(secret) < floor:
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


def main(missing_only: bool = False) -> None:
    """Every rule, or (``--missing``) only the rules the committed corpus has no sample of."""
    rules, _, _ = rule_set()
    samples, unsampled = [], {}
    if missing_only:
        old = json.loads(OUT.read_text(encoding="utf-8"))
        samples = old["samples"]
        rules = tuple(r for r in rules if r.id in old["unsampled"])
    for rule in rules:
        written = WRITTEN.get(rule.id)
        secret = reported(rule, written, strict=False) if written else None
        got = (written, secret) if written and secret else sample(rule)
        if isinstance(got, str):
            unsampled[rule.id] = got
        else:
            kind = "written" if rule.id in WRITTEN and got[0] == WRITTEN[rule.id] else "drawn"
            samples.append({"rule": rule.id, "text": got[0], "secret": got[1], "how": kind})
    OUT.write_text(
        json.dumps({"samples": samples, "unsampled": unsampled}, indent=1, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    samples.sort(key=lambda s: s["rule"])
    print(f"{len(samples)} rules sampled, {len(unsampled)} not; wrote {OUT}")


if __name__ == "__main__":
    import sys

    main(missing_only="--missing" in sys.argv)
