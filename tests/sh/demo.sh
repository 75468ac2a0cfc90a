#!/usr/bin/env bash
# demo: examples/multi_device runs to the end and tells the host what the
# story needs: two NOTIFY_LOGON MESSAGEs when the tablet logs on (one to the
# tablet naming the phone, one to the phone naming the tablet), a stale
# retransmission refused, one NOTIFY_LOGOFF to the phone when the tablet
# logs off, and the phone's expiry on the simulated clock.
#
# Usage: tests/sh/demo.sh [BUILDDIR]   (default: $BUILDDIR, else build)
# Prints one line: "PASS demo" or "FAIL demo: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=demo
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
demo=$builddir/examples/multi_device

fail() { echo "FAIL $name: $*"; exit 1; }

[[ -x $demo ]] || fail "${demo#"$root"/} not found (run make examples first)"
out=$("$demo" 2>&1) || fail "multi_device exited with $?: $(tail -n 1 <<< "$out")"

expect() { # COUNT PATTERN WHAT
    local n
    n=$(grep -c -- "$2" <<< "$out" || true)
    [[ $n == "$1" ]] || fail "$3: $n line(s) matching '$2', want $1"
}
expect 2 'event NOTIFY_LOGON  -> tell the' "NOTIFY_LOGON messages"
expect 1 'event NOTIFY_LOGON  -> tell the tablet' "NOTIFY_LOGON to the new UE"
expect 1 'event NOTIFY_LOGOFF -> tell the phone' "NOTIFY_LOGOFF to the remaining UE"
expect 3 '^      MESSAGE sip:alice@' "SIP MESSAGEs to a registered contact"
expect 1 'Your other UEs: the phone\.' "the tablet told about the phone"
expect 1 'Your other UEs: the tablet\.' "the phone told about the tablet"
expect 1 'refused: ' "the stale retransmission"
expect 1 'event EXPIRED       sip:alice@mcptt.example at the phone' "the phone's expiry"
expect 1 '^No registration left' "the end of the story"
echo "PASS $name"
