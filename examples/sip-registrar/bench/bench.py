#!/usr/bin/python3
"""bench.py BUILDDIR - the REGISTER load benchmark of the SIP registrar
example (BUILDDIR/examples/mcreg-registrar), driven by SIPp.

  1. ramp: --notify none, one fresh registrar per step, REGISTERs from
     BENCH_SIP_UES UEs (2 per user) at each rate of BENCH_SIP_RATES until a
     step fails; the highest passing rate is "sustained";
  2. --notify all (the default policy), one pass over the UEs at the highest
     sustained rate, lower if that fails: logon MESSAGEs to a SIPp UAS that
     answers 200;
  3. the cost of the log: a step with the log to /dev/null against the ramp
     step at the same rate (log to a file);
  4. the CPU split: the registrar under `perf record -e cpu-clock` (or
     callgrind when perf cannot record) for one step at about half the
     highest rate.

A summary on stdout, the figures in BUILDDIR/bench-sip.json, the step files
in BUILDDIR/sip-bench/. See README.md (next to this file) for the variables.
The registrars, SIPp and their ports come from ../tests/regtest.py, which
the registrar's tests use too.

Exit status: 0 when the benchmark ran (a ramp ends on a failing step: that
is its result, not an error); 1 when the lowest rate failed, the registrar
crashed, answered other than 200 or could not be started, or a tool failed;
2 for bad usage or a missing tool.
"""

import glob
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import regtest  # noqa: E402

UAC_XML = HERE / "uac-register.xml"
UAS_XML = HERE / "uas-message.xml"
PARTS = ["osip", "libmcreg", "registrar", "libc", "kernel", "other"]


# The name in messages: cluster.py, which imports this file, sets its own.
PROG = "bench-sip"


