"""Model names as logged (aliases, dated ids) mapped to canonical families such as "Sonnet 4.5"."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Claude Code's aliases resolve to the newest model of a tier; which one that is changes over
# time, so the mapping is configurable ([aliases] in claude-perf.toml). Defaults as of late 2025.
DEFAULT_ALIASES: Mapping[str, str] = {
    "sonnet": "Sonnet 4.5",
    "opus": "Opus 4.1",
    "haiku": "Haiku 4.5",
    "sonnet[1m]": "Sonnet 4.5",
    "opusplan": "Opus 4.1",
}

# Both id shapes Anthropic has used: claude-3-7-sonnet-20250219 (version first) and
# claude-sonnet-4-5-20250929 (tier first); a minor version is one digit followed by '-' or end.
_ID_RE = re.compile(
    r"^(?:anthropic[./:])?claude-(?:"
    r"(?P<tier>opus|sonnet|haiku)-(?P<major>\d+)(?:-(?P<minor>\d)(?=-|$|@))?"
    r"|(?P<major2>\d+)(?:-(?P<minor2>\d))?-(?P<tier2>opus|sonnet|haiku)"
    r")(?:[-@].*)?$",
    re.IGNORECASE,
)


def family_of(model: str | None, aliases: Mapping[str, str] = DEFAULT_ALIASES) -> str | None:
    """The canonical family of a logged model name; None when it is not a Claude model."""
    if not model:
        return None
    name = model.strip()
    lowered = name.lower()
    for alias, family in aliases.items():
        if alias.lower() == lowered:
            return family
    match = _ID_RE.match(lowered)
    if not match:
        return None
    tier = match.group("tier") or match.group("tier2")
    major = match.group("major") or match.group("major2")
    minor = match.group("minor") if match.group("tier") else match.group("minor2")
    version = f"{major}.{minor}" if minor else major
    return f"{tier.capitalize()} {version}"
