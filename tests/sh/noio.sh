#!/usr/bin/env bash
# noio: the library does no I/O. Lists the undefined symbols of every object
# in libmcreg.a (and of libmcreg.so) with nm and fails on any that reaches
# stdio, files, sockets, clocks, threads, signals, process exit, the
# environment or a random generator.
#
# Usage: tests/sh/noio.sh [BUILDDIR]     (default: $BUILDDIR, else build)
# Prints one line: "PASS noio" or "FAIL noio: why", and exits non-zero on failure.
set -euo pipefail
export LC_ALL=C

name=noio
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${BUILDDIR:-build}}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
NM=${NM:-nm}
CC=${CC:-cc}

# fd 3 is the real stdout, so that fail() is heard even where stdout is redirected.
exec 3>&1
fail() { echo "FAIL $name: $*" >&3; exit 1; }

# Forbidden undefined symbols, one family a line. A symbol is matched after
# normalisation: the version suffix (@GLIBC_x) goes, and so do the fortify
# and C99 wrappers (__printf_chk -> printf, __isoc99_sscanf -> sscanf,
# open64 -> open).
forbidden_names="
  printf fprintf sprintf snprintf vprintf vfprintf vsprintf vsnprintf
  dprintf vdprintf asprintf vasprintf
  scanf fscanf sscanf vscanf vfscanf vsscanf
  puts fputs putchar putc fputc fwrite fread fgets fgetc getc getchar gets
  fopen fdopen freopen fclose fflush fseek ftell rewind fileno setvbuf setbuf
  tmpfile tmpnam popen pclose remove rename perror
  stdin stdout stderr
  open openat creat __open_2 __open64_2 __openat_2 read write pread pwrite readv writev close lseek
  stat fstat lstat fstatat mmap munmap unlink mkdir opendir readdir ioctl
  fcntl dup dup2 pipe fsync
  socket socketpair connect bind listen accept accept4 send sendto sendmsg
  recv recvfrom recvmsg shutdown setsockopt getsockopt select poll
  epoll_create epoll_create1 epoll_ctl epoll_wait getaddrinfo gethostbyname
  time clock clock_gettime gettimeofday timespec_get
  localtime localtime_r gmtime gmtime_r mktime ctime
  signal sigaction raise kill sigprocmask alarm
  abort exit _exit _Exit quick_exit atexit at_quick_exit system fork
  getenv secure_getenv setenv putenv unsetenv
  rand srand rand_r random srandom drand48 lrand48 mrand48 getrandom getentropy
  arc4random
  sleep usleep nanosleep
  __assert_fail __assert_perror_fail __assert __assert2
  syslog vsyslog openlog
"
# Forbidden prefixes: POSIX and C11 threads.
forbidden_prefixes="pthread_ thrd_ mtx_ cnd_ tss_ call_once"

declare -A forbidden=()
for s in $forbidden_names; do forbidden[$s]=1; done

# normalise SYMBOL: sets `norm`.
normalise() {
    local s=${1%%@*}
    s=${s#__isoc99_}
    s=${s#__isoc23_}
    if [[ $s == __*_chk ]]; then s=${s#__}; s=${s%_chk}; fi
    if [[ $s == *64 && -n ${forbidden[${s%64}]+x} ]]; then s=${s%64}; fi
    norm=$s
}

is_forbidden() {
    local s p
    normalise "$1"
    s=$norm
    [[ -n ${forbidden[$s]+x} ]] && return 0
    for p in $forbidden_prefixes; do
        [[ $s == "$p"* ]] && return 0
    done
    return 1
}

# scan NM_ARGS... : runs "$NM -A -P NM_ARGS..." and prints "where: symbol"
# for every forbidden undefined symbol. Adds the number of undefined symbols
# looked at to `seen`. Call it with its output redirected to a file, not in
# $(...), so that `seen` and `fail` act on this shell.
seen=0
scan() {
    local out line where sym
    out=$("$NM" -A -P "$@") || fail "$NM -A -P $* failed"
    while IFS= read -r line; do
        [[ -z $line ]] && continue
        # POSIX format with -A: "file[member]: symbol U" or "file: symbol U"
        where=${line%%: *}
        line=${line#*: }
        sym=${line%% *}
        seen=$((seen + 1))
        if is_forbidden "$sym"; then
            printf '%s: %s\n' "${where#"$root"/}" "$sym"
        fi
    done <<< "$out"
}

lib_a=$builddir/libmcreg.a
lib_so=$builddir/libmcreg.so
[[ -f $lib_a ]] || fail "$lib_a not found (run make first)"
[[ -f $lib_so ]] || fail "$lib_so not found (run make first)"

# Self-check: a canary object that calls printf, time and pthread_self must
# be caught, or the scan proves nothing (nm output format, normalisation...).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/canary.c" <<'CANARY'
#include <pthread.h>
#include <stdio.h>
#include <time.h>
int canary(void);
int canary(void) { return printf("%ld", (long)time(NULL)) + (int)(pthread_self() & 1); }
CANARY
"$CC" -c -o "$tmp/canary.o" "$tmp/canary.c" || fail "cannot compile the canary object"
scan -u "$tmp/canary.o" > "$tmp/canary.hits"
for want in printf time pthread_self; do
    grep -q ": $want\$" "$tmp/canary.hits" \
        || fail "self-check: the canary's call to $want was not detected"
done

seen=0
scan -u "$lib_a" > "$tmp/hits"
[[ $seen -gt 0 ]] || fail "no undefined symbols at all in $lib_a: is the scan working?"
scan -u -D "$lib_so" >> "$tmp/hits"

if [[ -s $tmp/hits ]]; then
    n=$(wc -l < "$tmp/hits")
    echo "FAIL $name: $n forbidden undefined symbol(s): $(tr '\n' ' ' < "$tmp/hits" | sed 's/ $//')"
    exit 1
fi
echo "PASS $name"
