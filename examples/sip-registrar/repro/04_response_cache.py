#!/usr/bin/env python3
"""Finding 4: the response cache.

A user with 30 bindings of 2 KB contacts; then 6,000 cheap queries (REGISTER
without Contact), each with a new branch, so each answer is kept for
Timer J. Bound: the registrar's peak memory grows by less than 80 MB (the
cache is bounded by bytes). Then with 40 such bindings the 200 would pass
the UDP limit: a query from the user's phone still gets a 200, and no
failed send is logged as a "reply 200".
"""
from common import *

QUERIES = 6000


def bind(reg, s, n, first=0):
    port = s.getsockname()[1]
    for i in range(first, first + n):
        contact = "sip:ue%d@127.0.0.1:9;pad=%s" % (i, "p" * 2000)
        data = register(port, contact, instance="urn:uuid:00000000-0000-4000-8000-%012d" % i)
        code = status_code(transact(s, reg, data, 30))
        if code != 200:
            raise Failed("binding %d: %s" % (i, code))


def run():
    with Registrar("--max-ues", "0", "--notify", "none") as reg:
        s = udp()
        port = s.getsockname()[1]
        bind(reg, s, 30)
        barrier(s, reg)
        hwm0 = reg.status("VmHWM")
        sink = udp()  # the answers go there, unread
        query = None
        for i in range(QUERIES):
            query = request("REGISTER", sink.getsockname()[1])
            sink.sendto(query, reg.addr)
            if i % 200 == 199:
                barrier(s, reg)
        barrier(s, reg)
        grown = (reg.status("VmHWM") - hwm0) / 1024
        print("     %d queries of %d bytes: peak memory +%.1f MB" % (QUERIES, len(query), grown))
        check(grown < 80, "response cache: peak memory +%.1f MB, bound 80 MB" % grown)

        bind(reg, s, 10, first=30)
        failed_before = len(reg.log_lines(r"^send-failed "))
        replies_before = len(reg.log_lines(r"^reply 200 REGISTER "))
        resp = transact(s, reg, request("REGISTER", port), 10)
        barrier(s, reg)
        print("     40 bindings: the query got %s (%d bytes)"
              % (status_code(resp), len(resp) if resp else 0))
        check(status_code(resp) == 200, "40 bindings: the phone's query gets a 200")
        failed = len(reg.log_lines(r"^send-failed ")) - failed_before
        replies = len(reg.log_lines(r"^reply 200 REGISTER ")) - replies_before
        check(not (failed and replies), "no failed send logged as 'reply 200' (%d send-failed, %d reply 200)"
              % (failed, replies))


main(run)
