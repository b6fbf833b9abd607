#!/usr/bin/env bash
# Health monitors in mode mslb (docs/health.md): the probe, a SYN from the
# first stage's gateway address to VIP:80, takes DSR_FORWARD's flow of the
# backend, so it is encapsulated (VXLAN) to the final-stage bridge on the
# server's host, which hands it to the server as a client's packet; the
# server answers from the VIP straight to the gateway (the reply link).
# A stopped server is down within fall x interval and gets no new
# connections, the others are unaffected; a server without the VIP is
# down; a final stage without its flow for the service takes every
# backend behind it down (the service is empty); each comes back after
# 'rise'.
#
#  host 1 (netns $OVS_NS)                        host 2 (netns h2)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] vx0 (gateway 198.18.0.254)
#                      ||            br-ul 198.18.2.1 == br-ul2 198.18.2.2
#                      ||                              [br-host] vx1
#                      ++=============== reply link ====  |
#                                               s1 198.18.0.31 (VIP on lo)
#                                               s2 .32, s3 .33
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
GW=198.18.0.254
INTERVAL=0.5
TIMEOUT=0.4
FALL=3
RISE=2
HSERVERS=3
LIMIT=$("$PYTHON" -c "print($FALL * $INTERVAL + $TIMEOUT + 1.0)")

mslb_two_hosts
H2_VIPS=$VIP
H2_VIPS6=
for n in 1 2 3; do
    h2_server "$n" "02:00:00:00:00:3$n"
    start_server "s$n" "S$n" --tcp 80 --tcp 81
done
mb() {
    printf '{"name":"s%s","ip":"198.18.0.3%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' \
        "$1" "$1" "$1"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0"}, "gateways": ["$GW"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": $INTERVAL, "timeout": $TIMEOUT,
               "rise": $RISE, "fall": $FALL},
   "backends": [$(mb 1),$(mb 2),$(mb 3)]},
  {"name": "nomac", "vip": "$VIP", "protocol": "tcp", "port": 81, "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.0.31", "host": "198.18.2.2", "host_bridge": "br-host"},
                {"name": "s2", "ip": "198.18.0.32", "host": "198.18.2.2", "host_bridge": "br-host"}]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
wait_rest

ofctl2() { ovs-ofctl -O OpenFlow13 "$1" "unix:$D2/br-host.mgmt" "${@:2}"; }

for b in s1 s2 s3; do
    check "$b is probed and up" wait_for 10 health_is "$b" up
done
check "the probe crosses the underlay encapsulated (VXLAN 198.18.2.1 -> 198.18.2.2)" \
    ip netns exec "$NS2" timeout 5 tcpdump -nn -p -c 1 -i ul2 \
    "src host 198.18.2.1 and dst host 198.18.2.2 and udp dst port 4789"
check "s1 gets it from the final stage: SYN from the gateway to VIP:80" \
    nsx s1 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host $GW and dst host $VIP and tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0"
check "the answer to the gateway goes back over the reply link" \
    ip netns exec "$NS2" timeout 5 tcpdump -nn -p -c 1 -i rl2 \
    "src host $VIP and src port 80 and dst host $GW and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"
check "300 connections over three servers" conns 300 S1:1,S2:1,S3:1

# ---- A stopped server: its kernel answers RST, down within fall x interval.
t0=$(date +%s.%N)
spawn_stop srv-S3
check "s3 is down after its server stopped, within $LIMIT s" down_within s3 "$t0" "$LIMIT"
check "the reason is the refused probe" \
    grep -q "service web: backend s3 (198.18.0.33) is down: $FALL failed probes in a row, the last: connection refused" "$D/mslbd.log"
check "new connections avoid s3, none fails" conns_avoid 300 S3
check "s1 and s2 stay up, never down" stayed_up s1 s2
check "the service has 2 usable backends" \
    test "$(service_field 's["status"]["usable_backends"]')" = 2
start_server s3 S3 --tcp 80
check "s3 is up again after $RISE successes" wait_for 10 health_is s3 up
check "the recovery is logged" \
    grep -q "service web: backend s3 (198.18.0.33) is up: $RISE successful probes in a row" "$D/mslbd.log"
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1

# ---- s2 without the VIP: the final stage hands it the probe (the
# client's packet, to the VIP), which is not for it.
nsx s2 ip addr del "$VIP/32" dev lo
check "s2 is down without the VIP on its loopback" wait_for 10 health_is s2 down
check "the reason is the unanswered probe" \
    grep -q "service web: backend s2 (198.18.0.32) is down: $FALL failed probes in a row, the last: no answer within the timeout" "$D/mslbd.log"
check "new connections avoid s2, none fails" conns_avoid 300 S2
check "s1 and s3 stay up" health_all_up s1 s3
nsx s2 ip addr add "$VIP/32" dev lo
check "s2 is up with the VIP back" wait_for 10 health_is s2 up

# ---- The final stage on host 2 stops delivering the service: its flow
# for the service's tunnel ID goes.  Every backend behind it is down, the
# service is empty; with the flow back, all up.
web_id=$(ofctl dump-flows br-lb table=0 | grep 'tp_dst=80' | head -1 \
    | sed -n 's/.*set_field:\(0x[0-9a-f]*\)->reg0.*/\1/p')
final=$(ofctl2 dump-flows --no-stats "in_port=vx1" | grep "tun_id=$web_id[ ,]" \
    | grep 'priority=200' | sed 's/^ *//')
echo "# br-host's flow for web: $final"
check "br-host holds the final stage's flow for web" test -n "$final"
ofctl2 del-flows --strict "$(sed 's/ *actions=.*//; s/cookie=[^,]*, *//' <<<"$final")"
check "the final stage's flow is gone" sh -c "! ovs-ofctl -O OpenFlow13 dump-flows unix:$D2/br-host.mgmt 'in_port=vx1' | grep 'tun_id=$web_id[ ,]' | grep -q 'priority=200'"
for b in s1 s2 s3; do
    check "$b is down without the final stage's flow" wait_for 10 health_is "$b" down
done
check "the service reports itself empty" \
    test "$(service_field 's["status"]["empty"]')" = True
check "s1 still answers on its real address" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.0.31 80 --count 3 --timeout 2 --expect S1:1 --tolerance 0
ofctl2 add-flow "$final"
for b in s1 s2 s3; do
    check "$b is up with the final stage's flow back" wait_for 10 health_is "$b" up
done
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1
check "every transition was logged once (10)" transitions_are 10

# ---- Backends without "mac": the final stage on their host resolves them
# (ARP probe switched to its ports from mslbd's own MAC); the first stage
# puts the resolved MAC in the tunnelled frame.
resolved_is() {   # resolved_is BACKEND MAC
    api GET "/v1/services/nomac/backends/$1"
    "$PYTHON" -c '
import json, sys
r = json.loads(sys.stdin.read()).get("resolved_mac")
sys.exit(not (r and r["mac"] == sys.argv[1]))' "$2" <<<"$API_BODY"
}
check "mslb: s1 without a MAC resolved by the final stage" \
    wait_for 10 resolved_is s1 02:00:00:00:00:31
check "mslb: s2 resolved" wait_for 10 resolved_is s2 02:00:00:00:00:32
check "connections to the service without MACs reach both servers" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 81 --count 200 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1 --tolerance 0.15
