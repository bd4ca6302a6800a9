"""The report sections, grouped by topic: each function takes the shared Context, returns a Section.

overview (summary, sources), performance (latency, throughput, tiers, references), resources
(utilisation, scaling), failures (errors, reliability), findings (bottlenecks, recommendations),
quality (scores, data quality). ``report.build.SECTIONS`` puts them in report order.
"""
