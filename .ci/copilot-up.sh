#!/usr/bin/env bash
# Install the real copilot-api (npm, ericc-ch/copilot-api; pinned by tests/standin_copilot/npm)
# into .cache/copilot-api for the tests that run it in a container (tests/copilot_support.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash .ci/npm-pinned.sh copilot-up tests/standin_copilot/npm \
    "${COPILOT_CACHE:-.cache/copilot-api}" copilot-api dist/main.js
