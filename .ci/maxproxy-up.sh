#!/usr/bin/env bash
# Install the real claude-max-api-proxy (npm) for the tests that run it in a container
# (tests/maxproxy_support.py). Idempotent; safe on a fresh machine.
#  - installs Debian's nodejs and npm when node or npm is missing (node >= 20 is required by
#    the package's "engines"; the container bind-mounts this host's node read-only);
#  - `npm ci` from the pinned tests/standin_max/npm/package{,-lock}.json into
#    .cache/claude-max-api-proxy (git-ignored), so the proxy and its dependencies are exact;
#  - skips the install when the cache already holds the same lock file.
# Prints the installed version and the path of the proxy's entry point.
set -euo pipefail
cd "$(dirname "$0")/.."

PIN=tests/standin_max/npm
CACHE=${MAXPROXY_CACHE:-.cache/claude-max-api-proxy}
ENTRY=$CACHE/node_modules/claude-max-api-proxy/dist/server/standalone.js

export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "maxproxy-up: node/npm missing, installing Debian's nodejs and npm"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "maxproxy-up: ERROR: node $(node --version) is older than 20 (claude-max-api-proxy needs >= 20)" >&2
    exit 1
fi

if [ -f "$ENTRY" ] && cmp -s "$PIN/package-lock.json" "$CACHE/package-lock.json"; then
    echo "maxproxy-up: cached"
else
    echo "maxproxy-up: installing into $CACHE"
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    cp "$PIN/package.json" "$PIN/package-lock.json" "$CACHE/"
    npm ci --prefix "$CACHE" --omit=dev --no-audit --no-fund --loglevel=error
fi

version=$(node -p "require('./$CACHE/node_modules/claude-max-api-proxy/package.json').version")
echo "maxproxy-up: claude-max-api-proxy $version, node $(node --version), entry $ENTRY"
