#!/usr/bin/env python3
"""Finding 7: predictable tags and branches, forged answers.

1. From the To tag of one OPTIONS answer, predict the branch of the next
   MESSAGE, as if the tokens came from xorshift64* (the generator the
   registrar used): the prediction must miss.
2. A 200 to that MESSAGE, right in every header, from another port than the
   one the MESSAGE went to: it must not end the transaction (the MESSAGE is
   retransmitted, no "message ... 200" line); the UE's own 200 then does.
"""
from common import *

M64 = (1 << 64) - 1
MULT = 0x2545f4914f6cdd1d
MULT_INV = pow(MULT, -1, 1 << 64)


def xorshift(x):
    x ^= x >> 12
    x ^= (x << 25) & M64
    x ^= x >> 27
    return x


def hex_digits(v, n):
    return "".join("0123456789abcdef"[(v >> (4 * i)) & 15] for i in range(n))


def predict_branch(tag):
    """The branch that follows an output whose 16 hex digits are `tag`."""
    out = sum(int(c, 16) << (4 * i) for i, c in enumerate(tag))
    s1 = xorshift((out * MULT_INV) & M64)
    s2 = xorshift(s1)
    return "z9hG4bK" + hex_digits((s1 * MULT) & M64, 16) + hex_digits((s2 * MULT) & M64, 8)


def header(msg, name):
    m = re.search(rb"^" + name.encode() + rb":[^\r\n]*", msg, re.M | re.I)
    return m.group(0).decode("latin-1")


def answer(msg):
    hs = [header(msg, h) for h in ("Via", "From", "To", "Call-ID", "CSeq")]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(hs) + "\r\nContent-Length: 0\r\n\r\n").encode()


def next_message(sock, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return None
        if data.startswith(b"MESSAGE "):
            return data
    return None


def run():
    with Registrar() as reg:
        s, ue_a, ue_b, forger = udp(), udp(), udp(), udp()
        port = s.getsockname()[1]
        ia = "urn:uuid:00000000-0000-4000-8000-00000000000a"
        ib = "urn:uuid:00000000-0000-4000-8000-00000000000b"
        r = transact(s, reg, register(port, "sip:a@127.0.0.1:%d" % ue_a.getsockname()[1], instance=ia))
        check(status_code(r) == 200, "A registered")
        opt = transact(s, reg, request("OPTIONS", port))
        tag = re.search(rb"^To:[^\r\n]*;tag=([0-9a-f]+)", opt, re.M).group(1).decode()
        predicted = predict_branch(tag)
        r = transact(s, reg, register(port, "sip:b@127.0.0.1:%d" % ue_b.getsockname()[1], instance=ib))
        check(status_code(r) == 200, "B registered")
        msg_a, msg_b = next_message(ue_a), next_message(ue_b)
        check(msg_a is not None and msg_b is not None, "A and B each get a MESSAGE")
        branches = [re.search(rb"branch=([^;\r\n]+)", m).group(1).decode() for m in (msg_a, msg_b)]
        print("     OPTIONS tag %s; predicted branch %s; MESSAGE branches %s" % (tag, predicted, branches))
        check(predicted not in branches, "the next branch is not predicted from a To tag", soft=True)
        ue_b.sendto(answer(msg_b), reg.addr)

        forger.sendto(answer(msg_a), reg.addr)
        again = next_message(ue_a, 3)
        barrier(s, reg)
        ended = reg.log_lines(r"^message %s 200$" % re.escape(ia))
        check(again is not None, "after the forged 200 the MESSAGE to A is retransmitted", soft=True)
        check(not ended, "the forged 200 (from another port) does not end the transaction", soft=True)
        ue_a.sendto(answer(msg_a), reg.addr)
        check(reg.wait_log(r"^message %s 200$" % re.escape(ia), 1, 5), "A's own 200 ends it")


main(run)
