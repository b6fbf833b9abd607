#!/usr/bin/env bash
# Health-probe rate (issue 10): N services x M backends, each probed by an
# in-band TCP SYN (docs/health.md), in mode nat on a private ovs-vswitchd.
#
#   bench/health.sh [N] [M]        (default 1000 services x 4 backends)
#
# Topology: br-lb (nat, gateway 198.18.1.1 on its back side); its "back"
# port is the veth of ONE server namespace that holds every backend's
# address (198.18.16.1-198.18.31.250, /32 each, all behind one MAC) and a
# TCP listener on 0.0.0.0:8000 (the kernel answers the SYNs; mslbd resets
# every handshake, so nothing is accepted); "front" is an internal port
# with nothing behind it.  Every backend has "monitor": {"type": "tcp",
# "interval": I, "timeout": min(0.5, I/2), "rise": 2, "fall": 2}.
#
# 1. Baseline, I = 1 s (N x M probes/s): over $WINDOW s (20), from
#    /metrics: probes sent per second, results, late probes (sent more than
#    one interval after due), mean and max delay after due, backends down;
#    CPU time of mslbd and of ovs-vswitchd per probe (utime + stime of
#    every thread, /proc/PID/task/*/stat) and the machine's idle share.
# 2. Flap-to-switch: the b0 backends of the first $FLAP_N (40) services
#    listen on port 8001 instead; that listener is stopped (RST: down after
#    fall = 2 probes) and started again (up after rise = 2), $FLAP_CYCLES
#    (3) times, under the baseline's probe load.  From mslbd's log (ms
#    timestamps): each "is down/up" decision to the next "generation G
#    installed" (the bridge's barrier reply after the bundle).
# 3. The rate is raised with the same backends: I = $INTERVALS (0.5 0.33
#    0.25 0.2 0.15 0.1; 0.1 s is the smallest interval a monitor accepts),
#    the config rewritten and applied by SIGHUP, $SETTLE s (5) before each
#    window, until a window fails: a late probe, a timeout, a backend down
#    or a transition, or fewer than 95% of the expected probes sent.  If
#    the baseline failed, the rate is lowered instead ($INTERVALS_DOWN:
#    2 4 8 s) until a window passes.
# 4. One GET /metrics, and what it did to the probes over $SETTLE s after,
#    against a control window of $SETTLE s just before it.
#
# mslbd's counters (probes, results, delays, late, transitions, backends
# up) are read with GET /metrics (curl), once at each end of a window: each
# GET's duration is printed (get_ms), and step 4 shows what one costs.
# The waits for the flapping backends read the log's "is down"/"is up"
# lines instead, so as not to poll /metrics ten times a second.
# QUEUE=N sets the switch's controller_queue_size (OVS default 100) from
# the start; STATIC_ARP=1 gives the server a permanent entry for the
# gateway.
#    Prints the ceiling (the highest rate that passed) and what limits it:
#    the process with a thread at >= 85% of a core in the failing window
#    (mslbd, or ovs-vswitchd's threads: the switch; the kernel's work for
#    the server's SYN-ACKs is mostly accounted to ovs-vswitchd's thread
#    that sends into the veth).
# Results are printed, never asserted (exit 1 only for a setup error).
# Needs root, curl and a build of mslbd ($MSLBD, default build/mslbd).
set -euo pipefail
N=${1:-1000}
M=${2:-4}
WINDOW=${WINDOW:-20}
SETTLE=${SETTLE:-5}
INTERVALS=${INTERVALS:-"0.5 0.33 0.25 0.2 0.15 0.1"}
FLAP_N=${FLAP_N:-40}
FLAP_CYCLES=${FLAP_CYCLES:-3}
PORT=8000
FLAP_PORT=8001
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
export MSLBD_START_TIMEOUT=${MSLBD_START_TIMEOUT:-120}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/rest_lib.sh"
HS=$top/bench/health_stats.py
[ $((N * M)) -le 4000 ] || die "at most 4,000 backends (N x M)"
[ "$FLAP_N" -le "$N" ] || FLAP_N=$N

timeout_of() { "$PYTHON" -c "print(min(0.5, round($1 / 2, 3)))"; }
write_config() {   # write_config INTERVAL
    "$PYTHON" "$HS" config "$N" "$M" "$1" "$(timeout_of "$1")" "$FLAP_N" \
        "$PORT" "$FLAP_PORT" >"$D/mslb.json.tmp"
    mv "$D/mslb.json.tmp" "$D/mslb.json"
}
# metrics FILE: GET /metrics into FILE; prints how long it took (s).
metrics() {
    curl -s -S --max-time 120 -o "$1" -w '%{time_total}' "$REST_URL/metrics" \
        || die "GET /metrics failed"
}
counter() { metrics "$D/m.txt" >/dev/null; "$PYTHON" "$HS" counter "$D/m.txt" "$1"; }
down_now() { "$PYTHON" "$HS" down "$D/mslbd.log"; }
all_up() { [ "$(down_now)" -eq 0 ]; }
flap_down() { [ "$(down_now)" -eq "$FLAP_N" ]; }
snap() {   # snap NAME: $D/NAME.json (the counters and every thread's CPU)
    local get_s
    get_s=$(metrics "$D/$1.metrics")
    echo "$get_s" >>"$D/gets.txt"
    "$PYTHON" "$HS" snap "$D/$1.metrics" "$get_s" "$MPID" "$OPID" \
        >"$D/snap-$1.json"
}

