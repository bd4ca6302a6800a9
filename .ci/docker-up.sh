#!/usr/bin/env bash
# Bring up a real Docker Engine on this machine (idempotent).
#  - installs Debian's docker.io (dockerd), busybox-static and nginx when missing;
#  - starts dockerd in the background (log: /tmp/dockerd.log) when no engine answers;
#  - waits up to 60 s for /var/run/docker.sock to answer `docker info`;
#  - prints the engine version.
# busybox-static provides /bin/busybox, which the test images copy FROM scratch.
set -euo pipefail

SOCK=/var/run/docker.sock
LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
WAIT_S=${DOCKERD_WAIT_S:-60}

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker-up: dockerd missing, installing docker.io"
    apt_install docker.io
fi
if [ ! -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then
    echo "docker-up: installing busybox-static"
    apt_install busybox-static
fi
# Debian's nginx: its binary runs in a test container in front of the stand-in proxy
# (tests/test_front_live.py); the package's own service is not wanted on this machine.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "docker-up: installing nginx"
    # policy-rc.d exit 101: the package's scripts do not start its service (Debian's way for
    # containers and chroots), so a busy port 80 cannot fail the install
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt_install nginx
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    pkill -x nginx >/dev/null 2>&1 || true
fi

engine_answers() {
    [ -S "$SOCK" ] && timeout 10 docker info >/dev/null 2>&1
}

if ! engine_answers; then
    if pgrep -x dockerd >/dev/null 2>&1; then
        echo "docker-up: dockerd is running but not answering yet; waiting"
    else
        echo "docker-up: starting dockerd (log: $LOG)"
        # A stale socket or pid file from a killed daemon blocks a new start.
        if [ -e /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
            rm -f /var/run/docker.pid
        fi
        nohup dockerd >>"$LOG" 2>&1 </dev/null &
        disown || true
    fi
    deadline=$((SECONDS + WAIT_S))
    until engine_answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "docker-up: ERROR: the Docker Engine did not answer on $SOCK within ${WAIT_S}s" >&2
            echo "docker-up: last lines of $LOG:" >&2
            tail -n 40 "$LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
fi

echo "docker-up: engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}}, {{.Server.Os}}/{{.Server.Arch}})')"
docker info --format 'docker-up: cgroup v{{.CgroupVersion}} ({{.CgroupDriver}}), storage {{.Driver}}, kernel {{.KernelVersion}}'
