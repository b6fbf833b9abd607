#!/usr/bin/env bash
# Several mslbd on a 3-member clustered database (docs/deployment.md).
# Prints, asserts nothing:
#   1. failover: K kills (-9) of the master during TCP streams through the
#      VIP: time from the kill to the standby's first confirmed generation
#      (target < 1 s), flows removed/added/replaced on the switch (target
#      0), streams broken (target 0);
#   2. the database leader killed (-9) during a REST write burst: time
#      until writes sent after the kill are acknowledged again, and
#      whether every acknowledged write survived;
#   3. B bridges on one ovs-vswitchd served by 2 mslbd: one service on all
#      of them, C backend reweights, each from the request to the answer
#      that reports every bridge installed it: p50/p99 through the master
#      and through the standby.
#   bench/cluster.sh [K] [B] [C]      (default 5 failovers, 100 bridges, 50)
set -euo pipefail
K=${1:-5}
PARTS=${PARTS:-123}         # Which parts to run.
B=${2:-100}
C=${3:-50}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/nat_topo.sh"
. "$top/tests/e2e/rest_lib.sh"
. "$top/tests/e2e/db_lib.sh"
. "$top/tests/e2e/cluster_lib.sh"

PA=$REST_PORT
PB=$((REST_PORT + 1))
out=$D/report.txt
say() { echo "$*" | tee -a "$out"; }

# ---- 1. failover during traffic.
nat_topo_up
db_seed "$D/seed.json"
cl_up
ctl_start a "$PA" --config "$D/seed.json"
bridge_controllers br-lb a b
wait_for 20 ctl_is a master
ctl_start b "$PB"
wait_for 10 ctl_is b standby
REST_URL=http://127.0.0.1:$PA
wait_for 20 br_in_step
warm_up >/dev/null 2>&1 || true

switch_role_is() { [ "$(switch_role "$1")" = "$2" ]; }
master=a standby=b
times=() changed=0 broken=0
for ((k = 1; k <= K; k++)); do
    spawn_in c1 "st$k" "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 6 \
        --max-stall 3
    spawn_in c2 "su$k" "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 6 \
        --max-stall 3
    sleep 1.5
    flows_snapshot "$D/flows.$k"
    t=$(date +%s.%N)
    ctl_kill9 "$master"
    wait_for 10 ms_between "$D/$standby.log" "bridge br-lb: generation [0-9]+ installed" "$t" || true
    ms=$(ms_between "$D/$standby.log" "bridge br-lb: generation [0-9]+ installed" "$t" || echo 99999)
    times+=("$ms")
    cp "$D/$standby.log" "$D/failover.$k.log"
    flows_kept "$D/flows.$k" 2>"$D/kept.$k" || changed=$((changed + 1))
    for s in "st$k" "su$k"; do
        spawn_wait "$s" 30 >/dev/null 2>&1 || broken=$((broken + 1))
    done
    # The killed one comes back as the standby.
    port=$PA; [ "$master" = b ] && port=$PB
    ctl_start "$master" "$port"
    wait_for 10 ctl_is "$master" standby || true
    # Ready to take over once the switch is connected to it again.
    wait_for 10 switch_role_is "$master" slave || true
    tmp=$master master=$standby standby=$tmp
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
say
say "1. failover: $K kills (-9) of the master mslbd during 2 TCP streams each"
say "   kill -> the standby's first confirmed generation (target < 1000 ms): $sorted ms"
say "   failovers that removed, added or replaced a flow (target 0): $changed"
say "   TCP streams broken (target 0): $broken of $((2 * K))"
sed -n 1p "$D/kept.1" | sed 's/^/   e.g. /' | tee -a "$out"

[[ $PARTS == *2* || $PARTS == *3* ]] || exit 0
# ---- 2. the database leader killed during a REST write burst.
REST_URL=http://127.0.0.1:$PB
leader_kill_burst "$REST_URL" 14 >/dev/null 2>&1 || true
leader=$LEADER
res=$(writes_resumed "$D/burst.1.json" "$T_LEADER" || true)
verified=lost
burst_verify 1 >/dev/null 2>&1 && verified="none lost"
say
say "2. the database leader (db$leader of 3) killed (-9) during a REST write burst (8 writers)"
say "   $res"
say "   acknowledged writes after the election: $verified"
cl_member_start "$leader"
wait_for 30 cl_member_ok "$leader" || true

