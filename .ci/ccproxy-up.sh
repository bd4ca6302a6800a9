#!/usr/bin/env bash
# Install the real ccproxy-api (PyPI) for the tests that run it in a container
# (tests/ccproxy_support.py). Idempotent; safe on a fresh machine.
#  - its own venv under .cache/ccproxy (git-ignored), NOT the project's .venv: its pins (httpx,
#    fastapi, ...) are its own;
#  - every package exact, from tests/standin_ccproxy/requirements.txt (pip freeze of a
#    working install of ccproxy-api[plugins-claude]==0.2.10);
#  - skips the install when the venv already holds the same requirements file;
#  - node is needed by the stand-in claude it runs (tests/standin_max/claude): installs Debian's
#    nodejs when missing, as .ci/maxproxy-up.sh does.
# Prints the installed version and the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

PIN=tests/standin_ccproxy/requirements.txt
VENV=${CCPROXY_VENV:-.cache/ccproxy}

export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null 2>&1; then
    echo "ccproxy-up: node missing, installing Debian's nodejs"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs >/dev/null
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "ccproxy-up: ERROR: $(python3 --version) is older than 3.11 (ccproxy-api needs >= 3.11)" >&2
    exit 1
fi

if [ -x "$VENV/bin/ccproxy" ] && cmp -s "$PIN" "$VENV/requirements.txt"; then
    echo "ccproxy-up: cached"
else
    echo "ccproxy-up: installing into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$PIN"
    cp "$PIN" "$VENV/requirements.txt"
fi

version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("ccproxy-api"))')
echo "ccproxy-up: ccproxy-api $version, $("$VENV/bin/python" --version), venv $VENV"
