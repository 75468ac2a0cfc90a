"""The registrar as a cluster over Redis Streams (--node-id, --redis): each
test starts its own redis-server on a free loopback port and its own nodes
(the cluster fixture, cluster.py). The nodes act as one registrar: a
logon at one node is told to the UEs of another exactly once, the cluster
survives the loss of a node and of Redis, a late node catches up, and no
REGISTER answered 200 anywhere is lost. "Converged" is every node giving
the same state digest on SIGUSR1; records are read from the snapshot that
SIGUSR1 wrote."""

import re

import pytest

import regtest
from regtest import SippRegisterLoad, fail
from scenario import MANY_UES, header, instance, register_n, status_code

STREAM = "mcreg:changes"


def load_ids(numbers):
    """The UE ids of SippRegisterLoad's UE numbers."""
    return {"urn:uuid:" + regtest.load_instance(i) for i in numbers}


def ids(numbers):
    """The UE ids of the test's own UEs (scenario.instance)."""
    return {instance(i) for i in numbers}


def expect_told_once(cluster, *ues):
    """Each UE was the recipient of exactly one NOTIFY_LOGON over the whole
    cluster (one MESSAGE), and answered it once. Read once the nodes have
    converged: every apply, and so every event of the cross-node rule, is
    logged by then."""
    for ue in ues:
        told = cluster.notify_logons(ue.id)
        answered = cluster.count(rf"^message {re.escape(ue.id)} 200$")
        if told != 1 or answered != 1:
            fail(f"UE {ue.letter}: {told} NOTIFY_LOGON event(s) and {answered} MESSAGE(s) "
                 "answered over the cluster, want one of each: "
                 + " | ".join(line for n in cluster.nodes for r in n.regs
                              for line in r.log.matching(r"^event NOTIFY_LOGON ")))


def wait_load(load, seconds=60):
    st = load.wait(seconds)
    if st is None:
        fail(f"SIPp {load.label} did not end within {seconds} s")
    return st


def expect_load_passed(load, seconds=60):
    """Every call of LOAD got its 200 (SIPp's status 0)."""
    st = wait_load(load, seconds)
    if st != 0:
        errors = load.messages.with_name(f"{load.label}.errors")
        text = errors.read_text(errors="replace")[-600:] if errors.exists() else ""
        fail(f"SIPp {load.label}: status {st} (a REGISTER without its 200): {text}")


# ---- flags ------------------------------------------------------------------------


def test_redis_needs_node_id(sip):
    st, log = sip.start_refused("refused", "--redis", "127.0.0.1:9")
    if st != 1 or "--redis needs --node-id" not in log:
        fail(f"--redis without --node-id: status {st}, log: {log[:300]}")


# ---- notifications ----------------------------------------------------------------


def test_logon_told_across_nodes(sip, cluster):
    """UE A registers at node 1; once node 2 holds it, UE B registers at
    node 2: A and B each get exactly one MESSAGE over the cluster, naming
    the other (node 2's own logon round; node 1, applying B's later logon,
    tells nobody)."""
    n1, n2 = cluster.start(2)
    a, b = sip.ue("a"), sip.ue("b")
    sip.expect(a, "logon", b, a, b)
    sip.expect(b, "logon", b, b, a)
    sip.listen(a, 1)
    sip.listen(b, 1)
    sip.register(a, 200, to=n1)
    cluster.wait_holding({a.id})
    sip.register(b, 200, to=n2)
    sip.listened(a, 15)
    sip.listened(b, 15)
    cluster.wait_holding({a.id, b.id})
    expect_told_once(cluster, a, b)
    sip.no_more_messages([a, b])


def test_concurrent_logon_while_redis_paused(sip, cluster):
    """Redis stopped (SIGSTOP): X at node 1 and then Y at node 2 each get
    200 from their journals, neither node knowing the other's UE. Redis
    resumed: X and Y each get exactly one MESSAGE naming the other, over
    the whole cluster (the cross-node rule: the node whose logon came
    later tells both)."""
    n1, n2 = cluster.start(2, journal=True)
    x, y = sip.ue("a"), sip.ue("b")
    sip.expect(x, "logon", y, x, y)
    sip.expect(y, "logon", y, y, x)
    sip.listen(x, 1)
    sip.listen(y, 1)
    cluster.redis.pause()
    try:
        sip.register(x, 200, to=n1)
        sip.register(y, 200, to=n2)
        early = cluster.count(r"^event NOTIFY_LOGON ")
        if early:
            fail(f"{early} NOTIFY_LOGON event(s) while each node held only its own UE")
    finally:
        cluster.redis.resume()
    sip.listened(x, 30)
    sip.listened(y, 30)
    cluster.wait_holding({x.id, y.id})
    expect_told_once(cluster, x, y)
    sip.no_more_messages([x, y])


