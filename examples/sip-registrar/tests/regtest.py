"""Processes, ports and logs for the registrar's tests and its load bench.

Everything here runs on loopback only. Ports are the kernel's choice: the
registrar binds 127.0.0.1:0 and names its port in its first log line; the
SIPp UEs and redis-server get a port the kernel handed to a socket that was
closed again (another one when the program then fails to bind it).

Used by conftest.py (the fixtures of the pytest suite) and by
../bench/bench.py (the REGISTER load bench).
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LOOPBACK = "127.0.0.1"

# SIPp's exit status when it cannot bind its port
SIPP_BIND_FAILED = 254


class TestFailure(AssertionError):
    """A check of a scenario failed."""


def fail(message):
    raise TestFailure(message)


# ---- ports -------------------------------------------------------------------


def free_port(kind=socket.SOCK_DGRAM):
    """A loopback port the kernel just handed out (and took back)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _udp_sockets():
    """(local address as in /proc/net/udp, its fields) for each IPv4 UDP socket."""
    try:
        with open("/proc/net/udp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return []
    out = []
    for row in rows:
        fields = row.split()
        if len(fields) >= 10:
            out.append((fields[1], fields))
    return out


def _hex_addr(port):
    return "0100007F:%04X" % port


def udp_bound(port, pid=None):
    """127.0.0.1:PORT is bound by a UDP socket (of PID, when given)."""
    want = _hex_addr(port)
    inodes = _socket_inodes(pid) if pid is not None else None
    for laddr, fields in _udp_sockets():
        if laddr == want and (inodes is None or fields[9] in inodes):
            return True
    return False


def udp_queue(ports):
    """{port: (rx queue bytes, drops)} for the loopback UDP sockets on PORTS."""
    want = {_hex_addr(p): p for p in ports}
    out = {}
    for laddr, fields in _udp_sockets():
        if laddr in want:
            rx = int(fields[4].split(":")[1], 16)
            drops = int(fields[12]) if len(fields) > 12 else 0
            out[want[laddr]] = (rx, drops)
    return out


def send_datagram(port, data):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, (LOOPBACK, port))


# ---- processes ---------------------------------------------------------------


class Processes:
    """The processes a test (or a bench step) started; stop_all() ends
    those still running: SIGTERM, then SIGKILL."""

    def __init__(self):
        self.procs = []
        self.cleanups = []

    def on_stop(self, fn):
        """FN() runs at stop_all, after the processes are stopped."""
        self.cleanups.append(fn)

    def start(self, argv, stdout=None, stderr=None, cwd=None, env=None):
        proc = subprocess.Popen([str(a) for a in argv], stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        running = [p for p in self.procs if p.poll() is None]
        for p in running:
            p.terminate()
        deadline = time.monotonic() + 0.3
        for p in running:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        for fn in self.cleanups:
            fn()
        self.cleanups = []


# ---- what a process costs (from /proc, never the wall clock) ---------------------

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of PID, in seconds (/proc/PID/stat; a tick is 1/TICKS s)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid, field):
    """A field of /proc/PID/status in kB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    fail(f"no {field} in /proc/{pid}/status")


def wait_exit(proc, seconds):
    """PROC's exit status; None after killing it when it outlives SECONDS."""
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def alive(proc):
    return proc.poll() is None


def wait_until(predicate, seconds, step=0.05):
    """Polls PREDICATE until true (its value) or SECONDS pass (None)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


# ---- the registrar -----------------------------------------------------------


# How much more CPU a registrar built with ASan + UBSan (make SANITIZE=1)
# takes than the normal build: the CPU bounds of the tests are multiplied
# by it (measured: 2 to 5 times).
SANITIZER_CPU_FACTOR = 5
# ASan's redzones and shadow take memory beside each allocation: memory
# bounds are multiplied by this (with ASan's quarantine of freed blocks
# turned off, see Tools.memory_env).
SANITIZER_MEMORY_FACTOR = 2


class Tools:
    """The programs under test, from a build directory (build, build/asan).
    sanitized: the registrar is an ASan build ($MCREG_SANITIZE=1 says so
    too, 0 says not); cpu_factor is what a CPU bound is scaled by."""

    def __init__(self, builddir, sipp=None):
        self.builddir = Path(builddir).resolve()
        self.registrar = self.builddir / "examples" / "mcreg-registrar"
        self.dump = self.builddir / "examples" / "mcreg-dump"
        self.jen_collide = self.builddir / "examples" / "jen-collide"
        self.sipp = sipp or os.environ.get("SIPP", "sipp")
        self.sanitized = _sanitized(self.registrar)
        self.cpu_factor = SANITIZER_CPU_FACTOR if self.sanitized else 1
        self.memory_factor = SANITIZER_MEMORY_FACTOR if self.sanitized else 1

    def memory_env(self):
        """The environment of a registrar whose memory a test measures: for
        an ASan build, no quarantine (ASan keeps freed blocks aside, 256 MB
        of them by default, which the peak would count as the registrar's);
        else None (the test's own)."""
        if not self.sanitized:
            return None
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                      "quarantine_size_mb=0"]))
        return env

    def missing(self, need_dump=True):
        """What is not there, as lines that say how to get it."""
        out = []
        if not os.access(self.registrar, os.X_OK):
            out.append(f"{self.registrar} (make examples)")
        if need_dump and not os.access(self.dump, os.X_OK):
            out.append(f"{self.dump} (make examples)")
        if not _on_path(self.sipp):
            out.append(f"{self.sipp} (Debian package sip-tester)")
        return out


