#!/usr/bin/env bash
# Mode tun (L3 DSR, LVS-TUN) end to end: the first stage encapsulates to
# servers in another IP network (VXLAN); each server terminates the tunnel
# itself, holds the VIP on lo and answers the client directly.
#
#   c1 198.18.0.10 --+-- br-sw ==veth== arm [br-lb] vx0 (vxlan, key=flow)
#                    |                        |
#                    +==veth== [br-ul] 198.18.2.1 (underlay, routes tunnels)
#                                 |
#                 s1 198.18.2.21, s2 198.18.2.22 (vxlan0 external, VIP on lo)
#                 s3, s4 (.23, .24): only for the selection checks
#
# Then the selection checks of issue 9 (tests/e2e/sel_lib.sh) in mode tun:
# 10,000 connections split 1:2:3; 1,000 connections held across one
# REST write that adds s4, drains s2 and removes s3; upcalls per new
# connection to a warm service.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/sel_lib.sh"

VIP=198.18.0.100
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
ovs_start
add_switch_bridge br-sw
add_switch_bridge br-ul
add_lb_bridge br-lb "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-ul ul-sw br-sw sw-ul veth
vsctl add-port br-lb vx0 -- set interface vx0 type=vxlan \
    options:remote_ip=flow options:key=flow
in_ovs ip addr add 198.18.2.1/24 dev br-ul
in_ovs ip link set br-ul up
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
host_route c1 198.18.2.0/24 dev eth0
host_route c1 2001:db8:2::/64 dev eth0
for i in 1 2 3 4; do
    add_host "s$i" br-ul "198.18.2.2$i/24" "2001:db8:2::2$i/64" "02:00:00:00:02:2$i"
    host_route "s$i" 198.18.0.0/24 dev eth0
    host_route "s$i" 2001:db8::/64 dev eth0
    nsx "s$i" ip link add vxlan0 address "02:00:00:00:03:2$i" type vxlan \
        external dstport 4789
    nsx "s$i" ip link set vxlan0 up
    nsx "s$i" ip addr add "$VIP/32" dev lo
    nsx "s$i" ip -6 addr add "$VIP6/128" dev lo nodad
    nsx "s$i" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.vxlan0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.vxlan0.arp_ignore=1
    start_server "s$i" "S$i" --tcp 80 --udp 53
    sel_serve "s$i" "S$i" 7000 7001
    # OVS routes the tunnel itself: tell it the server's MAC up front.
    appctl tnl/neigh/set br-ul "198.18.2.2$i" "02:00:00:00:02:2$i" >/dev/null
done

tb() { printf '{"name":"s%s","ip":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1"; }
# tbw N WEIGHT [STATE]: with a weight (and a state).
tbw() { tb "$1" | sed "s/}\$/,\"weight\":$2${3:+,\"state\":\"$3\"}}/"; }
# IPv6 inside, over the IPv4 underlay: the tunnel goes to the server's host
# address.
tb6() { printf '{"name":"s%s","ip":"2001:db8:2::2%s","host":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tb 1),$(tb 2)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tb 1),$(tb 2)]},
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80, "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tb6 1),$(tb6 2)]},
  {"name": "split", "vip": "$VIP", "protocol": "tcp", "port": 7000, "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tbw 1 1),$(tbw 2 2),$(tbw 3 3)]},
  {"name": "churn", "vip": "$VIP", "protocol": "tcp", "port": 7001, "mode": "tun",
   "idle_timeout": 60, "bridges": ["br-lb"], "backends": [$(tb 1),$(tb 2),$(tb 3)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

spawn capture ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" "ip or ip6"
capture_ready capture
check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "ARP for the VIP answers the balancer" \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP | grep -q $LBMAC"
stats_save "$D/stats0.json"
check "300 TCP connections over two tunnelled servers" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP 80 --count 300 \
    --concurrency 8 --expect S1:1,S2:1 --tolerance 0.12 >$D/counts.json"
check "GET /v1/stats: each backend's sessions are the connections it answered" \
    stats_grew_soon web "$D/stats0.json" "$D/counts.json"
open_sessions_held web c1 "$VIP" 80
check "200 UDP sessions over two tunnelled servers" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 200 \
    --concurrency 4 --expect S1:1,S2:1 --tolerance 0.15
check "ping6 the IPv6 VIP" nsx c1 ping -6 -c 2 -i 0.2 -W 2 "$VIP6"
check "200 TCP connections over IPv6, tunnelled over IPv4" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 200 \
    --concurrency 8 --expect S1:1,S2:1 --tolerance 0.15
check "servers got the VIP as destination, through vxlan0" \
    sh -c "grep -q 'to $VIP' $D/logs/srv-S1.log"
capture_stop capture
from_servers=$(tcpdump -nn -r "$D/arm.pcap" 'src host 198.18.2.21 or src host 198.18.2.22 or ((src host 198.18.0.100 or src host 2001:db8::100) and (tcp or udp))' 2>/dev/null | wc -l)
from_client=$(tcpdump -nn -r "$D/arm.pcap" 'src host 198.18.0.10' 2>/dev/null | wc -l)
check "br-lb saw the requests ($from_client packets)" test "$from_client" -gt 500
check "br-lb saw no replies ($from_servers)" test "$from_servers" -eq 0

# ------------------------------------------- selection (issue 9), tun

body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "mode": "tun", "idle_timeout": 60, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP" "$(tb 1)" "$(tbw 2 1 drain)" "$(tb 4)")
sel_mode_checks tun "$body"
