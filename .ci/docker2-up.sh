#!/usr/bin/env bash
# Bring up a SECOND Docker Engine on this machine, beside the first (idempotent), for the tests
# of a collect over several engines. It has its own socket, data root, exec root, pid file, key
# (so its engine ID differs from the first's) and bridge.
#  - PITFALL seen here: a second daemon started with `--bridge none` removed the FIRST daemon's
#    docker0. This one gets a bridge of its own (cpbr2, 172.31.250.1/24) and --iptables=false;
#    docker0 is never touched.
#  - waits up to 60 s for the socket to answer, then checks that the first engine still does.
# Requires .ci/docker-up.sh to have run (dockerd, busybox-static).
set -euo pipefail

SOCK=${DOCKER2_SOCK:-/var/run/docker2.sock}
ROOT=${DOCKER2_ROOT:-/var/lib/docker2}
EXEC_ROOT=${DOCKER2_EXEC_ROOT:-/var/run/docker2}
PIDFILE=${DOCKER2_PIDFILE:-/var/run/docker2.pid}
BRIDGE=${DOCKER2_BRIDGE:-cpbr2}
BRIDGE_CIDR=${DOCKER2_BRIDGE_CIDR:-172.31.250.1/24}
LOG=${DOCKERD2_LOG:-/tmp/dockerd2.log}
WAIT_S=${DOCKERD_WAIT_S:-60}

answers() {
    [ -S "$SOCK" ] && timeout 10 docker -H "unix://$SOCK" info >/dev/null 2>&1
}

if ! answers; then
    if [ -e "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE" 2>/dev/null)" 2>/dev/null; then
        echo "docker2-up: the second dockerd is running but not answering yet; waiting"
    else
        rm -f "$PIDFILE"
        if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
            ip link add "$BRIDGE" type bridge
            ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
        fi
        ip link set "$BRIDGE" up
        mkdir -p "$ROOT" "$EXEC_ROOT"
        # Its own trust key: dockerd 20.10 derives the engine ID from it (default
        # /etc/docker/key.json, the first engine's), and the store tells engines apart by ID.
        printf '{"deprecated-key-path": "%s/key.json"}\n' "$ROOT" >"$ROOT/daemon.json"
        echo "docker2-up: starting a second dockerd on unix://$SOCK (log: $LOG)"
        nohup dockerd \
            --host "unix://$SOCK" \
            --data-root "$ROOT" \
            --exec-root "$EXEC_ROOT" \
            --pidfile "$PIDFILE" \
            --config-file "$ROOT/daemon.json" \
            --bridge "$BRIDGE" \
            --iptables=false \
            --ip-masq=false \
            >>"$LOG" 2>&1 </dev/null &
        disown || true
    fi
    deadline=$((SECONDS + WAIT_S))
    until answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "docker2-up: ERROR: the second engine did not answer on $SOCK within ${WAIT_S}s" >&2
            tail -n 40 "$LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
fi

# The first engine must still answer, with its docker0 (other tests use it at the same time).
if ! timeout 10 docker info >/dev/null 2>&1; then
    echo "docker2-up: ERROR: the first engine stopped answering" >&2
    exit 1
fi
ip link show docker0 >/dev/null 2>&1 || echo "docker2-up: WARNING: docker0 is missing" >&2
first=$(docker info --format '{{.ID}}')
second=$(docker -H "unix://$SOCK" info --format '{{.ID}}')
if [ "$first" = "$second" ]; then
    echo "docker2-up: ERROR: both engines report the ID $first" >&2
    exit 1
fi
echo "docker2-up: second engine $(docker -H "unix://$SOCK" version --format '{{.Server.Version}}') on unix://$SOCK (ID $second)"
