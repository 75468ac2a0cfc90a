"""Shared helpers of the hostile-traffic reproductions (examples/sip-registrar/repro/).

Each NN_*.py script starts its own registrar on a kernel-chosen loopback port,
sends it hostile traffic over 127.0.0.1 only, and exits 0 when the bound it
checks holds (1 when it does not, 2 when it could not run). The registrar is
build/examples/mcreg-registrar, or the path in $MCREG_REGISTRAR, or argv[1].

Costs are read from /proc (utime + stime of the registrar, VmRSS), never from
the wall clock, so that a busy machine does not fail a script.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TICK = os.sysconf("SC_CLK_TCK")
AOR = "sip:alice@mcptt.example"


def registrar_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get("MCREG_REGISTRAR",
                          os.path.join(ROOT, "build", "examples", "mcreg-registrar"))


class Failed(Exception):
    pass


SOFT_FAILED = []


def check(cond, what, soft=False):
    """One assertion: prints it; when it does not hold, raises Failed, or
    (soft) goes on and fails the script at its end."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        if not soft:
            raise Failed(what)
        SOFT_FAILED.append(what)


class Registrar:
    """A registrar process on 127.0.0.1:0; its log (stderr) goes to a file."""

    def __init__(self, *args, expect_start=True):
        self.dir = tempfile.mkdtemp(prefix="mcreg-repro.")
        self.log_path = os.path.join(self.dir, "registrar.log")
        self.args = [registrar_path(), "--listen", "127.0.0.1:0", *args]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log_file)
        self.port = None
        if expect_start:
            self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            first = self.log().split("\n", 1)[0]
            m = re.match(r"listening udp 127\.0\.0\.1:(\d+)$", first)
            if m and "\n" in self.log():
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise Failed("the registrar exited at start: " + self.log()[:500])
            time.sleep(0.05)
        raise Failed("no 'listening udp' first line: " + self.log()[:500])

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("latin-1")

    def log_lines(self, pattern):
        return [l for l in self.log().split("\n") if re.search(pattern, l)]

    def wait_log(self, pattern, count=1, seconds=10):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.log_lines(pattern)) >= count:
                return True
            time.sleep(0.05)
        return False

    def cpu_s(self):
        """utime + stime of the registrar, in seconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def status(self, name):
        """A /proc/PID/status field in kB (VmRSS, VmHWM)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None and not SOFT_FAILED:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("     registrar log: %s" % self.log_path)


def udp(bufsize=None):
    """A UDP socket on a kernel-chosen loopback port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bufsize:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, bufsize)
    s.bind(("127.0.0.1", 0))
    return s


def branch():
    return "z9hG4bK" + secrets.token_hex(12)


def request(method, port, headers=(), body=b"", br=None, cseq=1, call_id=None,
            to=AOR, frm=AOR, uri="sip:mcptt.example"):
    """A request datagram from 127.0.0.1:port (its Via sent-by)."""
    lines = ["%s %s SIP/2.0" % (method, uri),
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (port, br or branch()),
             "Max-Forwards: 70",
             "From: <%s>;tag=%s" % (frm, secrets.token_hex(4)),
             "To: <%s>" % to,
             "Call-ID: %s" % (call_id or secrets.token_hex(8) + "@repro"),
             "CSeq: %d %s" % (cseq, method)]
    lines += list(headers)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def register(port, contact, instance=None, expires=600, headers=(), **kw):
    c = "Contact: <%s>" % contact
    if instance:
        c += ';+sip.instance="<%s>"' % instance
    if expires is not None:
        c += ";expires=%d" % expires
    return request("REGISTER", port, [c, *headers], **kw)


def recv_response(sock, seconds=5, want_branch=None):
    """The next response on sock (optionally: of that branch), or None."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return None
        if not data.startswith(b"SIP/2.0 "):
            continue
        if want_branch and want_branch.encode() not in data.split(b"\r\n\r\n", 1)[0]:
            continue
        return data


def status_code(resp):
    return int(resp.split(b" ", 2)[1]) if resp else None


def transact(sock, reg, data, seconds=5):
    """Sends a request and returns its response (None when none came)."""
    br = re.search(rb"branch=([^;\r\n]+)", data).group(1).decode()
    sock.sendto(data, reg.addr)
    return recv_response(sock, seconds, want_branch=br)


def barrier(sock, reg, seconds=60):
    """An OPTIONS and its 200: everything sent before it has been handled."""
    resp = transact(sock, reg, request("OPTIONS", sock.getsockname()[1]), seconds)
    if status_code(resp) != 200:
        raise Failed("no 200 to OPTIONS (registrar %s)" % ("alive" if reg.alive() else "gone"))


def drain(sock, seconds):
    """Reads sock for `seconds`: (datagrams, bytes)."""
    n = b = 0
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return n, b
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return n, b
        n += 1
        b += len(data)


def main(run):
    """Runs one reproduction: exit 0 pass, 1 fail, 2 could not run."""
    path = registrar_path()
    if not os.access(path, os.X_OK):
        print("cannot run: no registrar at %s (make examples)" % path)
        sys.exit(2)
    print("registrar: %s" % path, flush=True)
    try:
        run()
    except Failed as e:
        print("FAIL: %s" % e)
        sys.exit(1)
    if SOFT_FAILED:
        print("FAIL: %s" % "; ".join(SOFT_FAILED))
        sys.exit(1)
    print("PASS")
    sys.exit(0)
