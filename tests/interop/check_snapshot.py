#!/usr/bin/python3
"""Check libmcreg snapshots against an independent CBOR implementation.

cbor2 (Debian's python3-cbor2) decodes and encodes; the checks of the
README's "Snapshot format" section (the CDDL schema and the rules beside it)
are written out here by hand.

  check_snapshot.py check SNAPSHOT [SIDECAR]
      The writer. SNAPSHOT, as mcreg_snapshot wrote it:
      - its bytes, walked by a strict decoder of this file: the tag 55799 as
        d9 d9 f7 and no other tag, definite lengths, shortest heads, no
        floats or simple values but false and true, valid UTF-8, map keys
        unsigned and ascending, nothing after the top-level item;
      - cbor2 decodes it to the same values (it drops tag 55799 by itself)
        and consumes every byte;
      - cbor2's canonical encoding of those values, under the tag, gives the
        same bytes back: the writer is deterministic;
      - the schema: keys 0 (first, [1, 0]), 1 and 2 and no other; every
        record's keys, types and ranges, optional keys, settings as
        [key, value] pairs with int64 / text / bytes / bool values within
        the limits of mcreg_register, limits as [id, uint32];
      - records sorted by (user id, UE id) and limits by user id, both
        bytewise on the UTF-8, with no pair or limit twice.
      With SIDECAR (snapgen's JSON lines, mcreg-dump's format): every field
      of every record and limit equals the sidecar's, in order, and cbor2's
      canonical encoding of the sidecar's state is SNAPSHOT byte for byte.

  check_snapshot.py reader DUMP SNAPSHOT SIDECAR
      The reader, through DUMP (examples/mcreg-dump), with inputs encoded
      here: the sidecar's state in shuffled order, with keys of a later
      minor version, or re-encoded with longer heads must print the sidecar;
      a later major version, and well over a hundred malformed variants
      (every rule of the README, every truncation of a small snapshot) must
      exit 3.

  check_snapshot.py selftest SNAPSHOT
      The checker itself: broken encodings of SNAPSHOT's state must fail
      `check`.

Prints what it checked; the exit status is 0 when everything held, 1 when
anything did not (each failure on a line of its own), 2 for a usage error.
"""

import io
import json
import os
import random
import subprocess
import sys

try:
    import cbor2
except ImportError:  # pragma: no cover - reported by interop.sh
    sys.stderr.write("check_snapshot.py: cbor2 is missing: run make deps "
                     "(Debian package python3-cbor2)\n")
    sys.exit(2)

SELF_DESCRIBE = 55799
MAX_ID = 1024
MAX_URI = 2048
MAX_SETTINGS = 64
MAX_SETTING = 4096
U32 = 2**32 - 1
U64 = 2**64 - 1
I64_MIN, I64_MAX = -2**63, 2**63 - 1


class Fail(Exception):
    pass


class _Drop:
    pass


DROP = _Drop()  # bad_record(): remove the key


# ---- a strict decoder ----------------------------------------------------------


