#!/usr/bin/env bash
# What becomes of a failed backend's established sessions, mode nat
# (docs/health.md, "sessions"): the probes go to port 9090, served by a
# process of their own on each server, so a server's probe target can
# stop while its service ports keep serving the sessions they have.
#   web  (VIP:80 -> 8080)  "sessions": "keep" (default): a long connection
#                          to the failed backend lasts (conntrack keeps
#                          it); new ones go elsewhere.
#   hard (VIP:82 -> 8080)  "sessions": "reset": mslbd answers the long
#                          connection's next packet with an RST from
#                          VIP:82.
#   dns  (VIP:53 -> 5353)  UDP, "reset": a datagram of a flow conntrack
#                          keeps with the failed backend gets an ICMP port
#                          unreachable from the VIP.
# Backends: s1 (weight 1000) and s2 (weight 1): what is opened first goes
# to s1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

nat_topo_up
for i in 1 2; do
    start_server "s$i" "P$i" --tcp 9090
done
mon() {   # mon [EXTRA]: the monitor, port 9090
    printf '{"type": "tcp", "port": 9090, "interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2%s}' "${1:-}"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "monitor": $(mon), "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 8080 1000),$(nat_backend 2 8080 1)]},
  {"name": "hard", "vip": "$VIP", "protocol": "tcp", "port": 82,
   "monitor": $(mon ', "sessions": "reset"'), "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 8080 1000),$(nat_backend 2 8080 1)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
   "monitor": $(mon ', "sessions": "reset"'), "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 5353 1000),$(nat_backend 2 5353 1)]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_rest

health_is() {   # health_is SERVICE BACKEND STATE: its state, after a probe
    api GET "/v1/services/$1/backends/$2"
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
sys.exit(not (h.get("last") and h.get("state") == sys.argv[1]))' "$3" <<<"$API_BODY"
}
all_are() {   # all_are BACKEND STATE: in the three services
    local s
    for s in web hard dns; do
        health_is "$s" "$1" "$2" || return 1
    done
}
rejects() {   # rejects KIND: mslbd's RSTs (rst) or port unreachables (icmp)
    curl -s "$REST_URL/metrics" \
        | awk -v k="$1" '$1 == "mslb_rejects_total{kind=\"" k "\"}" {print $2}'
}
stream() {   # stream NAME PORT: a 12 s connection, in the background
    spawn_in c1 "$1" "$PYTHON" "$TOOLS/lbstream.py" "$VIP" "$2" --seconds 12 \
        --max-stall 3 --name-file "$D/$1.backend"
}
dns() {   # dns EXPECT: one datagram from source port 41000
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 1 \
        --src-port-base 41000 --timeout 1 --expect "$1" --tolerance 0
}

for b in s1 s2; do
    check "$b is probed and up in every service" wait_for 10 all_are "$b" up
done
stream keep 80
stream reset 82
for s in keep reset; do
    check "the $s connection is open" wait_for 10 test -s "$D/$s.backend"
    check "the $s connection went to s1" grep -q S1 "$D/$s.backend"
done
check "a UDP flow from port 41000 goes to s1" dns S1:1
rst_before=$(rejects rst)
icmp_before=$(rejects icmp)

# s1's probe target stops: s1 is down in every service, while its ports
# 8080 and 5353 keep serving.
spawn_stop srv-P1
check "s1 is down in every service" wait_for 10 all_are s1 down
check "new connections of web go to s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 40 \
    --concurrency 4 --timeout 3 --expect S2:1 --tolerance 0
check "new connections of hard go to s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 82 --count 40 \
    --concurrency 4 --timeout 3 --expect S2:1 --tolerance 0
check "new UDP flows of dns go to s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 20 \
    --src-port-base 42000 --timeout 1 --expect S2:1 --tolerance 0
check_fails "the UDP flow kept by conntrack with s1 gets no answer from s1" \
    dns S1:1
check "but a port unreachable from mslbd (icmp $icmp_before -> $(rejects icmp))" \
    test "$(rejects icmp)" -gt "$icmp_before"

rc=0
spawn_wait reset 30 || rc=$?
cat "$D/logs/reset.log" >&2 || true
check "sessions reset: the connection to s1 is reset" test "$rc" -ne 0
check "by an RST" grep -q "ConnectionResetError" "$D/logs/reset.log"
check "which mslbd sent (mslb_rejects_total rst $rst_before -> $(rejects rst))" \
    test "$(rejects rst)" -gt "$rst_before"
rc=0
spawn_wait keep 30 || rc=$?
cat "$D/logs/keep.log" >&2 || true
check "sessions kept: the connection to s1 lasted its 12 s" test "$rc" -eq 0

start_server s1 P1 --tcp 9090
check "s1 is up again in every service" wait_for 10 all_are s1 up
check "new connections of hard go to s1 again" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 82 --count 40 \
    --concurrency 4 --timeout 3 --expect S1:1000,S2:1 --tolerance 0.1
