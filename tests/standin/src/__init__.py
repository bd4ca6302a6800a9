"""Stand-in for claude-code-openai-wrapper's ``src`` package (loggers are named ``src.*``)."""
