"""Hostile and odd datagrams: a 400 or a drop, no change to the registry,
and the registrar goes on answering."""

import re

from regtest import fail
from scenario import AOR, DOMAIN, raw_register

CONTACT = "Contact: <sip:ue-r@127.0.0.1:9>"


def _bad_requests(name):
    """name -> (datagram, what the log must show: 400, drop or 400/drop)."""
    valid = raw_register("v1", f"{name}-raw@mcreg.test", f"From: <{AOR}>;tag=r1", f"To: <{AOR}>",
                         CONTACT + ';+sip.instance="<urn:uuid:00000000-0000-4000-8000-0000000000ff>"')
    # A MIME part with two Content-Types (libosip2 5.3.0 leaks the first):
    # dropped before osip parses it.
    part = (b"--b\r\nContent-Type: application/vnd.3gpp.mcptt-info+xml\r\n"
            b"content-type : text/plain\r\n\r\n<x/>\r\n--b--\r\n")
    mime_repeat = (valid[:-21]  # less "Content-Length: 0" and the empty line
                   + b"Content-Type: multipart/mixed;boundary=b\r\n"
                   + b"Content-Length: %d\r\n\r\n" % len(part) + part)
    if len(re.findall(rb"(?im)^content-type", mime_repeat)) != 3:
        fail("mime-repeat: not built as meant")
    return {
        "truncated": (valid[: valid.index(b"Call-ID") + 12], "400/drop"),
        "garbage": (b"\x00\x01\x02\xff\xfe\xfd garbage \x80\x81\r\n\r\n" * 20, "400/drop"),
        "no-to": (raw_register("n1", f"{name}-noto@mcreg.test", f"From: <{AOR}>;tag=r2",
                               CONTACT), "400"),
        "no-callid": (raw_register("n2", "", f"From: <{AOR}>;tag=r3", f"To: <{AOR}>", CONTACT),
                      "400"),
        "huge": (raw_register("h1", f"{name}-huge@mcreg.test", f"From: <{AOR}>;tag=r4",
                              f"To: <{AOR}>", CONTACT, "Subject: " + "x" * 60000), "400/drop"),
        "huge-to": (raw_register("h2", f"{name}-hugeto@mcreg.test", f"From: <{AOR}>;tag=r7",
                                 f"To: <sip:{'u' * 60000}@mcptt.example>", CONTACT), "400/drop"),
        "two-contacts": (raw_register("t1", f"{name}-two@mcreg.test", f"From: <{AOR}>;tag=r5",
                                      f"To: <{AOR}>", CONTACT,
                                      "Contact: <sip:ue-s@127.0.0.1:9>"), "400"),
        "no-via": (re.sub(rb"(?m)^Via: [^\n]*\n", b"", valid), "drop"),
        "mime-repeat": (mime_repeat, "drop"),
    }


def test_malformed(sip):
    """Malformed datagrams get a 400 or are dropped, and the registrar
    answers the next valid REGISTER; also: OPTIONS 200, other methods 405,
    and a retransmitted REGISTER is answered again but processed once."""
    a, x = sip.ue("a"), sip.ue("x")
    sip.start_registrar("reg", "--notify", "none")
    sip.register(a, 200)
    cseq = 1
    for case, (data, want) in _bad_requests(sip.name).items():
        before400 = sip.log_count(r"^reply 400 REGISTER ")
        beforedrop = sip.log_count(r"^drop ")
        lines = len(sip.reg.log.lines())
        sip.send_raw(data)
        cseq += 1
        call = sip.register(a, 200, cseq=cseq)
        got400 = sip.log_count(r"^reply 400 REGISTER ") - before400
        gotdrop = sip.log_count(r"^drop ") - beforedrop
        ok = {"400": got400 == 1 and gotdrop == 0,
              "drop": got400 == 0 and gotdrop == 1,
              "400/drop": got400 + gotdrop == 1}[want]
        if not ok:
            noise = (f"from=127.0.0.1:{call.port} ", f"event REFRESHED user={AOR} ue={a.id} ")
            new = [line[:160] for line in sip.reg.log.lines()[lines:]
                   if not any(n in line for n in noise)]
            sip.soft.fail(f"{case} ({len(data)} bytes): want {want}, the log has {got400} "
                          f"'reply 400 REGISTER' and {gotdrop} 'drop' line(s): {' '.join(new)}")
    events = sip.reg.log.matching(r"^event ")
    sip.soft.check(len(events) == sip.log_count(r"^event (CREATED|REFRESHED) "),
                   "a malformed REGISTER changed the registry: "
                   + " ".join(e for e in events if not re.search("CREATED|REFRESHED", e)))
    created = sip.reg.log.matching(r"^event CREATED ")
    sip.soft.check(len(created) == 1, "a malformed REGISTER created a record: "
                   + " ".join(c[:200] for c in created[1:]))

    # OPTIONS: 200; SUBSCRIBE: 405
    for m in ("OPTIONS", "SUBSCRIBE"):
        sip.send_raw((f"{m} sip:{DOMAIN} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{m}\r\n"
                      f"Max-Forwards: 70\r\nFrom: <{AOR}>;tag=o1\r\nTo: <{AOR}>\r\n"
                      f"Call-ID: {sip.name}-{m}@mcreg.test\r\nCSeq: 1 {m}\r\n"
                      "Content-Length: 0\r\n\r\n").encode())
    sip.soft_wait_log(r"^reply 200 OPTIONS ")
    sip.soft_wait_log(r"^reply 405 SUBSCRIBE ")

    # the same REGISTER datagram twice: one answer each, processed once
    rexmit = raw_register("rx1", f"{sip.name}-rexmit@mcreg.test", f"From: <{AOR}>;tag=r6",
                          f"To: <{AOR}>", f'Contact: <sip:ue-x@127.0.0.1:9>;+sip.instance="<{x.instance}>"')
    sip.send_raw(rexmit)
    sip.wait_log(rf"^event CREATED user={re.escape(AOR)} ue={re.escape(x.id)} ")
    sip.send_raw(rexmit)
    sip.soft_wait_log(r"^resend ")
    sip.register(a, 200, cseq=100)
    if sip.log_count(rf"^event [A-Z_]+ user={re.escape(AOR)} ue={re.escape(x.id)}( |$)") != 1:
        fail("the retransmitted REGISTER was processed again: "
             + " ".join(sip.reg.log.matching(re.escape(f"ue={x.id}"))))
    sip.stop_registrar()
