#!/usr/bin/env python3
"""Finding 5: hash flooding of the transaction table.

The server transaction table is keyed by "branch sent-by method", all of it
chosen by the sender. With uthash's unkeyed default hash (Jenkins), branches
whose hashes share their low bits all land in one bucket, and uthash stops
expanding: every lookup walks them all. Bound: OPTIONS with such branches
cost at most 3x the CPU of OPTIONS with random branches (plus 20 us).

The colliding branches are searched by a small C program (cc), built from
the text below: it computes uthash's HASH_JEN of each candidate key.
"""
import shutil
import subprocess

from common import *

N = 60000
LOW_BITS = 10
VIA = "127.0.0.1:9"

SEARCH_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
int main(int argc, char **argv)
{
    unsigned n = (unsigned)atoi(argv[1]), mask = (1u << atoi(argv[2])) - 1, target = 0x2a5 & mask;
    const char *alpha = "abcdefghijklmnopqrstuvwxyz0123456789";
    char key[128];
    unsigned long long ctr = 0;
    for (unsigned found = 0; found < n; ctr++) {
        char suffix[17];
        unsigned long long c = ctr;
        for (int i = 0; i < 16; i++) { suffix[i] = alpha[c % 36]; c /= 36; }
        suffix[16] = 0;
        int len = snprintf(key, sizeof key, "z9hG4bK%s %s OPTIONS", suffix, argv[3]);
        unsigned hashv;
        HASH_JEN(key, (unsigned)len, hashv);
        if ((hashv & mask) == target) { puts(suffix); found++; }
    }
    return 0;
}
"""


def colliding_branches():
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        print("cannot run: no C compiler")
        sys.exit(2)
    d = tempfile.mkdtemp(prefix="mcreg-repro-hash.")
    src, exe = os.path.join(d, "search.c"), os.path.join(d, "search")
    with open(src, "w") as f:
        f.write(SEARCH_C)
    subprocess.run([cc, "-O2", "-o", exe, src], check=True)
    out = subprocess.run([exe, str(N), str(LOW_BITS), VIA], check=True,
                         capture_output=True, text=True).stdout.split()
    shutil.rmtree(d)
    return ["z9hG4bK" + s for s in out]


def flood(reg, s, branches):
    """CPU seconds per OPTIONS over these branches."""
    port = s.getsockname()[1]
    barrier(s, reg)
    sink = udp()
    cpu0 = reg.cpu_s()
    for i, br in enumerate(branches):
        data = request("OPTIONS", port, br=br).replace(
            ("127.0.0.1:%d;branch" % port).encode(), (VIA + ";branch").encode())
        sink.sendto(data, reg.addr)
        if i % 500 == 499:
            barrier(s, reg)
    barrier(s, reg)
    return (reg.cpu_s() - cpu0) / len(branches)


def run():
    bad = colliding_branches()
    good = [branch() for _ in range(N)]
    # One registrar each: the table starts empty both times.
    with Registrar("--notify", "none") as reg:
        s = udp()
        random_us = flood(reg, s, good) * 1e6
    with Registrar("--notify", "none") as reg:
        s = udp()
        colliding_us = flood(reg, s, bad) * 1e6
    print("     %d OPTIONS: %.1f us CPU each with random branches, %.1f us with branches "
          "colliding in uthash's default hash" % (N, random_us, colliding_us))
    check(colliding_us <= 3 * random_us + 20,
          "colliding branches cost %.1f us, bound 3 x %.1f + 20 us" % (colliding_us, random_us))


main(run)
