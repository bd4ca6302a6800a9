#!/usr/bin/env bash
# Install the real claude-max-api-proxy (npm, pinned by tests/standin_max/npm) into
# .cache/claude-max-api-proxy for the tests that run it in a container (tests/maxproxy_support.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash .ci/npm-pinned.sh maxproxy-up tests/standin_max/npm \
    "${MAXPROXY_CACHE:-.cache/claude-max-api-proxy}" claude-max-api-proxy dist/server/standalone.js
