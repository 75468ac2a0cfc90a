"""One scenario's world: its registrar, its UEs (SIPp as UAC for their
REGISTERs, SIPp as UAS for the MESSAGEs they take) and its files.

A UE is a letter; its id in the registry is its +sip.instance, or (an
MCPTT client) the <mcptt-client-id> of its REGISTER body, which differs
from its +sip.instance. Every UE is a user of the same AOR.
"""

import re
import secrets
import signal
import socket
import time
from pathlib import Path

import regtest
from regtest import fail

AOR = "sip:alice@mcptt.example"
DOMAIN = "mcptt.example"

# For a registrar that takes many UEs of one user (Peer.register's are all
# AOR's), none of them told of the others: tests that count records.
MANY_UES = ("--max-ues", "0", "--notify", "none")


class Soft:
    """Checks that fail the test but let it go on (so that one run shows
    every departure); conftest.py turns them into the test's failure."""

    def __init__(self):
        self.failures = []

    def fail(self, message):
        self.failures.append(message)

    def check(self, ok, message):
        if not ok:
            self.fail(message)
        return ok


class Ue:
    def __init__(self, letter, mcptt, cport):
        self.letter = letter
        self.instance = f"urn:uuid:00000000-0000-4000-8000-00000000000{letter}"
        self.client = f"urn:uuid:00000000-0000-4000-8000-0000000000c{letter}" if mcptt else ""
        self.id = self.client or self.instance
        self.cport = cport  # its Contact port, where its MESSAGE listener runs
        self.listener = None


class Call:
    """One SIPp call's files (DIR/LABEL.*) and the port it sent from."""

    def __init__(self, workdir, label, port):
        self.workdir = Path(workdir)
        self.label = label
        self.port = port

    def file(self, kind):
        return self.workdir / f"{self.label}.{kind}"

    def response_line(self):
        """What the scenario logged about the response."""
        for line in _read_lines(self.file("actions")):
            if "REGISTER:" in line:
                return line
        return "no response logged"

    def last_response(self):
        """The last message SIPp received in the call (without CRs)."""
        last, buf, on = "", [], False
        for line in _read_lines(self.file("messages")):
            if line.startswith("UDP message received"):
                buf, on = [], True
            elif re.match(r"^-+ [0-9]", line):
                if on:
                    last = "".join(buf)
                on = False
            elif on:
                buf.append(line + "\n")
        if on:
            last = "".join(buf)
        return last.replace("\r", "")


def _read_lines(path):
    try:
        return Path(path).read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def contacts(response):
    return [line for line in response.split("\n") if line.startswith("Contact:")]


class Listener:
    """A UE's MESSAGE UAS (message.xml), checking each MESSAGE against the
    next line of its expectation file."""

    def __init__(self, proc, ue, workdir):
        self.proc = proc
        self.ue = ue
        self.workdir = Path(workdir)
        self.counts = self.workdir / f"message_{proc.pid}_counts.csv"

    def file(self, kind):
        return ue_file(self.workdir, self.ue, kind)


def ue_file(workdir, ue, kind):
    """A UE listener's SIPp file: errors, actions, messages, screen."""
    return Path(workdir) / f"ue-{ue.letter}.{kind}"


