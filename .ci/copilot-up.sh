#!/usr/bin/env bash
# Install the real copilot-api (npm, ericc-ch/copilot-api; pinned by tests/standin_copilot/npm)
# into .cache/copilot-api for the tests that run it in a container (tests/copilot_support.py).
# The tests also make a CA and a certificate for its fake upstream with openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v openssl >/dev/null 2>&1; then
    echo "copilot-up: openssl missing, installing Debian's openssl"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
exec bash .ci/npm-pinned.sh copilot-up tests/standin_copilot/npm \
    "${COPILOT_CACHE:-.cache/copilot-api}" copilot-api dist/main.js