class Strict:
    """Walks the bytes as core deterministic CBOR (RFC 8949 4.2.1) allows
    them, and as the README restricts them further. Returns Python values:
    int, str, bytes, bool, list, dict (keys in the input's order)."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def fail(self, what):
        raise Fail("byte %d: %s" % (self.i, what))

    def head(self):
        if self.i >= len(self.d):
            self.fail("truncated")
        start = self.i
        ib = self.d[self.i]
        self.i += 1
        major, ai = ib >> 5, ib & 31
        if ai < 24:
            return major, ai
        if ai == 31:
            self.fail("indefinite length (initial byte 0x%02x)" % ib)
        if ai > 27:
            self.fail("reserved additional information %d" % ai)
        n = 1 << (ai - 24)
        if self.i + n > len(self.d):
            self.fail("truncated head")
        arg = int.from_bytes(self.d[self.i:self.i + n], "big")
        self.i += n
        if major != 7:
            shortest = 0 if arg < 24 else 1 if arg < 2**8 else 2 if arg < 2**16 \
                else 4 if arg < 2**32 else 8
            if n != shortest:
                self.i = start
                self.fail("head of %d argument bytes for %d, not the shortest" % (n, arg))
        return major, arg

    def item(self, top=False):
        start = self.i
        major, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major in (2, 3):
            if self.i + arg > len(self.d):
                self.fail("truncated string")
            raw = bytes(self.d[self.i:self.i + arg])
            self.i += arg
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8", "strict")
            except UnicodeDecodeError as e:
                self.i = start
                self.fail("text not valid UTF-8: %s" % e)
        if major == 4:
            return [self.item() for _ in range(arg)]
        if major == 5:
            out = {}
            last = None
            for _ in range(arg):
                kpos = self.i
                k = self.item()
                if type(k) is not int or k < 0:
                    self.i = kpos
                    self.fail("map key %r is not an unsigned integer" % (k,))
                if last is not None and k <= last:
                    self.i = kpos
                    self.fail("map key %d after %d: not ascending" % (k, last))
                last = k
                out[k] = self.item()
            return out
        if major == 6:
            if not top or start != 0 or arg != SELF_DESCRIBE:
                self.i = start
                self.fail("tag %d: the only tag is the leading 55799" % arg)
            if self.d[start:start + 3] != b"\xd9\xd9\xf7":
                self.fail("tag 55799 not written as d9 d9 f7")
            return self.item()
        # major 7
        if self.d[start] == 0xf4:
            return False
        if self.d[start] == 0xf5:
            return True
        self.i = start
        self.fail("simple value or float 0x%02x: only false and true are written"
                  % self.d[start])

    def document(self):
        if self.d[:3] != b"\xd9\xd9\xf7":
            raise Fail("does not start with the self-described CBOR tag d9 d9 f7")
        v = self.item(top=True)
        if self.i != len(self.d):
            self.fail("%d bytes after the top-level item" % (len(self.d) - self.i))
        return v


def same(a, b):
    """Equality that tells bool from int (True == 1 in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


# ---- the schema ------------------------------------------------------------------


def utf8len(s):
    return len(s.encode("utf-8"))


def check_text(v, what, lo, hi, nul_ok=False):
    if type(v) is not str:
        raise Fail("%s: %r is not a text string" % (what, v))
    n = utf8len(v)
    if not lo <= n <= hi:
        raise Fail("%s: %d bytes, not %d..%d" % (what, n, lo, hi))
    if not nul_ok and "\0" in v:
        raise Fail("%s: holds U+0000" % what)


def check_uint(v, what, hi):
    if type(v) is not int or not 0 <= v <= hi:
        raise Fail("%s: %r is not an unsigned integer up to %d" % (what, v, hi))


def check_setting(s, what):
    if type(s) is not list or len(s) != 2:
        raise Fail("%s: %r is not a [key, value] pair" % (what, s))
    key, value = s
    check_text(key, what + " key", 1, MAX_SETTING)
    t = type(value)
    if t is int:
        if not I64_MIN <= value <= I64_MAX:
            raise Fail("%s: int %d outside int64" % (what, value))
        size = 0
    elif t is bool:
        size = 0
    elif t is str:
        size = utf8len(value)
    elif t is bytes:
        size = len(value)
    else:
        raise Fail("%s: value %r is not int, text, bytes or bool" % (what, value))
    if utf8len(key) + size > MAX_SETTING:
        raise Fail("%s: key and value are %d bytes, over %d"
                   % (what, utf8len(key) + size, MAX_SETTING))
    return key


def check_record(r, n):
    what = "record %d" % n
    if type(r) is not dict:
        raise Fail("%s is not a map" % what)
    for k in (0, 1, 2, 3, 4):
        if k not in r:
            raise Fail("%s: no key %d" % (what, k))
    extra = [k for k in r if k not in range(8)]
    if extra:
        raise Fail("%s: keys %r, not in format 1.0" % (what, extra))
    check_text(r[0], what + " user id", 1, MAX_ID)
    check_text(r[1], what + " UE id", 1, MAX_ID)
    check_uint(r[2], what + " registered_at", U64)
    check_uint(r[3], what + " expires_at", U64)
    check_uint(r[4], what + " CSeq", U32)
    if 5 in r:
        check_text(r[5], what + " contact", 1, MAX_URI)
    if 6 in r:
        check_text(r[6], what + " Call-ID", 1, MAX_URI)
    if 7 in r:
        st = r[7]
        if type(st) is not list or not 1 <= len(st) <= MAX_SETTINGS:
            raise Fail("%s: settings are not an array of 1..%d" % (what, MAX_SETTINGS))
        keys = [check_setting(s, "%s setting %d" % (what, i)) for i, s in enumerate(st)]
        if len(set(keys)) != len(keys):
            raise Fail("%s: a setting key appears twice" % what)


def check_schema(state):
    if type(state) is not dict:
        raise Fail("the tagged item is not a map")
    keys = list(state)
    if not keys or keys[0] != 0:
        raise Fail("key 0 (the version) is not the first key")
    if keys != [0, 1, 2]:
        raise Fail("top-level keys %r: format 1.0 writes 0, 1 and 2" % keys)
    if not same(state[0], [1, 0]):
        raise Fail("version %r, want [1, 0]" % (state[0],))
    recs, limits = state[1], state[2]
    if type(recs) is not list:
        raise Fail("key 1 is not an array")
    if type(limits) is not list:
        raise Fail("key 2 is not an array")
    prev = None
    for n, r in enumerate(recs):
        check_record(r, n)
        order = (r[0].encode("utf-8"), r[1].encode("utf-8"))
        if prev is not None and order <= prev:
            raise Fail("record %d (%r, %r) does not sort after the one before: %s"
                       % (n, r[0], r[1], "the same pair twice" if order == prev
                          else "not sorted by user id, then UE id, bytewise"))
        prev = order
    prev = None
    for n, lim in enumerate(limits):
        what = "limit %d" % n
        if type(lim) is not list or len(lim) != 2:
            raise Fail("%s: %r is not [user, max-ues]" % (what, lim))
        check_text(lim[0], what + " user id", 1, MAX_ID)
        check_uint(lim[1], what + " max-ues", U32)
        order = lim[0].encode("utf-8")
        if prev is not None and order <= prev:
            raise Fail("%s (%r) does not sort after the one before: %s"
                       % (what, lim[0], "a user twice" if order == prev
                          else "not sorted by user id, bytewise"))
        prev = order
    return len(recs), len(limits)


# ---- the sidecar -------------------------------------------------------------------


def load_sidecar(path):
    records, limits = [], []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            obj = json.loads(line.decode("utf-8"))
            if "ue" in obj:
                records.append(obj)
            elif "max_ues" in obj:
                limits.append(obj)
            else:
                raise Fail("%s:%d: neither a record nor a limit" % (path, n))
    return records, limits


TYPES = {int: "int", str: "text", bytes: "bytes", bool: "bool"}


def as_json_record(r):
    """A decoded record in the sidecar's (mcreg-dump's) form."""
    settings = []
    for key, value in r.get(7, []):
        settings.append({"key": key, "type": TYPES[type(value)],
                         "value": value.hex() if type(value) is bytes else value})
    return {"user": r[0], "ue": r[1], "contact": r.get(5), "call_id": r.get(6),
            "cseq": r[4], "registered_at": r[2], "expires_at": r[3], "settings": settings}


def from_json_record(j):
    """A sidecar record as the map the writer should produce."""
    r = {0: j["user"], 1: j["ue"], 2: j["registered_at"], 3: j["expires_at"], 4: j["cseq"]}
    if j["contact"] is not None:
        r[5] = j["contact"]
    if j["call_id"] is not None:
        r[6] = j["call_id"]
    if j["settings"]:
        r[7] = [[s["key"], bytes.fromhex(s["value"]) if s["type"] == "bytes" else s["value"]]
                for s in j["settings"]]
    return r


def state_from_sidecar(records, limits):
    return {0: [1, 0], 1: [from_json_record(j) for j in records],
            2: [[lim["user"], lim["max_ues"]] for lim in limits]}


def compare_to_sidecar(state, records, limits):
    got = [as_json_record(r) for r in state[1]]
    if len(got) != len(records):
        raise Fail("%d records, the sidecar has %d" % (len(got), len(records)))
    fields = ("user", "ue", "contact", "call_id", "cseq", "registered_at", "expires_at",
              "settings")
    for n, (g, w) in enumerate(zip(got, records)):
        for f in fields:
            if not same(g[f], w[f]):
                raise Fail("record %d (%r, %r): %s is %r, the sidecar says %r"
                           % (n, w["user"], w["ue"], f, g[f], w[f]))
    got_limits = [{"user": u, "max_ues": m} for u, m in state[2]]
    if not same(got_limits, limits):
        raise Fail("limits %r, the sidecar says %r" % (got_limits, limits))


# ---- check -------------------------------------------------------------------------


def encode_canonical(state):
    return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, state), canonical=True)


