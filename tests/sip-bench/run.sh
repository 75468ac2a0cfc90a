#!/usr/bin/env bash
# tests/sip-bench/run.sh BUILDDIR - the REGISTER load benchmark of the SIP
# registrar example (BUILDDIR/examples/mcreg-registrar), driven by SIPp.
#
#   1. ramp: --notify none, one fresh registrar per step, REGISTERs from
#      BENCH_SIP_UES UEs (2 per user) at each rate of BENCH_SIP_RATES until a
#      step fails; the highest passing rate is "sustained";
#   2. --notify all (the default policy), one pass over the UEs at the highest
#      sustained rate, lower if that fails: logon MESSAGEs to a
#      SIPp UAS that answers 200;
#   3. the cost of the log: a step with the log to /dev/null against the ramp
#      step at the same rate (log to a file);
#   4. the CPU split: the registrar under `perf record -e cpu-clock` (or
#      callgrind when perf cannot record) for one step at about half the
#      highest rate.
# A summary on stdout, the figures in BUILDDIR/bench-sip.json, the step files
# in BUILDDIR/sip-bench/. See tests/sip-bench/README.md for the variables.
#
# Exit status: 0 when the benchmark ran (a ramp ends on a failing step: that
# is its result, not an error); 1 when the lowest rate failed, the registrar
# crashed, answered other than 200 or could not be started, or a tool failed;
# 2 for bad usage or a missing tool.
set -u -o pipefail

usage() { echo "usage: $0 BUILDDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
BUILDDIR=${1%/}
[ -n "$BUILDDIR" ] || usage

HERE=$(cd "$(dirname "$0")" && pwd)
REGISTRAR=${BENCH_SIP_REGISTRAR:-$BUILDDIR/examples/mcreg-registrar}
SIPP=${SIPP:-sipp}
PERF=${PERF:-perf}
VALGRIND=${VALGRIND:-valgrind}
UAC_XML=$HERE/uac-register.xml
UAS_XML=$HERE/uas-message.xml

QUICK=${BENCH_SIP_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    d_ues=2000; d_rates="1000 4000"; d_seconds=2; d_perf_seconds=2; d_cg_calls=1000
else
    QUICK=0
    d_rates="500 1000 2000 4000 6000 8000 10000 12000 14000 16000 18000 20000 22000 25000 30000"
    d_ues=10000; d_seconds=10; d_perf_seconds=10; d_cg_calls=
fi
UES=${BENCH_SIP_UES:-$d_ues}
RATES=${BENCH_SIP_RATES:-$d_rates}
STEP_SECONDS=${BENCH_SIP_SECONDS:-$d_seconds}
TOLERANCE=${BENCH_SIP_TOLERANCE:-3}          # percent below the target rate
MAX_P99_MS=${BENCH_SIP_MAX_P99_MS:-500}       # 99% of REGISTERs answered within (0: no limit)
NOTIFY_STEP=${BENCH_SIP_NOTIFY:-1}           # 0: skip the --notify all step
NOTIFY_RATE=${BENCH_SIP_NOTIFY_RATE:-}       # default: the highest sustained rate
PROFILER=${BENCH_SIP_PROFILER:-auto}         # auto, perf, callgrind, none
PROFILE_RATE=${BENCH_SIP_PROFILE_RATE:-}     # default: the passing rate below the highest
PROFILE_SECONDS=${BENCH_SIP_PROFILE_SECONDS:-$d_perf_seconds}
CALLGRIND_RATE=${BENCH_SIP_CALLGRIND_RATE:-200}
CALLGRIND_CALLS=${BENCH_SIP_CALLGRIND_CALLS:-${d_cg_calls:-$UES}}
LOG_STEP=${BENCH_SIP_LOG_STEP:-1}            # 0: skip the /dev/null log step
EXPIRES=${BENCH_SIP_EXPIRES:-86400}          # asked by every REGISTER, and --max-expires
RECV_TIMEOUT_MS=${BENCH_SIP_RECV_TIMEOUT:-10000}
SIPP_BUFF=${BENCH_SIP_SIPP_BUFFER:-4194304}  # SIPp's socket buffers (-buff_size), bytes
KEEP_LOGS=${BENCH_SIP_KEEP_LOGS:-0}
WORK=$BUILDDIR/sip-bench        # made absolute below
JSON=$BUILDDIR/bench-sip.json

die() { echo "bench-sip: $*" >&2; exit 2; }
json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
is_uint() { case $1 in ''|*[!0-9]*) return 1;; esac; }
for v in UES STEP_SECONDS TOLERANCE MAX_P99_MS PROFILE_SECONDS CALLGRIND_RATE CALLGRIND_CALLS EXPIRES SIPP_BUFF \
         RECV_TIMEOUT_MS; do
    is_uint "${!v}" || die "$v must be a whole number (got '${!v}')"
done
for r in $RATES $NOTIFY_RATE $PROFILE_RATE; do
    is_uint "$r" && [ "$r" -gt 0 ] || die "a rate must be a positive whole number (got '$r')"
done
[ -n "$RATES" ] || die "BENCH_SIP_RATES is empty"
[ "$UES" -ge 2 ] && [ $((UES % 2)) -eq 0 ] || die "BENCH_SIP_UES must be even and >= 2"
[ -x "$REGISTRAR" ] || die "no registrar at $REGISTRAR (make examples)"
command -v "$SIPP" >/dev/null || die "sipp not found (Debian package sip-tester)"
[ -r "$UAC_XML" ] && [ -r "$UAS_XML" ] || die "scenario files missing in $HERE"
case $PROFILER in auto|perf|callgrind|none) ;; *) die "BENCH_SIP_PROFILER: auto, perf, callgrind or none";; esac

mkdir -p "$WORK" || die "cannot create $WORK"
WORK=$(cd "$WORK" && pwd)
# The step directories of an earlier run go: what is left is this run's
rm -rf "${WORK:?}"/none-* "${WORK:?}"/all-* "${WORK:?}"/profile-* "${WORK:?}"/bin
# The steps run a copy of the binary, and the profile reads the copy: a rebuild
# during the run changes nothing. The symbols of the static library it was
# linked with tell its code from the registrar's (read now for the same reason).
REGISTRAR_SRC=$REGISTRAR
mkdir -p "$WORK/bin" && cp "$REGISTRAR_SRC" "$WORK/bin/" || die "cannot copy $REGISTRAR_SRC"
REGISTRAR=$WORK/bin/$(basename "$REGISTRAR_SRC")
MCREG_SYMS=$WORK/libmcreg-symbols.txt
nm --defined-only "$BUILDDIR/libmcreg.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[tTwWiI]$/ { print $3 }' | sort -u > "$MCREG_SYMS"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
SIPP_VERSION=$("$SIPP" -v 2>&1 | sed -n 's/^ *SIPp \(v[^ ]*[^ .]\).*/\1/p' | head -1)
ERRORS=0        # registrar crashes, non-200 answers, tool trouble
ERROR_TEXT=""
note_error() { ERRORS=$((ERRORS + 1)); ERROR_TEXT="${ERROR_TEXT:+$ERROR_TEXT; }$*"; echo "bench-sip: $*" >&2; }

# ---- processes this script started, stopped on exit -----------------------
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        alive "$p" && kill -KILL "$p" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# Wait up to $2 seconds for pid $1 to exit; its exit status in WAIT_RC
# (KILLed after the delay: WAIT_RC=timeout).
wait_exit() {
    local pid=$1 i=0 limit=$(($2 * 10))
    while alive "$pid"; do
        if [ $i -ge $limit ]; then
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            WAIT_RC=timeout
            forget_pid "$pid"
            return
        fi
        sleep 0.1
        i=$((i + 1))
    done
    wait "$pid" 2>/dev/null
    WAIT_RC=$?
    forget_pid "$pid"
}

