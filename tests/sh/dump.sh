#!/usr/bin/env bash
# dump: examples/mcreg-dump prints what tests/tools/snapgen built.
# - its output for a snapgen snapshot is snapgen's JSON sidecar, byte for
#   byte (records sorted by user id then UE id, then the limits), from a file
#   and from standard input, and the lines hold the edge values as expected
#   (INT64_MIN, U+0000 in text, binary and empty bytes, a bool set as 7, an
#   expiry saturated at UINT64_MAX, a limit of 0);
# - --user prints one user's lines only; a user with a limit and no record
#   gets its limit line alone;
# - exit status 3 and a message for a truncated, an empty and a garbage
#   file; 2 for a missing file; 1 for usage errors; 0 and nothing printed
#   for the empty registry.
#
# Usage: tests/sh/dump.sh [BUILDDIR]   (default: $BUILDDIR, else build)
# Prints one line: "PASS dump" or "FAIL dump: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=dump
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
snapgen=$builddir/tests/tools/snapgen
dump=$builddir/examples/mcreg-dump

fail() { echo "FAIL $name: $*"; exit 1; }

[[ -x $snapgen ]] || fail "${snapgen#"$root"/} not found (run make tools first)"
[[ -x $dump ]] || fail "${dump#"$root"/} not found (run make examples first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seed 8 gives user 0 the id "sip:user0@mcptt.example" and user 1 (a limit,
# no record) "sip:1@mcptt.example"
"$snapgen" 8 30 "$tmp/s.cbor" "$tmp/s.json" > "$tmp/log" 2>&1 \
    || fail "snapgen 8 30: $(tail -n 1 "$tmp/log")"

# run ARGS...: sets out, err and rc
run() {
    rc=0
    "$dump" "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

run "$tmp/s.cbor"
[[ $rc == 0 ]] || fail "mcreg-dump exited $rc: $err"
cmp -s "$tmp/out" "$tmp/s.json" \
    || fail "the output differs from snapgen's sidecar: $(diff "$tmp/out" "$tmp/s.json" | head -n 3 | tr '\n' ' ')"
rc=0
"$dump" - < "$tmp/s.cbor" > "$tmp/stdin.out" 2> "$tmp/err" || rc=$?
if [[ $rc != 0 ]] || ! cmp -s "$tmp/stdin.out" "$tmp/s.json"; then
    fail "mcreg-dump - (standard input): exit $rc, or other lines"
fi

expect() { # COUNT FIXED-STRING WHAT
    local n
    n=$(grep -c -F -- "$2" "$tmp/out" || true)
    [[ $n == "$1" ]] || fail "$3: $n line(s) holding '$2', want $1"
}
n_lines=$(wc -l < "$tmp/out")
n_limits=$(grep -c '^{"user":"[^"]*","max_ues":' "$tmp/out" || true)
[[ $n_lines -gt 30 ]] || fail "only $n_lines lines for 30 users"
[[ $n_limits -ge 3 ]] || fail "only $n_limits limit lines"
expect 1 '"ue":"ue-at-the-end-of-time","contact":null,"call_id":"last","cseq":4294967295,"registered_at":18446744073709550616,"expires_at":18446744073709551615,"settings":[]}' \
    "the record with a saturated expiry"
expect 1 '{"key":"int.min","type":"int","value":-9223372036854775808}' "INT64_MIN"
expect 1 '{"key":"int.max","type":"int","value":9223372036854775807}' "INT64_MAX"
expect 1 '{"key":"text.nul","type":"text","value":"a\u0000b"}' "text holding U+0000"
expect 1 '{"key":"text.json","type":"text","value":"\"\\/\b\f\n\r\t\u0001\u001f' "JSON escapes"
expect 1 '{"key":"bytes.bin","type":"bytes","value":"00ff807f1f225c"}' "binary bytes"
expect 1 '{"key":"bytes.empty","type":"bytes","value":""}' "empty bytes"
expect 1 '{"key":"bool.seven","type":"bool","value":true}' "a bool set as 7"
expect 1 '{"user":"sip:1@mcptt.example","max_ues":2}' "the limit of a user without records"
expect 1 '{"user":"tel:+49300000002","max_ues":0}' "a limit of 0, all records deregistered"
expect 1 '"key":"s63"' "the record with 64 settings"

# --user
user='sip:user0@mcptt.example'
run --user "$user" "$tmp/s.cbor"
want=$(grep -F "{\"user\":\"$user\"," "$tmp/s.json")
[[ $rc == 0 && -n $want && $out == "$want" ]] || fail "--user $user: exit $rc, or other lines than the sidecar's"
run --user 'sip:1@mcptt.example' "$tmp/s.cbor"
[[ $rc == 0 && $out == '{"user":"sip:1@mcptt.example","max_ues":2}' ]] \
    || fail "--user of a user with a limit only: exit $rc, printed '$out'"
run --user nobody "$tmp/s.cbor"
[[ $rc == 0 && -z $out ]] || fail "--user nobody: exit $rc, printed '$out'"

# the empty registry
"$snapgen" 0 0 "$tmp/empty.cbor" > "$tmp/log" 2>&1 || fail "snapgen 0 0: $(tail -n 1 "$tmp/log")"
run "$tmp/empty.cbor"
[[ $rc == 0 && -z $out ]] || fail "the empty registry: exit $rc, printed '$out'"

# refused snapshots: exit 3 and the library's message
size=$(wc -c < "$tmp/s.cbor")
head -c $((size - 1)) "$tmp/s.cbor" > "$tmp/truncated.cbor"
: > "$tmp/empty-file.cbor"
printf 'not a snapshot' > "$tmp/garbage.cbor"
cp "$tmp/s.cbor" "$tmp/trailing.cbor" && printf '\0' >> "$tmp/trailing.cbor"
for f in truncated empty-file garbage trailing; do
    run "$tmp/$f.cbor"
    [[ $rc == 3 ]] || fail "$f snapshot: exit $rc, want 3"
    [[ -z $out ]] || fail "$f snapshot: printed something"
    [[ $err == "mcreg-dump: $tmp/$f.cbor: "?* ]] || fail "$f snapshot: message '$err'"
done
# the message says at which byte, and why (mcreg_error_detail)
run "$tmp/trailing.cbor"
[[ $err == "mcreg-dump: $tmp/trailing.cbor: malformed snapshot: snapshot: byte $size: bytes after the end of the snapshot" ]] \
    || fail "trailing byte: message '$err'"
run "$tmp/empty-file.cbor"
[[ $err == *": snapshot: byte 0: truncated: an item was expected" ]] \
    || fail "empty file: message '$err'"

# I/O and usage
run "$tmp/no-such-file"
[[ $rc == 2 ]] || fail "a missing file: exit $rc, want 2"
for args in "" "--user" "--frobnicate $tmp/s.cbor" "$tmp/s.cbor $tmp/s.cbor"; do
    # shellcheck disable=SC2086 # word splitting is the point
    run $args
    [[ $rc == 1 ]] || fail "usage error '$args': exit $rc, want 1"
done
run --help
[[ $rc == 0 && $out == usage:* ]] || fail "--help: exit $rc"

echo "PASS $name"