def _sanitized(binary):
    """BINARY was linked with AddressSanitizer (its runtime's entry point is
    in it), unless $MCREG_SANITIZE says otherwise."""
    forced = os.environ.get("MCREG_SANITIZE", "")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return b"__asan_init" in Path(binary).read_bytes()
    except OSError:
        return False


def _on_path(prog):
    if "/" in prog:
        return os.access(prog, os.X_OK)
    return any(os.access(Path(d) / prog, os.X_OK)
               for d in os.environ.get("PATH", "").split(os.pathsep) if d)


LISTENING = re.compile(r"^listening udp 127\.0\.0\.1:([0-9]+)$")


class Log:
    """A log file read as lines (matched with Python regular expressions)."""

    def __init__(self, path):
        self.path = Path(path)

    def lines(self):
        try:
            text = self.path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return []
        return text.splitlines()

    def size(self):
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def text_from(self, offset):
        """What was written from byte OFFSET on."""
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def count(self, pattern):
        rx = re.compile(pattern)
        return sum(1 for line in self.lines() if rx.search(line))

    def matching(self, pattern):
        rx = re.compile(pattern)
        return [line for line in self.lines() if rx.search(line)]

    def has_line(self, line):
        return line in self.lines()

    def wait(self, pattern, want=1, seconds=5):
        """Until WANT lines match PATTERN; False when SECONDS pass first."""
        return bool(wait_until(lambda: self.count(pattern) >= want, seconds))


