"""Logoff MESSAGEs when a registration lapses; the MESSAGE transaction's
retransmissions."""

import re
import time

from regtest import fail
from scenario import AOR, elapsed_ms


def test_expiry_logoff(sip):
    """A 1 s registration lapses; with --notify-logoff the remaining UE gets
    the logoff MESSAGE."""
    a, b = sip.ue("a"), sip.ue("b")
    sip.snap = sip.dir / "snap"
    sip.start_registrar("reg", "--snapshot", sip.snap, "--min-expires", "1", "--notify-logoff")
    sip.expect(a, "logon", b, a, b)
    sip.expect(a, "logoff", b, a)
    sip.expect(b, "logon", b, b, a)
    sip.listen(a, 2)
    sip.listen(b, 1)
    sip.register(a, 200, expires=60)
    sip.register(b, 200, expires=1)
    t0 = time.monotonic()
    sip.listened(b)
    sip.wait_log(rf"^event EXPIRED user={re.escape(AOR)} ue={re.escape(b.id)}$", 1, 15)
    took = elapsed_ms(t0)
    if took < 700:
        fail(f"B expired {took:.0f} ms after its 200, before its 1 s")
    sip.listened(a, 15)
    if not sip.has_log_line(f"event NOTIFY_LOGOFF user={AOR} ue={b.id} to={a.id} others="):
        fail(f"no 'event NOTIFY_LOGOFF user={AOR} ue={b.id} to={a.id} others=' line")
    sip.wait_log(rf"^message {re.escape(a.id)} 200$", 2)
    sip.snapshot_now("dump").expect_ues(a.id)
    sip.stop_registrar()


def _counts_column(path, column):
    """COLUMN of the last row of a SIPp -trace_counts file."""
    rows = [line.split(";") for line in path.read_text().splitlines() if line]
    if column not in rows[0]:
        fail(f"no {column} column in {path.name}")
    return int(rows[-1][rows[0].index(column)])


def _received_message_times(path):
    """The time of each MESSAGE in a SIPp message log, in seconds of the day."""
    times, t, rx = [], None, False
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if re.match(r"^-+ [0-9]", line):
            t, rx = line.split()[2], False
        elif line.startswith("UDP message received"):
            rx = True
        elif rx and line.startswith("MESSAGE "):
            h, m, s = t.split(":")
            times.append(int(h) * 3600 + int(m) * 60 + float(s))
            rx = False
    return times


# How long UE A holds its 200: past the copies at T1 and 3*T1 (500 and
# 1500 ms), with room for a late third copy on a loaded machine.
HOLD_MS = 3000


def test_message_retransmit(sip):
    """A MESSAGE the UE does not answer at once is retransmitted (Timer E:
    first after T1 = 500 ms, then after 2*T1), then completes with the UE's
    200. The registrar's timers fire late on a loaded machine, never early:
    the gaps have lower bounds near T1 and 2*T1 (less SIPp's coarse clock),
    and an upper bound for the first only, five times T1."""
    a, b = sip.ue("a"), sip.ue("b")
    sip.start_registrar("reg")
    sip.expect(a, "logon", b, a, b)
    sip.expect(b, "logon", b, b, a)
    listener = sip.listen(a, 1, HOLD_MS)
    sip.listen(b, 1)
    sip.register(a, 200)
    sip.register(b, 200)
    sip.listened(b)
    sip.listened(a, 15)
    sip.wait_log(rf"^message {re.escape(a.id)} 200$")
    if not (listener.counts.exists() and listener.counts.stat().st_size):
        fail("no SIPp counts file for UE A")
    retrans = _counts_column(listener.counts, "0_MESSAGE_Retrans")
    if retrans < 1:
        fail(f"UE A saw {retrans} retransmission(s) of the MESSAGE it held for {HOLD_MS} ms")
    # the first three copies of the MESSAGE: T1, then 2*T1 apart
    times = _received_message_times(listener.file("messages"))[:3]
    if len(times) != 3:
        fail(f"UE A's message log holds {len(times)} MESSAGE(s), want 3 within {HOLD_MS} ms")
    first, second = (int((times[i + 1] - times[i]) * 1000) for i in (0, 1))
    if not 300 <= first <= 2500:
        fail(f"the first retransmission came {first} ms after the MESSAGE, want 500 (T1)")
    if second < 800:
        fail(f"the second retransmission came {second} ms after the first, want 1000 (2*T1)")
    if sip.log_count(rf"^message {re.escape(a.id)} ") != 1:
        fail(f"want one 'message {a.id} ...' line: " + " ".join(sip.reg.log.matching("^message ")))
    sip.stop_registrar()
