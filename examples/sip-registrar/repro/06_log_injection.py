#!/usr/bin/env python3
"""Finding 6: log injection through the method.

A request whose method carries a tab, a forged field and ANSI escapes, sent
twice (its reply line, then its resend line). Bound: no byte outside
0x20..0x7e reaches the log, and no line gains a second from= field (split at white space).
"""
from common import *

METHOD = "FOO\tfrom=6.6.6.6:6666\x1b[31m"


def run():
    with Registrar("--notify", "none") as reg:
        s = udp()
        port = s.getsockname()[1]
        data = request(METHOD, port, cseq=1)
        first = transact(s, reg, data)
        again = transact(s, reg, data)
        barrier(s, reg)
        print("     answers: %s, then %s" % (status_code(first), status_code(again)))
        check(first is not None and again is not None, "both copies answered")
        log = reg.log()
        bad = sorted({c for c in log if c != "\n" and not (0x20 <= ord(c) <= 0x7e)})
        check(not bad, "no control byte in the log (found %s)" % [hex(ord(c)) for c in bad], soft=True)
        # fields are split by white space: a forged one would be a second
        # field starting with from=
        forged = [l for l in log.split("\n")
                  if sum(f.startswith("from=") for f in l.split()) > 1]
        check(not forged, "no forged field: %s" % forged[:2])
        check(len(reg.log_lines(r"^(reply|resend) ")) >= 2, "a reply and a resend line")


main(run)