def check(data, sidecar=None):
    """Raises Fail; returns a one-line summary."""
    strict = Strict(data).document()

    # cbor2 and the strict walk agree, and cbor2 reads every byte.
    fp = io.BytesIO(data)
    decoded = cbor2.CBORDecoder(fp).decode()
    if fp.tell() != len(data):
        raise Fail("cbor2 stopped at byte %d of %d" % (fp.tell(), len(data)))
    if isinstance(decoded, cbor2.CBORTag):
        raise Fail("cbor2 kept tag %d: not the self-describe tag" % decoded.tag)
    if not same(decoded, strict):
        raise Fail("cbor2 decodes other values than the strict walk")

    n_recs, n_limits = check_schema(decoded)

    again = encode_canonical(decoded)
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b),
                  min(len(again), len(data)))
        raise Fail("cbor2's canonical encoding differs from byte %d (%d and %d bytes)"
                   % (at, len(again), len(data)))

    if sidecar:
        records, limits = load_sidecar(sidecar)
        compare_to_sidecar(decoded, records, limits)
        mine = encode_canonical(state_from_sidecar(records, limits))
        if mine != data:
            raise Fail("cbor2's encoding of the sidecar's state differs from the snapshot")
    return "%d bytes, %d records, %d limits" % (len(data), n_recs, n_limits)


# ---- reader --------------------------------------------------------------------------


def head(major, arg, width=None):
    """A CBOR head; width (0, 1, 2, 4, 8 bytes after the initial byte)
    defaults to the shortest."""
    if width is None:
        width = 0 if arg < 24 else 1 if arg < 2**8 else 2 if arg < 2**16 \
            else 4 if arg < 2**32 else 8
    if width == 0:
        return bytes([major << 5 | arg])
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | ai]) + arg.to_bytes(width, "big")


def enc(v):
    return cbor2.dumps(v)


def raw_map(pairs):
    """A map of already-encoded (key bytes, value bytes), in the order given."""
    return head(5, len(pairs)) + b"".join(k + v for k, v in pairs)


def raw_record(r, order=None, extra=()):
    keys = order if order is not None else sorted(r)
    return raw_map([(enc(k), enc(r[k])) for k in keys] + list(extra))


def raw_doc(version=b"\x82\x01\x00", records=(), limits=b"\x80", extra=(), tag=b"\xd9\xd9\xf7"):
    pairs = [(b"\x00", version), (b"\x01", head(4, len(records)) + b"".join(records)),
             (b"\x02", limits)] + list(extra)
    return tag + raw_map(pairs)