# Is pid $1 running (a zombie is not: kill -0 would say yes until it is waited for)
alive() {
    local s=""
    { read -r s < "/proc/$1/stat"; } 2>/dev/null
    [ -n "$s" ] || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}

# CPU time of a live process in ns, "" when gone: the scheduler's count when
# there is one, else user + system time in clock ticks
cpu_ns() {
    local f
    if f=$(cat "/proc/$1/schedstat" 2>/dev/null) && [ -n "$f" ]; then
        echo "${f%% *}"
        return 0
    fi
    f=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    f=${f##*) }            # the fields after "(comm) "
    set -- $f
    echo $(( (${12} + ${13}) * (1000000000 / CLK_TCK) ))
}

# A UDP port no loopback or wildcard socket holds now (for the SIPp UAS and
# the /dev/null log step, which cannot read the port back from a log).
free_udp_port() {
    local p hex used
    used=$(awk 'NR > 1 { split($2, a, ":"); print a[2] }' /proc/net/udp /proc/net/udp6 2>/dev/null)
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        printf -v hex '%04X' "$p"
        case $'\n'"$used"$'\n' in *$'\n'"$hex"$'\n'*) continue;; esac
        echo "$p"
        return 0
    done
    return 1
}

port_bound() {   # is 127.0.0.1:$1 bound by some UDP socket
    local hex
    printf -v hex '0100007F:%04X' "$1"
    grep -q " $hex " /proc/net/udp 2>/dev/null
}

# Every 50 ms until TERM: the receive queue (bytes of kernel memory) and drop
# count of the loopback UDP sockets on the given ports; prints on TERM, per
# port, "PORT peak_rx_queue last_drops". Tells a registrar falling behind
# (its queue grows, it drops) from SIPp missing answers.
sample_udp() {
    local -A peak ndrop
    local want=() p hex laddr st q rest
    for p in "$@"; do
        printf -v hex '0100007F:%04X' "$p"
        want+=("$hex"); peak[$hex]=0; ndrop[$hex]=0
    done
    trap 'for hex in "${want[@]}"; do echo "$((16#${hex#*:})) ${peak[$hex]} ${ndrop[$hex]}"; done; exit 0' TERM
    while :; do
        while read -r _ laddr _ st q rest; do
            [ -n "${peak[$laddr]+x}" ] || continue
            q=$((16#${q#*:}))
            [ "$q" -le "${peak[$laddr]}" ] || peak[$laddr]=$q
            set -- $rest
            ndrop[$laddr]=${8:-0}
        done < /proc/net/udp
        sleep 0.05
    done
}

udp_rcvbuf_errors() {   # the kernel's count of UDP datagrams dropped for a full receive buffer
    awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 }
                        else if (c) print $c }' /proc/net/snmp 2>/dev/null
}

# ---- the injection file: UE i belongs to user i/2 ----------------------------
CSV=$WORK/ues.csv
awk -v n="$UES" 'BEGIN {
    print "SEQUENTIAL"
    print "# user;ue;+sip.instance uuid (version 4 layout, the UE number in hex)"
    for (i = 0; i < n; i++)
        printf "user%06d;ue%06d;%08x-%04x-4%03x-8%03x-%012x\n", int(i / 2), i,
               (i * 2654435761) % 4294967296, i % 65536, i % 4096, (i * 7) % 4096, i
}' > "$CSV" || die "cannot write $CSV"

# ---- one step -----------------------------------------------------------------
# run_step NAME RATE CALLS NOTIFY(none|all) LOG(file|null) PROFILE(none|perf|callgrind)
# Sets S_* variables and appends the step's JSON object to STEPS_JSON.
STEPS_JSON=""
stat_field() {   # stat_field FILE NAME: NAME's value in the last row of a SIPp stat file
    awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                           { v = $c } END { if (c) print v }' "$1" 2>/dev/null
}
stat_epoch() {   # the epoch seconds in a "date<TAB>time<TAB>epoch" field
    awk -F'\t' '{ print $NF }' <<<"$1"
}
fnum() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { if (x == "") print "null"; else printf "%.*f\n", d, x }'; }
count() { grep -c -E "$1" "$2" 2>/dev/null || true; }

