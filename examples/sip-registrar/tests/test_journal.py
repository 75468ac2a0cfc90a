"""--node-id and --journal: every REGISTER answered 200 survives a SIGKILL;
a torn last buffer is dropped, the rest kept; a snapshot compacts the
journal; the snapshot is written by a child while the loop goes on."""

import os
import re
import signal

import pytest

import regtest
from regtest import fail
from scenario import MANY_UES, instance, register_n


@pytest.mark.parametrize("value", ["0", "-1", "x", "1x", "", "18446744073709551616",
                                   "99999999999999999999999"])
def test_node_id_refused(sip, value):
    """--node-id takes 1 to 2^64-1; --journal needs it."""
    st, log = sip.start_refused("refused", "--node-id", value)
    if st != 1 or "--node-id" not in log:
        fail(f"--node-id '{value}': status {st}, log: {log[:300]}")


def test_journal_needs_node_id(sip):
    st, log = sip.start_refused("refused", "--journal", sip.dir / "journal")
    if st != 1 or "--journal needs --node-id" not in log:
        fail(f"--journal without --node-id: status {st}, log: {log[:300]}")
    if (sip.dir / "journal").exists():
        fail("the journal was created by a registrar that refused to start")


def test_node_id_top_value(sip):
    sip.start_node("reg1", *MANY_UES, node_id=2**64 - 1)
    peer = sip.peer()
    register_n(peer, 0, 1)
    if sip.held_ues("reg1") != {instance(0)}:
        fail("node 2^64-1: the record is not in the snapshot")


def test_sigkill_under_load_loses_no_200(sip, tools, procs):
    """SIPp registers 3,000 UEs at 1,000/s; the registrar is SIGKILLed once
    SIPp has 300 200s; after a restart from the snapshot (written empty at
    the first start) and the journal, every UE SIPp got a 200 for is held.
    Each journal write waits 20 ms first (a slow disk, the test hook): turns
    then hold many REGISTERs, and the kill lands between a turn's handling
    and its write, where a 200 sent before the write would be lost."""
    env = dict(os.environ, MCREG_REGISTRAR_JOURNAL_DELAY_US="20000")
    sip.start_node("reg1", *MANY_UES, env=env)
    load = regtest.SippRegisterLoad(tools, procs, sip.dir, "load", sip.reg.port, ues=3000,
                                    rate=1000, calls=3000)
    if not regtest.wait_until(lambda: len(load.received_200s()) >= 300
                              or not load.proc.poll() is None, 30):
        fail("SIPp got no 300 200s in 30 s")
    sip.kill_registrar()
    if load.wait(60) is None:
        fail("SIPp did not end within 60 s")
    answered = load.received_200s()
    if len(answered) < 300:
        fail(f"SIPp recorded {len(answered)} 200s, want at least 300")
    sip.start_node("reg2", *MANY_UES)
    sip.wait_log(r"^journal replayed .* buffers=[1-9]")
    held = sip.held_ues("reg2")
    lost = sorted(i for i in answered if "urn:uuid:" + regtest.load_instance(i) not in held)
    if lost:
        fail(f"{len(lost)} of {len(answered)} UEs answered 200 are gone after the restart: "
             f"ue{lost[0]:06d}...")


def test_torn_last_buffer_dropped(sip):
    """Ten REGISTERs (ten buffers), SIGKILL, the journal cut by 3 bytes: the
    restart logs the torn end, keeps the nine, and cuts the file to them."""
    sip.start_node("reg1", *MANY_UES)
    peer = sip.peer()
    for i in range(10):
        register_n(peer, i, 1)
        peer.barrier()  # one turn, one buffer each
    sip.kill_registrar()
    journal = sip.dir / "journal"
    size = journal.stat().st_size
    os.truncate(journal, size - 3)

    sip.start_node("reg2", *MANY_UES)
    sip.wait_log(r"^journal torn \S+ at=\d+ dropped=\d+ error=\S+.*the 9 before it are kept")
    sip.wait_log(r"^journal replayed \S+ buffers=9 ")
    (line,) = sip.reg.log.matching(r"^journal torn ")
    at = int(re.search(r"at=(\d+)", line).group(1))
    if journal.stat().st_size != at:
        fail(f"the journal is {journal.stat().st_size} bytes after the start, want {at}")
    held = sip.held_ues("reg2")
    want = {instance(i) for i in range(9)}
    if held != want:
        fail(f"held after the torn end: {sorted(held)}, want the first nine")


