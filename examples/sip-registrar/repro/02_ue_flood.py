#!/usr/bin/env python3
"""Finding 2: per-REGISTER cost quadratic in a user's UEs.

Many UEs of one user, each a new REGISTER, every contact at a socket that
never answers. Bounds:
  A. default flags: the UE limit holds (8 UEs, then 403) and each REGISTER
     costs well under 1 ms of CPU on average, its log under 2 KB;
  B. --max-ues 0 (the operator asked for no limit): still under 3 ms of CPU
     and 8 KB of log per REGISTER on average (what a user at the default limit
     of 8 UEs can cost), peak memory growth under 64 MB,
     and no MESSAGE lists more than 16 other UEs.
"""
from common import *


def flood(reg, n, sink):
    s = udp()
    port = s.getsockname()[1]
    barrier(s, reg)
    cpu0, log0, hwm0 = reg.cpu_s(), len(reg.log()), reg.status("VmHWM")
    codes = {}
    vport = sink.getsockname()[1]
    for i in range(n):
        data = register(port, "sip:ue%d@127.0.0.1:%d" % (i, vport),
                        instance="urn:uuid:00000000-0000-4000-8000-%012d" % i)
        code = status_code(transact(s, reg, data, 30))
        codes[code] = codes.get(code, 0) + 1
    barrier(s, reg)
    cpu_ms = (reg.cpu_s() - cpu0) * 1000 / n
    log_b = (len(reg.log()) - log0) / n
    hwm_mb = (reg.status("VmHWM") - hwm0) / 1024
    print("     %d REGISTERs: codes %s, %.2f ms CPU and %.0f log bytes per REGISTER, "
          "peak memory +%.1f MB" % (n, codes, cpu_ms, log_b, hwm_mb), flush=True)
    return codes, cpu_ms, log_b, hwm_mb


def most_others(sink):
    worst = 0
    sink.settimeout(0.2)
    try:
        while True:
            data, _ = sink.recvfrom(70000)
            worst = max(worst, data.count(b"\nother-ue: "))
    except OSError:
        pass
    return worst


def run():
    sink = udp(8 << 20)
    with Registrar() as reg:
        codes, cpu_ms, log_b, _ = flood(reg, 300, sink)
        check(codes.get(200, 0) == 8 and codes.get(403, 0) == 292,
              "default flags: 8 UEs registered, 292 refused with 403 (got %s)" % codes)
        check(cpu_ms <= 1.0, "default flags: %.2f ms CPU per REGISTER, bound 1 ms" % cpu_ms)
        check(log_b <= 2048, "default flags: %.0f log bytes per REGISTER, bound 2048" % log_b)
    most_others(sink)
    with Registrar("--max-ues", "0") as reg:
        codes, cpu_ms, log_b, hwm_mb = flood(reg, 200, sink)
        check(codes.get(200, 0) == 200, "--max-ues 0: all 200 REGISTERs get 200 (%s)" % codes)
        check(cpu_ms <= 3.0, "--max-ues 0: %.2f ms CPU per REGISTER, bound 3 ms" % cpu_ms)
        check(log_b <= 8192, "--max-ues 0: %.0f log bytes per REGISTER, bound 8192" % log_b)
        check(hwm_mb <= 64, "--max-ues 0: peak memory +%.1f MB, bound 64 MB" % hwm_mb)
        others = most_others(sink)
        check(others <= 16, "--max-ues 0: the largest MESSAGE lists %d other UEs, bound 16" % others)


main(run)
