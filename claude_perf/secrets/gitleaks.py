"""The gitleaks default rule set (``gitleaks.toml``, MIT) as data, run by RE2 through Arrow.

gitleaks' regexes are Go RE2 syntax; Arrow's regex kernels are RE2 too, so every rule runs as
written and in linear time (no backtracking on a hostile line). What gitleaks does per finding is
kept (detect/detect.go): a rule is tried only on text holding one of its ``keywords``
(lower-cased); the secret is its ``secretGroup``, else the first non-empty group, else the whole
match; a secret under the rule's ``entropy`` (Shannon, bits per character) or caught by an
allowlist (``regexes`` on the secret, match or line; ``stopwords`` in the secret; the global
allowlist too) is no finding. Allowlists that need a file path (``paths``) cannot apply to a log
line and are left out, as is the one rule without a regex (``pkcs12-file``, a path rule).
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

RULES_FILE = "gitleaks.toml"
# The same data as JSON, read at run time: Python's tomllib takes ~25 ms over the 98 kB file
# (a tenth of a small report's own work), json.loads 0.4 ms. Made from RULES_FILE by
# ``rules_json_text`` (tests/test_secrets.py holds the two equal; secrets/README.md says how).
RULES_JSON = "gitleaks.json"
# A finding is searched again in the rest of the line; this bounds the work on one line.
_MAX_FINDINGS_PER_LINE = 64
_MIN_SECRET_CHARS = 8


@dataclass(frozen=True)
class Allow:
    """One allowlist: RE2 regexes on a target (secret, match or line) and stopwords."""

    regexes: tuple[str, ...] = ()
    target: str = "secret"
    stopwords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One gitleaks rule, its regex with every group named for Arrow's extract_regex."""

    id: str
    regex: str  # as in the file (for match_substring_regex)
    named: str  # groups renamed g1..gN, the whole match g0
    groups: int
    secret_group: int
    keywords: tuple[str, ...]
    entropy: float
    allows: tuple[Allow, ...]


def name_groups(regex: str) -> tuple[str, int]:
    """Rename each unnamed capture group ``(`` to ``(?P<gN>`` (N counted from 1, left to right,
    as Go numbers them); escapes and character classes are skipped. Returns (regex, N)."""
    out: list[str] = []
    i, count, in_class = 0, 0, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            for lead in ("^", "]"):  # "[^]..." and "[]...": the "]" is a member, not the end
                if regex[i : i + 1] == lead:
                    out.append(lead)
                    i += 1
            continue
        if ch == "(" and regex[i + 1 : i + 2] != "?":
            count += 1
            out.append(f"(?P<g{count}>")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), count


