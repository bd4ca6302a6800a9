"""Jinja2 templates of the report (Markdown, self-contained HTML), read via importlib.resources."""
