"""Key-name and token-shape rules: values of keys that name a secret, and shapes that keep a prefix.

A key is a secret's name when, split into words (camelCase, snake_case, kebab-case, dots), it holds
token, secret, password/passwd, api key, auth, credential(s), session, cookie, private or access
key — and is not an identifier or a count of those (``session_id``, ``requestId``,
``max_tokens``, ``token_type``, ``author``): ids are kept because correlation reads them (a
``session_id='…'`` in a ResultMessage is the CLI's session id, not a credential), and token counts
are figures. Forms: JSON ``"key": "v"``, Python reprs ``'key': 'v'`` and ``key='v'``, ``key=v``,
``KEY: value``, ``--key VALUE`` / ``--key=VALUE``, URL query ``?token=v`` (and ``?key=`` /
``&sig=``). In the loose ``word: value`` form, token/auth/session keys need a value that looks like
one (a digit, or 16+ characters), so prose such as "Invalid token: expired" is left alone.

Every regex is precompiled with bounded or possessive quantifiers: a hostile 1 MB line does linear
work. A value already redacted, or an obvious placeholder (None, null, true, …), is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = "[REDACTED]"

_NOT_MARKER = r"(?!\[REDACTED\])"
_TOKEN_START = r"(?<![A-Za-z0-9_-])"
_TOKEN_END = r"(?![A-Za-z0-9_-])"
_AUTH_SCHEMES = ("bearer", "basic", "digest", "token", "negotiate", "ntlm", "apikey")
_PLACEHOLDERS = frozenset({"none", "null", "nil", "undefined", "true", "false", "", "***", "xxx"})

# Words of a key name that make it a secret's name.
_SECRET_WORDS = re.compile(
    r"token|secret|passw(?:or)?d|passphrase|apikey|api_key|auth|authorization|authn|authz|authtoken"
    r"|authkey|credentials?|creds|session|cookies?|private_key|access_key|secret_key|signature"
)
# Last words that make it a name *about* a secret, not one: ids, counts, types, places, units
# and times (first_token_ns is when the first token came).
_NOT_SECRET_LAST_WORDS = (
    "id ids uuid type types count counts tokens usage len length size limit max min name names"
    " file path url uri endpoint expiry expires expires_at expires_in ttl timeout at version"
    " method mode enabled required status header headers error errors present set provided"
    " source kind index key_id duration ms s ns us time timestamp ts rate"
)
_NOT_SECRET_LAST = frozenset(_NOT_SECRET_LAST_WORDS.split())
_WEAK_WORDS = frozenset({"token", "auth", "session"})
_QUERY_KEYS = frozenset({"key", "sig", "signature"})


def key_words(name: str) -> list[str]:
    """Lower-case words of a key in any case style: refreshToken → [refresh, token]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return [w for w in re.split(r"[_.\-\s]+", spaced.lower()) if w]


def secret_key(name: str) -> str | None:
    """The secret word a key name holds ("token", "password", …), None when it names no secret."""
    words = key_words(name)
    if not words or words[-1] in _NOT_SECRET_LAST or "tokens" in words:
        return None
    joined = "_".join(words)
    if re.search(r"author(?!i[sz])|authority|oauth_provider|session_(?:count|state)", joined):
        return None
    for i, word in enumerate(words):
        pair = "_".join(words[i : i + 2])
        for candidate in (pair, word):
            m = _SECRET_WORDS.fullmatch(candidate)
            if m:
                return "auth" if candidate.startswith("auth") else candidate
    return None


# A value its writer already masked: fuergaosi233/claude-code-proxy prints
# `API_KEY=********************...` at start-up.
_MASKED = re.compile(r"\*{3,}(?:\.{3}|…)?")


def _placeholder(value: str) -> bool:
    bare = value.strip("\"'")
    return (
        bare.lower() in _PLACEHOLDERS
        or value.startswith(MARKER)
        or _MASKED.fullmatch(bare.rstrip(",;")) is not None
    )


def _looks_secret(value: str) -> bool:
    """A loose `word: value` value that looks like a credential, not a word of prose."""
    return any(c.isdigit() for c in value) or len(value) >= 16


def _value_repl(loose: bool) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        key, value = m.group("key"), m.group("val")
        word = secret_key(key)
        if word is None and key.lower() in _QUERY_KEYS and m.start() > 0:
            word = key.lower() if m.string[m.start() - 1] in "?&" else None
        if word is None or _placeholder(value) or MARKER in value or value.lower() in _AUTH_SCHEMES:
            return m.group(0)
        if m.string.startswith(MARKER, m.end("val")):  # a shape rule kept its prefix: done
            return m.group(0)
        if loose and word in _WEAK_WORDS and not _looks_secret(value):
            return m.group(0)
        return (
            m.group(0)[: m.start("val") - m.start()]
            + MARKER
            + m.group(0)[m.end("val") - m.start() :]
        )

    return repl


_KEY = r"(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63}+)"
_KEY_START = r"(?<![A-Za-z0-9_.])"


def _quoted_value(quote: str) -> str:
    q = re.escape(quote)
    return rf"{q}(?P<val>(?:\\.|[^{q}\\\r\n]){{1,4096}}+){q}"


