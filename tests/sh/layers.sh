#!/usr/bin/env bash
# layers: data flows one way through lib/, so no lib/ object calls, directly
# or through others, back into itself. Reads every object of the library
# with nm (which object defines each global symbol, which object uses it),
# builds the graph "A uses B" between lib/ objects, prints it, and fails on
# any cycle, printing it.
#
# Self-check first: two objects that call each other must be reported as a
# cycle, and two that call one way must not, or the scan proves nothing.
#
# Usage: tests/sh/layers.sh [BUILDDIR]     (default: $BUILDDIR, else build)
# Prints the graph, one object a line, then "PASS layers"; or
# "FAIL layers: why". Exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=layers
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
NM=${NM:-nm}
CC=${CC:-cc}

# fd 3 is the real stdout, so that fail() is heard from inside a pipeline.
exec 3>&1
fail() { echo "FAIL $name: $*" >&3; exit 1; }

# symbols OBJECT...: one line per global symbol, "object D symbol" where
# the object defines it, "object U symbol" where it uses one it does not.
symbols() {
    local o base
    for o in "$@"; do
        base=$(basename "$o" .o)
        "$NM" -P --defined-only "$o" | awk -v o="$base" '$2 ~ /^[A-Z]$/ { print o, "D", $1 }' \
            || fail "$NM --defined-only $o failed"
        "$NM" -P -u "$o" | awk -v o="$base" 'NF >= 2 { print o, "U", $1 }' \
            || fail "$NM -u $o failed"
    done
}

# graph < symbols: "node A" for each object, the edges "edge A B" (A uses
# a symbol B defines, A != B), each once, then "cycle A B ... A" for the first cycle found, if any.
graph() {
    awk '
        $2 == "D" { def[$3] = $1; objs[$1] = 1; next }
        $2 == "U" { use[++n] = $1 SUBSEP $3; objs[$1] = 1 }
        END {
            for (o in objs) print "node", o
            for (i = 1; i <= n; i++) {
                split(use[i], p, SUBSEP)
                if (!(p[2] in def) || def[p[2]] == p[1]) continue
                e = p[1] SUBSEP def[p[2]]
                if (e in edge) continue
                edge[e] = 1
                out[p[1]] = out[p[1]] " " def[p[2]]
                print "edge", p[1], def[p[2]]
            }
            # Depth-first search with an explicit stack: colour 1 while on
            # the path, 2 once done; an edge to a colour-1 object closes a
            # cycle, read back from the path.
            for (start in objs) {
                if (colour[start]) continue
                depth = 1; path[1] = start; colour[start] = 1; rest[1] = out[start]
                while (depth) {
                    cur = path[depth]
                    if (rest[depth] == "") { colour[cur] = 2; depth--; continue }
                    r = rest[depth]; sub(/^ /, "", r)
                    k = index(r, " ")
                    if (k) { next_obj = substr(r, 1, k - 1); rest[depth] = substr(r, k) }
                    else { next_obj = r; rest[depth] = "" }
                    if (colour[next_obj] == 1) {
                        for (k = 1; path[k] != next_obj; k++) ;
                        line = ""
                        for (; k <= depth; k++) line = line path[k] " "
                        print "cycle", line next_obj
                        exit 0
                    }
                    if (colour[next_obj] == 2) continue
                    colour[next_obj] = 1
                    path[++depth] = next_obj; rest[depth] = out[next_obj]
                }
            }
        }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Self-check: a_one calls b_two and b_two calls a_one (a cycle); c_three
# calls a_one only (none).
cat > "$tmp/a.c" <<'EOF'
int a_one(int);
int b_two(int);
int a_one(int x) { return x > 0 ? b_two(x - 1) : 0; }
EOF
cat > "$tmp/b.c" <<'EOF'
int a_one(int);
int b_two(int);
int b_two(int x) { return a_one(x) + 1; }
EOF
cat > "$tmp/c.c" <<'EOF'
int a_one(int);
int c_three(int);
int c_three(int x) { return a_one(x) * 2; }
EOF
for f in a b c; do
    "$CC" -c -o "$tmp/$f.o" "$tmp/$f.c" || fail "cannot compile the self-check object $f.c"
done
symbols "$tmp/a.o" "$tmp/b.o" | graph > "$tmp/cyclic"
grep -Eq '^cycle (a b a|b a b)$' "$tmp/cyclic" \
    || fail "self-check: the cycle between a.o and b.o was not found: $(tr '\n' ';' < "$tmp/cyclic")"
symbols "$tmp/a.o" "$tmp/c.o" | graph > "$tmp/acyclic"
grep -q '^edge c a$' "$tmp/acyclic" || fail "self-check: c.o -> a.o not seen"
! grep -q '^cycle' "$tmp/acyclic" || fail "self-check: a cycle reported where there is none"

shopt -s nullglob
objs=("$builddir"/obj/*.o)
[[ ${#objs[@]} -gt 0 ]] || fail "no objects in ${builddir#"$root"/}/obj (run make first)"
symbols "${objs[@]}" | graph > "$tmp/lib"
grep -q '^edge ' "$tmp/lib" || fail "no edge at all between lib/ objects: is the scan working?"

# The graph: each object, then the objects it uses ("-": none).
echo "$name: lib/ objects and what each uses:"
awk '$1 == "node" { print $2, "" } $1 == "edge" { print $2, $3 }' "$tmp/lib" | sort \
    | awk '$1 != last { if (NR > 1) print line; line = "  " $1 ":"; last = $1 }
           NF > 1 { line = line " " $2 } END { if (NR) print line }' \
    | sed 's/:$/: -/'

cycle=$(sed -n 's/^cycle //p' "$tmp/lib")
[[ -z $cycle ]] || fail "cycle between lib/ objects: ${cycle// / -> }"
echo "PASS $name"
