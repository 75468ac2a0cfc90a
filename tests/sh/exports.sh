#!/usr/bin/env bash
# exports: the shared library exports exactly the public API.
# - every dynamic symbol it defines starts with mcreg_ (besides the linker's
#   own _init, _fini, __bss_start, _edata, _end);
# - every function declared with MCREG_API in include/mcreg.h is exported,
#   and nothing is exported that the header does not declare;
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

# The libraries libmcreg.so may need at run time: libc, and libcbor for
# the snapshot code.
allowed_needed="libc.so.6 libc.so libc.musl-x86_64.so.1 libcbor.so.0.8"
# Symbols the linker defines in every shared object.
linker_symbols="_init _fini __bss_start _edata _end"

fail() { echo "FAIL $name: $*"; exit 1; }

version_part() {
    sed -n "/define MCREG_VERSION_$1[[:blank:]]/s/.*[[:blank:]]\\([0-9][0-9]*\\).*/\\1/p" "$header"
}
major=$(version_part MAJOR)
minor=$(version_part MINOR)
patch=$(version_part PATCH)
[[ -n $major && -n $minor && -n $patch ]] || fail "cannot read the version from $header"

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

# What the library exports
exported=$("$NM" -D --defined-only "$so" | awk 'NF >= 3 { print $3 } NF == 2 { print $2 }' \
    | sed 's/@.*//' | sort -u)

stray=""
for sym in $exported; do
    case " $linker_symbols " in *" $sym "*) continue ;; esac
    [[ $sym == mcreg_* ]] || stray+=" $sym"
done
[[ -z $stray ]] || fail "exports symbols outside the mcreg_ namespace:$stray"

missing=$(comm -23 <(echo "$declared") <(echo "$exported") | tr '\n' ' ' | sed 's/ $//')
[[ -z $missing ]] || fail "declared with MCREG_API in mcreg.h but not exported: $missing"

extra=$(comm -13 <(echo "$declared") <(grep '^mcreg_' <<< "$exported" || true) | tr '\n' ' ' | sed 's/ $//')
[[ -z $extra ]] || fail "exported but not declared with MCREG_API in mcreg.h: $extra"

echo "PASS $name"
