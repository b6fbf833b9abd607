#!/usr/bin/env bash
# IPv6 VIPs: neighbour solicitations and ICMPv6 echo answered by the first
# stage, and NAT mode over IPv6 (TCP and UDP balanced, replies from
# [VIP]:port), on the NAT topology's addresses in 2001:db8::/32.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
add_switch_bridge br-cl
add_switch_bridge br-sv
link_bridges br-lb front br-cl cl-up
link_bridges br-lb back br-sv sv-up
add_host c1 br-cl 198.18.0.10/24 2001:db8::10/64
for i in 1 2; do
    add_host "s$i" br-sv "198.18.1.2$i/24" "2001:db8:1::2$i/64" "02:00:00:00:01:2$i"
    host_route "s$i" default via 2001:db8:1::1
    start_server "s$i" "S$i" --tcp 8080 --udp 5353
done

be() { printf '{"name":"s%s","ip":"2001:db8:1::2%s","port":%s,"mac":"02:00:00:00:01:2%s"}' "$1" "$1" "$2" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["2001:db8:1::1"]}],
 "services": [
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80,
   "bridges": ["br-lb"], "backends": [$(be 1 8080),$(be 2 8080)]},
  {"name": "dns6", "vip": "$VIP6", "protocol": "udp", "port": 53,
   "bridges": ["br-lb"], "backends": [$(be 1 5353),$(be 2 5353)]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

check "ping6 the VIP" nsx c1 ping -6 -c 2 -i 0.2 -W 2 "$VIP6"
check "the VIP's neighbour entry has the balancer's MAC" \
    sh -c "ip netns exec $(ns_of c1) ip -6 neigh show $VIP6 | grep -q $LBMAC"
check "servers resolve their IPv6 gateway to the balancer" \
    nsx s1 ping -6 -c 1 -W 2 2001:db8:1::1
check "200 TCP connections over IPv6 NAT, split over two backends" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 200 \
    --concurrency 8 --expect S1:1,S2:1 --tolerance 0.15
check "100 UDP sessions over IPv6 NAT" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP6" 53 --count 100 \
    --concurrency 4 --expect S1:1,S2:1 --tolerance 0.2