class Scenario:
    """What a test drives: the registrar it started last (self.reg), its UEs,
    raw datagrams, snapshots. NAME goes into the default Call-IDs. Where a
    test runs several registrars (a cluster), TO names the one a REGISTER
    or a Peer talks to: anything with the port, log and alive() of a
    regtest.Registrar (default self.reg)."""

    def __init__(self, tools, procs, workdir, name, soft):
        self.tools = tools
        self.procs = procs
        self.dir = Path(workdir)
        self.name = name
        self.soft = soft
        self.reg = None
        self.snap = None
        self.ues = {}
        self.nsipp = 0

    # ---- the registrar ----

    def start_registrar(self, label, *args, env=None):
        """Starts it on 127.0.0.1:0 (in ENV, default the test's); its port
        from its first log line."""
        reg = regtest.Registrar(self.tools, self.procs, self.dir, label, args, env=env)
        reg.listening_port(10, self.soft)
        self.reg = reg
        return reg

    def start_node(self, label, *args, node_id=1, snapshot="snap", journal="journal", env=None):
        """A registrar with --node-id NODE_ID, --snapshot DIR/SNAPSHOT and
        --journal DIR/JOURNAL (None: without it); the files stay from one
        start to the next. Sets self.snap."""
        self.snap = self.dir / snapshot
        files = ["--snapshot", self.snap]
        if journal is not None:
            files += ["--journal", self.dir / journal]
        return self.start_registrar(label, "--node-id", str(node_id), *files, *args, env=env)

    def kill_registrar(self, reg=None):
        """SIGKILL (nothing of it runs after this: no snapshot, no log line)."""
        reg = reg or self.reg
        reg.proc.send_signal(signal.SIGKILL)
        reg.proc.wait()

    def held_ues(self, label):
        """The UE ids the registrar holds: SIGTERM writes the snapshot; its dump."""
        self.stop_registrar()
        return {r["ue"] for r in self.dump(self.snap, f"{label}.dump").records}

    def stop_registrar(self, reg=None):
        """SIGTERM: exit status 0 within 10 s, "stopping (SIGTERM)" last in
        the log (another last line is a soft failure)."""
        reg = reg or self.reg
        if not reg.alive():
            fail("the registrar died before SIGTERM")
        st = reg.stop(10)
        if st is None:
            fail("the registrar did not exit within 10 s of SIGTERM")
        if st != 0:
            fail(f"the registrar exited with status {st} after SIGTERM")
        lines = reg.log.lines()
        last = lines[-1] if lines else ""
        self.soft.check(last == "stopping (SIGTERM)",
                        f"{reg.label}: last log line after SIGTERM is '{last}', "
                        "want 'stopping (SIGTERM)'")

    def alive(self, when):
        if not self.reg.alive():
            fail(f"the registrar is gone ({when})")

    def log_count(self, pattern):
        return self.reg.log.count(pattern)

    def wait_log(self, pattern, want=1, seconds=5):
        if not self.reg.log.wait(pattern, want, seconds):
            many = f" {want}" if want > 1 else ""
            fail(f"no{many} log line matching '{pattern}' in {seconds} s")

    def soft_wait_log(self, pattern, want=1, seconds=5):
        if not self.reg.log.wait(pattern, want, seconds):
            self.soft.fail(f"no log line matching '{pattern}' in {seconds} s")

    def has_log_line(self, line):
        return self.reg.log.has_line(line)

    def snapshot_now(self, out):
        """SIGUSR1, the next "snapshot written" line, the snapshot's dump."""
        before = self.log_count(r"^snapshot written ")
        if not self.reg.alive():
            fail("the registrar is gone (SIGUSR1)")
        self.reg.proc.send_signal(signal.SIGUSR1)
        self.wait_log(r"^snapshot written ", before + 1)
        return self.dump(self.snap, out)

    def dump(self, snapshot, out):
        return regtest.run_dump(self.tools, snapshot, self.dir / out)

    def send_raw(self, data):
        regtest.send_datagram(self.reg.port, data)

    def start_refused(self, label, *args, seconds=10):
        """Starts a registrar that must not start: its exit status (None when
        still running after SECONDS, then killed) and its log's text."""
        reg = regtest.Registrar(self.tools, self.procs, self.dir, label, args)
        st = regtest.wait_exit(reg.proc, seconds)
        return st, reg.log.path.read_bytes().decode("utf-8", "replace")

    def peer(self, rcvbuf=None, to=None):
        """A raw SIP endpoint on a loopback port of its own (closed with the
        test's processes), talking to TO (default self.reg)."""
        p = Peer(self, rcvbuf, to)
        self.procs.on_stop(p.close)
        return p

    def cpu_seconds(self):
        return self.reg.cpu_seconds()

    # ---- UEs ----

    def ue(self, letter, mcptt=False):
        ue = Ue(letter, mcptt, regtest.free_port())
        self.ues[letter] = ue
        return ue

    def _uac(self, label, xml, args, to=None):
        """One SIPp call to the registrar (TO, default self.reg) from a free
        port: (status, Call)."""
        to = to or self.reg
        for _ in range(5):
            port = regtest.free_port()
            call = Call(self.dir, label, port)
            argv = regtest.sipp_argv(
                self.tools, regtest.HERE / xml, port, f"{regtest.LOOPBACK}:{to.port}",
                "-m", "1", "-timeout", "10", "-timeout_error", "-recv_timeout", "3000",
                "-default_behaviors", "all,-bye",
                "-trace_err", "-error_file", call.file("errors"),
                "-trace_logs", "-log_file", call.file("actions"),
                "-trace_msg", "-message_file", call.file("messages"), *args)
            with open(call.file("screen"), "wb") as screen:
                proc = self.procs.start(argv, stdout=screen, stderr=screen, cwd=self.dir)
            st = regtest.wait_exit(proc, 15)
            if st != regtest.SIPP_BIND_FAILED:
                return (124 if st is None else st), call
        return regtest.SIPP_BIND_FAILED, call

    def _label(self, who):
        self.nsipp += 1
        return "uac%02d-%s" % (self.nsipp, who)

    def register(self, ue, want, callid=None, cseq=1, expires=600, to=None):
        """One REGISTER of UE for AOR from a fresh SIPp to TO (default
        self.reg); WANT is the status code it must get. The Call-ID
        defaults to one per UE and scenario."""
        callid = callid or f"{self.name}-{ue.letter}@mcreg.test"
        keys = {"aor": AOR, "domain": DOMAIN, "ue_user": f"ue-{ue.letter}", "cport": ue.cport,
                "instance": ue.instance, "reg_expires": expires, "reg_cseq": cseq,
                "ua": f"mcreg-test-ue/{ue.letter}", "want_code": want}
        xml = "register.xml"
        if ue.client:
            xml = "register-mcptt.xml"
            keys["client_id"] = ue.client
        st, call = self._uac(self._label(ue.letter), xml, ["-cid_str", callid, *_keys(keys)], to)
        if st != 0:
            fail(f"REGISTER of UE {ue.letter} (Call-ID {callid}, CSeq {cseq}, expires {expires}): "
                 f"want {want}; SIPp status {st}: {call.response_line()}")
        if not (to or self.reg).alive():
            fail(f"the registrar is gone (after the REGISTER of UE {ue.letter})")
        return call

    def register_star(self, want, expires, callid=None, cseq=1):
        """Contact: * for AOR."""
        callid = callid or f"{self.name}-star@mcreg.test"
        keys = {"aor": AOR, "domain": DOMAIN, "ue_user": "star", "reg_expires": expires,
                "reg_cseq": cseq, "ua": "mcreg-test-ue/star", "want_code": want}
        st, call = self._uac(self._label("star"), "register-star.xml",
                             ["-cid_str", callid, *_keys(keys)])
        if st != 0:
            fail(f"REGISTER Contact: * Expires: {expires}: want {want}; SIPp status {st}: "
                 f"{call.response_line()}")
        self.alive("after the Contact: * REGISTER")
        return call

    def expect(self, ue, event, about, recipient, *others):
        """Appends the next MESSAGE UE must take: EVENT (logon|logoff) about
        the UE ABOUT, to RECIPIENT, with the other-ue lines OTHERS."""
        path = self.dir / f"expect-{ue.letter}.csv"
        ids = [o.id for o in others] + [""] * (3 - len(others))
        with open(path, "a") as f:
            if f.tell() == 0:
                f.write("SEQUENTIAL\n")
            f.write(";".join([event, about.id, recipient.id, *ids]) + ";\n")

    def listen(self, ue, n, delay=0):
        """Starts UE's MESSAGE UAS on its Contact port: it takes N MESSAGEs,
        each checked against its expectations, each answered after DELAY ms."""
        def file(kind):
            return ue_file(self.dir, ue, kind)

        for attempt in range(5):
            if attempt:
                ue.cport = regtest.free_port()
            argv = regtest.sipp_argv(
                self.tools, regtest.HERE / "message.xml", ue.cport, "-m", n,
                "-inf", self.dir / f"expect-{ue.letter}.csv", "-key", "aor", AOR,
                "-key", "ue_user", f"ue-{ue.letter}", "-key", "delay", delay,
                "-timeout", "30", "-timeout_error", "-default_behaviors", "all,-bye",
                "-trace_counts", "-trace_err", "-error_file", file("errors"),
                "-trace_logs", "-log_file", file("actions"),
                "-trace_msg", "-message_file", file("messages"))
            with open(file("screen"), "wb") as screen:
                proc = self.procs.start(argv, stdout=screen, stderr=screen, cwd=self.dir)
            bound = regtest.wait_until(
                lambda: regtest.udp_bound(ue.cport, proc.pid) or not regtest.alive(proc), 10)
            if bound and regtest.alive(proc):
                ue.listener = Listener(proc, ue, self.dir)
                return ue.listener
            st = regtest.wait_exit(proc, 1)
            if st != regtest.SIPP_BIND_FAILED:
                fail(f"the MESSAGE listener of UE {ue.letter} did not start "
                     f"(SIPp status {124 if st is None else st})")
        fail(f"no free port for the MESSAGE listener of UE {ue.letter}")

    def listened(self, ue, seconds=8):
        """UE's listener took all its MESSAGEs, each as expected."""
        lst = ue.listener
        st = regtest.wait_exit(lst.proc, seconds)
        if st is None:
            got = [line for line in _read_lines(lst.file("actions")) if "MESSAGE received" in line]
            fail(f"UE {ue.letter} did not receive all its MESSAGEs within {seconds} s: "
                 + " ".join(got))
        if st != 0:
            why = [line for f in (lst.file("actions"), lst.file("errors"))
                   for line in _read_lines(f) if re.search(r"MISMATCH|Failed regexp", line)]
            fail(f"UE {ue.letter}: wrong MESSAGE (SIPp status {st}): " + " ".join(why[:4]))

    def no_more_messages(self, ues, seconds=2.5):
        """Once the UEs' listeners have ended: no MESSAGE reaches their
        Contact ports for SECONDS. A MESSAGE sent while no socket was there
        is retransmitted (Timer E: T1 = 500 ms, then 1 s, 2 s) into the
        window; one the UE answered is not."""
        socks = []
        try:
            for ue in ues:
                if ue.listener and regtest.alive(ue.listener.proc):
                    fail(f"UE {ue.letter}'s listener still runs")
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append((ue, s))
                s.bind((regtest.LOOPBACK, ue.cport))
                s.setblocking(False)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for ue, s in socks:
                    try:
                        data = s.recv(70000)
                    except BlockingIOError:
                        continue
                    if data.startswith(b"MESSAGE "):
                        fail(f"UE {ue.letter} got another MESSAGE after the one it answered: "
                             + data[:400].decode("latin-1"))
                time.sleep(0.02)
        finally:
            for _, s in socks:
                s.close()


