"""analysis: parsed log entries and resource samples become figures, findings and scores.

Read in this order (each module imports only the ones above it, and nothing from report/ or cli/):

- ``assemble``: entries → one row per HTTP request (start and end paired, outcome, error class);
- ``numeric``: small array functions (percentiles, requests in flight, peak window, bursts);
- ``metrics``: requests → latency per model, throughput, concurrency, health, errors (``Metrics``);
- ``pipeline``: the one-way run, lines → entries → requests → metrics, as one ``Analysis``;
- ``utilisation``: resource samples → idle vs under load, memory growth, I/O per request;
- ``formatting``: how figures are written in sentences (``fmt_s``, ``fmt_bytes``, ``fmt_pct``...);
- ``reliability``: uptime, restarts, OOM kills, health checks (engine facts, else the logs);
- ``concurrency``: latency alone vs alongside other requests, and the busiest burst;
- ``findings``: the bottleneck rules (``RULES``), each a Finding with its evidence, or None;
- ``scores``: scores out of 10 from a configurable rubric, and capacity.

Entry points: ``pipeline.analyse`` / ``analyse_session`` give the Analysis that ``report.build``
reads; ``findings.evaluate`` and ``scores.score_all`` are called from there, once per report.
The package itself imports nothing, so importing one module does not load pandas for the rest.
"""