def shannon_bits(text: str) -> float:
    """Shannon entropy of `text` in bits per character (gitleaks' detect.shannonEntropy)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _allows(raw: Sequence[dict[str, Any]]) -> tuple[Allow, ...]:
    out = []
    for entry in raw:
        if entry.get("paths") or entry.get("commits"):
            continue  # needs a file path or a commit: never true of a log line
        out.append(
            Allow(
                regexes=tuple(entry.get("regexes", ())),
                target=entry.get("regexTarget", "secret"),
                stopwords=tuple(w.lower() for w in entry.get("stopwords", ())),
            )
        )
    return tuple(out)


@functools.cache
def rule_set() -> tuple[tuple[Rule, ...], tuple[Allow, ...], str]:
    """(rules, global allowlists, version title) read once from the packaged file."""
    data = json.loads(resources.files(__package__).joinpath(RULES_JSON).read_text("utf-8"))
    rules = []
    for raw in data["rules"]:
        if "regex" not in raw:
            continue
        named, groups = name_groups(raw["regex"])
        rules.append(
            Rule(
                id=raw["id"],
                regex=raw["regex"],
                named=f"(?P<g0>{named})",
                groups=groups,
                secret_group=int(raw.get("secretGroup", 0)),
                keywords=tuple(k.lower() for k in raw.get("keywords", ())),
                entropy=float(raw.get("entropy", 0.0)),
                allows=_allows(raw.get("allowlists", ())),
            )
        )
    glob = data.get("allowlist", {})
    globals_ = _allows(
        [{"regexes": glob.get("regexes", ()), "stopwords": glob.get("stopwords", ())}]
    )
    return tuple(rules), globals_, str(data.get("title", "gitleaks config"))


def rules_json_text() -> str:
    """RULES_FILE (gitleaks' TOML, the source) as the JSON text of RULES_JSON."""
    data = tomllib.loads(resources.files(__package__).joinpath(RULES_FILE).read_text("utf-8"))
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _allowed_many(items: Sequence[tuple[str, str, str]], allows: Sequence[Allow]) -> list[bool]:
    """Per (secret, match, line): whether an allowlist takes it. Each allowlist regex runs once
    over all the items (Arrow compiles a regex per call: one call per row would cost ~1 ms)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    allowed = [False] * len(items)
    if not items:
        return allowed
    lowered = [secret.lower() for secret, _, _ in items]
    for allow in allows:
        for n, secret in enumerate(lowered):
            allowed[n] = allowed[n] or any(w in secret for w in allow.stopwords)
        column = {"match": 1, "line": 2}.get(allow.target, 0)
        targets = pa.array([item[column] for item in items], pa.string())
        for regex in allow.regexes:
            hits = pc.match_substring_regex(targets, regex).to_pylist()
            allowed = [a or bool(h) for a, h in zip(allowed, hits, strict=True)]
    return allowed


def _allowed(secret: str, match: str, line: str, allows: Sequence[Allow]) -> bool:
    return _allowed_many([(secret, match, line)], allows)[0]


def _findings(rule: Rule, texts: Sequence[str]) -> list[tuple[str, str] | None]:
    """(match, secret) of the rule's first match in each text, or None; one Arrow call."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: list[tuple[str, str] | None] = []
    for groups in pc.extract_regex(pa.array(texts, pa.string()), rule.named).to_pylist():
        if groups is None:
            out.append(None)
            continue
        if rule.secret_group:
            secret = groups.get(f"g{rule.secret_group}") or ""
        else:
            numbered = (groups[f"g{i}"] for i in range(1, rule.groups + 1))
            secret = next((g for g in numbered if g), "") or groups["g0"]
        out.append((groups["g0"], secret))
    return out


def _first_finding(rule: Rule, text: str) -> tuple[str, str] | None:
    return _findings(rule, [text])[0]


def redact_rule_many(rule: Rule, texts: Sequence[str], marker: str) -> list[str]:
    """Each text with every finding of `rule` replaced by `marker` (all its occurrences).

    Arrow gives the first match of each text; a text with a finding is searched again (after a
    rejected match, from just past it), all such texts together, at most 64 rounds."""
    _, global_allows, _ = rule_set()
    allows = (*rule.allows, *global_allows)
    out = list(texts)
    pending = dict.fromkeys(range(len(out)), 0)  # row -> where its search starts
    for _ in range(_MAX_FINDINGS_PER_LINE):
        rows = list(pending)
        found = _findings(rule, [out[i][pending[i] :] for i in rows])
        hits = [(i, f) for i, f in zip(rows, found, strict=True) if f is not None]
        candidates = [
            (i, match, secret)
            for i, (match, secret) in hits
            if secret and marker not in secret and shannon_bits(secret) >= rule.entropy
        ]
        allowed = _allowed_many([(s, m, out[i]) for i, m, s in candidates], allows)
        # A "secret" under 8 characters is a structural group of the rule (gitleaks takes the
        # first non-empty group: "8c9d-" of a Teams webhook's id); then the whole match goes.
        accepted = {
            i: s if len(s) >= _MIN_SECRET_CHARS else m
            for (i, m, s), a in zip(candidates, allowed, strict=True)
            if not a
        }
        starts, pending = pending, {}
        for i, (match, _) in hits:
            if i in accepted:
                out[i] = out[i].replace(accepted[i], marker)
                start = starts[i]  # the same place again: a second finding may follow
            else:  # not a secret: look further along the line
                start = max(out[i].find(match, starts[i]), starts[i]) + 1
            if start < len(out[i]):
                pending[i] = start
        if not pending:
            break
    return out


def redact_rule(rule: Rule, text: str, marker: str) -> str:
    """`text` with every finding of `rule` replaced by `marker` (all its occurrences)."""
    return redact_rule_many(rule, [text], marker)[0]


def keyword_hits(lowered: str) -> list[Rule]:
    """The rules whose keywords occur in the lower-cased text (gitleaks' pre-filter), in the
    rule set's order.

    Each distinct keyword is looked for once (244 for 221 rules) and the rules are found through
    the index, instead of every rule testing each of its keywords: 8 µs against 42 µs a text
    (the 156 distinct strings of a report's JSON summary, where most hold "ey", "s." or "sk").
    """
    rules, _, _ = rule_set()
    words, always = _keyword_index()
    found = set(always)
    for word, rows in words.items():
        if word in lowered:
            found.update(rows)
    return [rules[i] for i in sorted(found)]


@functools.cache
def _keyword_index() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """({keyword: the positions of the rules that have it}, the rules without keywords)."""
    rules, _, _ = rule_set()
    words: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for word in rule.keywords:
            words.setdefault(word, []).append(i)
    always = tuple(i for i, rule in enumerate(rules) if not rule.keywords)
    return {w: tuple(rows) for w, rows in words.items()}, always


@functools.cache
def _all_keywords_regex() -> str:
    import re

    rules, _, _ = rule_set()
    words = sorted({k for r in rules for k in r.keywords}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def redact_gitleaks(texts: list[str], marker: str) -> list[str]:
    """Every text with gitleaks findings replaced: keywords and regexes run over the column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not texts:
        return texts
    rules, _, _ = rule_set()
    # One RE2 pass for all keywords at once (a DFA over the alternation) picks the rows any rule
    # could concern; the per-rule keyword checks then run on those rows only.
    lowered_all = pc.utf8_lower(pa.array(texts, pa.string()))
    some = pc.match_substring_regex(lowered_all, _all_keywords_regex())
    base = np.flatnonzero(some.to_numpy(zero_copy_only=False))
    lowered = lowered_all.take(pa.array(base, pa.int64()))
    out = list(texts)
    for rule in rules:
        if rule.keywords:
            hit = pc.match_substring(lowered, rule.keywords[0])
            for word in rule.keywords[1:]:
                hit = pc.or_(hit, pc.match_substring(lowered, word))
            rows = base[hit.to_numpy(zero_copy_only=False)]
        else:
            rows = np.arange(len(texts))
        if rows.size == 0:
            continue
        candidates = pa.array([out[i] for i in rows], pa.string())
        matched = pc.match_substring_regex(candidates, rule.regex).to_numpy(zero_copy_only=False)
        chosen = rows[matched]
        redacted = redact_rule_many(rule, [out[i] for i in chosen], marker)
        for i, text in zip(chosen, redacted, strict=True):
            out[i] = text
    return out
