#!/usr/bin/env bash
# install: `make install` and `make uninstall` put exactly the right files in
# the right places, and a program built with pkg-config against the
# installed library (shared and static) runs.
# 1. make install DESTDIR=$tmp/dest PREFIX=/usr/local: the files land under
#    $tmp/dest/usr/local (mcreg-dump and its man page among them), and
#    mcreg.pc names /usr/local, not DESTDIR.
# 2. make install PREFIX=$tmp/prefix: the files land; examples/pkgconfig_smoke.c
#    builds with `pkg-config --cflags --libs mcreg` and runs with
#    LD_LIBRARY_PATH, and links statically with `pkg-config --static`.
# 3. make uninstall (both ways): every installed file is gone.
#
# Usage: tests/sh/install.sh [BUILDDIR]   (default: $BUILDDIR, else build;
# relative to the repository root). Uses $MAKE, $CC and $PKG_CONFIG.
# Prints one line: "PASS install" or "FAIL install: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=install
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
MAKE=${MAKE:-make}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
READELF=${READELF:-readelf}
header=$root/include/mcreg.h
smoke_src=$root/examples/pkgconfig_smoke.c

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log

# On failure, the output of the step that failed (kept in $log, emptied
# after each step that succeeds) goes to stderr under the FAIL line.
fail() {
    echo "FAIL $name: $*"
    if [[ -s $log ]]; then tail -n 20 "$log" | sed 's/^/    /' >&2; fi
    exit 1
}

version_part() {
    sed -n "/define MCREG_VERSION_$1[[:blank:]]/s/.*[[:blank:]]\\([0-9][0-9]*\\).*/\\1/p" "$header"
}
major=$(version_part MAJOR)
version=$major.$(version_part MINOR).$(version_part PATCH)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "cannot read the version from $header"

# Run make in the repository without what an outer make passes down
# (MAKEFLAGS) and without install variables from the environment, so that
# the defaults (LIBDIR=$(PREFIX)/lib, ...) are what is tested. Build flags
# (CFLAGS, ...) in the environment stay: with the same flags as the build
# being tested, install finds it up to date.
run_make() {
    env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
        -u DESTDIR -u PREFIX -u LIBDIR -u INCLUDEDIR -u PKGCONFIGDIR -u SANITIZE \
        "$MAKE" -C "$root" BUILDDIR="$builddir" CC="$CC" "$@" > "$log" 2>&1 \
        || fail "make $* failed"
    : > "$log"
}

# installed_files ROOT: the files `make install` must create under ROOT
# (the prefix as seen on disk).
installed_files() {
    echo "$1/include/mcreg.h"
    echo "$1/lib/libmcreg.a"
    echo "$1/lib/libmcreg.so.$version"
    echo "$1/lib/libmcreg.so.$major"
    echo "$1/lib/libmcreg.so"
    echo "$1/lib/pkgconfig/mcreg.pc"
    echo "$1/bin/mcreg-dump"
    echo "$1/share/man/man1/mcreg-dump.1"
}

check_installed() { # ROOT PREFIX_IN_PC
    local f
    while read -r f; do
        [[ -e $f ]] || fail "${f#"$tmp"/} was not installed"
    done < <(installed_files "$1")
    [[ -f $1/lib/libmcreg.so.$version && ! -L $1/lib/libmcreg.so.$version ]] \
        || fail "libmcreg.so.$version is not a regular file"
    [[ -L $1/lib/libmcreg.so.$major && -L $1/lib/libmcreg.so ]] \
        || fail "libmcreg.so.$major and libmcreg.so are not symbolic links"
    [[ $(readlink -f "$1/lib/libmcreg.so") == "$(readlink -f "$1/lib/libmcreg.so.$version")" ]] \
        || fail "libmcreg.so does not lead to libmcreg.so.$version"
    cmp -s "$header" "$1/include/mcreg.h" || fail "the installed mcreg.h differs from include/mcreg.h"
    [[ -x $1/bin/mcreg-dump ]] || fail "the installed mcreg-dump is not executable"
    "$1/bin/mcreg-dump" --help > "$log" 2>&1 || fail "the installed mcreg-dump --help failed"
    grep -q '^usage: mcreg-dump' "$log" || fail "the installed mcreg-dump --help printed no usage"
    : > "$log"
    grep -qx "prefix=$2" "$1/lib/pkgconfig/mcreg.pc" \
        || fail "mcreg.pc does not say prefix=$2: $(grep '^prefix=' "$1/lib/pkgconfig/mcreg.pc")"
    grep -qx "Version: $version" "$1/lib/pkgconfig/mcreg.pc" || fail "mcreg.pc does not say Version: $version"
    grep -qx "Requires.private: libcbor" "$1/lib/pkgconfig/mcreg.pc" \
        || fail "mcreg.pc does not list libcbor in Requires.private"
}