def long_heads(v):
    """v encoded with every head one size longer than needed, where one is."""
    def grow(major, arg):
        w = 0 if arg < 24 else 1 if arg < 2**8 else 2 if arg < 2**16 else 4 if arg < 2**32 else 8
        return head(major, arg, {0: 1, 1: 2, 2: 4, 4: 8, 8: 8}[w])
    if type(v) is bool:
        return b"\xf5" if v else b"\xf4"
    if type(v) is int:
        return grow(0, v) if v >= 0 else grow(1, -1 - v)
    if type(v) is bytes:
        return grow(2, len(v)) + v
    if type(v) is str:
        b = v.encode("utf-8")
        return grow(3, len(b)) + b
    if type(v) is list:
        return grow(4, len(v)) + b"".join(long_heads(x) for x in v)
    if type(v) is dict:
        return grow(5, len(v)) + b"".join(long_heads(k) + long_heads(x) for k, x in v.items())
    raise TypeError(v)


class Dump:
    def __init__(self, exe, tmpdir):
        self.exe = exe
        self.tmp = tmpdir
        self.runs = 0

    def run(self, data, *args):
        path = os.path.join(self.tmp, "input.cbor")
        with open(path, "wb") as f:
            f.write(data)
        self.runs += 1
        p = subprocess.run([self.exe, *args, path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace").strip()


def reader(dump_exe, snapshot, sidecar, tmpdir):
    with open(snapshot, "rb") as f:
        data = f.read()
    with open(sidecar, "rb") as f:
        want = f.read()
    records, limits = load_sidecar(sidecar)
    state = state_from_sidecar(records, limits)
    dump = Dump(dump_exe, tmpdir)
    failures = []
    rng = random.Random(len(data))

    def accepts(name, doc, expect=want, args=()):
        rc, out, err = dump.run(doc, *args)
        if rc != 0:
            failures.append("%s: mcreg-dump exited %d: %s" % (name, rc, err))
        elif out != expect:
            failures.append("%s: mcreg-dump printed other lines than the sidecar's" % name)

    messages = {}

    def rejects(name, doc, kind="format"):
        rc, out, err = dump.run(doc)
        if rc != 3:
            failures.append("%s: mcreg-dump exited %d, want 3 (refused)%s"
                            % (name, rc, ": " + err if err else ""))
        else:
            # "mcreg-dump: FILE: ERROR: DETAIL": one ERROR (mcreg_strerror) per
            # kind, and a DETAIL (mcreg_error_detail) that says where
            message, _, detail = err.split(": ", 2)[-1].partition(": ")
            messages.setdefault(kind, set()).add(message)
            if not detail.startswith("snapshot: "):
                failures.append("%s: no detail of the refusal: %r" % (name, err))

    # -- accepted ---------------------------------------------------------------
    accepts("the snapshot itself", data)
    accepts("cbor2's canonical encoding of the sidecar", encode_canonical(state))
    shuffled = {0: [1, 0], 1: list(state[1]), 2: list(state[2])}
    rng.shuffle(shuffled[1])
    rng.shuffle(shuffled[2])
    accepts("records and limits in random order",
            cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, shuffled)))
    rev = {0: [1, 0], 1: state[1][::-1], 2: state[2][::-1]}
    accepts("records and limits in reverse order", cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, rev)))
    accepts("every head one size longer", b"\xd9\xd9\xf7" + long_heads(state))
    later = {0: [1, 7], 1: [dict(r) for r in state[1]], 2: state[2],
             3: {0: [1.5, None, b"\x00", -7], 5: {}}, 99: [], 2**32: "x", U64: 0.0,
             100: {"text key": cbor2.CBORTag(1, 0), b"bytes key": [[[[[[]]]]]], -1: None}}
    for r in later[1]:
        r[8] = {0: True, "k": cbor2.CBORTag(32, "http://example.com")}
        r[2**64 - 1] = [None, 1.0e300, float("inf")]
    accepts("a later minor version with unknown keys of any type (tags, floats, maps with any "
            "keys)", encode_canonical(later))
    deep = b"\x81" * 200 + b"\x00"
    rejects("an unknown key's value nested 200 levels deep", raw_doc(extra=[(b"\x03", deep)]))
    later = {0: [1, 2], 1: state[1], 2: state[2]}
    accepts("version [1, 2]", encode_canonical(later))
    rejects("version [1, 1] without its checksum (key 19)",
            encode_canonical({**later, 0: [1, 1]}))
    if records:
        user = records[0]["user"]
        only = b"".join(line + b"\n" for line in want.split(b"\n")[:-1]
                        if json.loads(line)["user"] == user)
        accepts("--user %r" % user, data, only, ("--user", user))
    accepts("--user of no one", data, b"", ("--user", "nobody@nowhere"))

    # expiry at restore: expires_at 0 is dropped at now_ms 0, 1 is kept
    rec = {0: "u", 1: "e", 2: 0, 3: 1, 4: 0}
    line = b'{"user":"u","ue":"e","contact":null,"call_id":null,"cseq":0,' \
        b'"registered_at":0,"expires_at":1,"settings":[]}\n'
    accepts("a record expiring at 1", raw_doc(records=[raw_record(rec)]), line)
    rec[3] = 0
    accepts("a record expiring at 0 (dropped)", raw_doc(records=[raw_record(rec)]), b"")
    accepts("a limit and no record", raw_doc(limits=enc([["u", 0]])),
            b'{"user":"u","max_ues":0}\n')
    accepts("text value with U+0000", raw_doc(records=[raw_record(
        {0: "u", 1: "e", 2: 0, 3: 5, 4: 0, 7: [["k", "\0"]]})]),
        b'{"user":"u","ue":"e","contact":null,"call_id":null,"cseq":0,"registered_at":0,'
        b'"expires_at":5,"settings":[{"key":"k","type":"text","value":"\\u0000"}]}\n')

    # -- refused: the version -----------------------------------------------------
    rejects("version [2, 0]", encode_canonical({0: [2, 0], 1: state[1], 2: state[2]}), "version")
    rejects("version [0, 9]", encode_canonical({0: [0, 9], 1: [], 2: []}), "version")

    # -- refused: the encoding ----------------------------------------------------
    good = {0: "sip:u@x", 1: "ue1", 2: 1000, 3: 3601000, 4: 7, 5: "sip:u@192.0.2.1",
            6: "cid", 7: [["a", 1], ["b", "t"], ["c", b"\x00"], ["d", False]]}
    g = raw_record(good)
    base = raw_doc(records=[g], limits=enc([["sip:u@x", 3]]))
    accepts("the small document", base,
            b'{"user":"sip:u@x","ue":"ue1","contact":"sip:u@192.0.2.1","call_id":"cid",'
            b'"cseq":7,"registered_at":1000,"expires_at":3601000,"settings":[{"key":"a",'
            b'"type":"int","value":1},{"key":"b","type":"text","value":"t"},{"key":"c",'
            b'"type":"bytes","value":"00"},{"key":"d","type":"bool","value":false}]}\n'
            b'{"user":"sip:u@x","max_ues":3}\n')
    for n in range(len(base)):
        rejects("truncated to %d of %d bytes" % (n, len(base)), base[:n])
    rejects("a byte after the item", base + b"\x00")
    rejects("no tag", base[3:])
    rejects("tag 55799 twice", b"\xd9\xd9\xf7" + base)
    rejects("tag 24 instead of 55799", b"\xd8\x18" + base[3:])
    rejects("a tag inside a record", raw_doc(records=[raw_map(
        [(enc(k), (b"\xc1" if k == 2 else b"") + enc(good[k])) for k in sorted(good)])]))
    rejects("a bignum for registered_at", raw_doc(records=[raw_map(
        [(enc(k), b"\xc2\x41\x01" if k == 2 else enc(good[k])) for k in sorted(good)])]))
    rejects("top level is an array", b"\xd9\xd9\xf7\x83\x82\x01\x00\x80\x80")
    rejects("indefinite top-level map", b"\xd9\xd9\xf7\xbf" + base[4:] + b"\xff")
    rejects("indefinite records array", raw_doc(records=[]).replace(b"\x01\x80", b"\x01\x9f\xff", 1))
    rejects("indefinite record map", raw_doc(records=[b"\xbf" + g[1:] + b"\xff"]))
    rejects("indefinite text", raw_doc(records=[raw_map(
        [(enc(k), b"\x7f\x63sip\x64:u@x\xff" if k == 0 else enc(good[k])) for k in sorted(good)])]))
    rejects("indefinite bytes value", raw_doc(records=[raw_map(
        [(enc(k), b"\x84\x82\x61a\x01\x82\x61b\x61t\x82\x61c\x5f\x41\x00\xff\x82\x61d\xf4"
          if k == 7 else enc(good[k])) for k in sorted(good)])]))
    rejects("top-level keys out of order", b"\xd9\xd9\xf7\xa3\x01\x80\x00\x82\x01\x00\x02\x80")
    rejects("top-level key twice", b"\xd9\xd9\xf7\xa4\x00\x82\x01\x00\x01\x80\x01\x80\x02\x80")
    rejects("record keys out of order", raw_doc(records=[raw_record(good, [1, 0, 2, 3, 4, 5, 6, 7])]))
    rejects("record keys 6 before 5", raw_doc(records=[raw_record(good, [0, 1, 2, 3, 4, 6, 5, 7])]))
    rejects("record key twice", raw_doc(records=[raw_map(
        [(enc(k), enc(good[k])) for k in sorted(good)] + [(b"\x07", enc(good[7]))])]))
    rejects("a text map key", raw_doc(extra=[(enc("x"), b"\x00")]))
    rejects("a negative map key", raw_doc(extra=[(b"\x20", b"\x00")]))
    rejects("a text length past the end", raw_doc(records=[raw_map(
        [(enc(k), b"\x7b" + (2**63).to_bytes(8, "big") + b"sip:u@x" if k == 0 else enc(good[k]))
         for k in sorted(good)])]))
    rejects("a records array of 2^32 items", raw_doc().replace(
        b"\x01\x80", b"\x01\x9a\xff\xff\xff\xff", 1))

    # -- refused: the version key ----------------------------------------------------
    rejects("no version", b"\xd9\xd9\xf7\xa2\x01\x80\x02\x80")
    rejects("an empty map", b"\xd9\xd9\xf7\xa0")
    rejects("version [1]", raw_doc(version=b"\x81\x01"))
    rejects("version [1, 0, 0]", raw_doc(version=b"\x83\x01\x00\x00"))
    rejects("version 1", raw_doc(version=b"\x01"))
    rejects("version [\"1\", 0]", raw_doc(version=b"\x82\x61\x31\x00"))
    rejects("version [1, -1]", raw_doc(version=b"\x82\x01\x20"))
    rejects("records not an array", raw_doc().replace(b"\x01\x80", b"\x01\xa0", 1))
    rejects("limits not an array", raw_doc(limits=b"\xa0"))

    # -- refused: records ---------------------------------------------------------------
    def bad_record(name, **changes):
        r = dict(good)
        for k, v in changes.items():
            k = int(k[1:])
            if v is DROP:
                del r[k]
            else:
                r[k] = v
        rejects(name, raw_doc(records=[raw_record(r)]))

    for k in range(5):
        bad_record("record without key %d" % k, **{"k%d" % k: DROP})
    rejects("record not a map", raw_doc(records=[enc([1, 2])]))
    bad_record("user id as bytes", k0=b"sip:u@x")
    bad_record("user id empty", k0="")
    bad_record("user id of 1025 bytes", k0="u" * 1025)
    bad_record("UE id of 1025 bytes", k1="\u00e9" * 512 + "x")
    bad_record("user id with U+0000", k0="a\0b")
    bad_record("UE id an int", k1=5)
    bad_record("registered_at negative", k2=-1)
    bad_record("registered_at a float", k2=1000.0)
    bad_record("registered_at 2^64", k2=2**64)
    bad_record("expires_at as text", k3="3601000")
    bad_record("CSeq 2^32", k4=2**32)
    bad_record("CSeq negative", k4=-1)
    bad_record("CSeq true", k4=True)
    bad_record("contact empty", k5="")
    bad_record("contact null", k5=None)
    bad_record("contact of 2049 bytes", k5="c" * 2049)
    bad_record("Call-ID with U+0000", k6="a\0")
    bad_record("Call-ID as bytes", k6=b"cid")
    bad_record("settings empty", k7=[])
    bad_record("settings a map", k7={"a": 1})
    bad_record("65 settings", k7=[["k%d" % i, i] for i in range(65)])
    bad_record("a setting of one item", k7=[["a"]])
    bad_record("a setting of three items", k7=[["a", 1, 2]])
    bad_record("a setting key empty", k7=[["", 1]])
    bad_record("a setting key with U+0000", k7=[["a\0", 1]])
    bad_record("a setting key an int", k7=[[1, 1]])
    bad_record("a setting key twice", k7=[["a", 1], ["a", 2]])
    bad_record("a setting value null", k7=[["a", None]])
    bad_record("a setting value float", k7=[["a", 1.5]])
    bad_record("a setting value array", k7=[["a", [1]]])
    bad_record("a setting value map", k7=[["a", {}]])
    bad_record("a setting value 2^63", k7=[["a", 2**63]])
    bad_record("a setting value -2^63-1", k7=[["a", -2**63 - 1]])
    bad_record("a setting value -2^64", k7=[["a", -2**64]])
    bad_record("a setting of 4097 bytes (text)", k7=[["ab", "x" * 4095]])
    bad_record("a setting of 4097 bytes (bytes)", k7=[["abc", b"\x00" * 4094]])
    bad_record("a setting key of 4097 bytes", k7=[["k" * 4097, 0]])
    rejects("a setting value undefined", raw_doc(records=[raw_map(
        [(enc(k), b"\x81\x82\x61a\xf7" if k == 7 else enc(good[k])) for k in sorted(good)])]))
    rejects("a setting value simple(16)", raw_doc(records=[raw_map(
        [(enc(k), b"\x81\x82\x61a\xf0" if k == 7 else enc(good[k])) for k in sorted(good)])]))
    for name, raw in (("an overlong 2-byte form", b"\xc0\xaf"), ("a surrogate", b"\xed\xa0\x80"),
                      ("a lone continuation byte", b"\x80"), ("a truncated 3-byte form", b"\xe6\x97"),
                      ("U+110000", b"\xf4\x90\x80\x80"), ("byte 0xff", b"\xff")):
        text = b"sip:" + raw + b"@x"
        rejects("user id with " + name, raw_doc(records=[raw_map(
            [(enc(k), head(3, len(text)) + text if k == 0 else enc(good[k]))
             for k in sorted(good)])]))
        text = b"v" + raw
        rejects("a text value with " + name, raw_doc(records=[raw_map(
            [(enc(k), b"\x81\x82\x61a" + head(3, len(text)) + text if k == 7 else enc(good[k]))
             for k in sorted(good)])]))
    twin = {**good, 4: 8}
    rejects("the same (user, UE) twice", raw_doc(records=[g, raw_record(twin)]))
    rejects("the same (user, UE) twice, apart",
            raw_doc(records=[g, raw_record({**good, 1: "ue2"}), raw_record(twin)]))

    # -- refused: limits ----------------------------------------------------------------
    rejects("a limit of 2^32", raw_doc(limits=enc([["u", 2**32]])))
    rejects("a limit negative", raw_doc(limits=enc([["u", -1]])))
    rejects("a limit without its value", raw_doc(limits=enc([["u"]])))
    rejects("a limit of three items", raw_doc(limits=enc([["u", 1, 2]])))
    rejects("a limit not an array", raw_doc(limits=enc(["u"])))
    rejects("a limit for an empty user id", raw_doc(limits=enc([["", 1]])))
    rejects("a limit for a user id of 1025 bytes", raw_doc(limits=enc([["u" * 1025, 1]])))
    rejects("a user with two limits", raw_doc(limits=enc([["u", 1], ["v", 1], ["u", 2]])))

    # -- the messages ---------------------------------------------------------------------
    fmt, ver = messages.get("format", set()), messages.get("version", set())
    if len(fmt) > 1:
        failures.append("format errors gave several messages: %r" % sorted(fmt))
    if fmt and ver and fmt & ver:
        failures.append("a version error gives the format error's message %r" % sorted(fmt & ver))

    return failures, dump.runs


