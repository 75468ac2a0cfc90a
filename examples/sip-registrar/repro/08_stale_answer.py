#!/usr/bin/env python3
"""Finding 8: stale answers after idle.

A REGISTER, then 34 s of silence (Timer J is 32 s), then a REGISTER that
reuses its branch with CSeq 2 and Expires 0. Bound: the second REGISTER is
handled (the binding is gone), not answered with the first one's 200.
"""
from common import *

IDLE_S = 34


def run():
    with Registrar("--notify", "none") as reg:
        s = udp()
        port = s.getsockname()[1]
        br, cid = branch(), "stale@repro"
        contact = "sip:ue-a@127.0.0.1:9"
        inst = "urn:uuid:00000000-0000-4000-8000-00000000000a"
        r1 = transact(s, reg, register(port, contact, instance=inst, br=br, call_id=cid, cseq=1))
        check(status_code(r1) == 200 and contact.encode() in r1, "registered")
        print("     idle for %d s" % IDLE_S, flush=True)
        time.sleep(IDLE_S)
        r2 = transact(s, reg, register(port, contact, instance=inst, expires=0, br=br,
                                       call_id=cid, cseq=2))
        check(status_code(r2) == 200, "the deregistration gets a 200")
        check(r2 != r1, "it is not the first REGISTER's 200 again", soft=True)
        q = transact(s, reg, request("REGISTER", port))
        check(status_code(q) == 200 and contact.encode() not in q,
              "a query shows the binding gone (the deregistration was applied)")


main(run)
