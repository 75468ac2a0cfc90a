"""The registrar's snapshot file: written on SIGTERM and on a timer,
restored at start, refused when corrupt."""

import re
import time

import regtest
from regtest import fail
from scenario import elapsed_ms


def test_restart(sip):
    """SIGTERM writes the snapshot; a restart with it restores the UEs (a new
    UE's MESSAGE names them, and they are told of it at their contacts). A
    corrupt or truncated snapshot: start fails, message, file untouched."""
    a, b, c = sip.ue("a"), sip.ue("b", mcptt=True), sip.ue("c")
    snap = sip.snap = sip.dir / "snap"
    sip.start_registrar("reg1", "--snapshot", snap)
    sip.expect(a, "logon", b, a, b)
    sip.expect(a, "logon", c, a, b, c)
    sip.expect(b, "logon", b, b, a)
    sip.expect(b, "logon", c, b, a, c)
    sip.expect(c, "logon", c, c, a, b)
    sip.listen(a, 2)
    sip.listen(b, 2)
    sip.listen(c, 1)
    sip.register(a, 200)
    sip.register(b, 200)
    sip.wait_log(rf"^message {re.escape(a.id)} 200$")
    sip.wait_log(rf"^message {re.escape(b.id)} 200$")
    sip.stop_registrar()
    if not (snap.exists() and snap.stat().st_size > 0):
        fail("no snapshot after SIGTERM")
    if snap.with_name("snap.tmp").exists():
        fail(f"{snap}.tmp left behind")
    sip.wait_log(rf"^snapshot written {re.escape(str(snap))} records=2 "
                 rf"bytes={snap.stat().st_size}( |$)", 1, 1)

    sip.start_registrar("reg2", "--snapshot", snap)
    sip.wait_log(rf"^snapshot restored {re.escape(str(snap))} records=2( |$)", 1, 2)
    sip.register(c, 200)
    sip.listened(c)
    sip.listened(a)
    sip.listened(b)
    sip.snapshot_now("dump").expect_ues(a.id, b.id, c.id)
    sip.stop_registrar()

    # a corrupt snapshot (garbage bytes), then a truncated one
    bad_files = {
        "garbage": b"garbage\x00\xff\xfe\x9f\x9f\x9f\xbf\x01\x02\x03 not a snapshot\n" * 8,
        "truncated": snap.read_bytes()[: snap.stat().st_size // 2],
    }
    for bad, data in bad_files.items():
        path = sip.dir / bad
        path.write_bytes(data)
        st, text = sip.start_refused(f"reg-{bad}", "--snapshot", path)
        if st is None:
            fail(f"started with a {bad} snapshot (still running after 10 s)")
        if st == 0:
            fail(f"exit status 0 with a {bad} snapshot")
        if str(path) not in text:
            fail(f"the message for a {bad} snapshot does not name the file: {text[:300]}")
        liberr = regtest.dump_error(sip.tools, path)
        if not liberr:
            fail(f"mcreg-dump gives no error for the {bad} snapshot")
        if liberr not in text:
            fail(f"the message for a {bad} snapshot does not give the library error "
                 f"({liberr}): {text[:300]}")
        if path.read_bytes() != data:
            fail(f"the {bad} snapshot file was changed")
        if path.with_name(f"{bad}.tmp").exists():
            fail(f"{bad}.tmp was created")


def test_snapshot_interval(sip):
    """--snapshot-interval 1: the snapshot is written with no signal."""
    a = sip.ue("a")
    snap = sip.snap = sip.dir / "snap"
    sip.start_registrar("reg", "--snapshot", snap, "--snapshot-interval", "1", "--notify", "none")
    sip.register(a, 200)
    t0 = time.monotonic()
    sip.wait_log(rf"^snapshot written {re.escape(str(snap))} records=1 ", 1, 15)
    took = elapsed_ms(t0)
    # 1 s nominal; five times that only on a machine too loaded to matter
    if took > 5000:
        fail(f"the first periodic snapshot with a record came after {took:.0f} ms, want 1 s")
    if snap.with_name("snap.tmp").exists():
        fail(f"{snap}.tmp is left behind")
    sip.dump(snap, "dump").expect_ues(a.id)
    sip.wait_log(rf"^snapshot written {re.escape(str(snap))} ", 2, 10)
    sip.stop_registrar()

