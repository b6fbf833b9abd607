#!/usr/bin/env bash
# REST write latency: adding one backend to one service of an N-service
# model, from the request to the answer that reports the bridge's barrier
# confirmed it (installed: true).  Prints p50 and p99 over K writes, and the
# OpenFlow operations each change cost.
#   bench/rest_latency.sh [N] [M] [K]     (default 10000 services x 4, 50)
set -euo pipefail
N=${1:-10000}
M=${2:-4}
K=${3:-50}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/rest_lib.sh"

ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
"$PYTHON" "$top/bench/gen_config.py" "$N" "$M" >"$D/model.json"
mslbd_start "$D/model.json" --state "$D/state.json" --rest "$REST_PORT"
wait_rest
wait_for 3600 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

: >"$D/times"
for ((i = 0; i < K; i++)); do
    svc=$((i * 7919 % N))
    body=$(printf '{"name":"extra%d","ip":"198.18.200.%d","port":9000,"mac":"02:00:00:c8:00:%02x"}' \
        "$i" $((1 + i % 250)) $((i % 256)))
    curl -s -o "$D/resp.json" -w '%{time_total}\n' -X POST \
        -H 'Content-Type: application/json' --data-binary "$body" \
        "$REST_URL/v1/services/svc$svc/backends" >>"$D/times"
    grep -q '"installed": true' "$D/resp.json" \
        || { cat "$D/resp.json"; die "write $i not installed"; }
done
"$PYTHON" - "$D/times" "$N" "$M" "$K" <<'PY'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]))
def pct(p):
    return t[min(len(t) - 1, int(round(p / 100.0 * (len(t) - 1))))]
print("\nREST add-backend latency, %s services x %s backends, %s writes:"
      % (sys.argv[2], sys.argv[3], sys.argv[4]))
print("  p50 %.1f ms   p99 %.1f ms   max %.1f ms   (target p99 <= 5 ms)"
      % (pct(50), pct(99), t[-1]))
PY
echo "  OpenFlow operations of the last change:"
grep "installed (flows" "$D/mslbd.log" | tail -1 | sed 's/.*installed /    /'
