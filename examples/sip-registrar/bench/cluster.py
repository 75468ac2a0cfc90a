#!/usr/bin/python3
"""cluster.py BUILDDIR - the registrar's REGISTER load benchmark in three
configurations, side by side in one run (BUILDDIR/examples/mcreg-registrar):

  single   one node, no replication (no --node-id): bench-sip's ramp step;
  journal  one node with --node-id 1 --journal FILE (the step's directory);
  cluster  two nodes (--node-id 1 and 2, --redis) over a redis-server of the
           bench's own (free loopback port, no persistence), one SIPp per
           node at half the rate, each with its own half of the UEs/users.

For each, bench-sip's ramp (BENCH_SIP_RATES, the same pass conditions, a
fresh registrar, journal or cluster per step) up to the first failing step;
for the cluster the rate is the sum over both nodes and a step fails when
either SIPp's does. Then, in BENCH_CLUSTER_COST_ROUNDS rounds, a fresh
cluster at half its sustained rate (the lag step: the replication lag
p50/p99 from each node's stats line, SIGUSR1) and a step of each single-node
configuration at the rate each cluster node had in it: the cost per
REGISTER of the journal and of the cluster (CPU, fdatasyncs, stream
entries; medians over the rounds). After every cluster step both nodes'
state digests are compared.

A summary on stdout, the figures in BUILDDIR/bench-cluster.json, the step
files in BUILDDIR/cluster-bench/. The steps, SIPp runs and figures are
bench.py's (imported), its processes regtest.py's. See README.md.

Exit status: 0 when the benchmark ran (a ramp ending on a failing step is a
result); 1 when something is wrong rather than slow (the lowest rate failed,
a registrar crashed or did not start, answered other than 200 outside the
cluster's overload, the digests differ, a tool failed); 2 for bad usage.
"""

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402
from bench import die, fmt, fnum, opt, say  # noqa: E402

regtest = bench.regtest
bench.PROG = "bench-cluster"

CONFIGS = ("single", "journal", "cluster")
DESCRIPTION = {"single": "one node, no replication",
               "journal": "one node, --node-id 1 --journal",
               "cluster": "two nodes over Redis, half the rate each"}
STATS = re.compile(r"^stats .*")
FIELD = re.compile(r" ([a-z_0-9]+)=([^ ]*)")
REPLAYED = re.compile(r"^journal replayed .* buffers=([0-9]+) bytes=([0-9]+)")


class Settings(bench.Settings):
    """bench-sip's settings (BENCH_SIP_*), and this bench's own."""

    def __init__(self, builddir):
        env = os.environ.get
        quick = "1" in (env("BENCH_SIP_QUICK", "0"), env("BENCH_CLUSTER_QUICK", "0"))
        super().__init__(builddir, quick=quick)
        self.configs = env("BENCH_CLUSTER_CONFIGS", " ".join(CONFIGS)).split()
        self.lag_rate = self.uint("BENCH_CLUSTER_LAG_RATE", 0)
        self.converge_s = self.uint("BENCH_CLUSTER_CONVERGE_SECONDS", 30)
        self.cost_rounds = max(1, self.uint("BENCH_CLUSTER_COST_ROUNDS", 1 if self.quick else 3))
        self.redis = env("REDIS_SERVER", "redis-server")
        if not self.configs or any(c not in CONFIGS for c in self.configs):
            die(f"BENCH_CLUSTER_CONFIGS: some of {' '.join(CONFIGS)}")
        if self.ues % 4:
            die("BENCH_SIP_UES must be a multiple of 4 (two nodes, two UEs a user)")
        if "cluster" in self.configs and not shutil.which(self.redis):
            die(f"{self.redis} not found (Debian package redis-server)")


def stats_after(log, offset):
    """The fields of the first stats line LOG has after byte OFFSET, None
    when there is none yet."""
    for line in log.text_from(offset).splitlines(keepends=True):
        if line.endswith("\n") and STATS.match(line):
            return stats_fields(line.rstrip("\n"))
    return None


def stats_fields(line):
    return dict(FIELD.findall(" " + line.split(" ", 1)[1])) if line else {}


def as_int(v):
    return int(v) if v is not None and re.fullmatch(r"[0-9]+", v) else None


