"""`claude-perf load`: a bounded test session driven from the client's side, one record a request.

plan.py (the options as one validated LoadPlan) · answers.py (what a response said: SSE and JSON
of OpenAI chat completions and Anthropic messages) · driver.py (the async loop on httpx) ·
sinks.py (JSON lines and the store) · watch.py (the container's resources and logs) · run.py
(the whole command).
"""