run_step() {
    local name=$1 rate=$2 calls=$3 notify=$4 logto=$5 profile=$6
    local dir=$WORK/$name log port="" regpid uaspid="" uasport="" perfpid="" i
    rm -rf "$dir"
    mkdir -p "$dir"
    log=$dir/registrar.log
    S_PASS=0; S_WHY=""; S_ACHIEVED=""; S_RETRANS=""; S_CPU_PCT=""; S_SIPP_CPU=""
    S_US_PER_REQ=""; S_LOG_BYTES=0; S_CALLS=0; S_MSG200=0; S_LOGONS=0; S_DIR=$dir
    S_P99=""; S_PMAX=""; S_REG_RXQ=""; S_REG_DROPS=""; S_UAC_DROPS=""
    echo "-- $name: $rate REGISTER/s, $calls calls, --notify $notify, log to $logto${profile:+, profile $profile}" >&2

    # The UEs' side of the MESSAGEs
    local contact_port=5060
    if [ "$notify" = all ]; then
        for i in 1 2 3 4 5; do
            uasport=$(free_udp_port) || break
            "$SIPP" -sf "$UAS_XML" -i 127.0.0.1 -p "$uasport" -buff_size "$SIPP_BUFF" -nostdin \
                -trace_stat -stf "$dir/uas-stat.csv" -fd 1 \
                -trace_err -error_file "$dir/uas-errors.log" >"$dir/uas.out" 2>&1 &
            uaspid=$!
            PIDS+=("$uaspid")
            for _ in $(seq 50); do
                port_bound "$uasport" && break
                alive "$uaspid" || break
                sleep 0.1
            done
            alive "$uaspid" && port_bound "$uasport" && break
            kill -KILL "$uaspid" 2>/dev/null; wait "$uaspid" 2>/dev/null; forget_pid "$uaspid"
            uaspid=""
        done
        if [ -z "$uaspid" ]; then
            note_error "$name: the SIPp MESSAGE UAS did not start (see $dir/uas.out)"
            S_WHY="uas did not start"; step_json "$name" "$rate" "$calls" "$notify" "$logto" "$profile"
            return
        fi
        contact_port=$uasport
    fi

    # The registrar
    local listen=127.0.0.1:0 startup_s=10
    local -a cmd=("$REGISTRAR" --listen "$listen" --notify "$notify"
                  --max-expires "$EXPIRES" --default-expires "$EXPIRES")
    if [ "$logto" = null ]; then
        port=$(free_udp_port) || { note_error "$name: no free UDP port"; return; }
        cmd[2]=127.0.0.1:$port
    fi
    if [ "$profile" = callgrind ]; then
        cmd=("$VALGRIND" --tool=callgrind --callgrind-out-file="$dir/callgrind.out"
             --log-file="$dir/valgrind.log" "${cmd[@]}")
        startup_s=60
    fi
    if [ "$logto" = null ]; then
        "${cmd[@]}" 2>/dev/null &
    else
        "${cmd[@]}" 2>"$log" &
    fi
    regpid=$!
    PIDS+=("$regpid")
    for _ in $(seq $((startup_s * 20))); do
        alive "$regpid" || break
        if [ "$logto" = null ]; then
            port_bound "$port" && break
        else
            port=$(sed -n '1s/^listening udp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log" 2>/dev/null)
            [ -n "$port" ] && break
        fi
        sleep 0.05
    done
    if ! alive "$regpid" || [ -z "$port" ] || { [ "$logto" = null ] && ! port_bound "$port"; }; then
        note_error "$name: the registrar did not start (${cmd[*]}; log $log)"
        S_WHY="registrar did not start"
        [ -n "$uaspid" ] && kill -KILL "$uaspid" 2>/dev/null
        kill -KILL "$regpid" 2>/dev/null
        step_json "$name" "$rate" "$calls" "$notify" "$logto" "$profile"
        return
    fi

    if [ "$profile" = perf ]; then
        "$PERF" record -e cpu-clock -F "${BENCH_SIP_PERF_FREQ:-1000}" --call-graph dwarf -o "$dir/perf.data" -p "$regpid" >"$dir/perf-record.log" 2>&1 &
        perfpid=$!
        PIDS+=("$perfpid")
        sleep 0.5
    fi

    local t0 t1 cpu0 cpu1 sipp_rc uacport samplerpid rcv0 rcv1
    uacport=$(free_udp_port) || uacport=0
    [ "$notify" = all ] || contact_port=$uacport
    sample_udp "$port" "$uacport" ${uasport:+"$uasport"} > "$dir/udp-sockets.txt" &
    samplerpid=$!
    PIDS+=("$samplerpid")
    rcv0=$(udp_rcvbuf_errors)
    cpu0=$(cpu_ns "$regpid")
    t0=$EPOCHREALTIME
    local limit=$(( calls / rate + RECV_TIMEOUT_MS / 1000 + 60 ))
    TIMEFORMAT='%R %U %S'
    # In the step's directory: -trace_rtt writes its file (one line per answered
    # REGISTER: when, and the response time) in the working directory.
    local here=$PWD
    cd "$dir" || return
    { time "$SIPP" -sf "$UAC_XML" -inf "$CSV" -i 127.0.0.1 \
        -p "$uacport" -buff_size "$SIPP_BUFF" \
        -key contact_port "$contact_port" -key expires "$EXPIRES" \
        -r "$rate" -rp 1000 -m "$calls" -l $((2 * rate + 100)) \
        -recv_timeout "$RECV_TIMEOUT_MS" -timeout "$limit" -timeout_error \
        -nostdin -trace_stat -stf "$dir/sipp-stat.csv" -fd 1 \
        -trace_screen -screen_file "$dir/sipp-screen.log" \
        -trace_err -error_file "$dir/sipp-errors.log" \
        -trace_rtt -rtt_freq 1 \
        "127.0.0.1:$port" >"$dir/sipp.out" 2>&1 ; } 2>"$dir/sipp.time"
    sipp_rc=$?
    cd "$here" || exit 2
    t1=$EPOCHREALTIME

    # MESSAGEs still in flight: wait for each logon's final answer (or Timer F)
    local expected_msgs=0 finals=0
    if [ "$notify" = all ] && [ "$logto" = file ]; then
        for _ in $(seq 400); do
            expected_msgs=$(count '^event NOTIFY_LOGON ' "$log")
            finals=$(count '^message [^ ]+ ([0-9]+|timeout)$' "$log")
            [ "$finals" -ge "$expected_msgs" ] && break
            alive "$regpid" || break
            sleep 0.1
        done
    fi
    cpu1=$(cpu_ns "$regpid")
    local t2=$EPOCHREALTIME
    rcv1=$(udp_rcvbuf_errors)
    kill -TERM "$samplerpid" 2>/dev/null
    wait_exit "$samplerpid" 5

    if [ -n "$perfpid" ]; then
        kill -INT "$perfpid" 2>/dev/null
        wait_exit "$perfpid" 60
    fi
    kill -TERM "$regpid" 2>/dev/null
    wait_exit "$regpid" "$([ "$profile" = callgrind ] && echo 60 || echo 10)"
    local reg_rc=$WAIT_RC
    if [ -n "$uaspid" ]; then
        # Its calls wait out the retransmission window: no need to wait for them
        kill -USR1 "$uaspid" 2>/dev/null
        wait_exit "$uaspid" 2
    fi

    # SIPp's figures
    local st=$dir/sipp-stat.csv created ok failed f_timeout f_unexp f_retrans retrans start cur elapsed
    created=$(stat_field "$st" 'OutgoingCall(C)')
    ok=$(stat_field "$st" 'SuccessfulCall(C)')
    failed=$(stat_field "$st" 'FailedCall(C)')
    f_timeout=$(stat_field "$st" 'FailedTimeoutOnRecv(C)')
    f_unexp=$(stat_field "$st" 'FailedUnexpectedMessage(C)')
    f_retrans=$(stat_field "$st" 'FailedMaxUDPRetrans(C)')
    retrans=$(stat_field "$st" 'Retransmissions(C)')
    start=$(stat_epoch "$(stat_field "$st" 'StartTime')")
    cur=$(stat_epoch "$(stat_field "$st" 'CurrentTime')")
    elapsed=$(awk -v a="$start" -v b="$cur" 'BEGIN { if (a != "" && b != "" && b > a) printf "%.3f", b - a }')
    local wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    [ -n "$elapsed" ] || elapsed=$wall
    S_ACHIEVED=$(awk -v c="${created:-0}" -v e="$elapsed" 'BEGIN { if (e > 0) printf "%.1f", c / e; else print 0 }')
    # Better, from SIPp's -trace_rtt file (per answered REGISTER: the time of
    # the answer and the response time, in SIPp's whole ms):
    # - the send rate: answered REGISTERs over the span between the first and
    #   the last one sent (answer time less response time), SIPp's start-up
    #   and final wait left out: did SIPp reach the rate?
    # - the answer rate: the registrar's throughput, answers between the 1st
    #   and the 99th percentile of the answer times (a few late answers to
    #   retransmissions do not stretch the span, a queue that keeps growing
    #   does);
    # - response time percentiles.
    local rtt p50="" p99="" pmax="" send_rate="" answer_rate=""
    rtt=$(ls "$dir"/*_rtt.csv 2>/dev/null | head -1)
    if [ -n "$rtt" ]; then
        read -r send_rate answer_rate < <(awk -F';' 'NR > 1 && NF >= 2 { print $1 + 0, $1 - $2 }' "$rtt" \
            | sort -n | awk '
            { n++; a[n] = $1; s = $2; if (n == 1 || s < f) f = s; if (n == 1 || s > l) l = s }
            END {
                if (n < 2) exit
                sr = (l > f) ? sprintf("%.1f", (n - 1) * 1000 / (l - f)) : "null"
                lo = 1; hi = n
                if (n >= 200) { lo = int(n * 0.01) + 1; hi = int(n * 0.99) }
                ar = (a[hi] > a[lo]) ? sprintf("%.1f", (hi - lo) * 1000 / (a[hi] - a[lo])) : "null"
                print sr, ar
            }') || true
        read -r p50 p99 pmax < <(awk -F';' 'NR > 1 && NF >= 2 { print $2 + 0 }' "$rtt" | sort -n | awk '
            { v[NR] = $1 } END { if (NR) print v[int((NR - 1) * 0.5) + 1], v[int((NR - 1) * 0.99) + 1], v[NR] }') || true
        [ "$KEEP_LOGS" = 1 ] || rm -f "$rtt"
    fi
    [ "$send_rate" = null ] && send_rate=""
    [ "$answer_rate" = null ] && answer_rate=""
    # The step's achieved rate: the lower of the two
    if [ -n "$send_rate" ] && [ -n "$answer_rate" ]; then
        S_ACHIEVED=$(awk -v a="$send_rate" -v b="$answer_rate" 'BEGIN { print (a < b) ? a : b }')
    fi
    S_RETRANS=${retrans:-}
    local sipp_cpu_pct="" sipp_real sipp_user sipp_sys
    read -r sipp_real sipp_user sipp_sys < <(tail -1 "$dir/sipp.time" 2>/dev/null) || true
    sipp_cpu_pct=$(awk -v r="${sipp_real:-0}" -v u="${sipp_user:-0}" -v s="${sipp_sys:-0}" \
                   'BEGIN { if (r > 0) printf "%.1f", 100 * (u + s) / r }')

    # The sockets: peak receive queue (KB of kernel memory) and drops
    local reg_rxq="" reg_drops="" uac_rxq="" uac_drops="" uas_rxq="" uas_drops="" rcvbuf_errors="" sp sq sd
    while read -r sp sq sd; do
        sq=$(( (sq + 1023) / 1024 ))
        if [ "$sp" = "$port" ]; then reg_rxq=$sq; reg_drops=$sd
        elif [ "$sp" = "$uacport" ]; then uac_rxq=$sq; uac_drops=$sd
        elif [ "$sp" = "$uasport" ]; then uas_rxq=$sq; uas_drops=$sd; fi
    done < "$dir/udp-sockets.txt"
    [ -n "$rcv0" ] && [ -n "$rcv1" ] && rcvbuf_errors=$((rcv1 - rcv0))

    # The registrar's figures
    local reg_cpu_s="" reg_cpu_pct="" us_per_req=""
    if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
        reg_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        reg_cpu_pct=$(awk -v c="$reg_cpu_s" -v a="$t0" -v b="$t2" 'BEGIN { if (b > a) printf "%.1f", 100 * c / (b - a) }')
        us_per_req=$(awk -v a="$cpu0" -v b="$cpu1" -v n="${created:-0}" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / 1e3 / n }')
    fi
    local replies=0 non200=0 resends=0 ev_created=0 ev_refreshed=0 logons=0 msg200=0 msgbad=0 msgtimeout=0 drops=0
    local log_lines=0 log_bytes=0
    if [ "$logto" = file ] && [ -f "$log" ]; then
        replies=$(count '^reply 200 REGISTER ' "$log")
        non200=$(count '^reply [^2][0-9][0-9] ' "$log")
        resends=$(count '^resend ' "$log")
        ev_created=$(count '^event CREATED ' "$log")
        ev_refreshed=$(count '^event REFRESHED ' "$log")
        logons=$(count '^event NOTIFY_LOGON ' "$log")
        msg200=$(count '^message [^ ]+ 2[0-9][0-9]$' "$log")
        msgbad=$(count '^message [^ ]+ [3-6][0-9][0-9]$' "$log")
        msgtimeout=$(count '^message [^ ]+ timeout$' "$log")
        drops=$(count '^(drop|message-dropped) ' "$log")
        log_lines=$(wc -l < "$log")
        log_bytes=$(wc -c < "$log")
    fi

    # Verdict
    local why=()
    if [ "$reg_rc" != 0 ]; then
        why+=("registrar exit status $reg_rc")
        note_error "$name: the registrar died or did not stop cleanly (exit status $reg_rc; log $log)"
    fi
    if [ -z "$created" ]; then
        why+=("no SIPp statistics (sipp exit status $sipp_rc)")
        note_error "$name: SIPp gave no statistics (exit status $sipp_rc; see $dir/sipp.out)"
    else
        [ "${ok:-0}" -eq "$calls" ] || why+=("${ok:-0}/$calls answered 200")
        [ "${failed:-0}" -eq 0 ] || why+=("$failed failed calls (timeout ${f_timeout:-0}, max retrans ${f_retrans:-0}, unexpected ${f_unexp:-0})")
        if [ "${f_unexp:-0}" -gt 0 ] || [ "$non200" -gt 0 ]; then
            note_error "$name: the registrar answered other than 200 (SIPp unexpected ${f_unexp:-0}, log non-200 $non200; see $dir/sipp-errors.log)"
        fi
        awk -v a="$S_ACHIEVED" -v r="$rate" -v t="$TOLERANCE" 'BEGIN { exit !(a >= r * (1 - t / 100)) }' \
            || why+=("achieved $S_ACHIEVED/s")
        if [ "$MAX_P99_MS" -gt 0 ] && [ -n "$p99" ] &&
           awk -v p="$p99" -v m="$MAX_P99_MS" 'BEGIN { exit !(p > m) }'; then
            why+=("response p99 $p99 ms > $MAX_P99_MS ms")
        fi
    fi
    if [ "$notify" = all ]; then
        [ "$logons" -gt 0 ] || why+=("no NOTIFY_LOGON")
        [ "$msg200" -eq "$logons" ] || why+=("$msg200/$logons MESSAGEs answered 200 ($msgtimeout timeouts)")
    fi
    [ "$drops" -eq 0 ] || why+=("$drops dropped datagrams or MESSAGEs")
    if [ ${#why[@]} -eq 0 ]; then
        S_PASS=1
    else
        S_WHY=$(IFS=';'; echo "${why[*]}" | sed 's/;/; /g')
    fi
    local verdict=PASS
    [ "$S_PASS" = 1 ] || verdict="FAIL ($S_WHY)"
    printf -- '   achieved %s/s (sent %s/s, answered %s/s), %s ok, %s failed, %s retransmissions, response p50/p99/max %s/%s/%s ms\n' \
        "$S_ACHIEVED" "${send_rate:-?}" "${answer_rate:-?}" "${ok:-0}" "${failed:-?}" "${retrans:-?}" "${p50:-?}" "${p99:-?}" "${pmax:-?}" >&2
    printf -- '   registrar %s%% CPU, %s us/REGISTER, socket queue peak %s KB, %s drops; sipp %s%% CPU, socket queue peak %s KB, %s drops: %s\n' \
        "${reg_cpu_pct:-?}" "${us_per_req:-?}" "${reg_rxq:-?}" "${reg_drops:-?}" "${sipp_cpu_pct:-?}" "${uac_rxq:-?}" "${uac_drops:-?}" "$verdict" >&2

    step_json "$name" "$rate" "$calls" "$notify" "$logto" "$profile" \
        "\"achieved_rate\": $(fnum "$S_ACHIEVED"), \"send_rate\": $(fnum "$send_rate"), \"answer_rate\": $(fnum "$answer_rate"), \"elapsed_s\": $(fnum "$elapsed" 3),
      \"sipp\": {\"exit_status\": $sipp_rc, \"created\": ${created:-null}, \"successful\": ${ok:-null},
                \"failed\": ${failed:-null}, \"failed_timeout\": ${f_timeout:-null},
                \"failed_max_udp_retrans\": ${f_retrans:-null}, \"failed_unexpected\": ${f_unexp:-null},
                \"retransmissions\": ${retrans:-null}, \"cpu_pct\": $(fnum "$sipp_cpu_pct")},
      \"response_ms\": {\"p50\": ${p50:-null}, \"p99\": ${p99:-null}, \"max\": ${pmax:-null}},
      \"udp\": {\"registrar_rx_queue_peak_kb\": ${reg_rxq:-null}, \"registrar_drops\": ${reg_drops:-null},
               \"sipp_rx_queue_peak_kb\": ${uac_rxq:-null}, \"sipp_drops\": ${uac_drops:-null},
               \"uas_rx_queue_peak_kb\": ${uas_rxq:-null}, \"uas_drops\": ${uas_drops:-null},
               \"rcvbuf_errors_all_sockets\": ${rcvbuf_errors:-null}},
      \"registrar\": {\"exit_status\": \"$reg_rc\", \"cpu_s\": $(fnum "$reg_cpu_s" 3), \"cpu_pct\": $(fnum "$reg_cpu_pct"),
                     \"cpu_us_per_register\": $(fnum "$us_per_req"),
                     \"log\": {\"lines\": $log_lines, \"bytes\": $log_bytes, \"reply_200_register\": $replies,
                              \"non_200\": $non200, \"resend\": $resends, \"created\": $ev_created,
                              \"refreshed\": $ev_refreshed, \"notify_logon\": $logons, \"message_200\": $msg200,
                              \"message_error\": $msgbad, \"message_timeout\": $msgtimeout, \"drop\": $drops}}"
    S_US_PER_REQ=$us_per_req
    S_CPU_PCT=$reg_cpu_pct
    S_SIPP_CPU=$sipp_cpu_pct
    S_P99=$p99; S_PMAX=$pmax; S_REG_RXQ=$reg_rxq; S_REG_DROPS=$reg_drops; S_UAC_DROPS=$uac_drops
    S_LOG_BYTES=$log_bytes
    S_CALLS=${created:-0}
    S_MSG200=$msg200
    S_LOGONS=$logons
    S_DIR=$dir

    # A passing step's log is big and says nothing more than its counts
    if [ "$KEEP_LOGS" != 1 ] && [ -f "$log" ]; then
        if [ "$S_PASS" = 1 ]; then
            rm -f "$log"
        else
            { head -200 "$log"; echo "..."; tail -200 "$log"; } > "$log.excerpt" && rm -f "$log"
        fi
    fi
}

step_json() {   # name rate calls notify log profile [more fields]
    local more=${7:-}
    STEPS_JSON="${STEPS_JSON:+$STEPS_JSON,
}    {\"name\": \"$1\", \"target_rate\": $2, \"calls\": $3, \"notify\": \"$4\", \"log\": \"$5\",
      \"profiler\": \"${6:-none}\", \"pass\": $([ "$S_PASS" = 1 ] && echo true || echo false),
      \"why\": \"$(printf '%s' "$S_WHY" | sed 's/\\/\\\\/g; s/"/\\"/g')\"${more:+,
      $more}}"
}

calls_for() {   # calls_for RATE SECONDS: at least one REGISTER per UE
    local c=$(($1 * $2))
    [ "$c" -ge "$UES" ] || c=$UES
    echo "$c"
}

echo "bench-sip: $UES UEs ($((UES / 2)) users), rates: $RATES; ${STEP_SECONDS}s a step (at least one REGISTER per UE); registrar $REGISTRAR_SRC; SIPp ${SIPP_VERSION:-?}" >&2

# ---- 1. the ramp (--notify none) ----------------------------------------------
PASSED="" BEST=0 BEST_RETRANS="" BEST_INFO="" CEILING="" CEILING_WHY="" LOWEST_FAILED=0 first=1
declare -A STEP_US STEP_LOG_BYTES STEP_CALLS
for rate in $RATES; do
    run_step "none-$rate" "$rate" "$(calls_for "$rate" "$STEP_SECONDS")" none file none
    STEP_US[$rate]=$S_US_PER_REQ; STEP_LOG_BYTES[$rate]=$S_LOG_BYTES; STEP_CALLS[$rate]=$S_CALLS
    if [ "$S_PASS" = 1 ]; then
        BEST=$rate; BEST_RETRANS=$S_RETRANS
        PASSED="$PASSED $rate"
        BEST_INFO="response p99/max ${S_P99:-?}/${S_PMAX:-?} ms, registrar ${S_CPU_PCT:-?}% of a core, SIPp ${S_SIPP_CPU:-?}%"
    else
        [ "$first" = 1 ] && LOWEST_FAILED=1
        CEILING=$rate; CEILING_WHY="$S_WHY (registrar ${S_CPU_PCT:-?}% of a core, socket queue peak ${S_REG_RXQ:-?} KB, ${S_REG_DROPS:-?} drops; SIPp ${S_SIPP_CPU:-?}%, ${S_UAC_DROPS:-?} drops; ${S_RETRANS:-?} retransmissions, response p99/max ${S_P99:-?}/${S_PMAX:-?} ms)"
        break
    fi
    first=0
done
[ "$LOWEST_FAILED" = 1 ] && note_error "the lowest rate ($CEILING/s) failed: $CEILING_WHY"

# ---- 2. --notify all ------------------------------------------------------------
# One pass over the UEs: every REGISTER creates a binding, and each user's
# second UE brings two MESSAGEs (to itself and to the first), so the
# registrar does more per REGISTER than in the ramp. First at the highest
# sustained rate; when that fails, at most two lower rates: the passing ramp
# rates at or below half of it, highest first.
NOTIFY_JSON=null
if [ "$NOTIFY_STEP" = 1 ] && [ "$BEST" -gt 0 ]; then
    if [ -n "$NOTIFY_RATE" ]; then
        n_rates=$NOTIFY_RATE
    else
        n_rates="$BEST $(for r in $PASSED; do [ $((2 * r)) -le "$BEST" ] && echo "$r"; done | sort -rn | head -2)"
    fi
    n_pass=0 n_rate=0 n_retrans="" n_msgs=0 n_logons=0 n_fails=""
    for nrate in $n_rates; do
        run_step "all-$nrate" "$nrate" "$UES" all file none
        n_rate=$nrate n_retrans=$S_RETRANS n_msgs=$S_MSG200 n_logons=$S_LOGONS
        if [ "$S_PASS" = 1 ]; then
            n_pass=1
            break
        fi
        n_fails="${n_fails:+$n_fails; }$nrate/s: $S_WHY (registrar ${S_CPU_PCT:-?}% of a core, SIPp ${S_SIPP_CPU:-?}%)"
    done
    NOTIFY_JSON="{\"rate\": $n_rate, \"pass\": $([ "$n_pass" = 1 ] && echo true || echo false), \"registers\": $UES, \"messages_answered_200\": ${n_msgs:-0}, \"notify_logon_events\": ${n_logons:-0}, \"retransmissions\": ${n_retrans:-null}, \"failed\": \"$(json_str "$n_fails")\"}"
fi

# The rate of the log and profile steps: the highest passing rate of the ramp
# at or below half the highest sustained one (the lowest passing rate if none):
# the registrar busy, with room left for perf's own cost
PRATE=${PROFILE_RATE:-0}
if [ "$PRATE" -eq 0 ]; then
    for r in $PASSED; do
        [ "$PRATE" -eq 0 ] && PRATE=$r
        [ $((2 * r)) -le "$BEST" ] && [ "$r" -gt "$PRATE" ] && PRATE=$r
    done
fi

# ---- 3. what the log costs --------------------------------------------------------
LOG_JSON=null
if [ "$LOG_STEP" = 1 ] && [ "$PRATE" -gt 0 ]; then
    if [ -z "${STEP_US[$PRATE]:-}" ]; then   # a rate the ramp did not run
        run_step "none-$PRATE" "$PRATE" "$(calls_for "$PRATE" "$STEP_SECONDS")" none file none
        STEP_US[$PRATE]=$S_US_PER_REQ; STEP_LOG_BYTES[$PRATE]=$S_LOG_BYTES; STEP_CALLS[$PRATE]=$S_CALLS
    fi
    run_step "none-$PRATE-nolog" "$PRATE" "$(calls_for "$PRATE" "$STEP_SECONDS")" none null none
    LOG_FILE_US=${STEP_US[$PRATE]} LOG_NULL_US=$S_US_PER_REQ
    LOG_BPR=$(awk -v b="${STEP_LOG_BYTES[$PRATE]:-0}" -v n="${STEP_CALLS[$PRATE]:-0}" 'BEGIN { if (n > 0) printf "%.0f", b / n }')
    LOG_SHARE=$(awk -v f="$LOG_FILE_US" -v z="$LOG_NULL_US" 'BEGIN { if (f > 0 && z != "") printf "%.1f", 100 * (f - z) / f }')
    LOG_JSON="{\"rate\": $PRATE, \"cpu_us_per_register_log_file\": $(fnum "$LOG_FILE_US"), \"cpu_us_per_register_log_devnull\": $(fnum "$LOG_NULL_US"), \"log_file_share_pct\": $(fnum "$LOG_SHARE"), \"log_bytes_per_register\": ${LOG_BPR:-null}}"
fi

# ---- 4. the CPU split ----------------------------------------------------------------
tool=$PROFILER
if [ "$tool" = auto ] || [ "$tool" = perf ]; then
    if command -v "$PERF" >/dev/null 2>&1 &&
       "$PERF" record -e cpu-clock --call-graph dwarf -o "$WORK/perf-probe.data" -- true >/dev/null 2>&1; then
        tool=perf
    elif [ "$tool" = perf ]; then
        note_error "perf cannot record here (perf_event_paranoid, or no perf)"; tool=none
    else
        tool=callgrind
    fi
    rm -f "$WORK/perf-probe.data"
fi
if [ "$tool" = callgrind ] && ! command -v "$VALGRIND" >/dev/null 2>&1; then
    [ "$PROFILER" = callgrind ] && note_error "no valgrind"
    tool=none
fi
[ "$BEST" -gt 0 ] || tool=none

# Which part of the program a frame is in: osip, libmcreg (the static library's
# symbols, and libcbor), registrar (the rest of the binary), libc, kernel, other.
REG_NAME=$(basename "$REGISTRAR")
BUCKET_AWK='
function load_lib(  s) { while ((getline s < symfile) > 0) lib[s] = 1 }
function hex(s,   i, v) {
    v = 0; s = tolower(s)
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v
}
function base(s) { sub(/\.(part|constprop|isra|cold|lto_priv)[.0-9]*.*$/, "", s); return s }
function bucket(dso, sym) {
    sub(/.*\//, "", dso)
    if (dso ~ /^libosip/)                                  return "osip"
    if (dso ~ /^libcbor/)                                  return "libmcreg"
    if (dso == reg) return (sym in lib || base(sym) in lib || sym ~ /^mcreg_/) ? "libmcreg" : "registrar"
    if (dso ~ /^(libc|libm|ld-linux)[.-]/ || dso ~ /^\[vdso/) return "libc"
    if (dso ~ /kernel/)                                    return "kernel"
    return "other"
}'

# Reads "samples<TAB>dso<TAB>symbol" lines; prints the buckets and every symbol.
classify() {
    awk -F'\t' -v symfile="$MCREG_SYMS" -v reg="$REG_NAME" "$BUCKET_AWK"'
    BEGIN { load_lib() }
    {
        n = $1; dso = $2; sym = $3; total += n
        b = bucket(dso, sym); sub(/.*\//, "", dso)
        bk[b] += n; bysym[b "\t" dso "\t" sym] += n
    }
    END {
        printf "total\t%d\n", total
        split("osip libmcreg registrar libc kernel other", order, " ")
        for (i = 1; i <= 6; i++) printf "bucket\t%s\t%d\n", order[i], bk[order[i]]
        for (k in bysym) printf "sym\t%d\t%s\n", bysym[k], k
    }'
}

# Return address -> the function a call instruction of the registrar calls: names the
# entry into osip or libmcreg even when the callee tail-calls an unnamed static function
# (perf shows a caller's frame at its return address less one).
CALLMAP=$WORK/registrar-calls.txt
objdump -d --no-show-raw-insn "$REGISTRAR" 2>/dev/null | awk '
    /^ *[0-9a-f]+:\t/ { a = $1; sub(/:$/, "", a); if (t != "") print a "\t" t; t = "" }
    /^ *[0-9a-f]+:\tcall +[0-9a-f]+ </ { t = $0; sub(/.*</, "", t); sub(/>.*/, "", t); sub(/@plt$/, "", t) }' > "$CALLMAP"

# perf script (DWARF call chains, inlined frames shown) -> each sample charged
# to the innermost frame of osip, libmcreg or the registrar (so malloc, memcpy
# and system calls count for their caller); the API function through which
# the registrar entered osip or libmcreg; the samples under the registrar's
# log_* functions; the kernel's samples by system call.
attribute() {
    awk -v symfile="$MCREG_SYMS" -v reg="$REG_NAME" -v callmap="$CALLMAP" "$BUCKET_AWK"'
    BEGIN { load_lib(); while ((getline l < callmap) > 0) { split(l, p, "\t"); callee[hex(p[1])] = p[2] } }
    function flush(   i, j, b, owner, oi, entry, first, chain, k, logged) {
        if (n == 0) return
        total++
        owner = ""; first = ""; chain = ""; logged = 0
        for (i = 1; i <= n; i++) {
            if (fd[i] == "inlined") {
                if (fs[i] ~ /^log_/) logged = 1
                continue
            }
            if (fd[i] == "unknown") continue
            b = bucket(fd[i], fs[i])
            if (first == "") first = b
            if (b == "kernel") chain = chain " " fs[i]
            if (b == "registrar" && fs[i] ~ /^log_/) logged = 1
            if (owner == "" && (b == "osip" || b == "libmcreg" || b == "registrar")) { owner = b; oi = i }
        }
        if (owner == "") owner = (first == "" ? "unknown" : first " (no caller found)")
        own[owner]++
        if (logged) logn++
        if (owner == "osip" || owner == "libmcreg") {
            entry = fs[oi]
            for (j = oi + 1; j <= n; j++) {
                if (fd[j] == "inlined" || fd[j] == "unknown") continue
                if (bucket(fd[j], fs[j]) != owner) break
                entry = fs[j]
            }
            if (j <= n) { b = bucket(fd[j], fs[j]); if ((b == "registrar" || b == "libmcreg") && ((hex(fa[j]) + 1) in callee)) entry = callee[hex(fa[j]) + 1] }
            ent[owner "\t" entry]++
        }
        if (first == "kernel") {
            k = "other"
            if (chain ~ /(ksys_write|vfs_write|sys_write)/)                         k = "write (the log)"
            else if (chain ~ /(sendto|sendmsg|udp_send)/)                           k = "sendto"
            else if (chain ~ /(recvfrom|recvmsg|udp_recv)/)                         k = "recvfrom"
            else if (chain ~ /(poll|epoll|select)/)                                 k = "poll"
            else if (chain ~ /(page_fault|exc_page)/)                               k = "page faults"
            ks[k]++
        }
        n = 0
    }
    /^[ \t]*$/ { flush(); next }
    {
        line = $0; sub(/^[ \t]+/, "", line)
        d = line; sub(/.*\(/, "", d); sub(/\)[ \t]*$/, "", d)
        s = line; sub(/^[^ ]+ /, "", s); sub(/ \([^(]*\)[ \t]*$/, "", s); sub(/\+0x[0-9a-f]+$/, "", s)
        if (d ~ /^\[?unknown\]?$/) d = "unknown"
        n++; fd[n] = d; fs[n] = s; fa[n] = line; sub(/ .*/, "", fa[n])
    }
    END {
        flush()
        printf "total\t%d\n", total
        printf "log\t%d\n", logn
        for (k in own) printf "owner\t%s\t%d\n", k, own[k]
        for (k in ent) printf "entry\t%s\t%d\n", k, ent[k]
        for (k in ks)  printf "kernel\t%s\t%d\n", k, ks[k]
    }'
}


PROFILE_JSON=null
SPLIT_TEXT="" OWNER_TEXT="" ENTRY_TEXT="" KSPLIT_TEXT="" TOP_TEXT="" LOG_INCL=""
if [ "$tool" != none ]; then
    if [ "$tool" = perf ]; then
        PERF_FREQ=${BENCH_SIP_PERF_FREQ:-1000}
        run_step "profile-perf-$PRATE" "$PRATE" "$(calls_for "$PRATE" "$PROFILE_SECONDS")" none file perf
        PDIR=$S_DIR PCPU=$S_CPU_PCT P_PASS=$S_PASS P_RATE=$PRATE
        # Self samples per (dso, symbol)
        "$PERF" report -i "$PDIR/perf.data" --no-children --sort dso,sym -g none --stdio -n \
            --percent-limit 0 >"$PDIR/perf-report.txt" 2>"$PDIR/perf-report.err"
        awk '/^#/ || NF < 5 { next }
             { n = $2; dso = $3; sym = ""; for (i = 5; i <= NF; i++) sym = sym (i > 5 ? " " : "") $i
               if (n ~ /^[0-9]+$/) printf "%d\t%s\t%s\n", n, dso, sym }' "$PDIR/perf-report.txt" \
            | classify > "$PDIR/split.txt"
        "$PERF" script -i "$PDIR/perf.data" -F ip,sym,dso 2>"$PDIR/perf-script.err" \
            | attribute > "$PDIR/attribution.txt"
        P_TOOL="perf record -e cpu-clock -F $PERF_FREQ --call-graph dwarf -p PID; perf report --no-children --sort dso,sym --stdio; perf script"
    else
        run_step "profile-callgrind-$CALLGRIND_RATE" "$CALLGRIND_RATE" "$CALLGRIND_CALLS" none file callgrind
        PDIR=$S_DIR PCPU=$S_CPU_PCT P_PASS=$S_PASS P_RATE=$CALLGRIND_RATE
        # Instructions per function and object; the kernel is not seen
        cg_lines() {   # callgrind_annotate output -> "cost<TAB>object<TAB>function"
            awk '/^ *[0-9][0-9,]* / && / \[/ {
                     n = $1; gsub(/,/, "", n)
                     obj = $0; sub(/.*\[/, "", obj); sub(/\].*/, "", obj)
                     fn = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", fn); sub(/ *\[.*/, "", fn); sub(/^[^:]*:/, "", fn)
                     sub(/.*\//, "", obj); printf "%d\t%s\t%s\n", n, obj, fn }'
        }
        callgrind_annotate --inclusive=no --threshold=100 "$PDIR/callgrind.out" \
            >"$PDIR/callgrind-self.txt" 2>"$PDIR/callgrind-annotate.err"
        cg_lines < "$PDIR/callgrind-self.txt" | classify > "$PDIR/split.txt"
        # Inclusive costs of the osip and libmcreg functions the registrar calls, and of its log
        callgrind_annotate --inclusive=yes --threshold=100 "$PDIR/callgrind.out" \
            >"$PDIR/callgrind-inclusive.txt" 2>>"$PDIR/callgrind-annotate.err"
        api=$(nm -u "$REGISTRAR" 2>/dev/null | awk '$1 == "U" { sub(/@.*/, "", $2); print $2 }' | grep '^osip_' | sort -u | tr '\n' ' ')
        P_SELF_TOTAL=$(awk -F'\t' '$1 == "total" { print $2 }' "$PDIR/split.txt")
        cg_lines < "$PDIR/callgrind-inclusive.txt" | awk -F'\t' -v api=" $api " -v t="$P_SELF_TOTAL" \
            -v symfile="$MCREG_SYMS" -v reg="$REG_NAME" "$BUCKET_AWK"'
            BEGIN { load_lib(); printf "total\t%d\n", t }
            { b = bucket($2, $3) }
            b == "osip" && index(api, " " $3 " ")       { printf "entry\tosip\t%s\t%d\n", $3, $1 }
            b == "libmcreg" && $3 ~ /^mcreg_[a-z]/     { printf "entry\tlibmcreg\t%s\t%d\n", $3, $1 }
            b == "registrar" && $3 ~ /^log_/           { logn += $1 }
            END { printf "log\t%d\n", logn }' > "$PDIR/attribution.txt"
        P_TOOL="valgrind --tool=callgrind; callgrind_annotate --inclusive=no / --inclusive=yes (instructions; the kernel is not seen)"
    fi
    P_TOTAL=$(awk -F'\t' '$1 == "total" { print $2 }' "$PDIR/split.txt")
    A_TOTAL=$(awk -F'\t' '$1 == "total" { print $2 }' "$PDIR/attribution.txt" 2>/dev/null)
    if [ "${P_TOTAL:-0}" -gt 0 ]; then
        pct() { awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.1f", 100 * n / t; else print 0 }'; }
        buckets_json=""
        while IFS=$'\t' read -r _ b n; do
            p=$(pct "$n" "$P_TOTAL")
            buckets_json="${buckets_json:+$buckets_json, }\"$b\": $p"
            SPLIT_TEXT+=$(printf '  %-32s %6s%%' "$b" "$p")$'\n'
        done < <(awk -F'\t' '$1 == "bucket"' "$PDIR/split.txt")
        top_json=""
        while IFS=$'\t' read -r _ n b dso sym; do
            p=$(pct "$n" "$P_TOTAL")
            top_json="${top_json:+$top_json,
      }{\"pct\": $p, \"bucket\": \"$b\", \"dso\": \"$(json_str "$dso")\", \"symbol\": \"$(json_str "$sym")\"}"
            TOP_TEXT+=$(printf '  %6s%%  %-10s %s (%s)' "$p" "$b" "$sym" "$dso")$'\n'
        done < <(awk -F'\t' '$1 == "sym"' "$PDIR/split.txt" | sort -t$'\t' -k2,2nr | head -20)
        owner_json="" entry_json="" kernel_json="" log_json=null
        if [ "${A_TOTAL:-0}" -gt 0 ]; then
            while IFS=$'\t' read -r _ b n; do
                p=$(pct "$n" "$A_TOTAL")
                owner_json="${owner_json:+$owner_json, }\"$(json_str "$b")\": $p"
                OWNER_TEXT+=$(printf '  %-32s %6s%%' "$b" "$p")$'\n'
            done < <(awk -F'\t' '$1 == "owner"' "$PDIR/attribution.txt" | sort -t$'\t' -k3,3nr)
            while IFS=$'\t' read -r _ b sym n; do
                p=$(pct "$n" "$A_TOTAL")
                entry_json="${entry_json:+$entry_json,
      }{\"pct\": $p, \"part\": \"$b\", \"function\": \"$(json_str "$sym")\"}"
                ENTRY_TEXT+=$(printf '  %6s%%  %-9s %s' "$p" "$b" "$sym")$'\n'
            done < <(awk -F'\t' '$1 == "entry"' "$PDIR/attribution.txt" | sort -t$'\t' -k4,4nr | head -12)
            while IFS=$'\t' read -r _ k n; do
                p=$(pct "$n" "$A_TOTAL")
                kernel_json="${kernel_json:+$kernel_json, }\"$k\": $p"
                KSPLIT_TEXT+=$(printf '  %-32s %6s%%' "$k" "$p")$'\n'
            done < <(awk -F'\t' '$1 == "kernel"' "$PDIR/attribution.txt" | sort -t$'\t' -k3,3nr)
            LOG_INCL=$(pct "$(awk -F'\t' '$1 == "log" { print $2 }' "$PDIR/attribution.txt")" "$A_TOTAL")
            log_json=$LOG_INCL
        fi
        PROFILE_JSON="{\"tool\": \"$tool\", \"command\": \"$(json_str "$P_TOOL")\", \"rate\": $P_RATE,
    \"step_passed\": $([ "$P_PASS" = 1 ] && echo true || echo false),
    \"registrar_cpu_pct\": $(fnum "$PCPU"), \"samples\": $P_TOTAL, \"unit\": \"$([ "$tool" = perf ] && echo cpu-clock samples || echo instructions)\",
    \"self_pct\": {$buckets_json},
    \"by_caller_pct\": {$owner_json},
    \"entry_points_pct\": [$entry_json],
    \"kernel_by_syscall_pct\": {$kernel_json},
    \"log_inclusive_pct\": $log_json,
    \"top_self_symbols\": [$top_json]}"
    else
        note_error "the $tool profile gave no samples (see $PDIR)"
    fi
fi

# ---- report ---------------------------------------------------------------------------
ceiling_json=null
[ -n "$CEILING" ] && ceiling_json="{\"rate\": $CEILING, \"why\": \"$(printf '%s' "$CEILING_WHY" | sed 's/"/\\"/g')\"}"
cat > "$JSON.tmp" <<EOF
{
  "benchmark": "bench-sip",
  "quick": $([ "$QUICK" = 1 ] && echo true || echo false),
  "registrar": "$REGISTRAR_SRC",
  "registrar_sha256": "$(sha256sum "$REGISTRAR" | cut -d" " -f1)",
  "sipp_version": "${SIPP_VERSION:-}",
  "ues": $UES,
  "users": $((UES / 2)),
  "rates": [$(echo $RATES | sed 's/ /, /g')],
  "step_seconds": $STEP_SECONDS,
  "tolerance_pct": $TOLERANCE,
  "max_p99_ms": $MAX_P99_MS,
  "expires": $EXPIRES,
  "sipp_buffer_bytes": $SIPP_BUFF,
  "net_core_rmem_max": $(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo null),
  "highest_sustained_rate": $BEST,
  "highest_sustained_retransmissions": ${BEST_RETRANS:-null},
  "first_failing_step": $ceiling_json,
  "notify_all": $NOTIFY_JSON,
  "logging": $LOG_JSON,
  "profile": $PROFILE_JSON,
  "errors": $ERRORS,
  "error_text": "$(printf '%s' "$ERROR_TEXT" | sed 's/\\/\\\\/g; s/"/\\"/g')",
  "steps": [
$STEPS_JSON
  ]
}
EOF
mv "$JSON.tmp" "$JSON"

echo
echo "== bench-sip: mcreg-registrar under SIPp REGISTER load, $UES UEs / $((UES / 2)) users, loopback UDP"
if [ "$BEST" -gt 0 ]; then
    echo "highest sustained rate (--notify none, log to a file): $BEST REGISTER/s, ${BEST_RETRANS:-?} SIPp retransmissions"
    echo "  ($BEST_INFO)"
else
    echo "highest sustained rate: none (the lowest rate failed)"
fi
if [ -n "$CEILING" ]; then
    echo "first failing step: $CEILING/s: $CEILING_WHY"
else
    echo "every rate of the ramp passed: the ceiling is above $BEST/s (add higher BENCH_SIP_RATES)"
fi
if [ "$NOTIFY_JSON" != null ]; then
    if [ "$n_pass" = 1 ]; then
        echo "--notify all: $n_rate REGISTER/s over $UES new UEs passed, $n_msgs logon MESSAGEs answered 200, ${n_retrans:-?} retransmissions"
    else
        echo "--notify all: no rate passed"
    fi
    [ -z "$n_fails" ] || printf '  failed at %s\n' "$n_fails"
fi
if [ "$LOG_JSON" != null ]; then
    echo "log at $PRATE/s: ${LOG_FILE_US:-?} us CPU per REGISTER with the log in a file, ${LOG_NULL_US:-?} us to /dev/null (${LOG_SHARE:-?}% of it), ${LOG_BPR:-?} log bytes per REGISTER"
fi
if [ -n "$SPLIT_TEXT" ]; then
    echo
    if [ "$tool" = perf ]; then
        echo "CPU split: perf (cpu-clock, DWARF call chains), --notify none at $P_RATE REGISTER/s, registrar at ${PCPU:-?}% of a core, $P_TOTAL samples"
    else
        echo "CPU split: callgrind (instructions; system calls not seen), --notify none at $P_RATE REGISTER/s, $P_TOTAL instructions"
    fi
    awk -F'\t' -v st="$P_TOTAL" -v tool="$tool" '
        FILENAME == ARGV[1] && $1 == "bucket" { self[$2] = $3; next }
        FILENAME == ARGV[2] && $1 == "total"  { at = $2; next }
        FILENAME == ARGV[2] && $1 == "owner"  { o = $2; sub(/ \(no caller found\)$/, "", o); own[o] += $3; next }
        END {
            name["osip"] = "osip (libosipparser2)"; name["libmcreg"] = "libmcreg (+ libcbor)"
            name["registrar"] = "registrar code"; name["libc"] = "libc"; name["kernel"] = "kernel"
            name["other"] = "other"
            byc = (tool == "perf" && at > 0)
            if (byc) printf "  %-24s %8s %14s\n", "part", "self", "with callees"
            else     printf "  %-24s %8s\n", "part", "self"
            split("osip libmcreg registrar libc kernel other", order, " ")
            for (i = 1; i <= 6; i++) {
                b = order[i]
                if (b == "other" && self[b] + 0 == 0 && own[b] + 0 == 0) continue
                if (b == "kernel" && tool != "perf") continue
                if (byc) printf "  %-24s %7.1f%% %13.1f%%\n", name[b], 100 * self[b] / st, 100 * own[b] / at
                else     printf "  %-24s %7.1f%%\n", name[b], 100 * self[b] / st
            }
            if (byc && own["unknown"] > 0) printf "  %-24s %8s %13.1f%%\n", "no frame", "", 100 * own["unknown"] / at
        }' "$PDIR/split.txt" "$PDIR/attribution.txt"
    if [ "$tool" = perf ]; then
        echo "  (self: samples in the part's own code; with callees: each sample charged to the innermost"
        echo "   osip, libmcreg or registrar frame of its call chain, so malloc, string functions and system"
        echo "   calls count for their caller; libc/kernel keep only samples with no such frame)"
        [ -n "$KSPLIT_TEXT" ] && { echo "kernel samples by system call (share of all samples):"; printf '%s' "$KSPLIT_TEXT"; }
        [ -n "$LOG_INCL" ] && echo "under the registrar's log_* functions (formatting and write): $LOG_INCL% of all samples"
        [ -n "$ENTRY_TEXT" ] && { echo "where the registrar enters osip and libmcreg (share of all samples, with callees):"; printf '%s' "$ENTRY_TEXT"; }
    else
        [ -n "$LOG_INCL" ] && echo "inclusive cost of the registrar's log_* functions: $LOG_INCL% of all instructions"
        [ -n "$ENTRY_TEXT" ] && { echo "inclusive cost of osip and libmcreg API functions (nested calls overlap):"; printf '%s' "$ENTRY_TEXT"; }
    fi
    echo "top symbols (self):"
    printf '%s' "$TOP_TEXT" | head -12
else
    echo "CPU split: not measured (profiler: $tool)"
fi
echo "figures: $JSON; step files: $WORK/"
[ "$ERRORS" -eq 0 ] || { echo "bench-sip: $ERRORS error(s): $ERROR_TEXT" >&2; exit 1; }
exit 0