# ---- selftest -------------------------------------------------------------------------


def selftest(data):
    """Variants of a good snapshot that `check` must refuse."""
    state = cbor2.loads(data)
    failures = []

    def must_fail(name, doc):
        try:
            check(doc)
        except Fail:
            return
        except Exception as e:  # noqa: BLE001 - a crash of the checker is a failure too
            failures.append("%s: the checker crashed: %r" % (name, e))
            return
        failures.append("%s: the checker accepted it" % name)

    try:
        check(data)
    except Fail as e:
        return ["the snapshot itself fails: %s" % e]
    must_fail("no tag", data[3:])
    must_fail("trailing byte", data + b"\x00")
    must_fail("longer heads", b"\xd9\xd9\xf7" + long_heads(state))
    must_fail("version [1, 1]", encode_canonical({**state, 0: [1, 1]}))
    must_fail("unknown top-level key", encode_canonical({**state, 3: 0}))
    if len(state[1]) > 1:
        must_fail("records reversed", encode_canonical({**state, 1: state[1][::-1]}))
        must_fail("a record twice", encode_canonical({**state, 1: state[1] + state[1][-1:]}))
    if len(state[2]) > 1:
        must_fail("limits reversed", encode_canonical({**state, 2: state[2][::-1]}))
    if state[1]:
        r = dict(state[1][0])
        r[4] = 2**32
        must_fail("CSeq 2^32", encode_canonical({**state, 1: [r] + state[1][1:]}))
        r = dict(state[1][0])
        del r[3]
        must_fail("no expires_at", encode_canonical({**state, 1: [r] + state[1][1:]}))
        r = dict(state[1][0])
        r[7] = [["x", 1.5]]
        must_fail("a float setting", encode_canonical({**state, 1: [r] + state[1][1:]}))
        r = dict(state[1][0])
        r[7] = [["x", None]]
        must_fail("a null setting", encode_canonical({**state, 1: [r] + state[1][1:]}))
        r = dict(state[1][0])
        r[7] = [["x", 1], ["x", 2]]
        must_fail("a setting key twice", encode_canonical({**state, 1: [r] + state[1][1:]}))
        r = dict(state[1][0])
        r[0] = ""
        must_fail("an empty user id", encode_canonical({**state, 1: [r] + state[1][1:]}))
        # map keys out of order: cbor2 without canonical keeps insertion order
        r = {k: state[1][0][k] for k in sorted(state[1][0], reverse=True)}
        must_fail("record keys descending", cbor2.dumps(cbor2.CBORTag(
            SELF_DESCRIBE, {**state, 1: [r] + state[1][1:]})))
    must_fail("tag 55799 around a tag", cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE,
                                                               cbor2.CBORTag(SELF_DESCRIBE, state))))
    return failures


