"""The command line: --help, and every bad value refused."""

import re
import subprocess

from regtest import fail


def test_flags(tools, tmp_path):
    """--help on stdout with status 0; bad values: status 1, a message."""
    r = subprocess.run([tools.registrar, "--help"], capture_output=True, timeout=10)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        fail(f"--help: status {r.returncode}")
    if not (out.startswith("usage:") and "--limit-policy" in out and "--snapshot-interval" in out
            and "--capacity" in out and "--redis-stream" in out):
        fail(f"--help does not print the usage: {out}")
    if r.stderr:
        fail(f"--help writes to stderr: {r.stderr!r}")
    for bad in ["--limit-policy never", "--notify some", "--max-ues -1", "--max-ues 4294967296",
                "--min-expires 100 --max-expires 50", "--default-expires 0",
                "--listen localhost:5060", "--listen 127.0.0.1:65536", "--bogus",
                "extra-argument", "--capacity -1", "--capacity 4294967296",
                "--capacity 2147483649", "--redis 127.0.0.1:6379",
                "--node-id 1 --redis localhost:6379", "--node-id 1 --redis 127.0.0.1",
                "--node-id 1 --redis 127.0.0.1:0", "--node-id 1 --redis ::1:6379",
                "--node-id 1 --redis 127.0.0.1:6379 --redis-maxlen 0",
                "--node-id 1 --redis 127.0.0.1:6379 --redis-maxlen x",
                "--node-id 1 --redis 127.0.0.1:6379 --redis-stream="]:
        try:
            r = subprocess.run([tools.registrar, "--listen", "127.0.0.1:0", *bad.split()],
                               capture_output=True, timeout=5, cwd=tmp_path)
        except subprocess.TimeoutExpired:
            r = None
        if r is None:
            fail(f"'{bad}': still running after 5 s, want status 1")
        if r.returncode != 1:
            fail(f"'{bad}': status {r.returncode}, want 1")
        err = r.stderr.decode("utf-8", "replace").splitlines()
        if not any(not re.match(r"^usage|^  |^$", line) for line in err):
            fail(f"'{bad}': no message on stderr")
        if r.stdout:
            fail(f"'{bad}': writes to stdout")
