#!/usr/bin/env bash
# Install the real Portkey AI Gateway (npm @portkey-ai/gateway, pinned by
# fixtures/captures/portkey-npm) into .cache/portkey, for fixtures/captures/record_portkey.py,
# which runs it in a container. Its build/start-server.js bundles the gateway; npm adds the
# dependencies it declares (hono, @hono/node-server, zod, ioredis, …: 95 packages).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash .ci/npm-pinned.sh portkey-up fixtures/captures/portkey-npm \
    "${PORTKEY_CACHE:-.cache/portkey}" @portkey-ai/gateway build/start-server.js
