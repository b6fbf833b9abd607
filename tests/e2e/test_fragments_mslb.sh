#!/usr/bin/env bash
# Fragments to an `any` service in mode mslb (docs/mtu.md "Fragments"),
# IPv4 (VXLAN) and IPv6 (Geneve): fragmented UDP and TCP datagrams, in
# order, reversed and shuffled; every datagram whole at one of two servers
# behind the final stage (a second ovs-vswitchd), and every fragment the
# client sent reaches a server byte for byte. Topology of test_mslb.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/frag_lib.sh"

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

# Host 1 routes tunnels itself: it needs host 2's underlay MAC.
ul2mac=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
appctl tnl/neigh/set br-ul 198.18.2.2 "$ul2mac" >/dev/null
# An any service keys sessions on (source, VIP, protocol): several sources.
SRC4="" SRC6=""
for i in $(seq 40 47); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done

be() { printf '{"name":"s%s","ip":"%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' "$1" "$2" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "gre": "gre0", "geneve": "gnv0"}},
  {"name": "br-host", "role": "final",
   "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gnv1"}}],
 "services": [
  {"name": "any4", "vip": "$VIP", "protocol": "any", "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"],
   "backends": [$(be 1 198.18.0.31),$(be 2 198.18.0.32)]},
  {"name": "any6", "vip": "$VIP6", "protocol": "any", "mode": "mslb",
   "tunnel": "geneve", "bridges": ["br-lb"],
   "backends": [$(be 1 2001:db8::31),$(be 2 2001:db8::32)]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -6 -c 1 -W 2 "$VIP6" >/dev/null || true

for fam in ${FAMILIES:-4 6}; do
    v=$VIP src=$SRC4
    [ "$fam" = 6 ] && v=$VIP6 src=$SRC6
    for proto in udp tcp; do
        t=v$fam$proto
        frag_round "$t" "$v" "$proto" "$src" s1:eth0=02:00:00:00:00:31 \
            s2:eth0=02:00:00:00:00:32
        check "mslb, IPv$fam, $proto, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "mslb, IPv$fam, $proto: the servers got the client's fragments byte for byte" \
            frag_same "$t" "$v" s1 s2
    done
done