[[ $PARTS == *3* ]] || exit 0
# ---- 3. B bridges, 2 mslbd: one service change reaching all of them.
ctl_kill9 a
ctl_kill9 b
"$PYTHON" - "$B" >"$D/many.json" <<'PY'
import json, sys
b = int(sys.argv[1])
names = ["bx%d" % i for i in range(b)]
print(json.dumps({
    "bridges": [{"name": n, "mac": "0a:00:00:00:%02x:%02x" % (i // 256, i % 256),
                 "frontend_port": n + "f", "backend_port": n + "b",
                 "gateways": ["198.18.1.1"]} for i, n in enumerate(names)],
    "services": [{"name": "wide", "vip": "198.18.0.200", "protocol": "tcp",
                  "port": 80, "bridges": names,
                  "backends": [{"name": "s%d" % k, "ip": "198.18.1.%d" % (20 + k),
                                "port": 8080, "mac": "02:00:00:00:02:%02x" % k}
                               for k in range(4)]}]}))
PY
# The same cluster, emptied: the new model is seeded from many.json.
ops='["MSLB"'
for t in Service Bridge Bridge_Status Service_Health Neighbor; do
    ops+=",{\"op\":\"delete\",\"table\":\"$t\",\"where\":[]}"
done
ovsdb-client --timeout=20 transact "unix:$D/db$(cl_leader).sock" "$ops]" >/dev/null
rm -f "$D/a.log" "$D/b.log"
ctl_start a "$PA" --config "$D/many.json"
ctl_start b "$PB"
wait_for 20 ctl_is a master || true
# The bridges, each connected to both, in one transaction of the switch.
args=()
for ((i = 0; i < B; i++)); do
    args+=(-- add-br "bx$i" -- set bridge "bx$i" datapath_type=netdev
           protocols=OpenFlow13,OpenFlow15 fail_mode=secure
           other-config:disable-in-band=true
           -- add-port "bx$i" "bx${i}f" -- set interface "bx${i}f" type=internal
           -- add-port "bx$i" "bx${i}b" -- set interface "bx${i}b" type=internal
           -- set-controller "bx$i" "unix:$D/a.sock" "unix:$D/b.sock")
done
t=$(date +%s.%N)
vsctl "${args[@]}"
in_step_all() {
    ctl_api a GET /v1/health
    [ "$(json_get 'j["bridges"]["in_step"]')" = "$B" ]
}
wait_for 300 in_step_all || true
first=$("$PYTHON" -c "import time; print(round(time.time() - $t, 2))")
lat() {    # lat NAME PORT: C reweights through mslbd NAME, one at a time.
    "$PYTHON" - "http://127.0.0.1:$2" "$C" <<'PY'
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
lat = []
for i in range(int(sys.argv[2])):
    body = json.dumps({"weight": 1 + i % 50})
    t = time.monotonic()
    c.request("PATCH", "/v1/services/wide/backends/s%d" % (i % 4), body,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    j = json.loads(r.read())
    if r.status != 200 or not j.get("installed"):
        print("write %d: %d %s" % (i, r.status, j), file=sys.stderr)
        continue
    lat.append((time.monotonic() - t) * 1000)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d writes)"
      % (p(0.5), p(0.99), lat[-1], len(lat)))
PY
}
say
say "3. $B bridges on one ovs-vswitchd, 2 mslbd; one service on all of them"
say "   $B bridges created and connected to both: all in step after $first s"
say "   a reweight until all $B bridges installed it, through the master: $(lat a "$PA")"
say "   the same through the standby (Bridge_Status rows): $(lat b "$PB")"
say "   mslbd VmRSS: master $(($(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$D/pids/a.pid")/status") / 1024)) MB," \
    "standby $(($(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$D/pids/b.pid")/status") / 1024)) MB"