# ---- losing a node ------------------------------------------------------------------


def test_node_killed_under_load(sip, tools, procs, cluster):
    """SIPp loads both nodes (journals on); node 1 writes a snapshot and
    its stream position mid-load, then is SIGKILLed; node 2 answers every
    REGISTER of its load throughout. Node 1 restarts from its snapshot,
    cursor and journal and syncs; then both digests are equal and every
    REGISTER SIPp got a 200 for, at either node, is held by both."""
    n1, n2 = cluster.start(2, journal=True)
    load1 = SippRegisterLoad(tools, procs, sip.dir, "load1", n1.port, ues=3000, rate=500,
                             calls=3000)
    # node 2's REGISTERs must all be answered: a timeout only a hang reaches
    load2 = SippRegisterLoad(tools, procs, sip.dir, "load2", n2.port, ues=2000, rate=200,
                             calls=2000, recv_timeout=10000, first=100000)

    def answered1(n):
        return regtest.wait_until(lambda: len(load1.received_200s()) >= n
                                  or load1.proc.poll() is not None, 30)
    if not answered1(300) or len(load1.received_200s()) < 300:
        fail("node 1's SIPp got no 300 200s")
    n1.stats()
    if not regtest.wait_until(lambda: n1.cursor.exists(), 10):
        fail(f"no {n1.cursor.name} beside the snapshot after SIGUSR1")
    cursor = n1.cursor.read_text()
    if not re.fullmatch(r"[0-9]+-[0-9]+\n", cursor):
        fail(f"{n1.cursor.name} holds {cursor!r}, want a stream id and a newline")
    got = len(load1.received_200s())
    if not answered1(got + 300) or load1.proc.poll() is not None:
        fail("node 1's SIPp ended (or got no 300 more 200s) before the kill")
    n1.kill()
    if load2.proc.poll() is not None:
        fail("node 2's SIPp ended before node 1 was killed: the load is too short")
    n1.start()
    n1.wait_log(r"^snapshot restored ")
    n1.wait_log(r"^cluster synced position=\S+ records=[0-9]+")
    wait_load(load1)
    expect_load_passed(load2)
    answered = load_ids(load1.received_200s() | load2.received_200s())
    cluster.wait_converged()
    for n in (n1, n2):
        lost = answered - n.held()
        if lost:
            fail(f"node {n.id} lacks {len(lost)} of the {len(answered)} UEs answered 200: "
                 f"{sorted(lost)[:3]}")


# ---- losing Redis ---------------------------------------------------------------------


def _forty_ues_then_redis_killed(sip, cluster, **start):
    """Two nodes (cluster.start's START), 20 UEs registered at each and held
    by both, then Redis SIGKILLed and seen lost by both: the nodes and a
    peer towards each."""
    n1, n2 = cluster.start(2, *MANY_UES, **start)
    p1, p2 = sip.peer(to=n1), sip.peer(to=n2)
    register_n(p1, 0, 20)
    register_n(p2, 20, 20)
    cluster.wait_holding(ids(range(40)))
    cluster.redis.kill()
    for n in (n1, n2):
        n.wait_log(r"^redis lost role=reader ")
    return n1, n2, p1, p2


@pytest.mark.parametrize("journal", [False, True], ids=["no-journal", "journal"])
def test_redis_restarted_empty(sip, cluster, journal):
    """Redis SIGKILLed and restarted without persistence: the nodes see the
    stream reset, resync and converge, holding every UE (those answered
    from the journals while Redis was down too); a node started afterwards
    learns them all from what they republished."""
    n1, n2, p1, p2 = _forty_ues_then_redis_killed(sip, cluster, journal=journal)
    want = ids(range(40))
    if journal:
        register_n(p1, 40, 5)
        register_n(p2, 45, 5)
        want = ids(range(50))
    cluster.redis.restart()
    for n in (n1, n2):
        n.wait_log(r"^cluster resync reason=\S+")
    cluster.wait_holding(want)
    cluster.add()
    cluster.wait_holding(want)


def test_redis_restarted_with_aof(sip, cluster):
    """Redis with an append-only file, SIGKILLed and restarted: the nodes
    reconnect and read on with no resync; nothing is lost, and a node
    started afterwards gets it all."""
    n1, n2, p1, p2 = _forty_ues_then_redis_killed(sip, cluster, appendonly=True)
    cluster.redis.restart()
    if not cluster.redis.query("XLEN", STREAM):
        fail("redis-server restarted from its append-only file has no stream entry")
    for n in (n1, n2):
        n.wait_log(r"^redis connected role=reader ", 2)
    register_n(p1, 40, 5)
    register_n(p2, 45, 5)
    cluster.wait_holding(ids(range(50)))
    resyncs = [line for n in (n1, n2) for line in n.log.matching(r"^cluster resync ")]
    if resyncs:
        fail(f"a resync after Redis came back with its stream: {resyncs}")
    # (a node that joins may resync: the stream is trimmed below what was published)
    cluster.add()
    cluster.wait_holding(ids(range(50)))


