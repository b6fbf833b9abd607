#!/usr/bin/env bash
# Mode mslb (multi-stage transparent) end to end, with two hosts: the first
# stage encapsulates (VXLAN, GRE or Geneve per service) to the final-stage
# bridge on the server's host, a second ovs-vswitchd programmed by the same
# mslbd; the final stage hands the server exactly the packet the client
# sent (TCP, UDP, IP protocol 253), and the server answers directly.
#
#  host 1 (netns $OVS_NS)                        host 2 (netns h2)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] vx0/gre0/gnv0
#                      ||            br-ul 198.18.2.1 == br-ul2 198.18.2.2
#                      ||                              [br-host] vx1/gre1/gnv1
#                      ++=============== reply link ====  |
#                                                        s1 198.18.0.31 (VIP on lo)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
S1MAC=02:00:00:00:00:31

# ---- host 1
ovs_start
add_switch_bridge br-sw
add_switch_bridge br-ul
add_lb_bridge br-lb "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
in_ovs ip addr add 198.18.2.1/24 dev br-ul
in_ovs ip link set br-ul up
tunnels() {   # tunnels VSCTL BRIDGE SUFFIX
    "$1" add-port "$2" "vx$3" -- set interface "vx$3" type=vxlan \
        options:remote_ip=flow options:key=flow \
        -- add-port "$2" "gre$3" -- set interface "gre$3" type=gre \
        options:remote_ip=flow options:key=flow \
        -- add-port "$2" "gnv$3" -- set interface "gnv$3" type=geneve \
        options:remote_ip=flow options:key=flow
}
tunnels vsctl br-lb 0

# ---- host 2: a second ovs-vswitchd in its own namespace and run dir
D2=$D/h2
NS2=mslb-$RID-h2
mkdir -p "$D2"
_e2e_netns_add "$NS2"
ip -n "$NS2" link set lo up
vsctl2() { ovs-vsctl --db="unix:$D2/db.sock" --timeout=20 "$@"; }
ovsdb-tool create "$D2/conf.db" /usr/share/openvswitch/vswitch.ovsschema
OVS_RUNDIR=$D2 OVS_LOGDIR=$D2 OVS_DBDIR=$D2 ovsdb-server "$D2/conf.db" \
    --remote="punix:$D2/db.sock" --unixctl="$D2/ovsdb.ctl" \
    --pidfile="$D/pids/h2-ovsdb.pid" --log-file="$D2/ovsdb.log" \
    -vconsole:off --detach --no-chdir
vsctl2 --no-wait init
OVS_RUNDIR=$D2 OVS_LOGDIR=$D2 OVS_DBDIR=$D2 ip netns exec "$NS2" \
    ovs-vswitchd "unix:$D2/db.sock" --unixctl="$D2/vswitchd.ctl" \
    --pidfile="$D/pids/h2-vswitchd.pid" --log-file="$D2/vswitchd.log" \
    -vconsole:off --detach --no-chdir
wait_for 10 ovs-appctl -t "$D2/vswitchd.ctl" version
vsctl2 add-br br-ul2 -- set bridge br-ul2 datapath_type=netdev fail_mode=standalone
vsctl2 add-br br-host -- set bridge br-host datapath_type=netdev \
    protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
    other-config:disable-in-band=true
# OVS takes unix controller sockets only from its own run directory.
vsctl2 set-controller br-host "unix:$D2/mslbd.sock" -- set controller br-host \
    connection-mode=out-of-band max_backoff=1000
tunnels vsctl2 br-host 1
ip -n "$NS2" addr add 198.18.2.2/24 dev br-ul2
ip -n "$NS2" link set br-ul2 up
ip -n "$NS2" link set br-host up

# Links between the hosts: the underlay and the servers' reply path.
cross_link() {   # cross_link NAME1 BRIDGE1(host 1) NAME2 BRIDGE2(host 2)
    ip link add "$1" netns "$OVS_NS" type veth peer name "$3" netns "$NS2"
    ip netns exec "$OVS_NS" ethtool -K "$1" tx off rx off >/dev/null
    ip netns exec "$NS2" ethtool -K "$3" tx off rx off >/dev/null
    ip -n "$OVS_NS" link set "$1" up
    ip -n "$NS2" link set "$3" up
    vsctl add-port "$2" "$1"
    vsctl2 add-port "$4" "$3"
}
cross_link ul1 br-ul ul2 br-ul2
cross_link rl1 br-sw rl2 br-host

