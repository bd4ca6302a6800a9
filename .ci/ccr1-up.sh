#!/usr/bin/env bash
# Install the real claude-code-router 1.0.73 (npm @musistudio/claude-code-router, the 1.0.x
# line, pinned by tests/standin_ccr/npm1) into .cache/ccr1, beside 2.0.0 in .cache/ccr
# (.ci/ccr-up.sh), for the tests that run it in a container (tests/ccr_support.py, CCR1). Its
# dist/cli.js bundles fastify, pino and @musistudio/llms; npm still fetches the dependencies it
# declares (180 packages: tiktoken, rotating-file-stream, …).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash .ci/npm-pinned.sh ccr1-up tests/standin_ccr/npm1 "${CCR1_CACHE:-.cache/ccr1}" \
    @musistudio/claude-code-router dist/cli.js
