"""parse: lines → entries, one row per line that says something about a request.

- ``classify``: the entry point (``classify``): every line gets a kind (access, leveled,
  continuation, json, kv, pattern, blank, other), on both cores for large inputs;
- ``dialect_match``: which dialects each source speaks (``detect``) and what their lines say
  (``apply_dialects``); the dialects themselves are data (``config.dialect``, ``dialects/``);
- ``formats``: the generic formats and message fields as RE2 regexes;
- ``heads``: cheap first looks (uvicorn access lines, the asctime head) · ``fields``: facts out
  of message text · ``shapes``: messages grouped by shape, so regexes run once per shape ·
  ``text``, ``columns``: Arrow helpers and the sparse per-line columns;
- ``times``: application timestamps · ``units``: durations without a unit;
- ``events``, ``entries``: the entries frame and ``Entries``, what ``analysis`` reads.
"""