# (regex, loose): loose forms need a value that looks like a credential for weak key words.
_VALUE_RULES: list[tuple[re.Pattern[str], bool]] = [
    # "key": "value", 'key': 'value', key="value", key: 'value' (JSON, reprs, kwargs)
    *[
        (
            re.compile(
                rf"{_KEY_START}(?P<kq>[\"']?+){_KEY}(?P=kq)[ \t]{{0,8}}+(?::|=)[ \t]{{0,8}}+"
                + _quoted_value(q),
            ),
            False,
        )
        for q in ('"', "'")
    ],
    # key=value (query strings, key=value logging, env dumps); "key"=1234 too
    (
        re.compile(
            rf"{_KEY_START}(?P<kq>[\"']?+){_KEY}(?P=kq)[ \t]{{0,3}}+=[ \t]{{0,3}}+"
            r"(?P<val>[^\s&,;'\"()\[\]{}<>]{1,4096}+)"
        ),
        False,
    ),
    # "key": 12345 (a JSON number or bare word after a quoted key)
    (
        re.compile(
            rf"{_KEY_START}(?P<kq>[\"']){_KEY}(?P=kq)[ \t]{{0,8}}+:[ \t]{{0,8}}+"
            r"(?P<val>[^\s,;'\"()\[\]{}<>]{1,4096}+)"
        ),
        False,
    ),
    # KEY: value (headers, YAML, prose): loose
    (
        re.compile(
            rf"{_KEY_START}{_KEY}[ \t]{{0,8}}+:[ \t]{{1,8}}+(?!//)"
            r"(?P<val>[^\s,;'\"()\[\]{}<>]{1,4096}+)"
        ),
        True,
    ),
    # --api-key VALUE, --password=VALUE, -api-key VALUE
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])--?+(?P<key>[A-Za-z][A-Za-z0-9_-]{0,63}+)(?:[ \t]++|=)"
            r"(?P<val>(?!-)[^\s'\"]{1,4096}+)"
        ),
        False,
    ),
]


def _keep(group: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        return (m.group(group) or "") + MARKER

    return repl


def _keep_around(m: re.Match[str]) -> str:
    return (m.group("pre") or "") + MARKER + (m.group("post") or "")


_SCHEME_PREFIX = r"(?>(?:(?:Bearer|Basic|Digest|Token|Negotiate|NTLM|ApiKey)[ \t]+)?)"

# Shapes that keep a readable prefix; gitleaks' rules run after these and catch the rest.
_SHAPE_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # scheme://user:password@host -> scheme://user:[REDACTED]@host
    (
        re.compile(r"(?P<pre>://[^\s:/@]{0,256}:)" + _NOT_MARKER + r"[^\s/@]{1,256}(?P<post>@)"),
        _keep_around,
    ),
    # Authorization: Bearer abc (the scheme word stays)
    (
        re.compile(
            _TOKEN_START + r"(?P<pre>(?:proxy-)?authorization[\"']?[ \t]{0,8}[:=][ \t]{0,8}+[\"']?"
            rf"{_SCHEME_PREFIX}){_NOT_MARKER}[^\s,;&'\"]++",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Cookie headers: the whole rest of the line (cookie values contain "; " and spaces).
    (
        re.compile(
            _TOKEN_START
            + r"(?P<pre>(?:set-)?cookie[ \t]{0,8}:[ \t]{0,8}+)"
            + _NOT_MARKER
            + r"[^\r\n]+",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Bare bearer tokens anywhere ("Bearer xyz"); "bearer token" in prose is not a token, nor is
    # the next key of a key=value line ("token_type=bearer expires_in=3600").
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])(?P<pre>bearer[ \t]++)(?!token"
            + _TOKEN_END
            + r"|[A-Za-z_]\w*=)"
            + _NOT_MARKER
            + r"[A-Za-z0-9._~+/-]+=*",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Anthropic keys: sk-ant-api03-..., sk-ant-oat01-...; keep the key type.
    (
        re.compile(_TOKEN_START + r"(?P<pre>sk-ant-(?>(?:[a-z]{2,8}\d{0,4}-)?))[A-Za-z0-9_-]{8,}"),
        _keep("pre"),
    ),
    # OpenAI-style keys: sk-..., sk-proj-...; 20+ key characters so "sk-learn" survives.
    (
        re.compile(
            _TOKEN_START + r"(?P<pre>sk-(?>(?:proj-|svcacct-|admin-)?))(?!ant-)[A-Za-z0-9_-]{20,}"
        ),
        _keep("pre"),
    ),
    # AWS access key ids.
    (re.compile(r"(?<![A-Za-z0-9])(?P<pre>AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"), _keep("pre")),
    # GitHub tokens: classic ghp_/gho_/ghu_/ghs_/ghr_ and fine-grained github_pat_.
    (re.compile(_TOKEN_START + r"(?P<pre>gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), _keep("pre")),
    # Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xapp-.
    (re.compile(_TOKEN_START + r"(?P<pre>xox[abprs]-|xapp-)[A-Za-z0-9-]{10,}"), _keep("pre")),
    # Google API keys.
    (re.compile(_TOKEN_START + r"(?P<pre>AIza)[A-Za-z0-9_-]{35}"), _keep("pre")),
    # JWTs: header.payload.signature, header and payload base64url JSON objects ("eyJ").
    (
        re.compile(
            _TOKEN_START + r"(?P<pre>)eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
        ),
        _keep("pre"),
    ),
]

# Cheap pre-filter: a text without any of these cannot match a rule above.
_HINTS = re.compile(
    r"tok|secret|pass|pwd|key|auth|cred|session|cookie|sig|code|bearer|://|sk-|akia|asia|gh[pousr]_"
    r"|github_pat_|xox|xapp-|aiza|eyj",
    re.IGNORECASE,
)
_MAX_PASSES = 4


def redact_keynames(text: str) -> str:
    """`text` with key-named secret values and prefixed token shapes replaced by the marker."""
    if not _HINTS.search(text):
        return text
    for _ in range(_MAX_PASSES):
        before = text
        for pattern, repl in _SHAPE_RULES:
            text = pattern.sub(repl, text)
        for pattern, loose in _VALUE_RULES:
            text = pattern.sub(_value_repl(loose), text)
        if text == before:
            break
    return text
