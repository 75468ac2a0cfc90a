#!/usr/bin/env bash
# exports: the shared library exports exactly the public API, each function
# in the version node the version script gives it.
# - lib/libmcreg.map (the version script) is well formed: nodes named
#   MCREG_MAJOR.MINOR in ascending order, each inheriting the one before,
#   none empty, none newer than the header's version, each function listed
#   once, in name order within its node;
# - the functions declared with MCREG_API in include/mcreg.h are exactly the
#   functions the version script lists;
# - the library exports exactly those functions, each as NAME@@NODE with the
#   node the script gives it, plus one absolute symbol per node (the linker's
#   record of the node itself), and nothing else;
# - its SONAME is libmcreg.so.MAJOR, MAJOR read from the header, and the
#   libmcreg.so and libmcreg.so.MAJOR links lead to libmcreg.so.MAJOR.MINOR.PATCH;
# - it needs no library but libc and libcbor (see allowed_needed below).
#
# Usage: tests/sh/exports.sh [BUILDDIR]   (default: $BUILDDIR, else build)
# Prints one line: "PASS exports" or "FAIL exports: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=exports
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
NM=${NM:-nm}
READELF=${READELF:-readelf}
header=$root/include/mcreg.h
map=$root/lib/libmcreg.map
how="see the comment at the top of lib/libmcreg.map"

# The libraries libmcreg.so may need at run time: libc, and libcbor for
# the snapshot code.
allowed_needed="libc.so.6 libc.so libc.musl-x86_64.so.1 libcbor.so.0.8"

fail() { echo "FAIL $name: $*"; exit 1; }
words() { tr '\n' ' ' | sed 's/ *$//'; }
# some ITEM...: the first five, then how many more.
some() {
    local n=$# out
    out=$(printf '%s, ' "${@:1:5}")
    out=${out%, }
    if ((n > 5)); then echo "$out, and $((n - 5)) more"; else echo "$out"; fi
}

version_part() {
    sed -n "/define MCREG_VERSION_$1[[:blank:]]/s/.*[[:blank:]]\\([0-9][0-9]*\\).*/\\1/p" "$header"
}
major=$(version_part MAJOR)
minor=$(version_part MINOR)
patch=$(version_part PATCH)
[[ -n $major && -n $minor && -n $patch ]] || fail "cannot read the version from $header"

