#!/usr/bin/env bash
# Mode local (LVS local node): the VIP is served by the first stage's own
# host: requests go out of the bridge's LOCAL port to the host's stack.
#
# Issue 9 in mode local: it has no backends (no slot table, no weights, no
# backend changes); only the upcall cost applies: new connections to a
# warm local service cost < 0.5 upcalls each (tests/e2e/sel_lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sel_lib.sh"

VIP=198.18.0.100
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
VIP6=2001:db8::100
add_host c1 br-lb 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
# The host: br-lb's own interface in the switch's namespace, with the VIP.
in_ovs ip addr add "$VIP/32" dev br-lb
in_ovs ip route add 198.18.0.0/24 dev br-lb
in_ovs sysctl -qw net.ipv6.conf.br-lb.disable_ipv6=0
in_ovs ip -6 addr add "$VIP6/128" dev br-lb nodad
in_ovs ip -6 route add 2001:db8::/64 dev br-lb
spawn local_srv ip netns exec "$OVS_NS" "$PYTHON" "$TOOLS/lbserver.py" \
    --name HOST --tcp 80 --udp 53 --pidfile "$D/pids/local.ready"
wait_for 10 test -s "$D/pids/local.ready"
spawn tcpb-host ip netns exec "$OVS_NS" "$TCPBENCH" serve -n HOST 7000
wait_for 10 grep -q listening "$D/logs/tcpb-host.log" || die "tcpbench on the host"

cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "0a:00:00:00:00:01", "frontend_port": "c1"}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "local",
   "bridges": ["br-lb"], "backends": []},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "local",
   "bridges": ["br-lb"], "backends": []},
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80, "mode": "local",
   "bridges": ["br-lb"], "backends": []},
  {"name": "sel", "vip": "$VIP", "protocol": "tcp", "port": 7000, "mode": "local",
   "bridges": ["br-lb"], "backends": []}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "TCP to the VIP is served by the host" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" \
    tcp "$VIP" 80 --count 50 --expect HOST:1 --tolerance 0
check "UDP to the VIP is served by the host" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" \
    udp "$VIP" 53 --count 50 --expect HOST:1 --tolerance 0
check "ping6 the IPv6 VIP" nsx c1 ping -6 -c 2 -i 0.2 -W 2 "$VIP6"
check "TCP over IPv6 to the VIP is served by the host" nsx c1 "$PYTHON" \
    "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 50 --expect HOST:1 --tolerance 0
check "through the service's flow to LOCAL" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-lb.mgmt | grep 'actions=.*LOCAL' | grep -vq 'n_packets=0,'"

# ------------------------------------------ selection (issue 9), local

sel_client_prep
sel_wait_port 7000
sel_upcall_check upcalls 7000 12000 "local: "