# ---- main -----------------------------------------------------------------------------


# ---- replication bytes (README, "Change format") -------------------------------

def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: written here
    independently of the library's table."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class StrictNull(Strict):
    """Strict, and null (f6) is allowed: a cleared limit."""

    def item(self, top=False):
        if self.i < len(self.d) and self.d[self.i] == 0xF6:
            self.i += 1
            return None
        return Strict.item(self, top)


def check_version_pair(v, what):
    if (type(v) is not list or len(v) != 2 or type(v[0]) is not int or type(v[1]) is not int
            or not 0 <= v[0] < 2**64 or not 0 <= v[1] < 2**64):
        raise Fail("%s: not [stamp, node]" % what)
    return (v[0], v[1])


def check_entry(e, n):
    what = "entry %d" % n
    if type(e) is not list or not e or type(e[0]) is not int:
        raise Fail("%s: not [kind, ...]" % what)
    kind = e[0]
    if kind == 0:
        if len(e) != 4:
            raise Fail("%s: a put has 4 items" % what)
        v, logon = check_version_pair(e[1], what), check_version_pair(e[2], what)
        if logon > v:
            raise Fail("%s: logon after the write" % what)
        check_record(e[3], n)
    elif kind == 1:
        if len(e) != 6:
            raise Fail("%s: a removal has 6 items" % what)
        check_text(e[1], what + " user id", 1, MAX_ID)
        check_text(e[2], what + " UE id", 1, MAX_ID)
        check_version_pair(e[3], what)
        check_version_pair(e[4], what)
        if e[5] not in (3, 5, 6):
            raise Fail("%s: reason %r" % (what, e[5]))
    elif kind == 2:
        if len(e) != 4:
            raise Fail("%s: a limit has 4 items" % what)
        check_text(e[1], what + " user id", 1, MAX_ID)
        check_version_pair(e[2], what)
        if e[3] is not None:
            check_uint(e[3], what + " max", U32)
    else:
        raise Fail("%s: kind %r" % (what, kind))
    return kind


