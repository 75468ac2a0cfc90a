#!/usr/bin/env python3
"""Finding 10: no access control.

Bounds: with --trust CIDR (repeatable, IPv4 and IPv6), a REGISTER from
another source gets 403 and changes nothing; from a trusted source 200;
a malformed --trust stops the start; without --trust, a warning at start.
"""
from common import *

INST = "urn:uuid:00000000-0000-4000-8000-00000000000a"


def run():
    with Registrar() as reg:
        check(bool(reg.log_lines(r"^warning .*--trust")), "without --trust: a warning at start", soft=True)
    with Registrar("--trust", "10.0.0.0/8", "--trust", "::1/128") as reg:
        s = udp()
        port = s.getsockname()[1]
        r = transact(s, reg, register(port, "sip:ue-a@127.0.0.1:9", instance=INST))
        check(status_code(r) == 403, "a REGISTER from an untrusted source: %s, want 403" % status_code(r))
        q = transact(s, reg, request("REGISTER", port))
        check(status_code(q) == 403, "an untrusted query: %s, want 403" % status_code(q))
        check(not reg.log_lines(r"^event CREATED "), "no record created")
        check(status_code(transact(s, reg, request("OPTIONS", port))) == 200, "OPTIONS still 200")
    with Registrar("--trust", "10.0.0.0/8", "--trust", "127.0.0.0/30") as reg:
        s = udp()
        r = transact(s, reg, register(s.getsockname()[1], "sip:ue-a@127.0.0.1:9", instance=INST))
        check(status_code(r) == 200, "a REGISTER from a trusted source: %s, want 200" % status_code(r))
    for bad in ("127.0.0.1/33", "300.1.1.1/8", "::1/129", "fe80::/x", "localhost"):
        reg = Registrar("--trust", bad, expect_start=False)
        try:
            st = reg.proc.wait(10)
        except subprocess.TimeoutExpired:
            st = None
        reg.stop()
        shutil.rmtree(reg.dir, ignore_errors=True)
        check(st == 1, "--trust %s: status %s, want 1" % (bad, st))


main(run)
