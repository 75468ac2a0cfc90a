#!/usr/bin/python3
"""Write the seed corpus of the fuzz targets into tests/fuzz/corpus/.

  /usr/bin/python3 tests/fuzz/make_corpus.py build/tests/tools/snapgen

Small snapgen states (every setting type, shared UEs, limits) and the empty
registry, plus hand-made edge cases encoded with cbor2 (python3-cbor2):
valid ones the reader must take (a later minor version, records out of
order, longer heads than needed, expiries at and after the fuzz targets'
now_ms, extreme values) and a few it must refuse. Every file stays under
4 KiB. The output is deterministic: rerunning rewrites the same files.
"""
import os
import subprocess
import sys

import cbor2

TAG = 55799
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def doc(state, canonical=True):
    return cbor2.dumps(cbor2.CBORTag(TAG, state), canonical=canonical)


def long_heads(v):
    """v with every head one size longer than needed (8-byte heads stay)."""
    def h(major, arg):
        w = 0 if arg < 24 else 1 if arg < 2**8 else 2 if arg < 2**16 else 4 if arg < 2**32 else 8
        w = {0: 1, 1: 2, 2: 4, 4: 8, 8: 8}[w]
        return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[w]]) + arg.to_bytes(w, "big")
    if type(v) is bool:
        return b"\xf5" if v else b"\xf4"
    if type(v) is int:
        return h(0, v) if v >= 0 else h(1, -1 - v)
    if type(v) is str:
        b = v.encode()
        return h(3, len(b)) + b
    if type(v) is bytes:
        return h(2, len(v)) + v
    if type(v) is list:
        return h(4, len(v)) + b"".join(long_heads(x) for x in v)
    return h(5, len(v)) + b"".join(long_heads(k) + long_heads(x) for k, x in v.items())


ALICE = "sip:alice@mcptt.example"
README = {
    0: [1, 0],
    1: [{0: ALICE, 1: "urn:uuid:00000000-0000-0000-0000-00000000a11c", 2: 1000, 3: 3601000,
         4: 7, 5: "sip:alice@192.0.2.10:5060", 6: "a84b4c76e66710@pc33.example",
         7: [["priority", 5], ["display", "Alice"], ["token", b"\x00\xff"],
             ["emergency", False], ["offset", -3]]}],
    2: [[ALICE, 3]],
}


def rec(user, ue, reg=1000, exp=3601000, cseq=1, **more):
    r = {0: user, 1: ue, 2: reg, 3: exp, 4: cseq}
    r.update({int(k[1:]): v for k, v in more.items()})
    return r


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py SNAPGEN")
    snapgen = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    files = {}
    for seed, users in ((0, 0), (1, 1), (2, 3), (3, 5), (11, 4)):
        path = os.path.join(OUT, "snapgen-%d-%d.cbor" % (seed, users))
        subprocess.run([snapgen, str(seed), str(users), path], check=True)
    os.replace(os.path.join(OUT, "snapgen-0-0.cbor"), os.path.join(OUT, "empty.cbor"))

    files["readme-example.cbor"] = doc(README)
    files["minimal-record.cbor"] = doc({0: [1, 0], 1: [rec("u", "e")], 2: []})
    files["limit-only.cbor"] = doc({0: [1, 0], 1: [], 2: [["u", 0], ["v", 4294967295]]})
    files["shared-ue.cbor"] = doc({0: [1, 0], 1: [rec("a", "ue"), rec("b", "ue")], 2: [["b", 1]]})
    files["later-minor.cbor"] = doc({
        0: [1, 3],
        1: [rec("u", "e", k5="sip:u@h", k8={0: [1.5, None]}, k4294967296=b"x")],
        2: [["u", 2]],
        3: {0: [-1, "x", True]}, 100: [],
    })
    files["version-2.cbor"] = doc({0: [2, 0], 1: [rec("u", "e")], 2: []})
    files["unsorted.cbor"] = doc({
        0: [1, 0],
        1: [rec("z", "b"), rec("z", "a"), rec("a", "z", k7=[["k", 1]]), rec("\u00e9", "e")],
        2: [["z", 1], ["a", 2]],
    })
    files["long-heads.cbor"] = b"\xd9\xd9\xf7" + long_heads(README)
    files["expiries.cbor"] = doc({
        0: [1, 0],
        1: [rec("u", "gone", reg=0, exp=5000), rec("u", "kept", reg=0, exp=5001),
            rec("v", "gone", reg=0, exp=0)],
        2: [],
    })
    files["extremes.cbor"] = doc({
        0: [1, 0],
        1: [rec("u" * 40, "e", reg=2**64 - 1, exp=2**64 - 1, cseq=2**32 - 1,
                k5="c" * 30, k6="\U0001F4DE",
                k7=[["min", -2**63], ["max", 2**63 - 1], ["t", "a\x00b"], ["b", b""],
                    ["e", ""], ["yes", True]])],
        2: [["u" * 40, 2**32 - 1]],
    })
    files["empty-settings.cbor"] = doc({0: [1, 0], 1: [rec("u", "e", k7=[])], 2: []})
    files["duplicate-pair.cbor"] = doc({0: [1, 0], 1: [rec("u", "e"), rec("u", "e")], 2: []})
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        if size >= 4096:
            sys.exit("%s is %d bytes: keep corpus files under 4 KiB" % (name, size))
    print("%d files, %d bytes in %s" % (len(os.listdir(OUT)), total, OUT))


if __name__ == "__main__":
    main()
