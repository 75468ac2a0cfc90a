"""Fixtures of the registrar's tests.

  tools         (session) the programs: BUILDDIR/examples/mcreg-registrar and
                mcreg-dump, and sipp; BUILDDIR from --builddir or
                $MCREG_BUILDDIR (default build)
  procs         every process a test starts, stopped when it ends
  soft          checks that fail the test and let it go on
  sip           a Scenario (scenario.py): registrars, SIPp UEs and their
                MESSAGE listeners on free loopback ports, snapshots read
                through mcreg-dump
  redis_server  a redis-server of the test's own (the cluster's store)
  cluster       a cluster.Cluster: a redis-server of the test's own (with
                or without an append-only file) and registrar nodes over
                it, their digests and records (SIGUSR1)

A server fixture is a function of procs and tmp_path: procs stops what it
started, tmp_path keeps its files (pytest keeps the last three runs). On a
failure the report shows the registrar's log and SIPp's files.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

import regtest
from cluster import Cluster
from scenario import Scenario, Soft


def pytest_addoption(parser):
    parser.addoption("--builddir", default=os.environ.get("MCREG_BUILDDIR", "build"),
                     help="the build directory (build, build/asan); default $MCREG_BUILDDIR "
                          "or build")


@pytest.fixture(scope="session")
def tools(request):
    builddir = Path(request.config.getoption("--builddir"))
    if not builddir.is_absolute() and not builddir.is_dir():
        builddir = regtest.ROOT / builddir
    t = regtest.Tools(builddir)
    missing = t.missing()
    if missing:
        pytest.fail("missing " + ", ".join(missing), pytrace=False)
    return t


@pytest.fixture
def procs():
    p = regtest.Processes()
    yield p
    p.stop_all()


@pytest.fixture
def soft():
    return Soft()


@pytest.fixture
def sip(request, tools, procs, soft, tmp_path):
    name = re.sub(r"^test_", "", request.node.name).replace("_", "-")
    s = Scenario(tools, procs, tmp_path, name, soft)
    request.node.sip_dir = tmp_path
    return s


def _need_redis_server():
    if not shutil.which("redis-server"):
        pytest.fail("redis-server not found (Debian package redis-server: make deps)",
                    pytrace=False)


@pytest.fixture
def redis_server(procs, tmp_path):
    _need_redis_server()
    return regtest.RedisServer(procs, tmp_path / "redis")


@pytest.fixture
def cluster(sip, procs, tmp_path):
    _need_redis_server()
    return Cluster(sip, procs, tmp_path / "redis")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    soft = item.funcargs.get("soft")
    if soft is not None and soft.failures:
        text = "\n".join(f"FAIL: {m}" for m in soft.failures)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("soft failures", text))
    workdir = getattr(item, "sip_dir", None)
    if report.failed and workdir is not None:
        report.sections.append(("files", f"in {workdir}"))
        for title, body in _logs(Path(workdir)):
            report.sections.append((title, body))


def _cut(lines, n, tail=True):
    lines = lines[-n:] if tail else lines[:n]
    return "\n".join(line.replace("\r", "")[:300] for line in lines)


def _logs(workdir):
    """The registrar's logs (head) and SIPp's error, action and message
    files (tail) of a failed scenario."""
    def lines(f):
        return f.read_bytes().decode("utf-8", "replace").splitlines()

    for f in sorted(workdir.glob("reg*.log")):
        yield f"registrar log {f.name}", _cut(lines(f), 150, tail=False)
    redis_log = workdir / "redis" / "redis.log"
    if redis_log.exists():
        yield "redis-server log (last 20 lines)", _cut(lines(redis_log), 20)
    for pattern in ("*.errors", "*.actions", "*.messages"):
        for f in sorted(workdir.glob(pattern)):
            if f.stat().st_size:
                yield f"SIPp {f.name} (last 40 lines)", _cut(lines(f), 40)
