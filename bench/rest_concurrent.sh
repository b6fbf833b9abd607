#!/usr/bin/env bash
# Concurrent REST writers: W threads (one keep-alive connection each) each
# add C backends to an N x M model, spread so that writers collide on the
# same services (mslbd retries those transactions).  Prints writes/s over
# all acknowledged writes, their latency, errors, and "lost: L": the
# acknowledged backends missing when every service is read back afterwards.
#   bench/rest_concurrent.sh [N] [M] [W] [C]    (default 100 x 4, 20 x 50)
set -euo pipefail
N=${1:-100}
M=${2:-4}
W=${3:-20}
C=${4:-50}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
export MSLBD_START_TIMEOUT=${MSLBD_START_TIMEOUT:-600}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/rest_lib.sh"

ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
"$PYTHON" "$top/bench/gen_config.py" "$N" "$M" >"$D/model.json"
mslbd_start "$D/model.json" --db "$D/mslb.db" --rest "$REST_PORT"
wait_rest
wait_for 3600 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
"$PYTHON" "$top/bench/rest_client.py" concurrent "$REST_URL" "$N" "$W" "$C" \
    120 || rc=$?
echo "  (load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg);" \
    "2 shared cores; the client's threads share them)"
echo "  bundles: $(grep -c 'installed (flows' "$D/mslbd.log") for" \
    "$(grep -o 'generation [0-9]* installed' "$D/mslbd.log" | tail -1 | cut -d' ' -f2)" \
    "generations"
exit "$rc"
