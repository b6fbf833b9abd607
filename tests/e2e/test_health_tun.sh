#!/usr/bin/env bash
# Health monitors in mode tun (docs/health.md): the probe, a SYN from the
# first stage's gateway address to VIP:80, takes DSR_FORWARD's flow of the
# backend, so it is encapsulated (VXLAN) to the server, which decapsulates
# it and answers from the VIP straight to the gateway.  A stopped server
# is down within fall x interval and gets no new connections, the others
# are unaffected; a server without the VIP on its loopback, or without
# its tunnel endpoint, is down although its real address answers on the
# port; each comes back up after 'rise'.
#
#   c1 198.18.0.10 --+-- br-sw ==veth== arm [br-lb] vx0 (vxlan, key=flow)
#                    |                   gateway 198.18.0.254
#                    +==veth== [br-ul] 198.18.2.1 (underlay, routes tunnels)
#                                 |
#                 s1 198.18.2.21, s2 .22, s3 .23 (vxlan0 external, VIP on lo)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
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
add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
host_route c1 198.18.2.0/24 dev eth0
for i in 1 2 3; do
    add_host "s$i" br-ul "198.18.2.2$i/24" - "02:00:00:00:02:2$i"
    # The client and the gateway, directly through the underlay's switch.
    host_route "s$i" 198.18.0.0/24 dev eth0
    nsx "s$i" ip link add vxlan0 address "02:00:00:00:03:2$i" type vxlan \
        external dstport 4789
    nsx "s$i" ip link set vxlan0 up
    nsx "s$i" ip addr add "$VIP/32" dev lo
    nsx "s$i" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.vxlan0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.vxlan0.arp_ignore=1
    start_server "s$i" "S$i" --tcp 80
    appctl tnl/neigh/set br-ul "198.18.2.2$i" "02:00:00:00:02:2$i" >/dev/null
done

tb() { printf '{"name":"s%s","ip":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}, "gateways": ["$GW"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "tun",
   "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": $INTERVAL, "timeout": $TIMEOUT,
               "rise": $RISE, "fall": $FALL},
   "backends": [$(tb 1),$(tb 2),$(tb 3)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_rest

for b in s1 s2 s3; do
    check "$b is probed and up" wait_for 10 health_is "$b" up
done
check "s1 gets the probe encapsulated (VXLAN from the underlay 198.18.2.1)" \
    nsx s1 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host 198.18.2.1 and udp dst port 4789"
check "s1 decapsulates it: SYN from the gateway to VIP:80 on vxlan0" \
    nsx s1 timeout 5 tcpdump -nn -p -c 1 -i vxlan0 \
    "src host $GW and dst host $VIP and tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0"
check "s1 answers from the VIP straight to the gateway on eth0" \
    nsx s1 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host $VIP and src port 80 and dst host $GW and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"
check "300 connections over three servers" conns 300 S1:1,S2:1,S3:1

# ---- A stopped server: its kernel answers RST, down within fall x interval.
t0=$(date +%s.%N)
spawn_stop srv-S3
check "s3 is down after its server stopped, within $LIMIT s" down_within s3 "$t0" "$LIMIT"
check "the reason is the refused probe" \
    grep -q "service web: backend s3 (198.18.2.23) is down: $FALL failed probes in a row, the last: connection refused" "$D/mslbd.log"
check "new connections avoid s3, none fails" conns_avoid 300 S3
check "s1 and s2 stay up, never down" stayed_up s1 s2
check "the service has 2 usable backends" \
    test "$(service_field 's["status"]["usable_backends"]')" = 2
start_server s3 S3 --tcp 80
check "s3 is up again after $RISE successes" wait_for 10 health_is s3 up
check "the recovery is logged" \
    grep -q "service web: backend s3 (198.18.2.23) is up: $RISE successful probes in a row" "$D/mslbd.log"
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1

# ---- s2 without the VIP: the decapsulated probe is not for it.
nsx s2 ip addr del "$VIP/32" dev lo
check "s2 is down without the VIP on its loopback" wait_for 10 health_is s2 down
check "the reason is the unanswered probe" \
    grep -q "service web: backend s2 (198.18.2.22) is down: $FALL failed probes in a row, the last: no answer within the timeout" "$D/mslbd.log"
check "s2's real address answers on port 80" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.2.22 80 --count 3 --timeout 2 --expect S2:1 --tolerance 0
check "new connections avoid s2, none fails" conns_avoid 300 S2
nsx s2 ip addr add "$VIP/32" dev lo
check "s2 is up with the VIP back" wait_for 10 health_is s2 up

# ---- s1 without its tunnel endpoint (vxlan0 down): the probe arrives as
# VXLAN that nobody decapsulates.
nsx s1 ip link set vxlan0 down
check "s1 is down without its tunnel endpoint" wait_for 10 health_is s1 down
check "the reason is the unanswered probe" \
    grep -q "service web: backend s1 (198.18.2.21) is down: $FALL failed probes in a row, the last: no answer within the timeout" "$D/mslbd.log"
check "s1's real address answers on port 80" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.2.21 80 --count 3 --timeout 2 --expect S1:1 --tolerance 0
check "new connections avoid s1, none fails" conns_avoid 300 S1
check "s2 and s3 stay up" health_all_up s2 s3
nsx s1 ip link set vxlan0 up
check "s1 is up with its tunnel endpoint back" wait_for 10 health_is s1 up
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1
check "every transition was logged once (6)" transitions_are 6