# The servers, behind br-host: s1 (every service) and s2 (the weighted
# one).
VIP3=198.18.0.102
h2_server() {   # h2_server N MAC
    local ns
    ns=$(ns_of "s$1")
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "s$1" netns "$NS2"
    ip -n "$ns" link set eth0 address "$2"
    ip netns exec "$ns" ethtool -K eth0 tx off rx off >/dev/null
    ip netns exec "$NS2" ethtool -K "s$1" tx off rx off >/dev/null
    ip -n "$NS2" link set "s$1" up
    vsctl2 add-port br-host "s$1"
    ip -n "$ns" addr add "198.18.0.3$1/24" dev eth0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
    ip -n "$ns" -6 addr add "2001:db8::3$1/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    for v in "$VIP" "$VIP2" "$VIP3"; do ip -n "$ns" addr add "$v/32" dev lo; done
    ip -n "$ns" -6 addr add "$VIP6/128" dev lo nodad
    nsx "s$1" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2
    start_server "s$1" "S$1" --tcp 80 --udp 53
}
h2_server 1 "$S1MAC"
h2_server 2 02:00:00:00:00:32
NSS=$(ns_of s1)

# Host 1 routes tunnels itself: it needs host 2's underlay MAC.
ul2mac=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
appctl tnl/neigh/set br-ul 198.18.2.2 "$ul2mac" >/dev/null

be='{"name":"s1","ip":"198.18.0.31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host"}'
be6='{"name":"s1","ip":"2001:db8::31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host"}'
be_w='{"name":"s1","ip":"198.18.0.31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host","weight":3},{"name":"s2","ip":"198.18.0.32","mac":"02:00:00:00:00:32","host":"198.18.2.2","host_bridge":"br-host","weight":1}'
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "gre": "gre0", "geneve": "gnv0"}},
  {"name": "br-host", "role": "final",
   "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gnv1"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "mslb",
   "tunnel": "gre", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "raw", "vip": "$VIP2", "protocol": "any", "mode": "mslb",
   "tunnel": "geneve", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "all6", "vip": "$VIP6", "protocol": "any", "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"], "backends": [$be6]},
  {"name": "weighted", "vip": "$VIP3", "protocol": "tcp", "port": 80,
   "mode": "mslb", "tunnel": "geneve", "bridges": ["br-lb"],
   "backends": [$be_w]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"

spawn cap_c ip netns exec "$(ns_of c1)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/client.pcap" "(dst host $VIP or dst host $VIP2 or dst host $VIP6) and not icmp and not icmp6"
spawn cap_s ip netns exec "$NSS" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/server.pcap" "(dst host $VIP or dst host $VIP2 or dst host $VIP6) and not icmp and not icmp6"
spawn cap_lb ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" "ip or ip6"
capture_ready cap_c cap_s cap_lb
check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "TCP through the VIP (VXLAN to the final stage)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 50 --timeout 5 \
    --expect S1:1 --tolerance 0
check "UDP through the VIP (GRE to the final stage)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 50 \
    --expect S1:1 --tolerance 0
check "400 TCP connections spread 3:1 by weight over two servers (Geneve)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP3" 80 --count 400 \
    --concurrency 8 --timeout 5 --expect S1:3,S2:1 --tolerance 0.1
check "TCP over IPv6 through the VIP (every protocol, VXLAN)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 30 \
    --expect S1:1 --tolerance 0
nsx c1 "$PYTHON" - "$VIP2" "$VIP6" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253)
for i in range(5):
    s.sendto(b"mslb-proto-253-%d" % i, (sys.argv[1], 0))
    s6.sendto(b"mslb6-proto-253-%d" % i, (sys.argv[2], 0))
PY
# The raw packets wait for ARP: let them arrive before the captures stop.
raw_arrived() {
    test "$(tcpdump -nn -r "$D/server.pcap" 'ip proto 253 or ip6 proto 253' \
            2>/dev/null | wc -l)" -ge 10
}
wait_for 20 raw_arrived || true
capture_stop cap_c cap_s cap_lb

compare() {
    "$PYTHON" "$TOOLS/pcap_same.py" "$D/client.pcap" "$D/server.pcap" "$1"
}
check "server got the client's TCP packets unchanged" compare 6
check "server got the client's UDP packets unchanged" compare 17
check "server got protocol 253 packets unchanged (Geneve; IPv6 over VXLAN)" compare 253
from_client=$(tcpdump -nn -r "$D/arm.pcap" 'src host 198.18.0.10 or src host 2001:db8::10' 2>/dev/null | wc -l)
replies=$(tcpdump -nn -r "$D/arm.pcap" "(src host $VIP or src host $VIP2 or src host $VIP6 or src host 198.18.0.31 or src host 2001:db8::31) and (tcp or udp)" 2>/dev/null | wc -l)
check "br-lb saw the requests ($from_client packets)" test "$from_client" -gt 100
check "br-lb saw no replies ($replies)" test "$replies" -eq 0
