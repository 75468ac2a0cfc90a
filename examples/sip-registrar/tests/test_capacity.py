"""--capacity, and a mass expiry done in slices between datagrams."""

import re
import signal
import time

import cbor2

import regtest
from regtest import fail
from scenario import AOR, raw_register

# What the registrar expires a loop turn (EXPIRE_SLICE in main.c) and how
# many datagrams it reads (BATCH).
SLICE = 256
BATCH = 256


def _stats_bytes(sip):
    """bytes= of the last "stats" line (SIGUSR1 writes one)."""
    lines = sip.reg.log.matching(r"^stats ")
    if not lines:
        fail("no stats line after SIGUSR1")
    m = re.search(r" bytes=([0-9]+) ", lines[-1])
    if not m:
        fail(f"no bytes= in '{lines[-1]}'")
    return int(m.group(1))


def test_capacity(sip):
    """--capacity N: the registrar starts, answers REGISTERs, and its
    snapshot holds the records; the registry holds the room for N records
    from the start (the stats line's bytes); bad values are refused by
    test_flags."""
    a, b = sip.ue("a"), sip.ue("b")
    sip.snap = sip.dir / "snap"
    sip.start_registrar("plain", "--snapshot", sip.snap, "--notify", "none")
    sip.snapshot_now("plain-empty").expect_ues()
    plain = _stats_bytes(sip)
    sip.stop_registrar()

    sip.snap = sip.dir / "snap-cap"
    sip.start_registrar("cap", "--snapshot", sip.snap, "--notify", "none",
                        "--capacity", "100000")
    sip.snapshot_now("cap-empty").expect_ues()
    sized = _stats_bytes(sip)
    # Two tables of at least 100000 buckets (16 bytes each) and a heap of
    # 100000 entries (a pointer and an expiry).
    if sized < plain + 100000 * (2 * 16 + 16):
        fail(f"--capacity 100000: {sized} bytes held, {plain} without: no room reserved")
    sip.register(a, 200)
    sip.register(b, 200)
    dump = sip.snapshot_now("cap-two")
    dump.expect_ues(a.id, b.id)
    for ue in (a, b):
        if dump.record(ue.id)["user"] != AOR:
            fail(f"UE {ue.letter}: user {dump.record(ue.id)['user']}, want {AOR}")
    if _stats_bytes(sip) <= sized:
        fail("two records hold no bytes of their own")
    sip.stop_registrar()
    sip.dump(sip.snap, "cap-stopped").expect_ues(a.id, b.id)


def _snapshot_of(path, n, registered_at, expires_at):
    """A snapshot of N users with one UE each, all expiring at EXPIRES_AT."""
    records = [{0: f"sip:lapse{i:05d}@mcptt.example", 1: f"urn:uuid:lapse-{i:05d}",
                2: registered_at, 3: expires_at, 4: 1, 5: f"sip:ue{i}@127.0.0.1:9"}
               for i in range(n)]
    records.sort(key=lambda r: (r[0].encode(), r[1].encode()))
    state = {0: [1, 0], 1: records, 2: []}
    path.write_bytes(cbor2.dumps(cbor2.CBORTag(55799, state)))


def test_expiry_in_slices(sip):
    """3000 records restored from a snapshot come due at one instant. The
    registrar, stopped (SIGSTOP) until they are due, finds a batch of junk
    datagrams and then a REGISTER waiting. It expires at most SLICE records
    a turn and reads the datagrams between slices: the REGISTER is answered
    (CREATED, reply 200) after a whole number of slices and before the
    last record expires; then every record expires, and the snapshot holds
    the REGISTER's record alone. Whatever the machine's speed, the order is
    the same: no datagram arrives while the registrar runs."""
    n = 3000
    now = int(time.time() * 1000)
    due = now + 4000
    sip.snap = sip.dir / "snap"
    _snapshot_of(sip.snap, n, now - 60000, due)
    sip.start_registrar("reg", "--snapshot", sip.snap, "--notify", "none")
    sip.wait_log(rf"^snapshot restored .* records={n} users={n}$")
    sip.reg.proc.send_signal(signal.SIGSTOP)
    try:
        if sip.log_count(r"^event EXPIRED "):
            fail("records expired before the registrar was stopped: the machine took 4 s "
                 "to start it")
        regtest.wait_until(lambda: time.time() * 1000 > due + 200, 10)
        for i in range(BATCH):
            sip.send_raw(b"junk %d" % i)
        ue = f"urn:uuid:00000000-0000-4000-8000-0000000000{0x5a:02x}"
        sip.send_raw(raw_register("s1", f"{sip.name}@mcreg.test", f"From: <{AOR}>;tag=s1",
                                  f"To: <{AOR}>",
                                  f'Contact: <sip:ue-s@127.0.0.1:9>;+sip.instance="<{ue}>"'))
        queued = regtest.udp_queue([sip.reg.port]).get(sip.reg.port, (0, 0))
        if queued[1]:
            fail(f"the registrar's socket dropped {queued[1]} datagram(s) while stopped")
    finally:
        sip.reg.proc.send_signal(signal.SIGCONT)
    sip.wait_log(r"^event EXPIRED ", n, 20)
    sip.wait_log(r"^reply 200 REGISTER ")
    lines = sip.reg.log.lines()
    expired = [i for i, line in enumerate(lines) if line.startswith("event EXPIRED ")]
    created = [i for i, line in enumerate(lines)
               if line.startswith(f"event CREATED user={AOR} ue={ue} ")]
    if len(created) != 1:
        fail(f"{len(created)} CREATED line(s) for the REGISTER's UE, want 1")
    before = sum(1 for i in expired if i < created[0])
    if not (0 < before < n and before % SLICE == 0):
        fail(f"the REGISTER was handled after {before} of {n} expiries, want a whole number "
             f"of slices of {SLICE}, and not all")
    sip.snapshot_now("after").expect_ues(ue)
    sip.stop_registrar()
