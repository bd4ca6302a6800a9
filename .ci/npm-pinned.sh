#!/usr/bin/env bash
# Install a pinned npm package for the tests that run it in a container, from its pinned
# package.json and package-lock.json. Idempotent; safe on a fresh machine.
#   usage: .ci/npm-pinned.sh TAG PIN_DIR CACHE_DIR PACKAGE ENTRY
#  - installs Debian's nodejs and npm when node or npm is missing (the packages here need node
#    >= 20; the containers bind-mount this host's node read-only);
#  - `npm ci` from PIN_DIR/package{,-lock}.json into CACHE_DIR (git-ignored), so the package and
#    its dependencies are exact; skipped when the cache already holds the same lock file.
# Prints the installed version and the path of the package's entry point (ENTRY, relative to
# the package's folder).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=$1 PIN=$2 CACHE=$3 PACKAGE=$4
PKG=$CACHE/node_modules/$PACKAGE
ENTRY=$PKG/$5

export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "$TAG: node/npm missing, installing Debian's nodejs and npm"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "$TAG: ERROR: node $(node --version) is older than 20 ($PACKAGE needs >= 20)" >&2
    exit 1
fi

if [ -f "$ENTRY" ] && cmp -s "$PIN/package-lock.json" "$CACHE/package-lock.json"; then
    echo "$TAG: cached"
else
    echo "$TAG: installing into $CACHE"
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    cp "$PIN/package.json" "$PIN/package-lock.json" "$CACHE/"
    npm ci --prefix "$CACHE" --omit=dev --no-audit --no-fund --loglevel=error
fi

version=$(node -p "require(require('path').resolve('$PKG/package.json')).version")
echo "$TAG: $PACKAGE $version, node $(node --version), entry $ENTRY"
