#!/usr/bin/env bash
# deb consumer: the packages `make deb` built, unpacked with dpkg -x into a
# scratch root (nothing installed on the system, the dpkg database untouched),
# hold what each should, and a program built with pkg-config against that
# root runs.
# 1. Each of libmcreg0, libmcreg-dev and mcreg-tools holds exactly its files
#    (besides /usr/share/doc/PACKAGE/), and the fields that tie them together:
#    Multi-Arch: same for the libraries, libmcreg-dev depending on
#    libmcreg0 (= VERSION) and libcbor-dev.
# 2. examples/pkgconfig_smoke.c builds with `pkg-config --cflags --libs mcreg`
#    (PKG_CONFIG_SYSROOT_DIR = the root, mcreg.pc taken from the root) and runs
#    with LD_LIBRARY_PATH into the root, getting the root's libmcreg.so.MAJOR;
#    it also links statically against the root's libmcreg.a.
# 3. The root's mcreg-dump and mcreg-registrar run (--help).
#
# Usage: tests/deb/consumer.sh [DEBDIR]   (default build/deb, relative to the
# repository root). Uses $CC, $PKG_CONFIG, $READELF.
# Prints one line: "PASS deb-consumer" or "FAIL deb-consumer: why", and exits
# non-zero on failure.
set -euo pipefail
export LC_ALL=C

name="deb-consumer"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
debdir=${1:-build/deb}
case $debdir in /*) ;; *) debdir=$root/$debdir ;; esac
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
READELF=${READELF:-readelf}
header=$root/include/mcreg.h
smoke_src=$root/examples/pkgconfig_smoke.c

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
sysroot=$tmp/root

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
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2> "$log") || fail "dpkg-architecture failed"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
libdir=usr/lib/$multiarch

# deb PACKAGE: the path of its .deb in $debdir
deb() {
    local f=$debdir/${1}_${version}_$arch.deb
    [[ -f $f ]] || fail "${f#"$root"/} not found (run make deb)"
    echo "$f"
}
runtime=$(deb "libmcreg$major")
dev=$(deb libmcreg-dev)
tools=$(deb mcreg-tools)

# ---- 1. contents and fields ------------------------------------------------------
# contents DEB: its files and links, one a line, without the leading ./ and
# without directories and /usr/share/doc/PACKAGE/.
contents() {
    dpkg-deb --fsys-tarfile "$1" | tar -t | sed -e 's|^\./||' -e '/\/$/d' -e '\|^usr/share/doc/|d' -e '/^$/d' | sort
}
expect() { # DEB FILE...
    local deb=$1 got want
    shift
    got=$(contents "$deb")
    want=$(printf '%s\n' "$@" | sort)
    [[ $got == "$want" ]] || fail "$(basename "$deb") holds [$(tr '\n' ' ' <<< "$got")], want [$(tr '\n' ' ' <<< "$want")]"
}
expect "$runtime" "$libdir/libmcreg.so.$major" "$libdir/libmcreg.so.$version"
expect "$dev" usr/include/mcreg.h "$libdir/libmcreg.a" "$libdir/libmcreg.so" "$libdir/pkgconfig/mcreg.pc"
expect "$tools" usr/bin/mcreg-dump usr/bin/mcreg-registrar \
    usr/share/man/man1/mcreg-dump.1.gz usr/share/man/man1/mcreg-registrar.1.gz

for d in "$runtime" "$dev"; do
    [[ $(dpkg-deb -f "$d" Multi-Arch) == same ]] || fail "$(basename "$d") is not Multi-Arch: same"
done
dev_depends=$(dpkg-deb -f "$dev" Depends)
[[ ", $dev_depends," == *", libmcreg$major (= $version),"* && ", $dev_depends," == *", libcbor-dev,"* ]] \
    || fail "libmcreg-dev depends on '$dev_depends', want libmcreg$major (= $version) and libcbor-dev"
[[ ", $(dpkg-deb -f "$tools" Depends)," == *", libcbor0.8 "* ]] \
    || fail "mcreg-tools does not depend on libcbor0.8: $(dpkg-deb -f "$tools" Depends)"

for d in "$runtime" "$dev" "$tools"; do
    dpkg-deb -x "$d" "$sysroot" > "$log" 2>&1 || fail "dpkg -x $(basename "$d") failed"
done
: > "$log"

# ---- 2. a program built against the root -------------------------------------------
# mcreg.pc from the root first, then the system's own directories (libcbor.pc,
# for --static). PKG_CONFIG_SYSROOT_DIR puts the root before every -I and -L.
system_pc_path=$("$PKG_CONFIG" --variable pc_path pkg-config)
export PKG_CONFIG_LIBDIR=$sysroot/$libdir/pkgconfig:$system_pc_path
export PKG_CONFIG_SYSROOT_DIR=$sysroot
unset PKG_CONFIG_PATH

got=$("$PKG_CONFIG" --modversion mcreg 2> "$log") || fail "pkg-config cannot find mcreg in the root"
[[ $got == "$version" ]] || fail "pkg-config --modversion mcreg says $got, want $version"
cflags=$("$PKG_CONFIG" --cflags mcreg 2> "$log") || fail "pkg-config --cflags mcreg failed"
libs=$("$PKG_CONFIG" --libs mcreg 2> "$log") || fail "pkg-config --libs mcreg failed"
[[ " $libs " == *" -L$sysroot/$libdir "* ]] || fail "pkg-config --libs mcreg gave '$libs', not the root's $libdir"

# shellcheck disable=SC2086 # pkg-config output is a list of words
"$CC" -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/smoke" "$smoke_src" $libs > "$log" 2>&1 \
    || fail "cannot build pkgconfig_smoke.c against the root"
: > "$log"
"$READELF" -d "$tmp/smoke" | grep -q "Shared library: \[libmcreg.so.$major\]" \
    || fail "the smoke program does not need libmcreg.so.$major"
export LD_LIBRARY_PATH=$sysroot/$libdir
resolved=$(ldd "$tmp/smoke" | sed -n "s/^[[:space:]]*libmcreg.so.$major => \([^ ]*\).*/\1/p")
[[ $resolved == "$sysroot/$libdir/libmcreg.so.$major" ]] \
    || fail "the smoke program gets libmcreg.so.$major from '$resolved', not the root"
out=$("$tmp/smoke" 2>&1) || fail "the smoke program failed: $out"
[[ $out == "OK $version" ]] || fail "the smoke program printed '$out'"

static_libs=$("$PKG_CONFIG" --static --libs mcreg 2> "$log") || fail "pkg-config --static --libs mcreg failed"
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/smoke_static" "$smoke_src" \
    ${static_libs/-lmcreg/-Wl,-Bstatic -lmcreg -Wl,-Bdynamic} > "$log" 2>&1 \
    || fail "cannot link pkgconfig_smoke.c statically against the root's libmcreg.a"
: > "$log"
if "$READELF" -d "$tmp/smoke_static" | grep -q 'Shared library: \[libmcreg'; then
    fail "the static smoke program still needs libmcreg.so"
fi
out=$("$tmp/smoke_static" 2>&1) || fail "the static smoke program failed: $out"
[[ $out == "OK $version" ]] || fail "the static smoke program printed '$out'"

# ---- 3. the tools -------------------------------------------------------------------
for tool in mcreg-dump mcreg-registrar; do
    "$sysroot/usr/bin/$tool" --help > "$log" 2>&1 || fail "$tool --help failed"
    grep -q "^usage: $tool" "$log" || fail "$tool --help printed no usage"
    : > "$log"
done

echo "PASS $name"
