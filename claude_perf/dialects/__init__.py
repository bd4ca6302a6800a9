"""Built-in log dialects as data: one TOML file per proxy log language (see parse/dialect.py)."""