def test_no_journal_503_while_redis_down(sip, cluster):
    """Without --journal a 200 waits for Redis: while Redis is down a
    REGISTER gets 503 with Retry-After and changes nothing; once Redis is
    back the same REGISTER gets 200."""
    (n1,) = cluster.start(1, *MANY_UES)
    peer = sip.peer(to=n1)
    register_n(peer, 0, 1)
    cluster.redis.kill()
    n1.wait_log(r"^redis lost role=writer ")
    resp = peer.register(f"sip:u1@127.0.0.1:{peer.port}", instance(1))
    if status_code(resp) != 503:
        fail(f"REGISTER while Redis is down: {resp!r}, want 503")
    retry = header(resp, "Retry-After")
    if not retry or not re.fullmatch(r"Retry-After: *[1-9][0-9]*( *;.*)?", retry):
        fail(f"the 503 has no Retry-After with a number of seconds: {resp!r}")
    if n1.records() != ids([0]):
        fail(f"the REGISTER answered 503 changed the records: {sorted(n1.held())}")
    cluster.redis.restart()
    n1.wait_log(r"^redis connected role=writer ", 2)
    register_n(peer, 1, 1)
    if n1.records() != ids([0, 1]):
        fail(f"after Redis came back: {sorted(n1.held())}, want UEs 0 and 1")


# ---- joining late ---------------------------------------------------------------------


def _two_nodes_with_history(sip, cluster):
    """Two nodes, 30 UEs registered at each, 5 of node 1's deregistered at
    node 2 (tombstones), converged: the UE ids they hold."""
    n1, n2 = cluster.start(2, *MANY_UES)
    p1, p2 = sip.peer(to=n1), sip.peer(to=n2)
    register_n(p1, 0, 30)
    register_n(p2, 30, 30)
    register_n(p2, 0, 5, expires=0)
    want = ids(range(5, 60))
    cluster.wait_holding(want)
    return n1, n2, p1, want


def test_late_node_joins(sip, cluster):
    """A node started with no state reaches the others' digest."""
    _, _, _, want = _two_nodes_with_history(sip, cluster)
    cluster.add()
    cluster.wait_holding(want)


def test_late_node_bootstraps_from_published(sip, cluster):
    """The nodes publish their state (SIGUSR1), the test trims the whole
    stream away, node 1 takes 5 more UEs: a node started with no state
    bootstraps from a published snapshot, reads on, and reaches the
    others' digest."""
    n1, n2, p1, want = _two_nodes_with_history(sip, cluster)
    for n in (n1, n2):
        n.stats()
        n.wait_log(r"^cluster published position=\S+ records=55$")
    cluster.redis.command("XTRIM", STREAM, "MAXLEN", "0")
    if cluster.redis.query("XLEN", STREAM) != 0:
        fail("XTRIM MAXLEN 0 left entries in the stream")
    register_n(p1, 60, 5)
    want |= ids(range(60, 65))
    n3 = cluster.add()
    n3.wait_log(r"^cluster bootstrap from=[12] position=\S+ records=55$")
    cluster.wait_holding(want)


# ---- three nodes under SIPp -------------------------------------------------------------


def test_three_nodes_churn(sip, tools, procs, cluster):
    """At each of three nodes SIPp registers 100 UEs and refreshes them,
    registers 50 for 2 s that lapse, and deregisters 30 of the next node's
    UEs. Then, quiet: all digests equal, each node holding the 70 left of
    each node's 100."""
    nodes = cluster.start(3, "--min-expires", "1")
    loads = []
    for k, n in enumerate(nodes):
        base = 1000 * k
        loads.append(SippRegisterLoad(tools, procs, sip.dir, f"keep{n.id}", n.port, ues=100,
                                      rate=100, calls=200, recv_timeout=10000, first=base))
        loads.append(SippRegisterLoad(tools, procs, sip.dir, f"lapse{n.id}", n.port, ues=50,
                                      rate=100, calls=50, recv_timeout=10000, expires=2,
                                      first=base + 500))
    for load in loads:
        expect_load_passed(load)
    cluster.wait_converged()
    drops = []
    for k, n in enumerate(nodes):
        first = 1000 * ((k + 1) % 3)
        drops.append(SippRegisterLoad(tools, procs, sip.dir, f"drop{n.id}", n.port, ues=30,
                                      rate=100, calls=30, recv_timeout=10000, expires=0,
                                      first=first))
    for load in drops:
        expect_load_passed(load)
    want = load_ids(1000 * k + i for k in range(3) for i in range(30, 100))
    cluster.wait_holding(want)
