"""A cluster of registrars over one redis-server of the test's own: the
nodes (each with --node-id, --redis, its own snapshot and, when asked, its
own journal, in the test's directory), their state digests and records.

A node's state is read through SIGUSR1: its child writes the snapshot and
hands the parent the digest, which logs the stats line
("stats records=N ... digest=HEX position=ID ...") and then "snapshot
written". The tests compare digests across nodes and read records with
mcreg-dump from the snapshot that same SIGUSR1 wrote.
"""

import re
import signal
import time
from collections import namedtuple

import regtest
from regtest import fail

STATS = re.compile(r"^stats records=(\d+) .*\bdigest=([0-9a-f]{16})(?: position=(\S+))?")

# What a node says on SIGUSR1: its records, digest and stream position.
Stats = namedtuple("Stats", "records digest position line")

# The periodic snapshot and publication (--snapshot-interval) of a node
# unless a test asks for another: far beyond any test, so that every
# snapshot child is one the test asked for (SIGUSR1) and a stats line read
# after a SIGUSR1 is that SIGUSR1's.
QUIET_INTERVAL = 3600


def _complete_lines(text):
    """The lines of TEXT that end in a newline (the last may be half written)."""
    return text.split("\n")[:-1]


class Node:
    """One registrar of the cluster. Its files stay from one start to the
    next (node N: DIR/nodeN.snap, its .cursor, DIR/nodeN.journal); each
    start has its own log, regN.log, then regN-2.log, ..."""

    def __init__(self, cluster, node_id, journal, args):
        self.cluster = cluster
        self.sip = cluster.sip
        self.id = node_id
        self.snapshot_name = f"node{node_id}.snap"
        self.snap = self.sip.dir / self.snapshot_name
        self.cursor = self.sip.dir / f"{self.snapshot_name}.cursor"
        self.journal_name = f"node{node_id}.journal" if journal else None
        self.args = list(args)
        self.regs = []  # every start's regtest.Registrar, the current one last
        self.last = None  # the Stats of the last SIGUSR1

    # ---- what Scenario.register and Peer need of a registrar ----

    @property
    def reg(self):
        if not self.regs:
            fail(f"node {self.id} was never started")
        return self.regs[-1]

    @property
    def port(self):
        return self.reg.port

    @property
    def log(self):
        return self.reg.log

    def alive(self):
        return bool(self.regs) and self.reg.alive()

    # ---- life ----

    def start(self, env=None):
        """Starts it (again) with its files; its SIP port from its first log line."""
        if self.alive():
            fail(f"node {self.id} started while running")
        n = len(self.regs) + 1
        label = f"reg{self.id}" if n == 1 else f"reg{self.id}-{n}"
        interval = [] if "--snapshot-interval" in self.args else [
            "--snapshot-interval", str(QUIET_INTERVAL)]
        reg = self.sip.start_node(label, "--redis", self.cluster.redis.address, *interval,
                                  *self.args, node_id=self.id, snapshot=self.snapshot_name,
                                  journal=self.journal_name, env=env)
        self.regs.append(reg)
        return self

    def kill(self):
        """SIGKILL: what it did not write to its journal or Redis is gone."""
        self.sip.kill_registrar(self.reg)

    def wait_log(self, pattern, want=1, seconds=30):
        """Until this start's log has WANT lines matching PATTERN."""
        if not self.log.wait(pattern, want, seconds):
            state = "running" if self.alive() else "gone"
            fail(f"node {self.id} ({state}): no{' %d' % want if want > 1 else ''} log line "
                 f"matching '{pattern}' in {seconds} s")

    def count(self, pattern):
        """Lines matching PATTERN in the logs of all its starts."""
        return sum(r.log.count(pattern) for r in self.regs)

    # ---- its state ----

    def _wait_no_child(self, seconds=20):
        """Until every snapshot child it started has ended (as many
        "snapshot written" or "snapshot failed" lines as "snapshot started"):
        a SIGUSR1 while one runs is answered with that child's digest."""
        def idle():
            lines = self.log.lines()
            started = sum(1 for line in lines if line.startswith("snapshot started "))
            ended = sum(1 for line in lines
                        if line.startswith(("snapshot written ", "snapshot failed ")))
            return started <= ended
        if not regtest.wait_until(idle, seconds):
            fail(f"node {self.id}: a snapshot child still runs after {seconds} s")

    def ask(self):
        """SIGUSR1; the log offset its answer comes after (see answer)."""
        if not self.alive():
            fail(f"node {self.id} is gone (SIGUSR1)")
        self._wait_no_child()
        offset = self.log.size()
        self.reg.proc.send_signal(signal.SIGUSR1)
        return offset

    def answer(self, offset, seconds=20):
        """The Stats of the stats line after OFFSET, once the snapshot that
        follows it is written."""
        found = {}

        def look():
            lines = _complete_lines(self.log.text_from(offset))
            for i, line in enumerate(lines):
                m = STATS.match(line)
                if not m:
                    continue
                for after in lines[i + 1:]:
                    if after.startswith("snapshot failed "):
                        fail(f"node {self.id}: {after}")
                    if after.startswith("snapshot written "):
                        found["stats"] = Stats(int(m.group(1)), m.group(2), m.group(3), line)
                        return True
            return False

        if not regtest.wait_until(look, seconds, 0.02):
            state = "running" if self.alive() else "gone"
            fail(f"node {self.id} ({state}): no stats line with a digest and no 'snapshot "
                 f"written' within {seconds} s of SIGUSR1")
        self.last = found["stats"]
        return self.last

    def stats(self):
        """SIGUSR1 and its answer."""
        return self.answer(self.ask())

    def dump(self, label=None):
        """The records of the snapshot the last SIGUSR1 wrote (regtest.Dump)."""
        label = label or f"node{self.id}-{len(self.regs)}"
        return self.sip.dump(self.snap, f"{label}.dump")

    def held(self, label=None):
        """The UE ids of the snapshot the last SIGUSR1 wrote."""
        return {r["ue"] for r in self.dump(label).records}

    def records(self, label=None):
        """SIGUSR1, then the UE ids it holds (from the snapshot written)."""
        self.stats()
        return self.held(label)


