#!/usr/bin/env bash
# debian: debian/ agrees with the tree, so that `make deb` does not fail on
# what `make check` can see without the Debian tools:
# - debian/changelog's version is the header's (a native package);
# - the runtime package is named after the SONAME: libmcreg<MAJOR> in
#   debian/control, with its .install and .symbols files;
# - debian/libmcreg<MAJOR>.symbols lists exactly what lib/libmcreg.map
#   exports: NAME@NODE for each function, NODE@NODE for each node, each
#   with the first version of its node and a tilde (MCREG_0.2: 0.2.0~, so
#   that dpkg-gensymbols counts a function removed as lost even when the
#   version built is the one that added it); dpkg-gensymbols -c4 in the
#   package build fails on any difference with the library;
# - every package of debian/control's Build-Depends is one that
#   `make deps-deb` installs (DEB_BUILD_PACKAGES in the Makefile).
#
# Usage: tests/sh/debian.sh [BUILDDIR]   (the build is not used; uses $MAKE)
# Prints one line: "PASS debian" or "FAIL debian: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=debian
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAKE=${MAKE:-make}
header=$root/include/mcreg.h
map=$root/lib/libmcreg.map
control=$root/debian/control

fail() { echo "FAIL $name: $*"; exit 1; }
words() { tr '\n' ' ' | sed 's/ *$//'; }
list() { sed -e :a -e '$!N' -e 's/\n/, /' -e ta; }

version_part() {
    sed -n "/define MCREG_VERSION_$1[[:blank:]]/s/.*[[:blank:]]\\([0-9][0-9]*\\).*/\\1/p" "$header"
}
major=$(version_part MAJOR)
version=$major.$(version_part MINOR).$(version_part PATCH)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "cannot read the version from $header"

# ---- changelog ---------------------------------------------------------------
top=$(sed -n '1s/^libmcreg (\([^)]*\)).*/\1/p' "$root/debian/changelog")
[[ -n $top ]] || fail "debian/changelog does not start with an entry for libmcreg"
[[ $top == "$version" ]] \
    || fail "debian/changelog's version is $top, include/mcreg.h's $version: add a debian/changelog entry for $version (dch -v $version)"

# ---- the runtime package -------------------------------------------------------
pkg=libmcreg$major
grep -qx "Package: $pkg" "$control" \
    || fail "debian/control has no package $pkg, the name the SONAME libmcreg.so.$major gives"
for f in "$pkg.install" "$pkg.symbols"; do
    [[ -f $root/debian/$f ]] || fail "debian/$f not found"
done
grep -qx "Depends: $pkg (= \${binary:Version}), libcbor-dev, \${misc:Depends}" "$control" \
    || fail "debian/control: libmcreg-dev must depend on $pkg (= \${binary:Version}) and libcbor-dev"

# ---- symbols -------------------------------------------------------------------
symbols=$root/debian/$pkg.symbols
[[ $(grep -v "^#" "$symbols" | head -n 1) == "libmcreg.so.$major $pkg #MINVER#" ]] \
    || fail "debian/$pkg.symbols must start with 'libmcreg.so.$major $pkg #MINVER#'"
grep -qx '\* Build-Depends-Package: libmcreg-dev' "$symbols" \
    || fail "debian/$pkg.symbols lacks '* Build-Depends-Package: libmcreg-dev'"

# What the version script makes the library export, as symbols-file lines.
# The comment-stripped script is read node by node: "NODE {" opens one,
# "}" closes it, names before "local:" are its functions.
want=$(perl -0777 -pe 's{/\*.*?\*/}{ }gs' "$map" | sed 's/\([{};:]\)/ \1 /g' | tr -s ' \t\n' '\n' \
    | awk '
        $0 == "" || $0 == ";" || $0 == ":" { next }
        !open && $0 != "{" && $0 != "}" { node = $0; next }
        $0 == "{" { open = 1; scope = "global"
                    split(substr(node, 7), v, "."); first = v[1] "." v[2] ".0~"
                    print " " node "@" node " " first; next }
        $0 == "}" { open = 0; next }
        open && ($0 == "global" || $0 == "local") { scope = $0; next }
        open && scope == "global" { print " " $0 "@" node " " first }' | sort)
[[ -n $want ]] || fail "read no symbol from lib/libmcreg.map"
have=$(grep '^ ' "$symbols" | sort)

gone=$(comm -23 <(echo "$want") <(echo "$have") | sed 's/^ //' | list)
extra=$(comm -13 <(echo "$want") <(echo "$have") | sed 's/^ //' | list)
if [[ -n $gone || -n $extra ]]; then
    msg="debian/$pkg.symbols does not match lib/libmcreg.map:"
    [[ -z $gone ]] || msg+=" add: $gone;"
    [[ -z $extra ]] || msg+=" not in the script (or in another node, or with another version): $extra;"
    fail "$msg a symbol is NAME@NODE followed by the first version of its node and a tilde (see lib/libmcreg.map)"
fi

# ---- Build-Depends ----------------------------------------------------------------
# The field, its continuation lines included, as package names: version
# constraints, architecture and build-profile restrictions dropped, and
# debhelper-compat, which debhelper provides, as debhelper.
build_depends=$(awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
                     on && /^[ \t]/ { print; next } { on = 0 }' "$control" \
    | sed -e 's/[,|]/\n/g' -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' -e 's/[[:space:]]//g' \
    | sed -e '/^$/d' -e 's/^debhelper-compat$/debhelper/' | sort -u)
[[ -n $build_depends ]] || fail "debian/control has no Build-Depends"
# shellcheck disable=SC2016 # $(DEB_BUILD_PACKAGES) is for make
installed=$(printf 'print-deb-build-packages:\n\t@echo $(DEB_BUILD_PACKAGES)\n' \
    | env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
        "$MAKE" -s --no-print-directory -C "$root" -f Makefile -f - print-deb-build-packages) \
    || fail "cannot read DEB_BUILD_PACKAGES from the Makefile"
not_installed=$(comm -23 <(echo "$build_depends") <(tr ' ' '\n' <<< "$installed" | sort -u) | words)
[[ -z $not_installed ]] \
    || fail "Build-Depends in debian/control that make deps-deb does not install (add them to DEB_BUILD_PACKAGES): $not_installed"

echo "PASS $name"