check_uninstalled() { # ROOT
    local f
    while read -r f; do
        [[ ! -e $f && ! -L $f ]] || fail "${f#"$tmp"/} is still there after make uninstall"
    done < <(installed_files "$1")
}

# 1. DESTDIR
run_make install DESTDIR="$tmp/dest" PREFIX=/usr/local
check_installed "$tmp/dest/usr/local" /usr/local
if grep -q "$tmp" "$tmp/dest/usr/local/lib/pkgconfig/mcreg.pc"; then
    fail "mcreg.pc mentions DESTDIR"
fi
run_make uninstall DESTDIR="$tmp/dest" PREFIX=/usr/local
check_uninstalled "$tmp/dest/usr/local"

# 2. PREFIX
prefix=$tmp/prefix
run_make install PREFIX="$prefix"
check_installed "$prefix" "$prefix"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
got=$("$PKG_CONFIG" --modversion mcreg 2> "$log") || fail "$PKG_CONFIG cannot find mcreg"
[[ $got == "$version" ]] || fail "pkg-config --modversion mcreg says $got, want $version"
cflags=$("$PKG_CONFIG" --cflags mcreg 2> "$log") || fail "pkg-config --cflags mcreg failed"
libs=$("$PKG_CONFIG" --libs mcreg 2> "$log") || fail "pkg-config --libs mcreg failed"
static_libs=$("$PKG_CONFIG" --static --libs mcreg 2> "$log") || fail "pkg-config --static --libs mcreg failed"
[[ " $cflags " == *" -I$prefix/include "* ]] || fail "pkg-config --cflags mcreg gave '$cflags'"
[[ " $libs " == *" -L$prefix/lib "* && " $libs " == *" -lmcreg "* ]] \
    || fail "pkg-config --libs mcreg gave '$libs'"
[[ " $static_libs " == *" -lcbor "* ]] || fail "pkg-config --static --libs mcreg lacks -lcbor: '$static_libs'"

# Shared: the program needs libmcreg.so.MAJOR and runs against the installed copy.
# shellcheck disable=SC2086 # pkg-config output is a list of words
"$CC" -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/smoke" "$smoke_src" $libs > "$log" 2>&1 \
    || fail "cannot build pkgconfig_smoke.c with pkg-config --cflags --libs mcreg"
: > "$log"
"$READELF" -d "$tmp/smoke" | grep -q "Shared library: \[libmcreg.so.$major\]" \
    || fail "the shared smoke program does not need libmcreg.so.$major"
out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/smoke" 2>&1) || fail "the shared smoke program failed: $out"
[[ $out == OK* ]] || fail "the shared smoke program printed '$out'"

# Static: libmcreg.a and the --static libraries; nothing of libmcreg at run time.
static_cflags=$("$PKG_CONFIG" --static --cflags mcreg 2> "$log") || fail "pkg-config --static --cflags mcreg failed"
static_link=${static_libs/-lmcreg/-Wl,-Bstatic -lmcreg -Wl,-Bdynamic}
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror $static_cflags -o "$tmp/smoke_static" \
    "$smoke_src" $static_link > "$log" 2>&1 \
    || fail "cannot link pkgconfig_smoke.c statically with pkg-config --static --libs mcreg"
: > "$log"
if "$READELF" -d "$tmp/smoke_static" | grep -q 'Shared library: \[libmcreg'; then
    fail "the static smoke program still needs libmcreg.so"
fi
out=$(env -u LD_LIBRARY_PATH "$tmp/smoke_static" 2>&1) || fail "the static smoke program failed: $out"
[[ $out == OK* ]] || fail "the static smoke program printed '$out'"

# 3. uninstall
run_make uninstall PREFIX="$prefix"
check_uninstalled "$prefix"

echo "PASS $name"