def test_damage_before_the_end_refused(sip):
    """A flipped byte in the first of two buffers is damage, not a torn
    end: the start is refused and the journal left as it is."""
    sip.start_node("reg1", *MANY_UES)
    peer = sip.peer()
    register_n(peer, 0, 1)
    peer.barrier()
    register_n(peer, 1, 1)
    sip.kill_registrar()
    journal = sip.dir / "journal"
    data = bytearray(journal.read_bytes())
    data[20] ^= 0x01
    journal.write_bytes(bytes(data))
    st, log = sip.start_refused("reg2", "--node-id", "1", "--snapshot", sip.snap,
                                "--journal", journal)
    if st != 1 or "damage, not a torn end" not in log:
        fail(f"a damaged journal: status {st}, log: {log[:400]}")
    if journal.read_bytes() != bytes(data):
        fail("the damaged journal was changed")


def test_snapshot_compacts_journal(sip):
    """SIGUSR1: the snapshot is written, the journal is cut to what came
    after the fork (here nothing), the stats line has the digest; after a
    SIGKILL the restart restores all from the snapshot and the journal."""
    sip.start_node("reg1", *MANY_UES)
    peer = sip.peer()
    register_n(peer, 0, 20)
    journal = sip.dir / "journal"
    long_size = journal.stat().st_size
    if long_size == 0:
        fail("the journal is empty after 20 REGISTERs")
    sip.reg.proc.send_signal(signal.SIGUSR1)
    sip.wait_log(r"^journal compacted ")
    sip.wait_log(r"^stats records=20 .* digest=[0-9a-f]{16}$")
    if journal.stat().st_size != 0:
        fail(f"the journal is {journal.stat().st_size} bytes after the snapshot, was {long_size}")
    register_n(peer, 20, 5)
    sip.kill_registrar()
    sip.start_node("reg2", *MANY_UES)
    sip.wait_log(r"^journal replayed \S+ buffers=5 ")
    if sip.held_ues("reg2") != {instance(i) for i in range(25)}:
        fail("not every UE is held after the restart")


def test_snapshot_written_in_background(sip):
    """While a snapshot of 2,000 records is being written (its child held 3 s
    before its rename by the test hook), REGISTERs are answered; the
    journal keeps those that came during the write; a restart holds all."""
    env = dict(os.environ, MCREG_REGISTRAR_SNAPSHOT_DELAY_MS="3000")
    sip.start_node("reg1", *MANY_UES, env=env)
    peer = sip.peer()
    register_n(peer, 0, 2000)
    sip.reg.proc.send_signal(signal.SIGUSR1)
    sip.wait_log(r"^snapshot started pid=\d+ records=2000 ")
    register_n(peer, 2000, 10)
    peer.barrier(log=True)
    if sip.log_count(r"^snapshot written ") > 1:
        fail("the snapshot was written before the REGISTERs made during it were answered")
    sip.wait_log(r"^journal compacted \S+ bytes=[1-9]", seconds=20)
    sip.kill_registrar()
    sip.start_node("reg2", *MANY_UES)
    sip.wait_log(r"^journal replayed \S+ buffers=[1-9]")
    held = sip.held_ues("reg2")
    if held != {instance(i) for i in range(2010)}:
        fail(f"{2010 - len(held)} UEs missing after the restart")
