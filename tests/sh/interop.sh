#!/usr/bin/env bash
# interop: snapshots against an independent CBOR implementation, Debian's
# python3-cbor2, through tests/interop/check_snapshot.py:
# - check: for snapshots of tests/tools/snapgen (empty, small, with every
#   setting type and the length limits, a few hundred records), the bytes
#   are core deterministic CBOR under tag 55799, cbor2 reads the same values,
#   its canonical encoding gives the same bytes, the README's schema and
#   order hold, and every field equals snapgen's JSON sidecar;
# - selftest: the checker refuses broken variants of a snapshot;
# - reader: cbor2's encodings of the same states (reordered, with keys of a
#   later minor version, with longer heads) restore to the sidecar's lines
#   through examples/mcreg-dump, and malformed ones (every README rule,
#   every truncation) are refused with exit status 3;
# - replication: tests/tools/changegen's change buffers and 1.1 snapshot
#   follow the README's CDDL, are deterministic for cbor2, and their
#   CRC-32C, computed in Python, is right.
#
# Usage: tests/sh/interop.sh [BUILDDIR]   (default: $BUILDDIR, else build)
# Uses $PYTHON (default /usr/bin/python3, Debian's, where python3-cbor2
# installs; a python3 earlier on PATH may lack cbor2).
# Prints one line: "PASS interop" or "FAIL interop: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=interop
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
python=${PYTHON:-/usr/bin/python3}
checker=$root/tests/interop/check_snapshot.py
snapgen=$builddir/tests/tools/snapgen
dump=$builddir/examples/mcreg-dump

fail() { echo "FAIL $name: $*"; exit 1; }

[[ -x $python ]] || fail "$python not found: run make deps (python3, python3-cbor2)"
"$python" -c 'import cbor2' 2> /dev/null \
    || fail "$python has no cbor2 module: run make deps (Debian package python3-cbor2)"
[[ -x $snapgen ]] || fail "${snapgen#"$root"/} not found (run make tools first)"
[[ -x $dump ]] || fail "${dump#"$root"/} not found (run make examples first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SEED USERS: the empty registry, the edge-case record alone, limit-only
# users, the 64-setting and length-limit records (users 7 and 8), a few
# hundred records.
cases="0:0 1:1 2:3 3:5 4:9 5:12 6:40 7:300"
# the reader runs (about 200 mcreg-dump runs each) on these
reader_cases="2:3 4:9 6:40"
checked=0
for c in $cases; do
    seed=${c%%:*} users=${c#*:}
    snap=$tmp/s$seed.cbor json=$tmp/s$seed.json
    "$snapgen" "$seed" "$users" "$snap" "$json" > "$tmp/log" 2>&1 \
        || fail "snapgen $seed $users: $(tail -n 1 "$tmp/log")"
    out=$("$python" "$checker" check "$snap" "$json" 2>&1) \
        || fail "snapgen $seed $users: $(grep -m 1 FAIL <<< "$out" || tail -n 1 <<< "$out")"
    checked=$((checked + 1))
done
for c in 2:3 6:40; do
    out=$("$python" "$checker" selftest "$tmp/s${c%%:*}.cbor" 2>&1) \
        || fail "selftest on snapgen ${c/:/ }: $(grep -m 1 FAIL <<< "$out" || tail -n 1 <<< "$out")"
done
runs=0
for c in $reader_cases; do
    seed=${c%%:*}
    out=$("$python" "$checker" reader "$dump" "$tmp/s$seed.cbor" "$tmp/s$seed.json" 2>&1) || {
        n=$(grep -c '^FAIL reader: .*: ' <<< "$out" || true)
        fail "reader on snapgen ${c/:/ }: $n case(s), first: $(grep -m 1 FAIL <<< "$out" || tail -n 1 <<< "$out")"
    }
    n=$(sed -n 's/^ok reader: \([0-9]*\) inputs.*/\1/p' <<< "$out")
    runs=$((runs + ${n:-0}))
done
# replication: change buffers and a 1.1 snapshot of tests/tools/changegen,
# their structure and their CRC-32C computed in Python.
changegen=$builddir/tests/tools/changegen
[[ -x $changegen ]] || fail "${changegen#"$root"/} not found (run make tools first)"
"$changegen" "$tmp" > "$tmp/log" 2>&1 || fail "changegen: $(tail -n 1 "$tmp/log")"
for f in changes-put changes-mixed; do
    out=$("$python" "$checker" changes "$tmp/$f.cbor" 2>&1) || fail "$f: $(tail -n 1 <<< "$out")"
done
out=$("$python" "$checker" snapshot11 "$tmp/snapshot-1.1.cbor" 2>&1) \
    || fail "snapshot 1.1: $(tail -n 1 <<< "$out")"
echo "PASS $name ($checked snapshots checked with cbor2, $runs cbor2 encodings read back, 2 change buffers and a 1.1 snapshot with their CRC-32C)"