class ClusterBench(bench.Bench):
    """bench.Bench's steps with one or two registrars and one SIPp each."""

    def __init__(self, settings):
        super().__init__(settings, "cluster-bench", tuple(f"{c}-*" for c in CONFIGS))
        # Each node's SIPp sends its own half of the UEs (whole users)
        half = settings.ues // 2
        self.half_csv = [self.work / f"ues-{i + 1}.csv" for i in range(2)]
        for i, path in enumerate(self.half_csv):
            self.write_ues(path, i * half, half)

    def run_config_step(self, config, name, rate, seconds):
        """One step of CONFIG at RATE (the sum over the nodes): its figures."""
        d = self.work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        n_nodes = 2 if config == "cluster" else 1
        calls = self.calls_for(rate, seconds)
        say(f"-- {name}: {DESCRIPTION[config]}, {rate} REGISTER/s, {calls} calls")
        st = {"name": name, "config": config, "target_rate": rate, "calls": calls,
              "pass": False, "why": "", "nodes": []}
        procs = regtest.Processes()
        try:
            self._run(procs, st, d, config, n_nodes, rate, calls)
        finally:
            procs.stop_all()
        if config == "journal" and st["nodes"]:
            self.journal_turns(st, d)
        self.steps.append(st)
        verdict = "PASS" if st["pass"] else f"FAIL ({st['why']})"
        say(f"   {name}: achieved {fmt(st.get('achieved_rate'))}/s in all: {verdict}")
        return st

    def _run(self, procs, st, d, config, n_nodes, rate, calls):
        s = self.s
        redis = None
        if config == "cluster":
            try:
                redis = regtest.RedisServer(procs, d / "redis", s.redis)
            except regtest.TestFailure as e:
                self.note_error(f"{st['name']}: {e}")
                st["why"] = "redis-server did not start"
                return
        nodes = []
        for i in range(n_nodes):
            label = f"node{i + 1}" if config == "cluster" else "registrar"
            extra = []
            if config == "journal":
                extra = ["--node-id", "1", "--journal", d / "journal"]
            elif config == "cluster":
                extra = ["--node-id", i + 1, "--redis", f"{regtest.LOOPBACK}:{redis.port}"]
            reg, port = self.start_registrar(procs, d, "none", "file", "none", extra, label)
            node = {"label": label, "reg": reg, "port": port,
                    "rate": rate // n_nodes + (i < rate % n_nodes),
                    "calls": calls // n_nodes + (i < calls % n_nodes),
                    "csv": self.half_csv[i] if n_nodes == 2 else self.csv, "dir": d / label}
            node["dir"].mkdir()
            nodes.append(node)
            if port is None:
                self.note_error(f"{st['name']}: {label} did not start "
                                f"({' '.join(map(str, reg.argv))}; log {reg.log.path})")
                st["why"] = f"{label} did not start"
                return
        # A cluster node answers 503 until its writer connection is up
        for n in nodes if config == "cluster" else ():
            log = n["reg"].log
            if not (log.wait(r"^redis connected role=writer ", 1, 10) and
                    log.wait(r"^cluster synced ", 1, 10)):
                self.note_error(f"{st['name']}: {n['label']} did not connect to Redis "
                                f"(log {log.path})")
                st["why"] = f"{n['label']} did not connect to Redis"
                return

        ports = [n["port"] for n in nodes]
        uacports = [regtest.free_port() for _ in nodes]
        sampler = bench.UdpSampler(ports + uacports)
        sampler.start()
        rcv0 = bench.rcvbuf_errors()
        cpu0 = [bench.cpu_ns(n["reg"].pid) for n in nodes]
        rcpu0 = bench.cpu_ns(redis.proc.pid) if redis else None
        t0 = time.time()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        uacs = [self.start_uac(procs, n["dir"], n["rate"], n["calls"], n["port"], n["csv"],
                               None, up) for n, up in zip(nodes, uacports)]
        rcs = [u.wait() for u in uacs]
        t1 = time.time()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu1 = [bench.cpu_ns(n["reg"].pid) for n in nodes]
        rcpu1 = bench.cpu_ns(redis.proc.pid) if redis else None
        t2 = time.time()
        rcv1 = bench.rcvbuf_errors()
        sampler.stop()
        sipp_cpu_pct = (100 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) /
                        (t1 - t0) if t1 > t0 else None)

        if redis:
            entries = as_int(redis.command("XLEN", "mcreg:changes").lstrip(":"))
            st["stream_entries"] = entries
            self.converge(st, nodes)

        why, achieved, created = [], 0.0, 0
        for n, uac, rc, c0, c1 in zip(nodes, uacs, rcs, cpu0, cpu1):
            reg = n["reg"]
            reg_rc = reg.stop(10)
            reg_rc = "timeout" if reg_rc is None else str(reg_rc)
            f = self.uac_figures(n["dir"], t1 - t0)
            counts, lines, size = bench.log_counts(reg.log)
            prefix = f"{n['label']}: " if n_nodes > 1 else ""
            if reg_rc != "0":
                why.append(f"{prefix}registrar exit status {reg_rc}")
                self.note_error(f"{st['name']}: {n['label']} died or did not stop cleanly "
                                f"(exit status {reg_rc}; log {reg.log.path})")
            # A cluster node answers 503 when Redis is slow to acknowledge:
            # under overload that is the step failing, not an error
            n503 = (sum(1 for line in reg.log.lines() if line.startswith("reply 503 "))
                    if config == "cluster" else 0)
            leg_why = self.uac_verdict(st["name"], n["dir"], f, n["rate"], n["calls"], rc,
                                       counts["non200"], n503)
            why += [prefix + w for w in leg_why]
            if counts["drops"]:
                why.append(f"{prefix}{counts['drops']} dropped datagrams or MESSAGEs")
            cpu_s = us = pct = None
            if c0 is not None and c1 is not None:
                cpu_s = (c1 - c0) / 1e9
                pct = 100 * cpu_s / (t2 - t0) if t2 > t0 else None
                us = (c1 - c0) / 1e3 / f["created"] if f["created"] else None
            rxq, drops = sampler.kb_and_drops(n["port"])
            uac_rxq, uac_drops = sampler.kb_and_drops(uac.port)
            bench.say_uac(f, f"   {prefix}")
            say(f"   {prefix}registrar {fmt(pct)}% CPU, {fmt(us)} us/REGISTER, socket queue peak "
                f"{opt(rxq)} KB, {opt(drops)} drops; sipp socket queue peak {opt(uac_rxq)} KB, "
                f"{opt(uac_drops)} drops")
            achieved += f["achieved"] or 0
            created += f["created"] or 0
            st["nodes"].append({
                "label": n["label"], "target_rate": n["rate"], "calls": n["calls"],
                **bench.uac_json(f, None),
                "udp": {"registrar_rx_queue_peak_kb": rxq, "registrar_drops": drops,
                        "sipp_rx_queue_peak_kb": uac_rxq, "sipp_drops": uac_drops},
                "registrar": {"exit_status": reg_rc, "cpu_s": fnum(cpu_s, 3),
                              "cpu_pct": fnum(pct), "cpu_us_per_register": fnum(us),
                              "log": bench.log_json(counts, lines, size),
                              "stats": n.get("stats")}})
            self.trim_log(reg.log, not why)
        if st.get("digests_equal") is False:
            why.append("the nodes' digests differ")
        st["pass"] = not why
        st["why"] = "; ".join(why)
        st["achieved_rate"] = fnum(achieved)
        st["registers"] = created
        st["sipp_cpu_pct_all"] = fnum(sipp_cpu_pct)
        st["rcvbuf_errors_all_sockets"] = (rcv1 - rcv0 if rcv0 is not None and rcv1 is not None
                                           else None)
        if redis:
            st["redis_cpu_us_per_register"] = (fnum((rcpu1 - rcpu0) / 1e3 / created)
                                               if created and rcpu0 is not None and
                                               rcpu1 is not None else None)
            st["stream_entries_per_register"] = (fnum(st["stream_entries"] / created, 4)
                                                 if created and st["stream_entries"] is not None
                                                 else None)

    def converge(self, st, nodes):
        """After the load: SIGUSR1 to every node, their stats lines (digest,
        position, lag) read back, until the digests and positions agree or
        BENCH_CLUSTER_CONVERGE_SECONDS pass. The last stats line of each
        node goes into NODES; st["digests_equal"] says whether they agreed."""
        deadline = time.monotonic() + self.s.converge_s
        st["digests_equal"] = None
        rounds = 0
        while True:
            rounds += 1
            # Read from where the log ends now: it is big after a step
            before = [n["reg"].log.size() for n in nodes]
            for n in nodes:
                if n["reg"].alive():
                    n["reg"].proc.send_signal(signal.SIGUSR1)
            for n, offset in zip(nodes, before):
                n["stats"] = regtest.wait_until(lambda: stats_after(n["reg"].log, offset), 20, 0.1)
            got = [n["stats"] for n in nodes]
            if all(got):
                same = (len({g.get("digest") for g in got}) == 1 and
                        len({g.get("position") for g in got}) == 1)
                st["digests_equal"] = same
                if same:
                    break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        st["converge_rounds"] = rounds
        if st["digests_equal"] is not True:
            self.note_error(f"{st['name']}: the nodes' digests differ after the load "
                            f"({[(g or {}).get('digest') for g in got]}, positions "
                            f"{[(g or {}).get('position') for g in got]}, after "
                            f"{self.s.converge_s} s)")

    def journal_turns(self, st, d):
        """The journal's buffers, one a turn, each written with one fdatasync:
        counted by the registrar itself, restarted on the journal ("journal
        replayed ... buffers=N bytes=N"). The journal then goes (big)."""
        journal = d / "journal"
        if not journal.is_file():
            return
        procs = regtest.Processes()
        try:
            reg, port = self.start_registrar(procs, d, "none", "file", "none",
                                             ["--node-id", "1", "--journal", journal], "replay")
            if port is not None and reg.log.wait(REPLAYED.pattern, 1, 120):
                m = REPLAYED.match(reg.log.matching(REPLAYED.pattern)[0])
                st["journal_buffers"], st["journal_bytes"] = int(m.group(1)), int(m.group(2))
            else:
                self.note_error(f"{st['name']}: the journal did not replay (log {reg.log.path})")
            reg.stop(10)
        finally:
            procs.stop_all()
        if not self.s.keep_logs:
            (d / "replay.log").unlink(missing_ok=True)
        n = st["nodes"][0]["sipp"]["created"]
        if n and "journal_buffers" in st:
            st["fdatasyncs_per_register"] = fnum(st["journal_buffers"] / n, 4)
            st["journal_bytes_per_register"] = fnum(st["journal_bytes"] / n, 1)
            say(f"   journal: {st['journal_buffers']} buffers (fdatasyncs) for {n} REGISTERs, "
                f"{st['fdatasyncs_per_register']} a REGISTER, "
                f"{st['journal_bytes_per_register']} bytes a REGISTER")
        if not self.s.keep_logs:
            journal.unlink()