def die(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(2)


def say(message):
    print(message, file=sys.stderr, flush=True)


def fnum(x, d=1):
    """X rounded to D decimals, None when there is no figure."""
    return None if x is None else round(float(x), d)


def fmt(x, d=1):
    return "?" if x is None else f"{x:.{d}f}"


def opt(x):
    return "?" if x is None else x


# ---- settings ----------------------------------------------------------------


class Settings:
    def __init__(self, builddir, quick=None):
        """QUICK: the quick mode whatever BENCH_SIP_QUICK says (None: as it says)."""
        env = os.environ.get
        self.quick = env("BENCH_SIP_QUICK", "0") == "1" if quick is None else quick
        if self.quick:
            d_ues, d_rates, d_seconds, d_perf_seconds, d_cg_calls = 2000, "1000 4000", 2, 2, 1000
        else:
            d_rates = ("500 1000 2000 4000 6000 8000 10000 12000 14000 16000 18000 20000 "
                       "22000 25000 30000")
            d_ues, d_seconds, d_perf_seconds, d_cg_calls = 10000, 10, 10, None
        self.builddir = Path(builddir)
        self.registrar = Path(env("BENCH_SIP_REGISTRAR", str(self.builddir / "examples" /
                                                              "mcreg-registrar")))
        self.sipp = env("SIPP", "sipp")
        self.perf = env("PERF", "perf")
        self.valgrind = env("VALGRIND", "valgrind")
        self.ues = self.uint("BENCH_SIP_UES", d_ues)
        self.rates = self.rate_list(env("BENCH_SIP_RATES", d_rates))
        self.step_seconds = self.uint("BENCH_SIP_SECONDS", d_seconds)
        self.tolerance = self.uint("BENCH_SIP_TOLERANCE", 3)      # % below the target rate
        self.max_p99_ms = self.uint("BENCH_SIP_MAX_P99_MS", 500)  # 0: no limit
        self.notify_step = env("BENCH_SIP_NOTIFY", "1") == "1"
        self.notify_rate = self.rate_list(env("BENCH_SIP_NOTIFY_RATE", ""))
        self.profiler = env("BENCH_SIP_PROFILER", "auto")
        self.profile_rate = self.rate_list(env("BENCH_SIP_PROFILE_RATE", ""))
        self.profile_seconds = self.uint("BENCH_SIP_PROFILE_SECONDS", d_perf_seconds)
        self.callgrind_rate = self.uint("BENCH_SIP_CALLGRIND_RATE", 200)
        self.callgrind_calls = self.uint("BENCH_SIP_CALLGRIND_CALLS", d_cg_calls or self.ues)
        self.log_step = env("BENCH_SIP_LOG_STEP", "1") == "1"
        self.expires = self.uint("BENCH_SIP_EXPIRES", 86400)
        self.recv_timeout_ms = self.uint("BENCH_SIP_RECV_TIMEOUT", 10000)
        self.sipp_buff = self.uint("BENCH_SIP_SIPP_BUFFER", 4194304)
        self.perf_freq = env("BENCH_SIP_PERF_FREQ", "1000")
        self.keep_logs = env("BENCH_SIP_KEEP_LOGS", "0") == "1"
        if not self.rates:
            die("BENCH_SIP_RATES is empty")
        if self.ues < 2 or self.ues % 2:
            die("BENCH_SIP_UES must be even and >= 2")
        if not os.access(self.registrar, os.X_OK):
            die(f"no registrar at {self.registrar} (make examples)")
        if not shutil.which(self.sipp):
            die("sipp not found (Debian package sip-tester)")
        if not (UAC_XML.is_file() and UAS_XML.is_file()):
            die(f"scenario files missing in {HERE}")
        if self.profiler not in ("auto", "perf", "callgrind", "none"):
            die("BENCH_SIP_PROFILER: auto, perf, callgrind or none")

    @staticmethod
    def uint(name, default):
        v = os.environ.get(name, str(default))
        if not re.fullmatch(r"[0-9]+", v):
            die(f"{name} must be a whole number (got '{v}')")
        return int(v)

    @staticmethod
    def rate_list(text):
        rates = text.split()
        for r in rates:
            if not re.fullmatch(r"[0-9]+", r) or int(r) == 0:
                die(f"a rate must be a positive whole number (got '{r}')")
        return [int(r) for r in rates]


# ---- measurements ----------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ns(pid):
    """CPU time of a live process in ns, None when gone: the scheduler's
    count when there is one, else user + system time in clock ticks."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * (1000000000 // CLK_TCK)
    except (OSError, ValueError, IndexError):
        return None


def rcvbuf_errors():
    """The kernel's count of UDP datagrams dropped for a full receive buffer."""
    try:
        rows = [line.split() for line in open("/proc/net/snmp") if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return None


class UdpSampler(threading.Thread):
    """Every 50 ms until stop(): the peak receive queue (bytes of kernel
    memory) and the last drop count of the loopback UDP sockets on PORTS.
    Tells a registrar falling behind (its queue grows, it drops) from SIPp
    missing answers."""

    def __init__(self, ports):
        super().__init__(daemon=True)
        self.ports = [p for p in ports if p]
        self.peak = {p: 0 for p in self.ports}
        self.drops = {p: 0 for p in self.ports}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for port, (rx, drops) in regtest.udp_queue(self.ports).items():
                self.peak[port] = max(self.peak[port], rx)
                self.drops[port] = drops
            self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.join(5)

    def kb_and_drops(self, port):
        if port not in self.peak:
            return None, None
        return (self.peak[port] + 1023) // 1024, self.drops[port]


def stat_row(path):
    """The last row of a SIPp statistics file, by column name."""
    try:
        rows = [line.rstrip("\n").split(";") for line in open(path) if line.strip()]
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


def stat_int(row, name):
    v = row.get(name)
    return int(v) if v not in (None, "") and re.fullmatch(r"[0-9]+", v) else None


def stat_epoch(row, name):
    """The epoch seconds in a "date<TAB>time<TAB>epoch" field."""
    v = row.get(name)
    try:
        return float(v.split("\t")[-1]) if v else None
    except ValueError:
        return None


def awk_num(x):
    """A number as awk prints it (integers bare, others %.6g)."""
    return int(x) if float(x).is_integer() else float("%.6g" % x)


def rtt_figures(path):
    """From SIPp's -trace_rtt file (per answered REGISTER: the time of the
    answer and the response time, in SIPp's whole ms):
    - the send rate: answered REGISTERs over the span between the first and
      the last one sent (answer time less response time), SIPp's start-up
      and final wait left out: did SIPp reach the rate?
    - the answer rate: the registrar's throughput, answers between the 1st
      and the 99th percentile of the answer times (a few late answers to
      retransmissions do not stretch the span, a queue that keeps growing
      does);
    - response time percentiles (p50, p99, max)."""
    rows = []
    for i, line in enumerate(open(path, errors="replace")):
        f = line.rstrip("\n").split(";")
        if i == 0 or len(f) < 2:
            continue
        try:
            rows.append((float(f[0]), float(f[1])))
        except ValueError:
            continue
    send_rate = answer_rate = p50 = p99 = pmax = None
    n = len(rows)
    if n >= 2:
        answers = sorted(a for a, _ in rows)
        sends = [a - r for a, r in rows]
        first, last = min(sends), max(sends)
        if last > first:
            send_rate = (n - 1) * 1000 / (last - first)
        lo, hi = 1, n
        if n >= 200:
            lo, hi = int(n * 0.01) + 1, int(n * 0.99)
        if answers[hi - 1] > answers[lo - 1]:
            answer_rate = (hi - lo) * 1000 / (answers[hi - 1] - answers[lo - 1])
    if n:
        v = sorted(r for _, r in rows)
        p50 = awk_num(v[int((n - 1) * 0.5)])
        p99 = awk_num(v[int((n - 1) * 0.99)])
        pmax = awk_num(v[-1])
    return send_rate, answer_rate, p50, p99, pmax


# ---- one step --------------------------------------------------------------------


class Uac:
    """A running SIPp UAC: its process, its port, how long it may take."""

    def __init__(self, proc, port, limit):
        self.proc, self.port, self.limit = proc, port, limit

    def wait(self):
        """SIPp's exit status, None when it outlived its -timeout (killed)."""
        return regtest.wait_exit(self.proc, self.limit + 60)


LOG_COUNTS = (("replies", r"^reply 200 REGISTER "), ("non200", r"^reply [^2][0-9][0-9] "),
              ("resends", r"^resend "), ("created", r"^event CREATED "),
              ("refreshed", r"^event REFRESHED "), ("logons", r"^event NOTIFY_LOGON "),
              ("msg200", r"^message [^ ]+ 2[0-9][0-9]$"),
              ("msgbad", r"^message [^ ]+ [3-6][0-9][0-9]$"),
              ("msgtimeout", r"^message [^ ]+ timeout$"), ("drops", r"^(drop|message-dropped) "))


def log_counts(log):
    """A registrar log's counts of LOG_COUNTS, its lines and bytes (zeros
    when LOG is None or missing)."""
    counts = {k: 0 for k, _ in LOG_COUNTS}
    if log is None or not log.path.is_file():
        return counts, 0, 0
    lines = log.lines()
    for key, pattern in LOG_COUNTS:
        rx = re.compile(pattern)
        counts[key] = sum(1 for line in lines if rx.search(line))
    return counts, len(lines), log.path.stat().st_size


def log_json(counts, lines, size):
    return {"lines": lines, "bytes": size, "reply_200_register": counts["replies"],
            "non_200": counts["non200"], "resend": counts["resends"],
            "created": counts["created"], "refreshed": counts["refreshed"],
            "notify_logon": counts["logons"], "message_200": counts["msg200"],
            "message_error": counts["msgbad"], "message_timeout": counts["msgtimeout"],
            "drop": counts["drops"]}


def uac_json(f, sipp_cpu_pct):
    """A step's JSON of one UAC run's figures (Bench.uac_figures, after uac_verdict)."""
    return {"achieved_rate": fnum(f["achieved"]), "send_rate": fnum(f["send_rate"]),
            "answer_rate": fnum(f["answer_rate"]), "elapsed_s": fnum(f["elapsed"], 3),
            "sipp": {"exit_status": f.get("exit_status"), "created": f["created"],
                     "successful": f["ok"], "failed": f["failed"],
                     "failed_timeout": f["f_timeout"], "failed_max_udp_retrans": f["f_retrans"],
                     "failed_unexpected": f["f_unexp"], "retransmissions": f["retrans"],
                     "cpu_pct": fnum(sipp_cpu_pct)},
            "response_ms": {"p50": f["p50"], "p99": f["p99"], "max": f["pmax"]}}


def say_uac(f, prefix="   "):
    say(f"{prefix}achieved {fmt(f['achieved'])}/s (sent {fmt(f['send_rate'])}/s, answered "
        f"{fmt(f['answer_rate'])}/s), {f['ok'] or 0} ok, {opt(f['failed'])} failed, "
        f"{opt(f['retrans'])} retransmissions, response p50/p99/max "
        f"{opt(f['p50'])}/{opt(f['p99'])}/{opt(f['pmax'])} ms")


class Bench:
    """The steps' shared state: the work directory WORKNAME under BUILDDIR
    (its STEP_DIRS, an earlier run's step directories, are removed), the
    copy of the registrar they run, the errors, the steps' JSON."""

    def __init__(self, settings, workname="sip-bench", step_dirs=("none-*", "all-*", "profile-*")):
        self.s = settings
        self.errors = 0
        self.error_text = []
        self.steps = []
        self.work = (settings.builddir / workname)
        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError:
            die(f"cannot create {self.work}")
        self.work = self.work.resolve()
        # The step directories of an earlier run go: what is left is this run's
        for pattern in (*step_dirs, "bin"):
            for p in self.work.glob(pattern):
                shutil.rmtree(p, ignore_errors=True)
        # The steps run a copy of the binary, and the profile reads the copy: a
        # rebuild during the run changes nothing. The symbols of the static
        # library it was linked with tell its code from the registrar's (read
        # now for the same reason).
        (self.work / "bin").mkdir()
        try:
            self.registrar = Path(shutil.copy2(settings.registrar, self.work / "bin"))
        except OSError:
            die(f"cannot copy {settings.registrar}")
        self.tools = regtest.Tools(settings.builddir, sipp=settings.sipp)
        self.tools.registrar = self.registrar
        self.mcreg_syms = self.work / "libmcreg-symbols.txt"
        nm = subprocess.run(["nm", "--defined-only", settings.builddir / "libmcreg.a"],
                            capture_output=True, text=True)
        syms = sorted({f[2] for f in (line.split() for line in nm.stdout.splitlines())
                       if len(f) == 3 and f[1] in "tTwWiI"})
        self.mcreg_syms.write_text("".join(s + "\n" for s in syms))
        self.lib_syms = set(syms)
        v = subprocess.run([settings.sipp, "-v"], capture_output=True, text=True)
        m = re.search(r"^ *SIPp (v[^ \n]*[^ .\n])", v.stdout + v.stderr, re.M)
        self.sipp_version = m.group(1) if m else ""
        self.csv = self.work / "ues.csv"
        self.write_ues()

    def note_error(self, message):
        self.errors += 1
        self.error_text.append(message)
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)

    def write_ues(self, path=None, first=0, count=None):
        """The injection file (PATH, else self.csv) of UEs FIRST..FIRST+COUNT-1
        (all by default): UE i belongs to user i/2."""
        count = self.s.ues if count is None else count
        lines = ["SEQUENTIAL",
                 "# user;ue;+sip.instance uuid (version 4 layout, the UE number in hex)"]
        for i in range(first, first + count):
            lines.append("user%06d;ue%06d;%08x-%04x-4%03x-8%03x-%012x" % (
                i // 2, i, (i * 2654435761) % 4294967296, i % 65536, i % 4096,
                (i * 7) % 4096, i))
        (path or self.csv).write_text("\n".join(lines) + "\n")

    def calls_for(self, rate, seconds):
        """At least one REGISTER per UE."""
        return max(rate * seconds, self.s.ues)

    def start_uas(self, procs, d):
        """The UEs' side of the MESSAGEs: a SIPp UAS on a free port."""
        for _ in range(5):
            port = regtest.free_port()
            argv = regtest.sipp_argv(self.tools, UAS_XML, port, "-buff_size", self.s.sipp_buff,
                                     "-trace_stat", "-stf", d / "uas-stat.csv", "-fd", "1",
                                     "-trace_err", "-error_file", d / "uas-errors.log")
            with open(d / "uas.out", "wb") as out:
                proc = procs.start(argv, stdout=out, stderr=out, cwd=d)
            regtest.wait_until(lambda: regtest.udp_bound(port) or not regtest.alive(proc), 5, 0.1)
            if regtest.alive(proc) and regtest.udp_bound(port):
                return proc, port
            proc.kill()
            proc.wait()
        return None, None

    def start_registrar(self, procs, d, notify, logto, profile, extra=(), label="registrar"):
        """A fresh registrar with the options EXTRA too, its log DIR/LABEL.log:
        (Registrar, port), (Registrar, None) when it did not start."""
        s = self.s
        args = ["--notify", notify, "--max-expires", s.expires, "--default-expires", s.expires,
                *extra]
        listen, port = f"{regtest.LOOPBACK}:0", None
        if logto == "null":
            port = regtest.free_port()
            listen = f"{regtest.LOOPBACK}:{port}"
        wrapper, startup_s = (), 10
        if profile == "callgrind":
            wrapper = (s.valgrind, "--tool=callgrind", f"--callgrind-out-file={d}/callgrind.out",
                       f"--log-file={d}/valgrind.log")
            startup_s = 60
        reg = regtest.Registrar(self.tools, procs, d, label, args, listen=listen,
                                wrapper=wrapper, log_to_file=(logto == "file"))

        def started():
            if not reg.alive():
                return True
            if logto == "null":
                return regtest.udp_bound(port)
            first = reg.first_line(0)
            return first is not None

        regtest.wait_until(started, startup_s)
        if logto == "file" and reg.alive():
            m = regtest.LISTENING.match(reg.first_line(0) or "")
            port = int(m.group(1)) if m else None
        if not reg.alive() or not port or (logto == "null" and not regtest.udp_bound(port)):
            return reg, None
        return reg, port

    def run_step(self, name, rate, calls, notify, logto, profile):
        """One step against a fresh registrar: its figures (pass, why, the
        achieved rate, CPU, socket queues, log counts) for the summary."""
        d = self.work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        log = regtest.Log(d / "registrar.log")
        st = {"pass": False, "why": "", "achieved": None, "retrans": None, "cpu_pct": None,
              "sipp_cpu": None, "us_per_req": None, "log_bytes": 0, "calls": 0, "msg200": 0,
              "logons": 0, "dir": d, "p99": None, "pmax": None, "reg_rxq": None,
              "reg_drops": None, "uac_drops": None}
        say(f"-- {name}: {rate} REGISTER/s, {calls} calls, --notify {notify}, log to {logto}, "
            f"profile {profile}")
        procs = regtest.Processes()
        try:
            return self._run_step(procs, st, d, log, name, rate, calls, notify, logto, profile)
        finally:
            procs.stop_all()

    def _run_step(self, procs, st, d, log, name, rate, calls, notify, logto, profile):
        s = self.s
        uas, uasport, contact_port = None, None, 5060
        if notify == "all":
            uas, uasport = self.start_uas(procs, d)
            if uas is None:
                self.note_error(f"{name}: the SIPp MESSAGE UAS did not start (see {d}/uas.out)")
                st["why"] = "uas did not start"
                self.step_json(st, name, rate, calls, notify, logto, profile)
                return st
            contact_port = uasport

        reg, port = self.start_registrar(procs, d, notify, logto, profile)
        if port is None:
            self.note_error(f"{name}: the registrar did not start "
                            f"({' '.join(map(str, reg.argv))}; log {log.path})")
            st["why"] = "registrar did not start"
            self.step_json(st, name, rate, calls, notify, logto, profile)
            return st

        perf = None
        if profile == "perf":
            with open(d / "perf-record.log", "wb") as out:
                perf = procs.start([s.perf, "record", "-e", "cpu-clock", "-F", s.perf_freq,
                                    "--call-graph", "dwarf", "-o", d / "perf.data", "-p", reg.pid],
                                   stdout=out, stderr=out)
            time.sleep(0.5)

        uacport = regtest.free_port()
        sampler = UdpSampler([port, uacport, uasport])
        sampler.start()
        rcv0 = rcvbuf_errors()
        cpu0 = cpu_ns(reg.pid)
        t0 = time.time()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        uac = self.start_uac(procs, d, rate, calls, port, self.csv,
                             contact_port if notify == "all" else None, uacport)
        sipp_rc = uac.wait()
        t1 = time.time()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sipp_real = t1 - t0
        sipp_cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        (d / "sipp.time").write_text("%.3f %.3f %.3f\n" % (
            sipp_real, ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime))

        # MESSAGEs still in flight: wait for each logon's final answer (or Timer F)
        if notify == "all" and logto == "file":
            def finished():
                expected = log.count(r"^event NOTIFY_LOGON ")
                finals = log.count(r"^message [^ ]+ ([0-9]+|timeout)$")
                return finals >= expected or not reg.alive()
            regtest.wait_until(finished, 40, 0.1)
        cpu1 = cpu_ns(reg.pid)
        t2 = time.time()
        rcv1 = rcvbuf_errors()
        sampler.stop()

        if perf is not None:
            perf.send_signal(signal.SIGINT)
            regtest.wait_exit(perf, 60)
        reg_rc = reg.stop(60 if profile == "callgrind" else 10)
        reg_rc = "timeout" if reg_rc is None else str(reg_rc)
        if uas is not None:
            # Its calls wait out the retransmission window: no need to wait for them
            uas.send_signal(signal.SIGUSR1)
            regtest.wait_exit(uas, 2)

        f = self.uac_figures(d, t1 - t0)
        st["retrans"] = f["retrans"]
        sipp_cpu_pct = 100 * sipp_cpu_s / sipp_real if sipp_real > 0 else None

        # The sockets: peak receive queue (KB of kernel memory) and drops
        reg_rxq, reg_drops = sampler.kb_and_drops(port)
        uac_rxq, uac_drops = sampler.kb_and_drops(uac.port)
        uas_rxq, uas_drops = sampler.kb_and_drops(uasport)
        rcv_errors = rcv1 - rcv0 if rcv0 is not None and rcv1 is not None else None

        # The registrar's figures
        reg_cpu_s = reg_cpu_pct = us_per_req = None
        if cpu0 is not None and cpu1 is not None:
            reg_cpu_s = (cpu1 - cpu0) / 1e9
            if t2 > t0:
                reg_cpu_pct = 100 * round(reg_cpu_s, 3) / (t2 - t0)
            if f["created"]:
                us_per_req = (cpu1 - cpu0) / 1e3 / f["created"]
        counts, log_lines, log_bytes = log_counts(log) if logto == "file" else (
            log_counts(None))

        # Verdict
        why = []
        if reg_rc != "0":
            why.append(f"registrar exit status {reg_rc}")
            self.note_error(f"{name}: the registrar died or did not stop cleanly "
                            f"(exit status {reg_rc}; log {log.path})")
        why += self.uac_verdict(name, d, f, rate, calls, sipp_rc, counts["non200"])
        if notify == "all":
            if counts["logons"] == 0:
                why.append("no NOTIFY_LOGON")
            if counts["msg200"] != counts["logons"]:
                why.append(f"{counts['msg200']}/{counts['logons']} MESSAGEs answered 200 "
                           f"({counts['msgtimeout']} timeouts)")
        if counts["drops"]:
            why.append(f"{counts['drops']} dropped datagrams or MESSAGEs")
        st["pass"] = not why
        st["why"] = "; ".join(why)
        verdict = "PASS" if st["pass"] else f"FAIL ({st['why']})"
        achieved = f["achieved"]
        say_uac(f)
        say(f"   registrar {fmt(reg_cpu_pct)}% CPU, {fmt(us_per_req)} us/REGISTER, socket queue "
            f"peak {opt(reg_rxq)} KB, {opt(reg_drops)} drops; sipp {fmt(sipp_cpu_pct)}% CPU, "
            f"socket queue peak {opt(uac_rxq)} KB, {opt(uac_drops)} drops: {verdict}")

        self.step_json(st, name, rate, calls, notify, logto, profile, {
            **uac_json(f, sipp_cpu_pct),
            "udp": {"registrar_rx_queue_peak_kb": reg_rxq, "registrar_drops": reg_drops,
                    "sipp_rx_queue_peak_kb": uac_rxq, "sipp_drops": uac_drops,
                    "uas_rx_queue_peak_kb": uas_rxq, "uas_drops": uas_drops,
                    "rcvbuf_errors_all_sockets": rcv_errors},
            "registrar": {"exit_status": reg_rc, "cpu_s": fnum(reg_cpu_s, 3),
                          "cpu_pct": fnum(reg_cpu_pct),
                          "cpu_us_per_register": fnum(us_per_req),
                          "log": log_json(counts, log_lines, log_bytes)}})
        st.update(achieved=achieved, us_per_req=fnum(us_per_req), cpu_pct=fnum(reg_cpu_pct),
                  sipp_cpu=fnum(sipp_cpu_pct), p99=f["p99"], pmax=f["pmax"], reg_rxq=reg_rxq,
                  reg_drops=reg_drops, uac_drops=uac_drops, log_bytes=log_bytes,
                  calls=f["created"] or 0, msg200=counts["msg200"], logons=counts["logons"])
        self.trim_log(log, st["pass"])
        return st

    def start_uac(self, procs, d, rate, calls, port, csv, contact_port=None, uacport=None):
        """SIPp as UAC (uac-register.xml) against the registrar on PORT: CALLS
        REGISTERs at RATE from the UEs of CSV, its files in D, which is its
        working directory (-trace_rtt writes its file there, so two at once
        need two directories). CONTACT_PORT: where the Contacts point (the
        UAC's own port when None). UACPORT: SIPp's port (a free one when
        None). A Uac."""
        s = self.s
        uacport = uacport or regtest.free_port()
        limit = calls // rate + s.recv_timeout_ms // 1000 + 60
        argv = regtest.sipp_argv(
            self.tools, UAC_XML, uacport, "-inf", csv, "-buff_size", s.sipp_buff,
            "-key", "contact_port", contact_port or uacport, "-key", "expires", s.expires,
            "-r", rate, "-rp", "1000", "-m", calls, "-l", 2 * rate + 100,
            "-recv_timeout", s.recv_timeout_ms, "-timeout", limit, "-timeout_error",
            "-trace_stat", "-stf", d / "sipp-stat.csv", "-fd", "1",
            "-trace_screen", "-screen_file", d / "sipp-screen.log",
            "-trace_err", "-error_file", d / "sipp-errors.log",
            "-trace_rtt", "-rtt_freq", "1", f"{regtest.LOOPBACK}:{port}")
        out = open(d / "sipp.out", "wb")
        procs.on_stop(out.close)
        return Uac(procs.start(argv, stdout=out, stderr=out, cwd=d), uacport, limit)

    def uac_figures(self, d, wall_s):
        """SIPp's figures for one UAC run in D (WALL_S: its wall time, when its
        statistics have no times): counts, the achieved, send and answer
        rates, the response times."""
        row = stat_row(d / "sipp-stat.csv")
        f = {"created": stat_int(row, "OutgoingCall(C)"),
             "ok": stat_int(row, "SuccessfulCall(C)"),
             "failed": stat_int(row, "FailedCall(C)"),
             "f_timeout": stat_int(row, "FailedTimeoutOnRecv(C)"),
             "f_unexp": stat_int(row, "FailedUnexpectedMessage(C)"),
             "f_retrans": stat_int(row, "FailedMaxUDPRetrans(C)"),
             "retrans": stat_int(row, "Retransmissions(C)")}
        start, cur = stat_epoch(row, "StartTime"), stat_epoch(row, "CurrentTime")
        elapsed = (cur - start) if start is not None and cur is not None and cur > start else None
        if elapsed is None:
            elapsed = wall_s
        achieved = (f["created"] or 0) / elapsed if elapsed > 0 else 0.0
        send_rate = answer_rate = p50 = p99 = pmax = None
        rtts = sorted(glob.glob(str(d / "*_rtt.csv")))
        if rtts:
            send_rate, answer_rate, p50, p99, pmax = rtt_figures(rtts[0])
            if not self.s.keep_logs:
                os.unlink(rtts[0])
        # The step's achieved rate: the lower of the two
        if send_rate is not None and answer_rate is not None:
            achieved = min(round(send_rate, 1), round(answer_rate, 1))
        f.update(elapsed=elapsed, achieved=round(achieved, 1), send_rate=send_rate,
                 answer_rate=answer_rate, p50=p50, p99=p99, pmax=pmax)
        return f

    def uac_verdict(self, name, d, f, rate, calls, sipp_rc, non200, tolerated=0):
        """Why one UAC run at RATE with CALLS does not pass (empty: it does);
        an answer other than 200 (NON200: the log's count) is an error too,
        but for TOLERATED of them (answers the caller counts as overload)."""
        s = self.s
        why = []
        sipp_status = 124 if sipp_rc is None else sipp_rc
        f["exit_status"] = sipp_status
        if f["created"] is None:
            why.append(f"no SIPp statistics (sipp exit status {sipp_status})")
            self.note_error(f"{name}: SIPp gave no statistics (exit status {sipp_status}; "
                            f"see {d}/sipp.out)")
            return why
        if (f["ok"] or 0) != calls:
            why.append(f"{f['ok'] or 0}/{calls} answered 200")
        if f["failed"]:
            why.append(f"{f['failed']} failed calls (timeout {f['f_timeout'] or 0}, max retrans "
                       f"{f['f_retrans'] or 0}, unexpected {f['f_unexp'] or 0})")
        if (f["f_unexp"] or 0) > tolerated or non200 > tolerated:
            self.note_error(f"{name}: the registrar answered other than 200 (SIPp unexpected "
                            f"{f['f_unexp'] or 0}, log non-200 {non200}; "
                            f"see {d}/sipp-errors.log)")
        if not f["achieved"] >= rate * (1 - s.tolerance / 100):
            why.append(f"achieved {f['achieved']}/s")
        if s.max_p99_ms > 0 and f["p99"] is not None and f["p99"] > s.max_p99_ms:
            why.append(f"response p99 {f['p99']} ms > {s.max_p99_ms} ms")
        return why

    def trim_log(self, log, passed):
        """A passing step's log is big and says nothing more than its counts:
        it goes; a failing one's first and last 200 lines stay
        (BENCH_SIP_KEEP_LOGS=1: the whole log stays)."""
        if self.s.keep_logs or not log.path.is_file():
            return
        if not passed:
            lines = log.path.read_bytes().split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            excerpt = lines[:200] + [b"..."] + lines[-200:]
            Path(f"{log.path}.excerpt").write_bytes(b"\n".join(excerpt) + b"\n")
        log.path.unlink()

    def step_json(self, st, name, rate, calls, notify, logto, profile, more=None):
        step = {"name": name, "target_rate": rate, "calls": calls, "notify": notify,
                "log": logto, "profiler": profile, "pass": st["pass"],
                "why": st["why"]}
        step.update(more or {})
        self.steps.append(step)


# ---- where the CPU goes ------------------------------------------------------------


class Parts:
    """Which part of the program a frame is in: osip, libmcreg (the static
    library's symbols, and libcbor), registrar (the rest of the binary),
    libc, kernel, other."""

    SUFFIX = re.compile(r"\.(part|constprop|isra|cold|lto_priv)[.0-9]*.*$")

    def __init__(self, lib_syms, registrar_name):
        self.lib = lib_syms
        self.reg = registrar_name

    def bucket(self, dso, sym):
        dso = dso.rsplit("/", 1)[-1]
        if dso.startswith("libosip"):
            return "osip"
        if dso.startswith("libcbor"):
            return "libmcreg"
        if dso == self.reg:
            lib = sym in self.lib or self.SUFFIX.sub("", sym) in self.lib or sym.startswith("mcreg_")
            return "libmcreg" if lib else "registrar"
        if re.match(r"^(libc|libm|ld-linux)[.-]", dso) or dso.startswith("[vdso"):
            return "libc"
        if "kernel" in dso:
            return "kernel"
        return "other"

    def classify(self, rows):
        """(samples, dso, symbol) rows -> total, per-part sums, per-symbol sums."""
        total, parts, bysym = 0, dict.fromkeys(PARTS, 0), {}
        for n, dso, sym in rows:
            total += n
            b = self.bucket(dso, sym)
            parts[b] += n
            key = (b, dso.rsplit("/", 1)[-1], sym)
            bysym[key] = bysym.get(key, 0) + n
        return total, parts, bysym


def write_split(path, total, parts, bysym):
    with open(path, "w") as f:
        f.write(f"total\t{total}\n")
        for b in PARTS:
            f.write(f"bucket\t{b}\t{parts[b]}\n")
        for (b, dso, sym), n in bysym.items():
            f.write(f"sym\t{n}\t{b}\t{dso}\t{sym}\n")


def call_map(registrar):
    """Return address -> the function a call instruction of the registrar
    calls: names the entry into osip or libmcreg even when the callee
    tail-calls an unnamed static function (perf shows a caller's frame at
    its return address less one)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", registrar],
                         capture_output=True, text=True, errors="replace").stdout
    callee, pending = {}, ""
    insn = re.compile(r"^ *([0-9a-f]+):\t")
    call = re.compile(r"^ *[0-9a-f]+:\tcall +[0-9a-f]+ <([^>]*)>")
    for line in out.splitlines():
        m = insn.match(line)
        if not m:
            continue
        if pending:
            callee[int(m.group(1), 16)] = pending
        pending = ""
        c = call.match(line)
        if c:
            pending = re.sub(r"@plt$", "", c.group(1))
    return callee


def perf_frames(lines):
    """perf script -F ip,sym,dso output -> one list of (dso, symbol, ip) per sample."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        line = line.strip()
        d = re.sub(r"\)[ \t]*$", "", re.sub(r".*\(", "", line))
        s = re.sub(r"^[^ ]+ ", "", line, count=1)
        s = re.sub(r" \([^(]*\)[ \t]*$", "", s)
        s = re.sub(r"\+0x[0-9a-f]+$", "", s)
        if re.fullmatch(r"\[?unknown\]?", d):
            d = "unknown"
        ip = line.split(" ", 1)[0]
        frames.append((d, s, ip))
    if frames:
        yield frames


def _hex(s):
    try:
        return int(s, 16)
    except ValueError:
        return 0


KERNEL_CALLS = [("write (the log)", r"(ksys_write|vfs_write|sys_write)"),
                ("sendto", r"(sendto|sendmsg|udp_send)"),
                ("recvfrom", r"(recvfrom|recvmsg|udp_recv)"),
                ("poll", r"(poll|epoll|select)"),
                ("page faults", r"(page_fault|exc_page)")]


def attribute(samples, parts, callee):
    """Each sample charged to the innermost frame of osip, libmcreg or the
    registrar (so malloc, memcpy and system calls count for their caller);
    the API function through which the registrar entered osip or libmcreg;
    the samples under the registrar's log_* functions; the kernel's samples
    by system call."""
    total = logn = 0
    own, ent, ks = {}, {}, {}
    for frames in samples:
        total += 1
        owner, first, chain, logged, oi = "", "", [], False, None
        for i, (d, s, _) in enumerate(frames):
            if d == "inlined":
                logged = logged or s.startswith("log_")
                continue
            if d == "unknown":
                continue
            b = parts.bucket(d, s)
            first = first or b
            if b == "kernel":
                chain.append(s)
            if b == "registrar" and s.startswith("log_"):
                logged = True
            if not owner and b in ("osip", "libmcreg", "registrar"):
                owner, oi = b, i
        if not owner:
            owner = "unknown" if not first else f"{first} (no caller found)"
        own[owner] = own.get(owner, 0) + 1
        logn += logged
        if owner in ("osip", "libmcreg"):
            entry = frames[oi][1]
            j = oi + 1
            while j < len(frames):
                d, s, _ = frames[j]
                if d not in ("inlined", "unknown"):
                    if parts.bucket(d, s) != owner:
                        break
                    entry = s
                j += 1
            if j < len(frames):
                d, s, ip = frames[j]
                if parts.bucket(d, s) in ("registrar", "libmcreg") and _hex(ip) + 1 in callee:
                    entry = callee[_hex(ip) + 1]
            ent[(owner, entry)] = ent.get((owner, entry), 0) + 1
        if first == "kernel":
            text = " " + " ".join(chain)
            k = next((name for name, rx in KERNEL_CALLS if re.search(rx, text)), "other")
            ks[k] = ks.get(k, 0) + 1
    return {"total": total, "log": logn, "owner": own, "entry": ent, "kernel": ks}


def write_attribution(path, a):
    with open(path, "w") as f:
        f.write(f"total\t{a['total']}\nlog\t{a['log']}\n")
        for k, n in a["owner"].items():
            f.write(f"owner\t{k}\t{n}\n")
        for (part, fn), n in a["entry"].items():
            f.write(f"entry\t{part}\t{fn}\t{n}\n")
        for k, n in a.get("kernel", {}).items():
            f.write(f"kernel\t{k}\t{n}\n")


def cg_lines(text):
    """callgrind_annotate output -> (cost, object, function) rows."""
    for line in text.splitlines():
        if not re.match(r"^ *[0-9][0-9,]* ", line) or " [" not in line:
            continue
        n = int(line.split()[0].replace(",", ""))
        obj = re.sub(r"\].*", "", re.sub(r".*\[", "", line))
        fn = re.sub(r"^ *[0-9,]+ +(\([^)]*\) +)?", "", line)
        fn = re.sub(r" *\[.*", "", fn)
        fn = re.sub(r"^[^:]*:", "", fn)
        yield n, obj.rsplit("/", 1)[-1], fn


def pct(n, t):
    return round(100 * n / t, 1) if t > 0 else 0


# ---- the run --------------------------------------------------------------------------


def main(argv):
    if len(argv) != 2 or not argv[1].rstrip("/"):
        print(f"usage: {argv[0]} BUILDDIR", file=sys.stderr)
        return 2
    s = Settings(argv[1].rstrip("/"))
    b = Bench(s)
    say(f"bench-sip: {s.ues} UEs ({s.ues // 2} users), rates: {' '.join(map(str, s.rates))}; "
        f"{s.step_seconds}s a step (at least one REGISTER per UE); registrar {s.registrar}; "
        f"SIPp {b.sipp_version or '?'}")

    # ---- 1. the ramp (--notify none)
    passed, best, best_retrans, best_info = [], 0, None, ""
    ceiling, ceiling_why, lowest_failed = None, "", False
    step_us, step_log_bytes, step_calls = {}, {}, {}
    for i, rate in enumerate(s.rates):
        st = b.run_step(f"none-{rate}", rate, b.calls_for(rate, s.step_seconds), "none", "file", "none")
        step_us[rate], step_log_bytes[rate], step_calls[rate] = (st["us_per_req"],
                                                                  st["log_bytes"], st["calls"])
        if st["pass"]:
            best, best_retrans = rate, st["retrans"]
            passed.append(rate)
            best_info = (f"response p99/max {opt(st['p99'])}/{opt(st['pmax'])} ms, registrar "
                         f"{opt(st['cpu_pct'])}% of a core, SIPp {opt(st['sipp_cpu'])}%")
        else:
            lowest_failed = i == 0
            ceiling = rate
            ceiling_why = (f"{st['why']} (registrar {opt(st['cpu_pct'])}% of a core, socket queue "
                           f"peak {opt(st['reg_rxq'])} KB, {opt(st['reg_drops'])} drops; SIPp "
                           f"{opt(st['sipp_cpu'])}%, {opt(st['uac_drops'])} drops; "
                           f"{opt(st['retrans'])} retransmissions, response p99/max "
                           f"{opt(st['p99'])}/{opt(st['pmax'])} ms)")
            break
    if lowest_failed:
        b.note_error(f"the lowest rate ({ceiling}/s) failed: {ceiling_why}")

    # ---- 2. --notify all
    # One pass over the UEs: every REGISTER creates a binding, and each user's
    # second UE brings two MESSAGEs (to itself and to the first), so the
    # registrar does more per REGISTER than in the ramp. First at the highest
    # sustained rate; when that fails, at most two lower rates: the passing
    # ramp rates at or below half of it, highest first.
    notify_json, n = None, None
    if s.notify_step and best > 0:
        n_rates = s.notify_rate[:1] or [best] + sorted(
            (r for r in passed if 2 * r <= best), reverse=True)[:2]
        n = {"pass": False, "rate": 0, "retrans": None, "msgs": 0, "logons": 0, "fails": []}
        for nrate in n_rates:
            st = b.run_step(f"all-{nrate}", nrate, s.ues, "all", "file", "none")
            n.update(rate=nrate, retrans=st["retrans"], msgs=st["msg200"], logons=st["logons"])
            if st["pass"]:
                n["pass"] = True
                break
            n["fails"].append(f"{nrate}/s: {st['why']} (registrar {opt(st['cpu_pct'])}% of a core, "
                              f"SIPp {opt(st['sipp_cpu'])}%)")
        notify_json = {"rate": n["rate"], "pass": n["pass"], "registers": s.ues,
                       "messages_answered_200": n["msgs"], "notify_logon_events": n["logons"],
                       "retransmissions": n["retrans"], "failed": "; ".join(n["fails"])}

    # The rate of the log and profile steps: the highest passing rate of the
    # ramp at or below half the highest sustained one (the lowest passing rate
    # if none): the registrar busy, with room left for perf's own cost
    prate = s.profile_rate[0] if s.profile_rate else 0
    if prate == 0:
        for r in passed:
            if prate == 0:
                prate = r
            if 2 * r <= best and r > prate:
                prate = r

    # ---- 3. what the log costs
    log_json, log_fig = None, {}
    if s.log_step and prate > 0:
        if step_us.get(prate) is None:  # a rate the ramp did not run
            st = b.run_step(f"none-{prate}", prate, b.calls_for(prate, s.step_seconds), "none",
                            "file", "none")
            step_us[prate], step_log_bytes[prate], step_calls[prate] = (st["us_per_req"],
                                                                        st["log_bytes"],
                                                                        st["calls"])
        st = b.run_step(f"none-{prate}-nolog", prate, b.calls_for(prate, s.step_seconds), "none",
                        "null", "none")
        file_us, null_us = step_us.get(prate), st["us_per_req"]
        calls = step_calls.get(prate) or 0
        bpr = round(step_log_bytes.get(prate, 0) / calls) if calls > 0 else None
        share = (100 * (file_us - null_us) / file_us
                 if file_us and file_us > 0 and null_us is not None else None)
        log_fig = {"file_us": file_us, "null_us": null_us, "bpr": bpr, "share": fnum(share)}
        log_json = {"rate": prate, "cpu_us_per_register_log_file": fnum(file_us),
                    "cpu_us_per_register_log_devnull": fnum(null_us),
                    "log_file_share_pct": fnum(share), "log_bytes_per_register": bpr}

    # ---- 4. the CPU split
    tool = s.profiler
    if tool in ("auto", "perf"):
        probe = b.work / "perf-probe.data"
        can = shutil.which(s.perf) and subprocess.run(
            [s.perf, "record", "-e", "cpu-clock", "--call-graph", "dwarf", "-o", probe, "--",
             "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if can:
            tool = "perf"
        elif tool == "perf":
            b.note_error("perf cannot record here (perf_event_paranoid, or no perf)")
            tool = "none"
        else:
            tool = "callgrind"
        probe.unlink(missing_ok=True)
    if tool == "callgrind" and not shutil.which(s.valgrind):
        if s.profiler == "callgrind":
            b.note_error("no valgrind")
        tool = "none"
    if best <= 0:
        tool = "none"
    profile = profile_split(b, s, tool, prate) if tool != "none" else None

    # ---- report
    report = {
        "benchmark": "bench-sip", "quick": s.quick, "registrar": str(s.registrar),
        "registrar_sha256": hashlib.sha256(b.registrar.read_bytes()).hexdigest(),
        "sipp_version": b.sipp_version, "ues": s.ues, "users": s.ues // 2, "rates": s.rates,
        "step_seconds": s.step_seconds, "tolerance_pct": s.tolerance,
        "max_p99_ms": s.max_p99_ms, "expires": s.expires, "sipp_buffer_bytes": s.sipp_buff,
        "net_core_rmem_max": _read_int("/proc/sys/net/core/rmem_max"),
        "highest_sustained_rate": best, "highest_sustained_retransmissions": best_retrans,
        "first_failing_step": {"rate": ceiling, "why": ceiling_why} if ceiling else None,
        "notify_all": notify_json, "logging": log_json,
        "profile": profile["json"] if profile else None,
        "errors": b.errors, "error_text": "; ".join(b.error_text), "steps": b.steps,
    }
    out = s.builddir / "bench-sip.json"
    tmp = Path(f"{out}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out)

    print()
    print(f"== bench-sip: mcreg-registrar under SIPp REGISTER load, {s.ues} UEs / {s.ues // 2} "
          "users, loopback UDP")
    if best > 0:
        print(f"highest sustained rate (--notify none, log to a file): {best} REGISTER/s, "
              f"{opt(best_retrans)} SIPp retransmissions")
        print(f"  ({best_info})")
    else:
        print("highest sustained rate: none (the lowest rate failed)")
    if ceiling:
        print(f"first failing step: {ceiling}/s: {ceiling_why}")
    else:
        print(f"every rate of the ramp passed: the ceiling is above {best}/s "
              "(add higher BENCH_SIP_RATES)")
    if notify_json is not None:
        if n["pass"]:
            print(f"--notify all: {n['rate']} REGISTER/s over {s.ues} new UEs passed, {n['msgs']} "
                  f"logon MESSAGEs answered 200, {opt(n['retrans'])} retransmissions")
        else:
            print("--notify all: no rate passed")
        if n["fails"]:
            print(f"  failed at {'; '.join(n['fails'])}")
    if log_json is not None:
        print(f"log at {prate}/s: {opt(log_fig['file_us'])} us CPU per REGISTER with the log in a "
              f"file, {opt(log_fig['null_us'])} us to /dev/null ({opt(log_fig['share'])}% of it), "
              f"{opt(log_fig['bpr'])} log bytes per REGISTER")
    if profile and profile["text"]:
        print()
        print(profile["text"], end="")
    else:
        print(f"CPU split: not measured (profiler: {tool})")
    print(f"figures: {out}; step files: {b.work}/")
    sys.stdout.flush()
    if b.errors:
        say(f"bench-sip: {b.errors} error(s): {'; '.join(b.error_text)}")
        return 1
    return 0


def _read_int(path):
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def profile_split(b, s, tool, prate):
    """The profile step and its analysis: {"json": ..., "text": the summary's
    CPU split}, or None when it gave no samples."""
    parts = Parts(b.lib_syms, b.registrar.name)
    if tool == "perf":
        st = b.run_step(f"profile-perf-{prate}", prate, b.calls_for(prate, s.profile_seconds),
                        "none", "file", "perf")
        pdir, p_rate = st["dir"], prate
        # Self samples per (dso, symbol)
        with open(pdir / "perf-report.txt", "w") as out, open(pdir / "perf-report.err", "w") as err:
            subprocess.run([s.perf, "report", "-i", pdir / "perf.data", "--no-children", "--sort",
                            "dso,sym", "-g", "none", "--stdio", "-n", "--percent-limit", "0"],
                           stdout=out, stderr=err)
        rows = []
        for line in (pdir / "perf-report.txt").read_text(errors="replace").splitlines():
            f = line.split()
            if line.startswith("#") or len(f) < 5 or not f[1].isdigit():
                continue
            rows.append((int(f[1]), f[2], " ".join(f[4:])))
        total, bparts, bysym = parts.classify(rows)
        callee = call_map(b.registrar)
        with open(pdir / "perf-script.err", "w") as err:
            script = subprocess.Popen([s.perf, "script", "-i", pdir / "perf.data", "-F",
                                       "ip,sym,dso"], stdout=subprocess.PIPE, stderr=err,
                                      text=True, errors="replace")
            attr = attribute(perf_frames(script.stdout), parts, callee)
            script.wait()
        p_tool = (f"perf record -e cpu-clock -F {s.perf_freq} --call-graph dwarf -p PID; "
                  "perf report --no-children --sort dso,sym --stdio; perf script")
    else:
        st = b.run_step(f"profile-callgrind-{s.callgrind_rate}", s.callgrind_rate,
                        s.callgrind_calls, "none", "file", "callgrind")
        pdir, p_rate = st["dir"], s.callgrind_rate
        # Instructions per function and object; the kernel is not seen
        def annotate(inclusive, name):
            with open(pdir / "callgrind-annotate.err", "a") as err:
                text = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}",
                                       "--threshold=100", pdir / "callgrind.out"],
                                      stdout=subprocess.PIPE, stderr=err, text=True,
                                      errors="replace").stdout
            (pdir / name).write_text(text)
            return text
        total, bparts, bysym = parts.classify(cg_lines(annotate("no", "callgrind-self.txt")))
        # Inclusive costs of the osip and libmcreg functions the registrar calls, and of its log
        nm = subprocess.run(["nm", "-u", b.registrar], capture_output=True, text=True).stdout
        api = {re.sub(r"@.*", "", f[1]) for f in (line.split() for line in nm.splitlines())
               if len(f) == 2 and f[0] == "U" and f[1].startswith("osip_")}
        attr = {"total": total, "log": 0, "owner": {}, "entry": {}}
        for cost, obj, fn in cg_lines(annotate("yes", "callgrind-inclusive.txt")):
            part = parts.bucket(obj, fn)
            if (part == "osip" and fn in api) or (part == "libmcreg" and re.match(r"^mcreg_[a-z]", fn)):
                attr["entry"][(part, fn)] = cost
            elif part == "registrar" and fn.startswith("log_"):
                attr["log"] += cost
        p_tool = ("valgrind --tool=callgrind; callgrind_annotate --inclusive=no / --inclusive=yes "
                  "(instructions; the kernel is not seen)")
    write_split(pdir / "split.txt", total, bparts, bysym)
    write_attribution(pdir / "attribution.txt", attr)
    if total <= 0:
        b.note_error(f"the {tool} profile gave no samples (see {pdir})")
        return None
    return profile_report(tool, p_tool, p_rate, st, total, bparts, bysym, attr)


def profile_report(tool, p_tool, p_rate, st, total, bparts, bysym, attr):
    """The profile's JSON and the summary's CPU split."""
    a_total = attr["total"]
    top = sorted(bysym.items(), key=lambda kv: -kv[1])[:20]
    owners = sorted(attr["owner"].items(), key=lambda kv: -kv[1])
    entries = sorted(attr["entry"].items(), key=lambda kv: -kv[1])[:12]
    kernel = sorted(attr.get("kernel", {}).items(), key=lambda kv: -kv[1])
    log_incl = pct(attr["log"], a_total) if a_total > 0 else None
    prof = {
        "tool": tool, "command": p_tool, "rate": p_rate, "step_passed": st["pass"],
        "registrar_cpu_pct": st["cpu_pct"], "samples": total,
        "unit": "cpu-clock samples" if tool == "perf" else "instructions",
        "self_pct": {p: pct(bparts[p], total) for p in PARTS},
        "by_caller_pct": {k: pct(v, a_total) for k, v in owners} if a_total > 0 else {},
        "entry_points_pct": ([{"pct": pct(v, a_total), "part": part, "function": fn}
                              for (part, fn), v in entries] if a_total > 0 else []),
        "kernel_by_syscall_pct": {k: pct(v, a_total) for k, v in kernel} if a_total > 0 else {},
        "log_inclusive_pct": log_incl,
        "top_self_symbols": [{"pct": pct(v, total), "bucket": bk, "dso": dso, "symbol": sym}
                             for (bk, dso, sym), v in top],
    }
    out = []
    if tool == "perf":
        out.append(f"CPU split: perf (cpu-clock, DWARF call chains), --notify none at {p_rate} "
                   f"REGISTER/s, registrar at {opt(st['cpu_pct'])}% of a core, {total} samples")
    else:
        out.append(f"CPU split: callgrind (instructions; system calls not seen), --notify none at "
                   f"{p_rate} REGISTER/s, {total} instructions")
    own = {}
    for k, v in attr["owner"].items():
        k = re.sub(r" \(no caller found\)$", "", k)
        own[k] = own.get(k, 0) + v
    names = {"osip": "osip (libosipparser2)", "libmcreg": "libmcreg (+ libcbor)",
             "registrar": "registrar code", "libc": "libc", "kernel": "kernel", "other": "other"}
    by_caller = tool == "perf" and a_total > 0
    out.append("  %-24s %8s %14s" % ("part", "self", "with callees") if by_caller
               else "  %-24s %8s" % ("part", "self"))
    for p in PARTS:
        if p == "other" and bparts[p] == 0 and own.get(p, 0) == 0:
            continue
        if p == "kernel" and tool != "perf":
            continue
        if by_caller:
            out.append("  %-24s %7.1f%% %13.1f%%" % (names[p], 100 * bparts[p] / total,
                                                     100 * own.get(p, 0) / a_total))
        else:
            out.append("  %-24s %7.1f%%" % (names[p], 100 * bparts[p] / total))
    if by_caller and own.get("unknown", 0) > 0:
        out.append("  %-24s %8s %13.1f%%" % ("no frame", "", 100 * own["unknown"] / a_total))
    entry_lines = ["  %6s%%  %-9s %s" % (pct(v, a_total), part, fn) for (part, fn), v in entries]
    if tool == "perf":
        out.append("  (self: samples in the part's own code; with callees: each sample charged to "
                   "the innermost")
        out.append("   osip, libmcreg or registrar frame of its call chain, so malloc, string "
                   "functions and system")
        out.append("   calls count for their caller; libc/kernel keep only samples with no such "
                   "frame)")
        if kernel and a_total > 0:
            out.append("kernel samples by system call (share of all samples):")
            out += ["  %-32s %6s%%" % (k, pct(v, a_total)) for k, v in kernel]
        if log_incl is not None:
            out.append(f"under the registrar's log_* functions (formatting and write): "
                       f"{log_incl}% of all samples")
        if entry_lines and a_total > 0:
            out.append("where the registrar enters osip and libmcreg (share of all samples, "
                       "with callees):")
            out += entry_lines
    else:
        if log_incl is not None:
            out.append(f"inclusive cost of the registrar's log_* functions: {log_incl}% of all "
                       "instructions")
        if entry_lines and a_total > 0:
            out.append("inclusive cost of osip and libmcreg API functions (nested calls overlap):")
            out += entry_lines
    out.append("top symbols (self):")
    out += ["  %6s%%  %-10s %s (%s)" % (pct(v, total), bk, sym, dso)
            for (bk, dso, sym), v in top[:12]]
    return {"json": prof, "text": "\n".join(out) + "\n"}


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
