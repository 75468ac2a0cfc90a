#!/usr/bin/env python3
"""Finding 3: reflection.

40 UEs of one user with 1000-byte ids, every Contact at one victim socket
that never answers. Bound: the bytes reaching the victim, over the whole
life of the MESSAGEs (Timer F, 32 s, and a margin), stay within 10x the
bytes of the REGISTERs that named it.
"""
import threading

from common import *

UES = 40
WATCH_S = 36


def run():
    victim = udp(16 << 20)
    got = {"n": 0, "bytes": 0}
    stop = threading.Event()

    def listen():
        victim.settimeout(0.2)
        while not stop.is_set():
            try:
                data, _ = victim.recvfrom(70000)
            except OSError:
                continue
            got["n"] += 1
            got["bytes"] += len(data)

    t = threading.Thread(target=listen)
    t.start()
    try:
        with Registrar("--max-ues", "0") as reg:
            s = udp()
            port = s.getsockname()[1]
            vport = victim.getsockname()[1]
            sent = 0
            codes = {}
            for i in range(UES):
                inst = "urn:uuid:%04d-" % i + "x" * 986
                data = register(port, "sip:ue%d@127.0.0.1:%d" % (i, vport), instance=inst)
                sent += len(data)
                code = status_code(transact(s, reg, data, 30))
                codes[code] = codes.get(code, 0) + 1
            check(codes.get(200) == UES, "%d REGISTERs of %d bytes in all: %s" % (UES, sent, codes))
            time.sleep(WATCH_S)
            ratio = got["bytes"] / sent
            print("     victim got %d datagrams, %d bytes: %.1fx the %d bytes sent"
                  % (got["n"], got["bytes"], ratio, sent), flush=True)
            check(ratio <= 10, "bytes at the victim %.1fx the REGISTERs' bytes, bound 10x" % ratio)
            check(reg.alive(), "the registrar is up")
    finally:
        stop.set()
        t.join()


main(run)
