"""Jinja2 templates shipped with claude-perf (report.md.j2, report.html.j2)."""
