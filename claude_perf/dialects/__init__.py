"""Built-in log dialects as data, one TOML file per proxy log language.

Declared in config/dialect.py, read by config/load.py, applied by parse/dialect_match.py.
"""