def node_us(st, i=0):
    try:
        return st["nodes"][i]["registrar"]["cpu_us_per_register"]
    except (IndexError, KeyError, TypeError):
        return None


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def diff(a, b):
    return None if a is None or b is None else fnum(a - b)


def lag_info(st):
    """The replication lag of a cluster step, from its nodes' last stats lines."""
    nodes = st["nodes"]
    stats = [(n["registrar"]["stats"] or {}) for n in nodes]
    lag = {"step": st["name"], "pass": st["pass"], "why": st["why"],
           "digests_equal": st.get("digests_equal"),
           "per_node": [{"label": n["label"], "lag_n": as_int(x.get("lag_n")),
                         "lag_p50_ms": as_int(x.get("lag_p50_ms")),
                         "lag_p99_ms": as_int(x.get("lag_p99_ms")),
                         "applied": as_int(x.get("applied")),
                         "digest": x.get("digest")} for n, x in zip(nodes, stats)]}
    for q in ("p50", "p99"):
        v = [x[f"lag_{q}_ms"] for x in lag["per_node"] if x[f"lag_{q}_ms"] is not None]
        lag[f"lag_{q}_ms_max"] = max(v) if v else None
    return lag


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def lag_and_cost(b, lrate):
    """BENCH_CLUSTER_COST_ROUNDS rounds of: a fresh cluster at LRATE (the lag
    step: its nodes' lag since they started), then one node without and
    with the journal at the rate each cluster node had (LRATE/2), so that
    the three compare at the same rate per node. One step's CPU figure
    moves by a third on a shared machine: the rounds interleave the
    configurations, and the cost is their medians."""
    s = b.s
    prate = lrate // 2 + lrate % 2
    rounds = []
    for k in range(s.cost_rounds):
        tag = f"-{k + 1}" if s.cost_rounds > 1 else ""
        rnd = {"cluster": b.run_config_step("cluster", f"cluster-lag-{lrate}{tag}", lrate,
                                            s.step_seconds)}
        for c in ("single", "journal"):
            if c in s.configs:
                rnd[c] = b.run_config_step(c, f"{c}-cost-{prate}{tag}", prate, s.step_seconds)
        rounds.append(rnd)
    lags = [lag_info(r["cluster"]) for r in rounds]
    lag = {"rate": lrate, "rounds": lags,
           "pass": all(x["pass"] for x in lags),
           "why": "; ".join(x["why"] for x in lags if x["why"]),
           "digests_equal": all(x["digests_equal"] is True for x in lags),
           "lag_p50_ms_median": median([x["lag_p50_ms_max"] for x in lags]),
           "lag_p99_ms_median": median([x["lag_p99_ms_max"] for x in lags])}

    def med(config, fn, d=4):
        return fnum(median([fn(r[config]) for r in rounds if config in r]), d)

    us1 = med("single", node_us)
    usj = med("journal", node_us)
    usc = med("cluster", lambda st: mean([node_us(st, i) for i in range(len(st["nodes"]))]))
    cost = {"rate_per_node": prate, "cluster_rate": lrate, "rounds": len(rounds),
            "cpu_us_per_register": {
                "single": fnum(us1), "journal": fnum(usj), "cluster_node_mean": fnum(usc),
                "per_round": [{c: [node_us(st, i) for i in range(len(st["nodes"]))]
                               for c, st in r.items()} for r in rounds]},
            "journal_minus_single_us": diff(usj, us1),
            "cluster_node_minus_single_us": diff(usc, us1),
            "fdatasyncs_per_register": med("journal", lambda st: st.get("fdatasyncs_per_register")),
            "journal_bytes_per_register": med("journal",
                                              lambda st: st.get("journal_bytes_per_register")),
            "stream_entries_per_register": med("cluster",
                                               lambda st: st.get("stream_entries_per_register")),
            "redis_cpu_us_per_register": med("cluster",
                                             lambda st: st.get("redis_cpu_us_per_register")),
            "steps_passed": all(st["pass"] for r in rounds for st in r.values())}
    return lag, cost


