#!/usr/bin/env bash
# The demo: sets everything up, then runs mslbd on a small topology of
# namespaces behind a private Open vSwitch and sends traffic through a VIP,
# showing which backend answered.  Runs until Ctrl-C (MSLB_DEMO_ONCE=1: stop
# after the traffic); removes everything it made when it ends.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
export MSLBD=$top/build/mslbd
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/nat_topo.sh"
. "$top/tests/e2e/rest_lib.sh"
MSLBCTL=$top/build/mslbctl
export MSLB_URL=$REST_URL

say() { printf '\n== %s\n' "$*"; }

say "topology: clients c1 c2 -- br-cl == [br-lb] == br-sv -- servers s1 s2 s3"
nat_topo_up
nat_config "$D/mslb.json"
say "model ($D/mslb.json)"
cat "$D/mslb.json"
mslbd_start "$D/mslb.json" --state "$D/state.json" --rest "$REST_PORT"
wait_generation 1
grep -E "connected|installed" "$D/mslbd.log" | sed 's/^/mslbd: /'

say "ping $VIP from c1"
nsx c1 ping -c 2 -i 0.2 "$VIP" | sed -n '2,3p'

say "20 TCP connections to $VIP:80 (s1 weight 10, s2 weight 5): who answered"
nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 20 \
    --detail "$D/detail.json" >"$D/summary.json"
"$PYTHON" - "$D/detail.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("  ".join("%s<-:%s" % (r.get("name", "ERR"), r["sport"]) for r in rows))
PY
echo "summary: $(cat "$D/summary.json")"

say "1000 TCP connections to $VIP:80"
nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 1000 --concurrency 8

say "300 UDP requests to $VIP:53 (s1, s2, s3 equal)"
nsx c2 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 300 --concurrency 4

say "mslbctl (REST API on $REST_URL)"
"$MSLBCTL" list
"$MSLBCTL" show web
say "mslbctl backend drain web s1, then 300 more connections"
"$MSLBCTL" backend drain web s1
nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 --concurrency 8
sleep 1.5   # OVS folds datapath counters into flow stats about once a second
"$MSLBCTL" stats web
"$MSLBCTL" status

say "flows on br-lb"
ofctl dump-flows br-lb --no-stats | cut -c1-150
say "groups on br-lb (first bucket of each)"
ofctl dump-groups br-lb | cut -c1-150

if [ "${MSLB_DEMO_ONCE:-0}" = 1 ] || [ ! -t 0 ]; then
    say "done (MSLB_DEMO_ONCE or no terminal): cleaning up"
    exit 0
fi
say "live: try  ip netns exec $(ns_of c1) python3 $TOOLS/lbclient.py tcp $VIP 80 --count 10"
say "          or  MSLB_URL=$REST_URL $MSLBCTL list   (or edit $D/mslb.json and kill -HUP \$(cat $D/mslbd.pid))"
say "Ctrl-C to stop and clean up"
while sleep 3600; do :; done
