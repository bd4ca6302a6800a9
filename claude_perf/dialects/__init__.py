"""Built-in log dialects as data: one TOML file per proxy log language (declared in config/dialect.py, applied by parse/dialect_match.py)."""