# ---- the version script ---------------------------------------------------
# Parsed into lines "node NAME PARENT" (PARENT "-" for the first node) and
# "sym NODE NAME", in file order. Comments go first; the grammar accepted is
# the subset the script uses: NAME { global: a; b; local: *; } [PARENT];
[[ -f $map ]] || fail "lib/libmcreg.map not found"
parsed=$(perl -0777 -pe 's{/\*.*?\*/}{ }gs' "$map" | sed 's/\([{};:]\)/ \1 /g' | tr -s ' \t\n' '\n' \
    | awk '
        function bad(m) { print "error " m; exit }
        $0 == "" { next }
        state == "top" || state == "" {
            if ($0 == "}" || $0 == "{" || $0 == ";" || $0 == ":") bad("unexpected \"" $0 "\" between nodes")
            node = $0; state = "open"; next }
        state == "open" { if ($0 != "{") bad("no \"{\" after " node); state = "body"; scope = "global"; n = 0; next }
        state == "body" {
            if ($0 == "global" || $0 == "local") { want_colon = $0; state = "colon"; next }
            if ($0 == "}") { state = "close"; parent = "-"; next }
            if ($0 == ";") next
            if (scope == "local") { if ($0 != "*") bad("local: lists " $0 " in " node "; only \"*\" belongs there"); next }
            print "sym " node " " $0; n++; state = "semi"; next }
        state == "colon" { if ($0 != ":") bad("no \":\" after " want_colon " in " node); scope = want_colon; state = "body"; next }
        state == "semi" { if ($0 != ";") bad("no \";\" after " $0 " in " node); state = "body"; next }
        state == "close" {
            if ($0 == ";") { print "node " node " " parent " " n; state = "top"; next }
            if (parent != "-") bad("no \";\" after the parent of " node)
            parent = $0; next }
        END { if (state != "top" && state != "") print "error unterminated node " node }')
if grep -q '^error ' <<< "$parsed"; then
    fail "lib/libmcreg.map: $(sed -n 's/^error //p' <<< "$parsed" | head -n 1)"
fi

nodes=$(awk '$1 == "node" { print $2 }' <<< "$parsed")
[[ -n $nodes ]] || fail "lib/libmcreg.map has no version node"
prev="-" prev_minor=-1
while read -r _ node parent count; do
    [[ $node =~ ^MCREG_([0-9]+)\.([0-9]+)$ ]] \
        || fail "lib/libmcreg.map: node $node is not named MCREG_MAJOR.MINOR ($how)"
    nmaj=${BASH_REMATCH[1]} nmin=${BASH_REMATCH[2]}
    [[ $nmaj == "$major" ]] \
        || fail "lib/libmcreg.map: node $node does not belong to major version $major of include/mcreg.h"
    ((10#$nmin > prev_minor)) || fail "lib/libmcreg.map: node $node comes after a newer or equal one"
    ((10#$nmin <= 10#$minor)) \
        || fail "lib/libmcreg.map: node $node is newer than include/mcreg.h's version $major.$minor.$patch: set MCREG_VERSION_MINOR to $nmin (PATCH to 0) in the header, or put the functions in an existing node ($how)"
    [[ $parent == "$prev" ]] || {
        [[ $prev == "-" ]] && fail "lib/libmcreg.map: the first node $node inherits $parent; it must inherit none"
        fail "lib/libmcreg.map: node $node must inherit the node before it ($prev), not ${parent/#-/nothing}"
    }
    ((count > 0)) || fail "lib/libmcreg.map: node $node is empty; add a node with its first function ($how)"
    listed=$(awk -v n="$node" '$1 == "sym" && $2 == n { print $3 }' <<< "$parsed")
    [[ $listed == "$(sort <<< "$listed")" ]] \
        || fail "lib/libmcreg.map: the functions of node $node are not in name order"
    prev=$node prev_minor=$((10#$nmin))
done < <(grep '^node ' <<< "$parsed")

scripted=$(awk '$1 == "sym" { print $3 }' <<< "$parsed" | sort)
twice=$(uniq -d <<< "$scripted" | words)
[[ -z $twice ]] || fail "lib/libmcreg.map lists more than once: $twice"
# node_of NAME: the node the script gives NAME.
node_of() { awk -v s="$1" '$1 == "sym" && $3 == s { print $2 }' <<< "$parsed"; }

# ---- the header --------------------------------------------------------------
# The API the header declares: every "MCREG_API ... mcreg_name(" with the
# declaration possibly spread over several lines; comments are dropped first.
declared=$(sed -e 's|/\*.*\*/||g' "$header" \
    | awk '/\/\*/ { skip = 1 } !skip { print } /\*\// { skip = 0 }' \
    | tr '\n' ' ' \
    | grep -o 'MCREG_API[^;{}()]*(' \
    | grep -o 'mcreg_[A-Za-z0-9_]*[[:space:]]*($' \
    | sed 's/[[:space:]]*($//' | sort -u)
n_declared=$(grep -c . <<< "$declared" || true)
[[ $n_declared -gt 0 ]] || fail "found no MCREG_API function in $header"

unlisted=$(comm -23 <(echo "$declared") <(echo "$scripted") | words)
[[ -z $unlisted ]] \
    || fail "declared with MCREG_API in include/mcreg.h but not in lib/libmcreg.map: $unlisted (add each to the newest node, $prev, or to the next release's: $how)"
undeclared=$(comm -13 <(echo "$declared") <(echo "$scripted") | words)
[[ -z $undeclared ]] \
    || fail "listed in lib/libmcreg.map but not declared with MCREG_API in include/mcreg.h: $undeclared"

# ---- the library ---------------------------------------------------------------
so=$builddir/libmcreg.so.$major.$minor.$patch
[[ -f $so ]] || fail "${so#"$root"/} not found (run make first)"

# Links
for link in libmcreg.so "libmcreg.so.$major"; do
    [[ -L $builddir/$link ]] || fail "$link is not a symbolic link"
    [[ $(readlink -f "$builddir/$link") == "$(readlink -f "$so")" ]] \
        || fail "$link does not lead to $(basename "$so")"
done

# SONAME
soname=$("$READELF" -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[[ $soname == "libmcreg.so.$major" ]] || fail "SONAME is '$soname', want libmcreg.so.$major"

# NEEDED
while read -r needed; do
    [[ -z $needed ]] && continue
    ok=0
    for a in $allowed_needed; do [[ $needed == "$a" ]] && ok=1; done
    [[ $ok == 1 ]] || fail "libmcreg needs $needed; only libc is expected (allowed_needed in $0)"
done < <("$READELF" -d "$so" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\].*/\1/p')

# What the library exports: "NAME VERSION" ("-" for none), VERSION after
# "@@" (the default version) or "@" (a hidden one, which nothing here
# should be).
exported=$("$NM" -D --defined-only "$so" | awk 'NF >= 3 { print $3 } NF == 2 { print $2 }' \
    | sed -e 's/^\([^@]*\)@@\(.*\)$/\1 \2/' -e 's/^\([^@]*\)@\(.*\)$/\1 @\2/' -e '/ /!s/$/ -/' | sort -u)

stray=() stray_nodes=() wrong=()
while read -r sym ver; do
    if grep -qxF "$sym" <<< "$nodes"; then
        # The linker's absolute symbol for a node: versioned by itself, or
        # unversioned in older binutils' output.
        [[ $ver == "$sym" || $ver == "-" ]] || wrong+=("$sym@$ver (want $sym@@$sym)")
        continue
    fi
    want=$(node_of "$sym")
    if [[ -z $want && $sym =~ ^MCREG_ ]]; then
        stray_nodes+=("$sym")
    elif [[ -z $want ]]; then
        stray+=("$sym")
    elif [[ $ver != "$want" ]]; then
        case $ver in
            -) wrong+=("$sym (no version, want $sym@@$want)") ;;
            @*) wrong+=("$sym$ver (a hidden version, want $sym@@$want)") ;;
            *) wrong+=("$sym@@$ver (want $sym@@$want)") ;;
        esac
    fi
done <<< "$exported"
((${#wrong[@]} == 0)) \
    || fail "exports symbols with the wrong version (is the build older than lib/libmcreg.map?): $(some "${wrong[@]}")"
((${#stray_nodes[@]} == 0)) \
    || fail "defines version nodes that lib/libmcreg.map does not (is the build older than it?): $(some "${stray_nodes[@]}")"
((${#stray[@]} == 0)) \
    || fail "exports symbols that lib/libmcreg.map does not list (is the library linked with --version-script?): $(some "${stray[@]}")"

exported_names=$(awk '{ print $1 }' <<< "$exported")
missing=$(comm -23 <(echo "$scripted") <(echo "$exported_names") | words)
[[ -z $missing ]] || fail "listed in lib/libmcreg.map but not exported (defined in lib/?): $missing"
missing_nodes=$(comm -23 <(sort <<< "$nodes") <(echo "$exported_names") | words)
[[ -z $missing_nodes ]] || fail "the library does not define the version nodes: $missing_nodes"

echo "PASS $name"
