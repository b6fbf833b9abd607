#!/usr/bin/env bash
# REST write latency on an N x M model: K rounds of four kinds of write
# (add a backend, reweight one, drain one, remove the one added), one at a
# time, each from the request to the answer that reports the bridge's
# barrier confirmed it (installed: true).  Prints p50 and p99 per kind and
# overall, the OpenFlow operations each change cost (from mslbd's
# "generation N installed (flows ..., groups ...)" lines), the startup
# times (database import, first install) and mslbd's memory.
#   bench/rest_latency.sh [N] [M] [K]     (default 10000 services x 4, 50)
# The concurrent writers are bench/rest_concurrent.sh.
set -euo pipefail
N=${1:-10000}
M=${2:-4}
K=${3:-50}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
export MSLBD_START_TIMEOUT=${MSLBD_START_TIMEOUT:-600}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/rest_lib.sh"

now() { date +%s.%N; }
secs() { printf '%.2f' "$(echo "$2 - $1" | bc -l)"; }
rss_mb() { echo $(($(awk '/^VmRSS/ {print $2}' "/proc/$1/status") / 1024)); }

ovs_start
add_lb_bridge br-lb
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
"$PYTHON" "$top/bench/gen_config.py" "$N" "$M" >"$D/model.json"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# Start: the import into the (new) database happens before mslbd listens
# for switches; the bridge is pointed at it once it listens, so the first
# install is timed from then.
t0=$(now)
mslbd_start "$D/model.json" --db "$D/mslb.db" --rest "$REST_PORT"
t1=$(now)
set_controller br-lb "$MSLBD_TARGET"
wait_for 3600 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
t2=$(now)
wait_rest
pid=$(mslbd_pid)
# ovs-vswitchd (revalidators, deferred frees) and the database server are
# still busy for a moment after a large install: let them settle.
sleep "${SETTLE:-2}"

"$PYTHON" "$top/bench/rest_client.py" latency "$REST_URL" "$N" "$K" \
    "$D/writes.jsonl"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "REST writes on $N services x $M backends, $K of each kind, one at a time"
echo "(load average before/after: $load0 / $load1; 2 shared cores)"
echo "  startup: import into the database and listen $(secs "$t0" "$t1") s," \
    "first install $(secs "$t1" "$t2") s:"
grep "generation 1 installed" "$D/mslbd.log" | head -1 | sed 's/.*installed /    /'
echo "  mslbd VmRSS after the writes: $(rss_mb "$pid") MB"
echo "  request to barrier-confirmed answer (target p99 <= 5 ms, p50 <= 2 ms;"
echo "  OpenFlow operations, target <= 4 per backend change):"
"$PYTHON" "$top/bench/rest_client.py" report "$D/writes.jsonl" "$D/mslbd.log"