class Registrar:
    """mcreg-registrar on 127.0.0.1 (port 0 unless LISTEN names one): its
    stderr log in DIR/LABEL.log, its stdout in DIR/LABEL.stdout."""

    def __init__(self, tools, procs, workdir, label, args, listen=f"{LOOPBACK}:0",
                 wrapper=(), log_to_file=True, env=None):
        self.label = label
        self.args = list(args)
        self.log = Log(Path(workdir) / f"{label}.log")
        self.port = None
        self.argv = argv = [*wrapper, tools.registrar, "--listen", listen, *self.args]
        self.stdout_path = Path(workdir) / f"{label}.stdout"
        with open(self.stdout_path, "wb") as out:
            if log_to_file:
                with open(self.log.path, "wb") as err:
                    self.proc = procs.start(argv, stdout=out, stderr=err, cwd=workdir, env=env)
            else:
                self.proc = procs.start(argv, stdout=out, stderr=subprocess.DEVNULL, cwd=workdir,
                                        env=env)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return alive(self.proc)

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def status_kb(self, field):
        return status_kb(self.pid, field)

    def first_line(self, seconds=10):
        """The first complete log line, or None when there is none in SECONDS
        (or the registrar exits first)."""
        def first():
            try:
                data = self.log.path.read_bytes()
            except OSError:
                data = b""
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode("utf-8", "replace")
            if not self.alive():
                return ""
            return None
        line = wait_until(lambda: first() is not None, seconds) and first()
        return line or None

    def listening_port(self, seconds=10, soft=None):
        """Reads the port from the first log line, 'listening udp
        127.0.0.1:PORT'. Another first line is a soft failure (when SOFT
        collects them) and the listening line is looked for further down."""
        first = self.first_line(seconds)
        if first is None:
            state = "running" if self.alive() else "exited"
            fail(f"{self.label}: no first log line (registrar {state})")
        line = first
        if not LISTENING.match(first):
            message = (f"{self.label}: first log line is '{first}', "
                       "want 'listening udp 127.0.0.1:PORT'")
            if soft is None:
                fail(message)
            soft.fail(message)
            self.log.wait(r"^listening udp ", 1, 5)
            found = self.log.matching(r"^listening udp ")
            line = found[0] if found else ""
        m = LISTENING.match(line)
        if not m:
            fail(f"{self.label}: listening line is '{line}', want 'listening udp 127.0.0.1:PORT'")
        self.port = int(m.group(1))
        if self.port == 0:
            fail(f"{self.label}: listening on port 0")
        return self.port

    def stop(self, seconds=10):
        """SIGTERM; the exit status (None when it outlives SECONDS)."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        return wait_exit(self.proc, seconds)


# ---- SIPp ----------------------------------------------------------------------


def sipp_argv(tools, xml, port, *args):
    return [tools.sipp, "-sf", xml, "-i", LOOPBACK, "-p", str(port), "-nostdin", *args]


# ---- mcreg-dump ------------------------------------------------------------------


class Dump:
    """mcreg-dump's JSON lines for one snapshot: the records (lines with a
    "ue") in snapshot order, and the raw text."""

    def __init__(self, path):
        self.path = Path(path)
        self.text = self.path.read_text()
        self.lines = [json.loads(line) for line in self.text.splitlines() if line.strip()]
        self.records = [r for r in self.lines if "ue" in r]

    def record(self, ue_id):
        found = [r for r in self.records if r["ue"] == ue_id]
        if len(found) != 1:
            fail(f"{self.path.name}: want one record for UE {ue_id}, have: {self.text}")
        return found[0]

    def expect_ues(self, *ue_ids):
        """The records are exactly those of these UEs."""
        if len(self.records) != len(ue_ids):
            fail(f"{self.path.name}: {len(self.records)} record(s), want {len(ue_ids)} "
                 f"({' '.join(ue_ids)}): {self.text}")
        for u in ue_ids:
            self.record(u)


def run_dump(tools, snapshot, out):
    """mcreg-dump SNAPSHOT into OUT; a Dump."""
    out = Path(out)
    with open(out, "wb") as o, open(f"{out}.err", "wb") as e:
        st = subprocess.run([tools.dump, snapshot], stdout=o, stderr=e).returncode
    if st != 0:
        fail(f"mcreg-dump {snapshot}: status {st}: {Path(f'{out}.err').read_bytes()[:300]!r}")
    return Dump(out)


def dump_error(tools, snapshot):
    """The library's error for SNAPSHOT, as mcreg-dump words it
    ("mcreg-dump: FILE: ERROR: DETAIL", DETAIL being mcreg_error_detail's):
    ERROR, or "" when it reads it."""
    r = subprocess.run([tools.dump, snapshot], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    text = r.stderr.decode("utf-8", "replace").rstrip("\n")
    prefix = f"mcreg-dump: {snapshot}: "
    if not text.startswith(prefix):
        return ""
    return text[len(prefix):].split(": ", 1)[0]


# ---- redis-server (the cluster's shared store) ----------------------------------------


class RedisServer:
    """redis-server on a kernel-chosen loopback TCP port, its files in
    WORKDIR: with no persistence (--save '' --appendonly no), or with
    APPENDONLY its append-only file there (a restart reads it back). The
    cluster tests stop it (SIGSTOP, SIGCONT), kill it and restart it on the
    same port."""

    def __init__(self, procs, workdir, program="redis-server", tries=5, appendonly=False):
        self.procs = procs
        self.program = program
        self.appendonly = appendonly
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = Log(self.workdir / "redis.log")
        self.proc = None
        for _ in range(tries):
            self.port = free_port(socket.SOCK_STREAM)
            if self._launch():
                return
        fail(f"redis-server did not start: {self._log_tail()}")

    @property
    def address(self):
        """HOST:PORT, as --redis takes it."""
        return f"{LOOPBACK}:{self.port}"

    def _launch(self):
        """Starts it on self.port; True once it answers PING (False when it
        exits first, say another process took the port)."""
        # appendfsync always: every reply's write is on disk before the reply
        # (what a test that kills Redis and wants nothing lost relies on)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly \
            else ["--appendonly", "no"]
        argv = [self.program, "--port", self.port, "--bind", LOOPBACK, "--save", "",
                *persistence, "--dir", self.workdir]
        with open(self.log.path, "ab") as out:
            self.proc = self.procs.start(argv, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.workdir)
        if wait_until(lambda: not alive(self.proc) or self._answers(), 10) and alive(self.proc):
            return True
        wait_exit(self.proc, 1)
        return False

    def _log_tail(self):
        return self.log.path.read_text(errors="replace")[-500:]

    def pause(self):
        """SIGSTOP: its sockets stay open, nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        """SIGKILL (what it holds in memory alone is gone)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        """A new redis-server on the same port (and files): empty without
        appendonly, what its append-only file holds with it."""
        if self.proc is not None and alive(self.proc):
            fail("redis-server restarted while running")
        if not self._launch():
            fail(f"redis-server did not start again on port {self.port}: {self._log_tail()}")

    def command(self, *words):
        """One command (RESP array of bulk strings); the reply's first line."""
        with socket.create_connection((LOOPBACK, self.port), timeout=5) as s:
            s.sendall(_resp_command(words))
            reply = b""
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.split(b"\r\n", 1)[0].decode("utf-8", "replace")

    def query(self, *words):
        """One command; its whole reply as Python values (bytes for bulk
        strings, int, list, None; an error reply raises TestFailure)."""
        with socket.create_connection((LOOPBACK, self.port), timeout=5) as s:
            s.sendall(_resp_command(words))
            return _RespReader(s).value()

    def _answers(self):
        try:
            return self.command("PING") == "+PONG"
        except OSError:
            return False


def _resp_command(words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w if isinstance(w, bytes) else str(w).encode()
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out


class _RespReader:
    """A RESP2 reply read from a socket (the test's own server: trusted)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            fail("redis-server closed the connection mid-reply")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def value(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            fail(f"redis-server: {rest.decode('utf-8', 'replace')}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._bytes(int(rest))
        if kind == b"*":
            return None if int(rest) < 0 else [self.value() for _ in range(int(rest))]
        fail(f"redis-server: a reply line {line[:60]!r}")


# ---- SIPp register load whose 200s are recorded ------------------------------------

REGISTER_LOAD_XML = HERE.parent / "bench" / "uac-register.xml"


def load_instance(i):
    """The +sip.instance (without urn:uuid:) of load UE number I."""
    return "00000000-0000-4000-8000-%012d" % i


class SippRegisterLoad:
    """SIPp sends REGISTERs of UEs ueFIRST.. (UES of them, one user each,
    from the first again when CALLS is more: a refresh) at RATE a second,
    CALLS in all, with -trace_msg: the 200s it received are read back from
    its message file (received_200s), so that a test checks what the UEs
    were told, not what the registrar says it did. A call with no answer
    fails after RECV_TIMEOUT ms (the registrar killed). EXPIRES 0 makes
    each REGISTER a removal."""

    def __init__(self, tools, procs, workdir, label, registrar_port, ues, rate, calls,
                 recv_timeout=1000, expires=3600, first=0):
        d = Path(workdir)
        self.label = label
        self.csv = d / f"{label}.csv"
        lines = ["SEQUENTIAL"]
        lines += ["user%06d;ue%06d;%s" % (i, i, load_instance(i))
                  for i in range(first, first + ues)]
        self.csv.write_text("\n".join(lines) + "\n")
        self.messages = d / f"{label}.messages"
        port = free_port()
        argv = sipp_argv(tools, REGISTER_LOAD_XML, port, f"{LOOPBACK}:{registrar_port}",
                         "-inf", self.csv, "-r", str(rate), "-m", str(calls),
                         "-recv_timeout", str(recv_timeout), "-key", "contact_port", str(port),
                         "-key", "expires", str(expires),
                         "-trace_msg", "-message_file", self.messages,
                         "-trace_err", "-error_file", d / f"{label}.errors")
        self.out = open(d / f"{label}.out", "wb")
        procs.on_stop(self.out.close)
        self.proc = procs.start(argv, stdout=self.out, stderr=self.out, cwd=d)

    def wait(self, seconds):
        """SIPp's exit status (None when still running after SECONDS)."""
        return wait_exit(self.proc, seconds)

    def received_200s(self):
        """The UE numbers SIPp received a 200 for (their Contact's user)."""
        try:
            text = self.messages.read_bytes().decode("latin-1")
        except OSError:
            return set()
        got = set()
        for block in re.split(r"^-{20,}.*$", text, flags=re.M):
            if "message received" not in block:
                continue
            body = block.split("message received", 1)[1]
            if not re.search(r"^SIP/2\.0 200 ", body, re.M):
                continue
            m = re.search(r"^Contact:\s*<sip:ue(\d+)@", body, re.M | re.I)
            if m:
                got.add(int(m.group(1)))
        return got