# A listener whose handshakes never complete: listen() only.
listener() {   # listener TAG PORT
    spawn_in back "$1" "$PYTHON" -c '
import signal, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(65535)
open(sys.argv[2], "w").write("ready\n")
signal.pause()' "$2" "$D/pids/$1.ready"
    wait_for 10 test -s "$D/pids/$1.ready" || die "listener $1 did not start"
}
listener_stop() { spawn_stop "$1"; rm -f "$D/pids/$1.ready"; }

# ------------------------------------------------------------ topology

log "building: $N services x $M backends"
ovs_start
add_lb_bridge br-lb    # pointed at mslbd once it runs
vsctl add-port br-lb front -- set interface front type=internal
in_ovs ip link set front up
# The server namespace ("back") is the bridge's back port itself.
add_host back br-lb 198.18.1.11/24 - 02:00:00:00:01:11
OPID=$(cat "$D/ovs-vswitchd.pid")
host_route back default via 198.18.1.1
if [ "${STATIC_ARP:-0}" = 1 ]; then   # the gateway's MAC, never resolved
    ip -n "$(ns_of back)" neigh replace 198.18.1.1 lladdr 0a:00:00:00:00:01 \
        dev eth0 nud permanent
fi
nsx back sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
    2>/dev/null || true
"$PYTHON" "$HS" addrs "$N" "$M" >"$D/addrs.batch"
ip -n "$(ns_of back)" -batch "$D/addrs.batch"
log "$(nsx back ip -4 -o addr show dev eth0 | wc -l) addresses on the server"
listener lst "$PORT"
listener flap "$FLAP_PORT"

write_config 1
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
MPID=$(mslbd_pid)
wait_rest || die "REST not answering"
# The switch's packet-in queue (OVS: 100) is set with the controller, so
# that it holds from the first probe.
vsctl set-controller br-lb "$MSLBD_TARGET" -- set controller br-lb \
    connection-mode=out-of-band max_backoff=1000 \
    ${QUEUE:+controller_queue_size="$QUEUE"}
wait_for 120 grep -q "bridge br-lb: generation [0-9]* installed" "$D/mslbd.log" \
    || die "br-lb never installed"
log "installed: $(grep -m1 'bridge br-lb: generation' "$D/mslbd.log" | sed 's/.*|//')"
# Every backend probed twice (2 intervals and a timeout, without polling
# /metrics: each GET disturbs the probes, see step 4); all up (else say so
# and go on).
sleep 3
[ "$(counter sent)" -ge $((2 * N * M)) ] \
    || log "after 3 s only $(counter sent) probes sent (< $((2 * N * M)))"
wait_for 30 all_up || log "after the first probes $(down_now) backends are down"
START_DOWNS=$(grep -c ') is down: ' "$D/mslbd.log" || true)
snap start
START_COUNTS=$("$PYTHON" -c '
import json, sys
m = json.load(open(sys.argv[1]))["m"]
print("%d probes sent, %d timeouts, %d stray, %d late, delay max %.0f ms" % (
    m["sent"], m["timeout"], m["stray"], m["late"], 1000 * m["delay_max"]))' \
    "$D/snap-start.json")
log "start-up: $START_DOWNS down transitions, $(down_now) down now"
sleep "$SETTLE"

measure() {   # measure INTERVAL: one window, appended to $D/steps.jsonl
    local exp
    exp=$("$PYTHON" -c "print($N * $M / $1)")
    snap a
    sleep "$WINDOW"
    snap b
    "$PYTHON" "$HS" step "$D/snap-a.json" "$D/snap-b.json" "$1" "$exp" >>"$D/steps.jsonl"
    "$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("# interval %g s: %.0f probes/s sent (expected %.0f): %s" % (
    r["interval"], r["rate"], r["expected"], r["why"]), file=sys.stderr)
print(r["ok"])' "$D/steps.jsonl" \
        >"$D/last.ok"
    grep -q True "$D/last.ok"
}
reload() {   # reload INTERVAL: the config with INTERVAL, applied by SIGHUP
    local before
    before=$(grep -c "config .* loaded: generation" "$D/mslbd.log" || true)
    write_config "$1"
    kill -HUP "$MPID"
    for ((i = 0; i < 300; i++)); do
        [ "$(grep -c "config .* loaded: generation" "$D/mslbd.log" || true)" -gt "$before" ] \
            && return 0
        sleep 0.1
    done
    die "SIGHUP with interval $1 not applied in 30 s"
}

# --------------------------------------------------------- 1. baseline

log "baseline: interval 1 s, $((N * M)) probes/s, window ${WINDOW}s"
base_ok=1
measure 1 || base_ok=0

# --------------------------------------------------- 2. flap-to-switch

