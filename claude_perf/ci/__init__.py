"""ci: what a CI job does with a report: gates that fail the job, baseline comparison, summary.

- ``gates``: limits from the command line and ``[gates]`` checked against a JSON summary
  (exit 3 after the report is written);
- ``compare``: two JSON summaries → per-figure deltas, each a regression, an improvement or
  noise (n-aware thresholds, a two-proportion z-test for rates);
- ``github``: the Markdown appended to ``$GITHUB_STEP_SUMMARY`` within GitHub's 1 MiB.

Reads only JSON summaries and report text: it sits above ``report`` and below ``cli``.
"""