def ramp(b, config):
    """bench-sip's ramp for CONFIG: its figures."""
    s = b.s
    r = {"highest_sustained_rate": 0, "first_failing_step": None, "passed": [],
         "lowest_failed": False, "best": None}
    for i, rate in enumerate(s.rates):
        st = b.run_config_step(config, f"{config}-{rate}", rate, s.step_seconds)
        if st["pass"]:
            r["highest_sustained_rate"] = rate
            r["passed"].append(rate)
            r["best"] = st
        else:
            r["lowest_failed"] = i == 0
            r["first_failing_step"] = {"rate": rate, "why": st["why"]}
            if i == 0:
                b.note_error(f"{config}: the lowest rate ({rate}/s) failed: {st['why']}")
            break
    return r


def main(argv):
    if len(argv) != 2 or not argv[1].rstrip("/"):
        print(f"usage: {argv[0]} BUILDDIR", file=sys.stderr)
        return 2
    s = Settings(argv[1].rstrip("/"))
    b = ClusterBench(s)
    say(f"bench-cluster: {s.ues} UEs ({s.ues // 2} users), rates: "
        f"{' '.join(map(str, s.rates))}; {s.step_seconds}s a step; configurations: "
        f"{' '.join(s.configs)}; registrar {s.registrar}; SIPp {b.sipp_version or '?'}")

    # ---- 1. the ramps, one configuration after the other
    ramps = {c: ramp(b, c) for c in s.configs}

    # ---- 2. the lag and cost steps
    lag = cost = None
    if "cluster" in ramps:
        best = ramps["cluster"]["highest_sustained_rate"]
        lrate = s.lag_rate or max(100, best // 2 // 100 * 100) if best else s.lag_rate
        if lrate:
            lag, cost = lag_and_cost(b, lrate)
    digest_checks = [x for x in b.steps if x["config"] == "cluster"]
    digests = {"cluster_steps": len(digest_checks),
               "equal": sum(1 for x in digest_checks if x.get("digests_equal") is True)}

    # ---- report
    report = {
        "benchmark": "bench-cluster", "quick": s.quick, "registrar": str(s.registrar),
        "registrar_sha256": hashlib.sha256(b.registrar.read_bytes()).hexdigest(),
        "sipp_version": b.sipp_version, "cpus": os.cpu_count(), "ues": s.ues,
        "users": s.ues // 2, "rates": s.rates, "step_seconds": s.step_seconds,
        "tolerance_pct": s.tolerance, "max_p99_ms": s.max_p99_ms, "expires": s.expires,
        "configs": {c: {"description": DESCRIPTION[c],
                        "highest_sustained_rate": r["highest_sustained_rate"],
                        "first_failing_step": r["first_failing_step"],
                        "journal_fdatasyncs_per_register_by_rate": (
                            {x["target_rate"]: x.get("fdatasyncs_per_register")
                             for x in b.steps if x["config"] == "journal" and
                             x["name"] == f"journal-{x['target_rate']}"}
                            if c == "journal" else None)}
                    for c, r in ramps.items()},
        "replication_lag": lag, "cost": cost, "digests": digests,
        "errors": b.errors, "error_text": "; ".join(b.error_text), "steps": b.steps,
    }
    out = s.builddir / "bench-cluster.json"
    tmp = Path(f"{out}.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(out)

    print()
    print(f"== bench-cluster: mcreg-registrar under SIPp REGISTER load, {s.ues} UEs / "
          f"{s.ues // 2} users, loopback UDP, --notify none, log to a file")
    print(f"   on {os.cpu_count()} CPUs shared by the nodes, redis-server and SIPp")
    print("highest rate sustained with no failed transaction (bench-sip's ramp):")
    for c, r in ramps.items():
        best = r["best"]
        extra = ""
        if best:
            extra = (f" (us CPU/REGISTER: "
                     f"{', '.join(str(opt(node_us(best, i))) for i in range(len(best['nodes'])))})")
        ff = r["first_failing_step"]
        fail_text = (f"; first failing {ff['rate']}/s: {ff['why']}" if ff else
                     f"; every rate passed: the ceiling is above {r['highest_sustained_rate']}/s")
        print(f"  {c:8} {DESCRIPTION[c]:42} {r['highest_sustained_rate']:6} REGISTER/s{extra}"
              f"{fail_text}")
    if lag:
        first = lag["rounds"][0]
        per = ", ".join(f"{x['label']} p50 {opt(x['lag_p50_ms'])} ms p99 {opt(x['lag_p99_ms'])} ms "
                        f"over {opt(x['lag_n'])} entries" for x in first["per_node"])
        more = ""
        if len(lag["rounds"]) > 1:
            more = (f"; p99 (the higher node) in the {len(lag['rounds'])} rounds: "
                    f"{', '.join(str(opt(x['lag_p99_ms_max'])) for x in lag['rounds'])} ms")
        print(f"replication lag (peer's turn end -> applied here) at {lag['rate']} REGISTER/s, "
              f"fresh cluster: {per}{more}; digests "
              f"{'equal' if lag['digests_equal'] else 'DIFFER'}"
              f"{'' if lag['pass'] else '; a lag step failed: ' + lag['why']}")
    if cost:
        cu = cost["cpu_us_per_register"]
        print(f"cost per REGISTER at {cost['rate_per_node']} REGISTER/s per node (medians of "
              f"{cost['rounds']} round(s)): CPU {opt(cu['single'])} us one node, "
              f"{opt(cu['journal'])} us with the journal "
              f"({opt(cost['journal_minus_single_us'])} us more, "
              f"{opt(cost['fdatasyncs_per_register'])} fdatasync and "
              f"{opt(cost['journal_bytes_per_register'])} journal bytes a REGISTER), "
              f"{opt(cu['cluster_node_mean'])} us a cluster node "
              f"({opt(cost['cluster_node_minus_single_us'])} us more, "
              f"{opt(cost['stream_entries_per_register'])} XADD entries a REGISTER, Redis "
              f"{opt(cost['redis_cpu_us_per_register'])} us a REGISTER)")
        if not cost["steps_passed"]:
            print("  (a cost step failed: see the steps in the JSON)")
    print(f"digests after the load: equal in {digests['equal']} of {digests['cluster_steps']} "
          "cluster steps")
    print(f"figures: {out}; step files: {b.work}/")
    sys.stdout.flush()
    if b.errors:
        say(f"bench-cluster: {b.errors} error(s): {'; '.join(b.error_text)}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
