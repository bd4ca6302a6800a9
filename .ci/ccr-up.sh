#!/usr/bin/env bash
# Install the real claude-code-router (npm @musistudio/claude-code-router, pinned) for the tests
# that run it in a container (tests/ccr_support.py). Idempotent; safe on a fresh machine.
#  - installs Debian's nodejs and npm when node or npm is missing (node >= 20 is required by
#    the package's "engines"; the container bind-mounts this host's node read-only);
#  - `npm ci` from the pinned tests/standin_ccr/npm/package{,-lock}.json into .cache/ccr
#    (git-ignored). 2.0.0 is pinned: its dist/cli.js bundles fastify and pino, no dependency to
#    fetch; 3.1.1 (the newest) does not install: its @the-next-ai/ai-gateway is not published;
#  - skips the install when the cache already holds the same lock file.
# Prints the installed version and the path of the router's entry point.
set -euo pipefail
cd "$(dirname "$0")/.."

PIN=tests/standin_ccr/npm
CACHE=${CCR_CACHE:-.cache/ccr}
PKG=$CACHE/node_modules/@musistudio/claude-code-router
ENTRY=$PKG/dist/cli.js

export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ccr-up: node/npm missing, installing Debian's nodejs and npm"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "ccr-up: ERROR: node $(node --version) is older than 20 (claude-code-router needs >= 20)" >&2
    exit 1
fi

if [ -f "$ENTRY" ] && cmp -s "$PIN/package-lock.json" "$CACHE/package-lock.json"; then
    echo "ccr-up: cached"
else
    echo "ccr-up: installing into $CACHE"
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    cp "$PIN/package.json" "$PIN/package-lock.json" "$CACHE/"
    npm ci --prefix "$CACHE" --omit=dev --no-audit --no-fund --loglevel=error
fi

version=$(node -p "require('./$PKG/package.json').version")
echo "ccr-up: @musistudio/claude-code-router $version, node $(node --version), entry $ENTRY"