def _keys(keys):
    out = []
    for k, v in keys.items():
        out += ["-key", k, str(v)]
    return out


def raw_register(branch, callid, *headers):
    """A REGISTER for one datagram (CRLF line ends), HEADERS between
    Max-Forwards and Call-ID; an empty CALLID leaves Call-ID out."""
    lines = [f"REGISTER sip:{DOMAIN} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport",
             "Max-Forwards: 70", *headers]
    if callid:
        lines.append(f"Call-ID: {callid}")
    lines += ["CSeq: 1 REGISTER", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


# ---- raw SIP over a socket of the test's own ------------------------------------


def new_branch():
    return "z9hG4bK" + secrets.token_hex(12)


def sip_request(method, port, headers=(), body=b"", branch=None, cseq=1, callid=None,
                uri=f"sip:{DOMAIN}", via_host=None):
    """A request datagram whose Via names 127.0.0.1:PORT (or VIA_HOST), for
    AOR, HEADERS after CSeq; METHOD and HEADERS may hold any byte."""
    via = via_host or f"{regtest.LOOPBACK}:{port}"
    lines = [f"{method} {uri} SIP/2.0",
             f"Via: SIP/2.0/UDP {via};branch={branch or new_branch()};rport",
             "Max-Forwards: 70",
             f"From: <{AOR}>;tag={secrets.token_hex(4)}",
             f"To: <{AOR}>",
             f"Call-ID: {callid or secrets.token_hex(8) + '@mcreg.test'}",
             f"CSeq: {cseq} {method}",
             *headers,
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def sip_register(port, contact, instance=None, expires=600, headers=(), **kw):
    """A REGISTER of one Contact (its +sip.instance and expires parameter
    when given); a query when CONTACT is None."""
    if contact is None:
        return sip_request("REGISTER", port, headers, **kw)
    c = f"Contact: <{contact}>"
    if instance:
        c += f';+sip.instance="<{instance}>"'
    if expires is not None:
        c += f";expires={expires}"
    return sip_request("REGISTER", port, [c, *headers], **kw)


def instance(i):
    """The +sip.instance of the test's UE number I."""
    return "urn:uuid:00000000-0000-4000-8000-%012d" % i


def status_code(response):
    """The status code of a response datagram; None for None."""
    return int(response.split(b" ", 2)[1]) if response else None


def top_branch(datagram):
    m = re.search(rb"branch=([^;\r\n]+)", datagram)
    return m.group(1).decode("latin-1") if m else None


def header(datagram, name):
    """The first NAME header line of DATAGRAM (as text), or None."""
    m = re.search(rb"^" + re.escape(name.encode()) + rb":[^\r\n]*", datagram, re.M | re.I)
    return m.group(0).decode("latin-1") if m else None


class Peer:
    """A UDP socket on 127.0.0.1:0 that speaks SIP to the registrar (TO, or
    the scenario's last one): sends requests (its port in their Via), reads
    responses and MESSAGEs."""

    def __init__(self, sip, rcvbuf=None, to=None):
        self.sip = sip
        self.to = to
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((regtest.LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    @property
    def reg(self):
        return self.to or self.sip.reg

    def send(self, data):
        self.sock.sendto(data, (regtest.LOOPBACK, self.reg.port))

    def recv(self, seconds=5, start=b""):
        """The next datagram that starts with START, or None after SECONDS."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(70000)
            except socket.timeout:
                return None
            if data.startswith(start):
                return data

    def response(self, branch, seconds=5):
        """The next response of BRANCH, or None after SECONDS."""
        deadline = time.monotonic() + seconds
        while True:
            data = self.recv(max(0.0, deadline - time.monotonic()), b"SIP/2.0 ")
            if data is None or top_branch(data) == branch:
                return data

    def transact(self, data, seconds=10):
        """Sends a request; its response, or None."""
        self.send(data)
        return self.response(top_branch(data), seconds)

    def register(self, contact, instance=None, seconds=10, **kw):
        return self.transact(sip_register(self.port, contact, instance, **kw), seconds)

    def barrier(self, seconds=60, log=False):
        """An OPTIONS answered 200: what was sent before it has been handled.
        LOG: and its reply line is in the log (the registrar writes its log
        a batch at a time, after it has answered), so the log holds the
        lines of everything before it too."""
        reg = self.reg
        offset = reg.log.size()
        if status_code(self.transact(sip_request("OPTIONS", self.port), seconds)) != 200:
            fail("no 200 to OPTIONS (registrar %s)" % ("running" if reg.alive() else "gone"))
        line = f"reply 200 OPTIONS from={regtest.LOOPBACK}:{self.port}\n"
        if log and not regtest.wait_until(lambda: line in reg.log.text_from(offset), 10):
            fail(f"no '{line.strip()}' line in the log within 10 s of the 200")

    def drain(self, seconds=0.2):
        """Reads what arrives until SECONDS pass without a datagram."""
        out = []
        while True:
            data = self.recv(seconds)
            if data is None:
                return out
            out.append(data)


def register_n(peer, first, n, expires=600):
    """REGISTERs of the test's UEs FIRST..FIRST+N-1 (contacts at PEER), each
    answered 200."""
    for i in range(first, first + n):
        resp = peer.register(f"sip:u{i}@127.0.0.1:{peer.port}", instance(i), expires=expires)
        if status_code(resp) != 200:
            fail(f"REGISTER of UE {i} (expires {expires}) at port {peer.reg.port}: {resp!r}")


def elapsed_ms(t0):
    return (time.monotonic() - t0) * 1000
