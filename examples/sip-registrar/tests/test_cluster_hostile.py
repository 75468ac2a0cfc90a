"""--redis against a Redis that answers what no Redis would: every reply is
hostile to the registrar, as every datagram is. A fake server on a loopback
port answers the registrar's commands with malformed shapes, wrong types,
bad ids, garbage change buffers and odd node names; the registrar refuses
each (logged), reconnects where it must, stays up and keeps answering
REGISTER."""

import re
import socket
import threading

import regtest
from regtest import fail
from scenario import instance, status_code

KEY = b"mcreg:changes"


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def array(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def entry(entry_id, *fields):
    return array(bulk(entry_id), array(*fields))


def xread(*entries):
    return array(array(bulk(KEY), array(*entries)))


# What XREAD gets, one reply per call, then nil (nothing new).
XREAD_REPLIES = [
    xread(entry(b"5-1", bulk(b"n"), bulk(b"9"), bulk(b"c"), bulk(b"not cbor at all"))),
    xread(entry(b"5-2", bulk(b"c"), bulk(b"\xd9\xd9\xf7\x83\x82\x01\x00\x80\x44\0\0\0\0"))),
    xread(entry(b"not-an-id", bulk(b"c"), bulk(b"x"))),
    xread(entry(b"5-3", b":7\r\n", bulk(b"c"))),
    xread(array(bulk(b"5-4"))),
    xread(array(bulk(b"5-5"), b":12\r\n")),
    xread(entry(b"5-6", bulk(b"n"), bulk(b"99999999999999999999999"), bulk(b"t"), bulk(b"-1"),
                bulk(b"s"), bulk(b"\xff" * 300))),
    xread(entry(b"5-7", array(array(array(bulk(b"deep")))), bulk(b"c"))),
    xread(entry(b"18446744073709551615-18446744073709551615", bulk(b"c"), bulk(b""))),
    xread(entry(b"5-8", bulk(b"c"), b":1\r\n", bulk(b"n"))),
    array(bulk(KEY)),
    b":42\r\n",
    b"-ERR not what a stream read returns\r\n",
]

# What the check (EVAL of the XINFO script) gets, in turn; the stream
# seen shrinking (entries-added going back) starts a merge of published
# states, whose replies below are hostile too.
CHECK_REPLIES = [
    array(b":1\r\n", b":5\r\n", b":5\r\n", bulk(b"5-0"), bulk(b"1-0")),
    array(b":1\r\n", b":3\r\n", bulk(b"3"), bulk(b"5-0"), bulk(b"1-0")),
    array(b":1\r\n", b":3\r\n", b":3\r\n", bulk(b"x-y"), bulk(b"1-0")),
    array(b":1\r\n"),
    b":1\r\n",
    array(b":1\r\n", b":1\r\n", b":1\r\n", bulk(b"99-0"), bulk(b"99-0")),
]

SMEMBERS_REPLY = array(bulk(b"1"), bulk(b"../../etc"), bulk(b"2\x00x"), bulk(b"7" * 5000),
                       b":3\r\n", bulk(b"2"), bulk(b"3"), bulk(b"18446744073709551615"))
HMGET_REPLIES = [
    array(bulk(b"5-9"), bulk(b"3"), bulk(b"garbage state")),
    array(bulk(b"bad"), bulk(b"3"), bulk(b"x")),
    array(b"$-1\r\n", b"$-1\r\n", b"$-1\r\n"),
    b"+OK\r\n",
]


class FakeRedis:
    """Answers PING, XADD and the publication script as Redis would, and
    the rest from the lists above; counts the commands it was sent."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((regtest.LOOPBACK, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.seen = {}
        self.xread = list(XREAD_REPLIES)
        self.check = list(CHECK_REPLIES)
        self.hmget = list(HMGET_REPLIES)
        self.seq = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.sock.close()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while not self.closed:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while True:
                    cmd, buf = self._parse(buf)
                    if cmd is None:
                        break
                    reply = self._answer(cmd)
                    if reply is None:
                        return  # hang up: the registrar reconnects
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return

    @staticmethod
    def _parse(buf):
        """One command ([args]) and the rest, or (None, buf) until whole."""
        m = re.match(rb"\*(\d+)\r\n", buf)
        if not m:
            return None, buf
        pos, args = m.end(), []
        for _ in range(int(m.group(1))):
            m = re.match(rb"\$(\d+)\r\n", buf[pos:])
            if not m:
                return None, buf
            start = pos + m.end()
            end = start + int(m.group(1))
            if len(buf) < end + 2:
                return None, buf
            args.append(buf[start:end])
            pos = end + 2
        return args, buf[pos:]

    def _next(self, name, replies, default):
        with self.lock:
            self.seen[name] = self.seen.get(name, 0) + 1
            return replies.pop(0) if replies else default

    def _answer(self, cmd):
        name = cmd[0].upper()
        if name == b"PING":
            return self._next(b"PING", [], b"+PONG\r\n")
        if name == b"XADD":
            with self.lock:
                self.seq += 1
                self.seen[b"XADD"] = self.seen.get(b"XADD", 0) + 1
                return bulk(b"9-%d" % self.seq)
        if name == b"EVAL" and b"XINFO" in cmd[1]:
            return self._next(b"CHECK", self.check,
                              array(b":1\r\n", b":1\r\n", b":1\r\n", bulk(b"9-0"), bulk(b"1-0")))
        if name == b"EVAL":
            return self._next(b"PUBLISH", [], b":1\r\n")
        if name == b"XREAD":
            return self._next(b"XREAD", self.xread, b"*-1\r\n")
        if name == b"SMEMBERS":
            return self._next(b"SMEMBERS", [], SMEMBERS_REPLY)
        if name == b"HMGET":
            return self._next(b"HMGET", self.hmget, array(b"$-1\r\n", b"$-1\r\n", b"$-1\r\n"))
        return b"-ERR unknown command\r\n"

    def count(self, name):
        with self.lock:
            return self.seen.get(name, 0)


def test_hostile_redis_replies(sip, procs):
    fake = FakeRedis()
    procs.on_stop(fake.close)
    reg = sip.start_registrar("reg1", "--node-id", "1", "--redis", f"127.0.0.1:{fake.port}",
                              "--max-ues", "0")
    # Every hostile XREAD reply, check and merge reply has been taken.
    if not regtest.wait_until(lambda: not fake.xread and not fake.check and not fake.hmget
                              and fake.count(b"SMEMBERS") >= 1, 60):
        fail(f"the registrar did not read every hostile reply: xread left {len(fake.xread)}, "
             f"check left {len(fake.check)}, hmget left {len(fake.hmget)}, "
             f"smembers {fake.count(b'SMEMBERS')}")
    sip.alive("after the hostile replies")
    # Still serving: a REGISTER gets its 200 once the fake acknowledges it.
    peer = sip.peer()
    if not regtest.wait_until(lambda: status_code(peer.register(
            f"sip:u1@127.0.0.1:{peer.port}", instance(1), seconds=3)) == 200, 30):
        fail("no 200 for a REGISTER after the hostile replies")
    if fake.count(b"XADD") < 1:
        fail("the 200 left before its change was sent to Redis")
    refused = reg.log.count(r"^cluster entry-refused ")
    if refused < 5:
        fail(f"only {refused} 'cluster entry-refused' lines for 10 hostile entries")
    for pattern in (r"^cluster read-failed ", r"^cluster check-failed ", r"^cluster resync ",
                    r"^cluster merge-refused "):
        if reg.log.count(pattern) < 1:
            fail(f"no log line matching '{pattern}'")
    sip.stop_registrar()