from=$(wc -l <"$D/mslbd.log")
flaps=0
for ((c = 0; c < FLAP_CYCLES; c++)); do
    listener_stop flap
    wait_for 15 flap_down || { log "flap: not all $FLAP_N down in 15 s"; }
    listener flap "$FLAP_PORT"
    wait_for 15 all_up || { log "flap: not all up again in 15 s"; }
    flaps=$((flaps + 1))
done
"$PYTHON" "$HS" flap "$D/mslbd.log" "$from" >"$D/flap.txt"
sleep "$SETTLE"

# ------------------------------------------------------- 3. the ladder

# Up from the baseline until a window fails; or, if the baseline failed,
# down ($INTERVALS_DOWN: 2 4 8 s) until one passes.
if [ "$base_ok" = 1 ]; then
    ladder=$INTERVALS
else
    ladder=${INTERVALS_DOWN:-"2 4 8"}
fi
for iv in $ladder; do
    log "interval $iv s: $("$PYTHON" -c "print(round($N * $M / $iv))") probes/s"
    reload "$iv"
    sleep "$SETTLE"
    if measure "$iv"; then
        [ "$base_ok" = 1 ] || break
    else
        [ "$base_ok" = 0 ] || break
    fi
done

# ------------------------------------ 4. what one GET /metrics costs

# Last, since it disturbs the probes: one scrape, then $SETTLE s.
reload 1
sleep "$SETTLE"
# A snapshot's own GET disturbs the window it opens (its stall comes
# before it reads the counters, the probes it delays after): the control
# window (s0 -> sa) holds one GET, the next (sa -> sb) two, the measured
# one and sa's.
snap s0
sleep "$SETTLE"
snap sa
"$PYTHON" "$HS" step "$D/snap-s0.json" "$D/snap-sa.json" 1 $((N * M)) >"$D/control.jsonl"
cpu_ms() {   # mslbd's CPU time so far (utime + stime), ms
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' \
        "/proc/$MPID/stat"
}
c0=$(cpu_ms)
scrape_s=$(metrics "$D/metrics.txt")
c1=$(cpu_ms)
sleep "$SETTLE"
snap sb
"$PYTHON" "$HS" step "$D/snap-sa.json" "$D/snap-sb.json" 1 $((N * M)) >"$D/scrape.jsonl"
scrape=$("$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).read())
print("one GET /metrics (%d lines, %d KB) took %.3f s and %.0f ms of mslbd CPU"
      " (probes included; the snapshots around it: %d and %d ms); in a %.1f s window holding it and one more GET"
      " (interval 1 s): %d probes sent, %d late, delay mean %.2f ms, delay max"
      " since start %.0f ms%s, %d timeouts, %d stray, %d transitions, %d down"
      " at its end; mslbd at %.0f%% of a core" % (
    int(sys.argv[3]), int(sys.argv[4]) // 1024, float(sys.argv[2]),
    float(sys.argv[6]) - float(sys.argv[5]),
    r["get_ms"][0], r["get_ms"][1], r["window"], r["rate"] * r["window"],
    r["late"], r["delay_mean_ms"], r["delay_max_ms"],
    "" if r["delay_max_grew"] else " (not grown)", r["timeout"], r["stray"],
    r["transitions"], r["down"], r["mslbd_cpu"]))' "$D/scrape.jsonl" \
    "$scrape_s" "$(wc -l <"$D/metrics.txt")" "$(wc -c <"$D/metrics.txt")" \
    "$c0" "$c1")

# ------------------------------------------------------------ summary

echo
echo "bench/health.sh: $N services x $M backends (mode nat, one server" \
    "namespace, one bridge), windows of ${WINDOW}s; load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
echo "mslbd: $MSLBD; the switch's controller_queue_size: ${QUEUE:-100 (OVS default)}"
"$PYTHON" "$HS" table "$D/steps.jsonl"
echo "mslbd VmRSS $(($(awk '/^VmRSS/ {print $2}' "/proc/$MPID/status") / 1024)) MB;" \
    "health lines in its log: $(grep -c '|health|' "$D/mslbd.log" || true)" \
    "(warnings/errors: $(grep -c '|WARN|\|ERR|' "$D/mslbd.log" || true))"
echo "start-up (first 2 probes of each backend, then up to 30 s):" \
    "$START_DOWNS down transitions; since mslbd started: $START_COUNTS"
echo "flap cycles: $flaps of $FLAP_CYCLES ($FLAP_N backends down and up each," \
    "interval 1 s, fall 2, rise 2)"
cat "$D/flap.txt"
echo "$scrape"
"$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).read())
print("the control window before it (%.1f s, holding only its opening GET):"
      " %d probes sent, %d late, %d timeouts, %d stray, %d transitions" % (
    r["window"], r["rate"] * r["window"], r["late"], r["timeout"], r["stray"],
    r["transitions"]))' "$D/control.jsonl"
"$PYTHON" -c '
import sys
ms = sorted(1000 * float(x) for x in open(sys.argv[1]).read().split())
print("every GET /metrics of the windows: n=%d, p50 %.0f ms, max %.0f ms" % (
    len(ms), ms[len(ms) // 2], ms[-1]))' "$D/gets.txt"
