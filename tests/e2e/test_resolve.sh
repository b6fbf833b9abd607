#!/usr/bin/env bash
# Backend MAC discovery (docs/health.md): backends given without "mac" are
# resolved by mslbd (ARP probe for IPv4, neighbour solicitation for IPv6,
# from the bridge), carry traffic, and show the resolved MAC in REST; a
# server whose MAC changes is followed within one probe interval; a
# configured MAC wins; an address nobody answers for gets no sessions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"

VIP=198.18.0.100
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
add_switch_bridge br-cl
add_switch_bridge br-sv
link_bridges br-lb front br-cl cl-up
link_bridges br-lb back br-sv sv-up
add_host c1 br-cl 198.18.0.10/24 2001:db8::10/64
for i in 1 2 3; do
    add_host "s$i" br-sv "198.18.1.1$i/24" "2001:db8:1::1$i/64" "02:00:00:00:01:1$i"
    host_route "s$i" default via 198.18.1.1
    nsx "s$i" ip -6 route add default via 2001:db8:1::1
    start_server "s$i" "S$i" --tcp 8080
done

# s1 and s2 without a MAC, s3 with one; 198.18.1.19 is nobody.
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1", "2001:db8:1::1"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2},
   "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.1.11", "port": 8080},
                {"name": "s2", "ip": "198.18.1.12", "port": 8080},
                {"name": "s3", "ip": "198.18.1.13", "port": 8080, "mac": "02:00:00:00:01:13"}]},
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80,
   "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "2001:db8:1::11", "port": 8080},
                {"name": "s2", "ip": "2001:db8:1::12", "port": 8080}]},
  {"name": "ghost", "vip": "$VIP", "protocol": "tcp", "port": 81,
   "bridges": ["br-lb"],
   "backends": [{"name": "nobody", "ip": "198.18.1.19", "port": 8080}]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_rest

resolved() {   # resolved SERVICE BACKEND: prints its resolved MAC or None
    api GET "/v1/services/$1/backends/$2"
    "$PYTHON" -c '
import json, sys
r = json.loads(sys.stdin.read()).get("resolved_mac")
print(r["mac"] if r else None)' <<<"$API_BODY"
}
resolved_is() { [ "$(resolved "$1" "$2")" = "$3" ]; }

check "s1 resolved by ARP" wait_for 10 resolved_is web s1 02:00:00:00:01:11
check "s2 resolved by ARP" wait_for 10 resolved_is web s2 02:00:00:00:01:12
check "s1 resolved over IPv6 (neighbour discovery)" \
    wait_for 10 resolved_is web6 s1 02:00:00:00:01:11
check "s2 resolved over IPv6" wait_for 10 resolved_is web6 s2 02:00:00:00:01:12
check "a configured MAC is shown as configured, not resolved" sh -c "
    curl -s $REST_URL/v1/services/web/backends/s3 | grep -q '\"mac\": *\"02:00:00:00:01:13\"'
    ! curl -s $REST_URL/v1/services/web/backends/s3 | grep -q resolved_mac"
check "the resolution is logged" \
    grep -q "backend address 198.18.1.11 is at MAC 02:00:00:00:01:11" "$D/mslbd.log"
check "300 connections over three servers, two without a configured MAC" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1,S3:1 --tolerance 0.15
check "200 IPv6 connections over two servers without a MAC" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 200 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1 --tolerance 0.15
check "an address nobody answers for stays unresolved" \
    test "$(resolved ghost nobody)" = None
check "its service reports itself empty" sh -c "
    curl -s $REST_URL/v1/services/ghost | grep -q '\"empty\": *true'"
check_fails "and its VIP gets no connection" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 81 --count 2 --timeout 1

# s2 gets a new MAC: its next probe fails, mslbd asks again, and the flows
# follow, within one probe interval (0.5 s) plus the probe's timeout.
t0=$(date +%s.%N)
nsx s2 ip link set eth0 address 02:00:00:00:01:99
check "the new MAC is resolved" wait_for 10 resolved_is web s2 02:00:00:00:01:99
check "the move is logged" \
    grep -q "backend address 198.18.1.12 moved from MAC 02:00:00:00:01:12 to 02:00:00:00:01:99" "$D/mslbd.log"
# When mslbd learnt it, by its log's clock (UTC, ms).
elapsed=$("$PYTHON" -c '
import datetime, sys
line = [l for l in open(sys.argv[1]) if "moved from MAC" in l][0]
t = datetime.datetime.strptime(line.split("|")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
print(round(t - float(sys.argv[2]), 3))' "$D/mslbd.log" "$t0")
check "within one interval + the probe timeout (+0.2 s): ${elapsed} s" \
    "$PYTHON" -c "import sys; sys.exit(not $elapsed <= 0.5 + 0.3 + 0.2)"
check "traffic follows the new MAC: s2 still serves, nothing fails" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1,S3:1 --tolerance 0.15
check "s2 never went down (fall 2 was not reached)" \
    sh -c "! grep -q 'backend s2 (198.18.1.12) is down' $D/mslbd.log"