def check_crc_at_end(data):
    """The item ends with h'xxxxxxxx' (44 and 4 bytes): the CRC-32C of every
    byte before that head."""
    if len(data) < 5 or data[-5] != 0x44:
        raise Fail("does not end with a 4-byte byte string")
    want = int.from_bytes(data[-4:], "big")
    got = crc32c(data[:-5])
    if want != got:
        raise Fail("checksum %08x, computed %08x" % (want, got))
    return got


def check_changes(data):
    v = StrictNull(data).document()
    if type(v) is not list or len(v) != 3:
        raise Fail("not [version, entries, crc]")
    if v[0] != [1, 0]:
        raise Fail("version %r, not [1, 0]" % (v[0],))
    if type(v[1]) is not list:
        raise Fail("entries are not an array")
    kinds = [check_entry(e, i) for i, e in enumerate(v[1])]
    crc = check_crc_at_end(data)
    decoded = cbor2.loads(data)
    if decoded != v:
        raise Fail("cbor2 reads other values")
    again = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, decoded), canonical=True)
    if again != data:
        raise Fail("cbor2's canonical encoding differs: not deterministic")
    # Every single-bit flip breaks the checksum or the structure.
    return "%d entries (%d puts, %d removals, %d limits), crc32c %08x" % (
        len(kinds), kinds.count(0), kinds.count(1), kinds.count(2), crc)


