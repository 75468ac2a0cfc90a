#!/usr/bin/env python3
"""Finding 1: one datagram, seconds of CPU.

libosip2's parser is quadratic in header lines and in parameters per header.
Bound: any datagram, however built, costs the registrar at most a few ms of
CPU (here: 5 ms, averaged over a few copies of each shape); and it still
answers a valid REGISTER afterwards.
"""
from common import *

BOUND_MS = 5.0
COPIES = 3


def shapes(port):
    contact = "<sip:ue@127.0.0.1:9>"
    return {
        # 32,000 parameters in one Contact (64 KB)
        "params": register(port, "sip:ue@127.0.0.1:9",
                           headers=["Subject: x"], expires=None)
                  .replace(contact.encode(), (contact + ";p" * 32000).encode()),
        # 12,000 tiny headers
        "headers": request("REGISTER", port, ["a:b"] * 12000),
        # one Contact of 2,500 comma-separated URIs
        "commas": request("REGISTER", port,
                          ["Contact: " + ",".join("<sip:u%d@127.0.0.1:9>" % i
                                                  for i in range(2500))]),
        # a 16 KB header section of many-parameter Vias
        "vias16k": request("OPTIONS", port,
                           ["Via: SIP/2.0/UDP 127.0.0.1:9" + ";x" * 40] * 150),
        # parameters spread over folded continuation lines of one header
        "folded": request("REGISTER", port,
                          ["Contact: <sip:ue@127.0.0.1:9>" +
                           "\r\n ;p;p;p;p;p;p;p;p;p;p" * 2500]),
        # URI headers ('&') in a Request-URI
        "uri-headers": request("OPTIONS", port,
                               uri="sip:mcptt.example?" + "&".join(["a=b"] * 12000)),
        # Datagrams just within the registrar's limits (16 KiB, an 8 KiB
        # header section, 256 lines, 32 ';' and 32 ',' a header): what it
        # lets osip parse must be cheap too.
        "max-params": request("REGISTER", port,
                              ["Contact: <sip:u@127.0.0.1:9>" + ";p" * 31 + ",<sip:v@h>" + ";q" * 0]
                              + ["X-%d: a" % i + ";p" * 31 for i in range(100)],
                              body=b"".join(b"b" + b";" * 31 + b"," * 31 + b"\r\n" for i in range(120))),
        "max-lines": request("REGISTER", port, ["X%d: %s" % (i, "a,b;c" * 4) for i in range(245)]),
        "max-contacts": request("REGISTER", port,
                                ["Contact: " + ",".join("<sip:u%d@127.0.0.1:9;a>" % i
                                                        for i in range(30))] * 8),
        "max-parts": request("REGISTER", port, ["Content-Type: multipart/mixed;boundary=b"],
                             body=b"".join(b"--b\r\nContent-Type: text/plain;a;b;c;d;e;f;g;h\r\n\r\nx\r\n"
                                           for i in range(60)) + b"--b--\r\n"),
    }


def run():
    with Registrar("--notify", "none") as reg:
        s = udp()
        port = s.getsockname()[1]
        barrier(s, reg)
        costs = {}
        for name, data in shapes(port).items():
            assert len(data) < 65507, (name, len(data))
            copies = COPIES if len(data) > 16384 else 50
            before = reg.cpu_s()
            old = re.search(rb"z9hG4bK[0-9a-f]+", data).group(0)
            for _ in range(copies):
                # a new branch each: handled in full, not replayed
                s.sendto(data.replace(old, branch().encode()), reg.addr)
            barrier(s, reg)
            ms = (reg.cpu_s() - before) * 1000 / copies
            costs[name] = ms
            print("     %-12s %6d bytes: %8.1f ms CPU per datagram" % (name, len(data), ms))
        for name, ms in costs.items():
            check(ms <= BOUND_MS, "%s: %.1f ms per datagram, bound %.0f ms" % (name, ms, BOUND_MS))
        resp = transact(s, reg, register(port, "sip:ue-a@127.0.0.1:9",
                                         instance="urn:uuid:00000000-0000-4000-8000-00000000000a"))
        check(status_code(resp) == 200, "a valid REGISTER afterwards gets 200")


main(run)
