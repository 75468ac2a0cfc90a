#!/usr/bin/env python3
"""Finding 11: what a 200 advertises after the wall clock steps back.

A step back of the wall clock by D makes every record look D longer-lived.
Here the same state is reached without touching the clock: a record
registered for 18,000 s under --max-expires 20000 is restored by a registrar
with the default --max-expires 7200. Bound: no Contact in a 200 advertises
more than --max-expires.
"""
from common import *


def run():
    d = tempfile.mkdtemp(prefix="mcreg-repro-clock.")
    snap = os.path.join(d, "state.cbor")
    inst = "urn:uuid:00000000-0000-4000-8000-00000000000a"
    with Registrar("--snapshot", snap, "--max-expires", "20000") as reg:
        s = udp()
        r = transact(s, reg, register(s.getsockname()[1], "sip:ue-a@127.0.0.1:9",
                                      instance=inst, expires=18000))
        check(status_code(r) == 200, "registered for 18000 s")
    with Registrar("--snapshot", snap) as reg:
        s = udp()
        q = transact(s, reg, request("REGISTER", s.getsockname()[1]))
        left = [int(x) for x in re.findall(rb";expires=(\d+)", q)]
        print("     advertised expiries: %s" % left)
        check(left and max(left) <= 7200, "advertised %s, bound --max-expires 7200" % left)
    shutil.rmtree(d, ignore_errors=True)


main(run)
