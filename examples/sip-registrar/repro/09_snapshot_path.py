#!/usr/bin/env python3
"""Finding 9: a snapshot path that cannot be written.

Bounds: with --snapshot in a directory that does not exist, the registrar
refuses to start (status 1, a message naming the file); with a new file in a
writable directory it starts, says there was no snapshot yet (not "snapshot
restored ... records=0"), and the file can be restored from at once.
"""
from common import *


def run():
    d = tempfile.mkdtemp(prefix="mcreg-repro-snap.")
    bad = os.path.join(d, "missing-dir", "state.cbor")
    reg = Registrar("--snapshot", bad, expect_start=False)
    try:
        st = reg.proc.wait(10)
    except subprocess.TimeoutExpired:
        st = None
    log = reg.log()
    reg.stop()
    shutil.rmtree(reg.dir, ignore_errors=True)
    print("     unwritable path: status %s, log %r" % (st, log[:200]))
    check(st == 1, "an unwritable snapshot path stops the start (status %s)" % st, soft=True)
    check(bad in log, "the message names the file", soft=True)

    good = os.path.join(d, "state.cbor")
    with Registrar("--snapshot", good) as reg:
        restored = reg.log_lines(r"^snapshot restored ")
        check(not restored, "a first start does not log 'snapshot restored': %s" % restored, soft=True)
        check(bool(reg.log_lines(r"no snapshot yet")), "it logs 'no snapshot yet'", soft=True)
        check(os.path.exists(good), "the snapshot file exists from the start", soft=True)
    shutil.rmtree(d, ignore_errors=True)


main(run)
