#!/usr/bin/env bash
# Install the real claude-code-router (npm @musistudio/claude-code-router, pinned by
# tests/standin_ccr/npm) into .cache/ccr for the tests that run it in a container
# (tests/ccr_support.py). 2.0.0 is pinned: its dist/cli.js bundles fastify and pino, no
# dependency to fetch; 3.1.1 (the newest) does not install: its @the-next-ai/ai-gateway is not
# published.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash .ci/npm-pinned.sh ccr-up tests/standin_ccr/npm "${CCR_CACHE:-.cache/ccr}" \
    @musistudio/claude-code-router dist/cli.js