def check_snapshot_1_1(data):
    v = StrictNull(data).document()
    if type(v) is not dict or list(v) != [0, 1, 2, 16, 17, 18, 19]:
        raise Fail("keys %r, not 0, 1, 2, 16, 17, 18, 19" % (list(v) if type(v) is dict else v,))
    if v[0] != [1, 1]:
        raise Fail("version %r, not [1, 1]" % (v[0],))
    for i, r in enumerate(v[1]):
        versions = {k: r.pop(k) for k in (16, 17) if k in r}
        if len(versions) != 2:
            raise Fail("record %d: no versions (keys 16, 17)" % i)
        check_version_pair(versions[16], "record %d" % i)
        check_version_pair(versions[17], "record %d" % i)
        check_record(r, i)
    for i, t in enumerate(v[16]):
        if type(t) is not list or len(t) != 4:
            raise Fail("tombstone %d: not [user, ue, version, logon]" % i)
        check_text(t[0], "tombstone user", 1, MAX_ID)
        check_text(t[1], "tombstone UE", 1, MAX_ID)
        check_version_pair(t[2], "tombstone %d" % i)
        check_version_pair(t[3], "tombstone %d" % i)
    if [t[:2] for t in v[16]] != sorted(t[:2] for t in v[16]):
        raise Fail("tombstones not in (user, ue) order")
    for i, u in enumerate(v[17]):
        if type(u) is not list or len(u) != 2:
            raise Fail("UE put %d: not [ue, version]" % i)
        check_version_pair(u[1], "UE put %d" % i)
    for i, l in enumerate(v[18]):
        if type(l) is not list or len(l) != 3:
            raise Fail("limit entry %d: not [user, version, max / null]" % i)
        check_version_pair(l[1], "limit entry %d" % i)
    crc = check_crc_at_end(data)
    if cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, cbor2.loads(data)), canonical=True) != data:
        raise Fail("cbor2's canonical encoding differs: not deterministic")
    return "%d records, %d tombstones, %d UE puts, %d limit entries, crc32c %08x" % (
        len(v[1]), len(v[16]), len(v[17]), len(v[18]), crc)


def main(argv):
    usage = ("usage: check_snapshot.py check SNAPSHOT [SIDECAR]\n"
             "       check_snapshot.py changes BUFFER\n"
             "       check_snapshot.py snapshot11 SNAPSHOT\n"
             "       check_snapshot.py reader DUMP SNAPSHOT SIDECAR\n"
             "       check_snapshot.py selftest SNAPSHOT\n")
    if len(argv) < 2:
        sys.stderr.write(usage)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "check" and len(args) in (1, 2):
        with open(args[0], "rb") as f:
            data = f.read()
        try:
            summary = check(data, args[1] if len(args) == 2 else None)
        except Fail as e:
            print("FAIL %s: %s" % (args[0], e))
            return 1
        print("ok %s: %s" % (args[0], summary))
        return 0
    if cmd == "reader" and len(args) == 3:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            failures, runs = reader(args[0], args[1], args[2], tmp)
        for f in failures:
            print("FAIL reader: %s" % f)
        print("%s reader: %d inputs through %s, %d wrong"
              % ("FAIL" if failures else "ok", runs, os.path.basename(args[0]), len(failures)))
        return 1 if failures else 0
    if cmd in ("changes", "snapshot11") and len(args) == 1:
        with open(args[0], "rb") as f:
            data = f.read()
        try:
            summary = (check_changes if cmd == "changes" else check_snapshot_1_1)(data)
            # the checker must refuse a flipped bit of the checksum
            bad = bytearray(data)
            bad[-1] ^= 1
            try:
                check_crc_at_end(bytes(bad))
                raise Fail("selftest: a flipped checksum bit went unnoticed")
            except Fail as e:
                if str(e).startswith("selftest"):
                    raise
        except Fail as e:
            print("FAIL %s: %s" % (args[0], e))
            return 1
        print("ok %s: %s" % (args[0], summary))
        return 0
    if cmd == "selftest" and len(args) == 1:
        with open(args[0], "rb") as f:
            failures = selftest(f.read())
        for f in failures:
            print("FAIL selftest: %s" % f)
        if not failures:
            print("ok selftest: the checker refuses every broken variant")
        return 1 if failures else 0
    sys.stderr.write(usage)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
