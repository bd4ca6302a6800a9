"""report: an Analysis becomes a report (Markdown, HTML, JSON summary, charts), deterministically.

Public entry points (import them from their modules; this package imports nothing, so
``report.redact`` stays cheap for the commands that only need it):

- ``build.build(analysis, generated_at) -> model.ReportModel`` and ``build.report_time``;
- ``render.render_markdown`` / ``render_html`` / ``report_text``: a ReportModel through Jinja2;
- ``summary.build`` / ``summary_extras`` / ``dumps``: the JSON summary (``claude-perf/summary/1``);
- ``charts.draw``: the PNG charts; ``redact``: secrets out of any text taken from logs.

Rooms: ``model`` (Text, Paragraph, Facts, Bullets, Table, Chart, Section, ReportModel; ``ours`` and
``quoted``), ``cells`` (table-cell number formats), ``context`` (the figures every section
shares), ``settings`` ([tiers] and [references]), ``sections/`` (one module per group of
sections), ``build`` (the sections in order).

How a log line reaches a section: ``ingest`` reads it, ``parse.classify`` makes it an entry
(a request start or end, a health check, an error record...), ``analysis.assemble`` pairs entries
into requests and ``analysis.metrics`` computes the figures; ``report.build.context_of`` derives
utilisation, reliability, findings and scores once, and each function in ``build.SECTIONS``
turns that Context into one Section. A model name from the line, for instance, is ``quoted``
(redacted, escaped) in the latency table of ``sections/performance.py``.
"""