class Cluster:
    """The test's redis-server (self.redis, started by start or
    start_redis) and its nodes, numbered from 1. ARGS of start are every
    node's flags beside --node-id, --redis, --snapshot and --journal."""

    def __init__(self, sip, procs, redis_dir):
        self.sip = sip
        self.procs = procs
        self.redis_dir = redis_dir
        self.redis = None
        self.nodes = []
        self.args = []

    def start_redis(self, appendonly=False):
        self.redis = regtest.RedisServer(self.procs, self.redis_dir, appendonly=appendonly)
        return self.redis

    def start(self, n, *args, journal=False, appendonly=False):
        """redis-server (when not yet started), then N nodes; their list."""
        if self.redis is None:
            self.start_redis(appendonly)
        self.args = list(args)
        return [self.add(journal=journal) for _ in range(n)]

    def add(self, journal=False, args=None, start=True, env=None):
        """One more node (with the cluster's args unless ARGS), started unless START is false."""
        node = Node(self, len(self.nodes) + 1, journal, self.args if args is None else args)
        self.nodes.append(node)
        if start:
            node.start(env)
        return node

    def __getitem__(self, node_id):
        return self.nodes[node_id - 1]

    def running(self):
        return [n for n in self.nodes if n.alive()]

    def wait_converged(self, nodes=None, seconds=30):
        """Until every node (of NODES, default those running) gives the same
        digest in one round of SIGUSR1s: their Stats. The snapshots those
        SIGUSR1s wrote are the nodes' dump() and held()."""
        nodes = nodes or self.running()
        deadline = time.monotonic() + seconds
        while True:
            offsets = [n.ask() for n in nodes]
            got = [n.answer(o) for n, o in zip(nodes, offsets)]
            if len({s.digest for s in got}) == 1:
                return got
            if time.monotonic() >= deadline:
                fail(f"the nodes' digests differ after {seconds:.0f} s: "
                     + "; ".join(f"node {n.id}: {s.line}" for n, s in zip(nodes, got)))
            time.sleep(0.3)

    def wait_holding(self, want, nodes=None, seconds=30):
        """Until the nodes (default: those running) converge (wait_converged)
        with each holding exactly the UE ids WANT: what lapses or arrives
        late is given SECONDS."""
        deadline = time.monotonic() + seconds
        while True:
            nodes_now = nodes or self.running()
            self.wait_converged(nodes_now, max(1.0, deadline - time.monotonic()))
            if all(n.held() == want for n in nodes_now) or time.monotonic() >= deadline:
                return self.expect_held(want, nodes_now)
            time.sleep(0.3)

    def count(self, pattern):
        """Lines matching PATTERN over every log of every node."""
        return sum(n.count(pattern) for n in self.nodes)

    def notify_logons(self, ue_id):
        """NOTIFY_LOGON events (each one MESSAGE) to UE_ID over the whole cluster."""
        return self.count(rf"^event NOTIFY_LOGON user=\S+ ue=\S+ to={re.escape(ue_id)} ")

    def expect_held(self, want, nodes=None, what="records"):
        """Every node (default: those running) holds exactly the UE ids WANT,
        in the snapshot of its last SIGUSR1."""
        for n in nodes or self.running():
            held = n.held()
            if held != want:
                missing, extra = sorted(want - held), sorted(held - want)
                fail(f"node {n.id} holds {len(held)} {what}, want {len(want)}: "
                     f"missing {len(missing)} {missing[:3]}, extra {len(extra)} {extra[:3]}")
