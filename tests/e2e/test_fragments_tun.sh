#!/usr/bin/env bash
# Fragments to an `any` service in mode tun (docs/mtu.md "Fragments"),
# IPv4 and IPv6 inside an IPv4 VXLAN underlay: fragmented UDP and TCP
# datagrams, in order, reversed and shuffled; every datagram whole at one
# of two servers (captured on their vxlan0, after Linux terminated the
# tunnel). Topology of test_dsr_tun.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/frag_lib.sh"

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
for i in 1 2; do
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
    # OVS routes the tunnel itself: tell it the server's MAC up front.
    appctl tnl/neigh/set br-ul "198.18.2.2$i" "02:00:00:00:02:2$i" >/dev/null
done
# An any service keys sessions on (source, VIP, protocol): several sources.
SRC4="" SRC6=""
for i in $(seq 30 37); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done

tb() { printf '{"name":"s%s","ip":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1"; }
tb6() { printf '{"name":"s%s","ip":"2001:db8:2::2%s","host":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}}],
 "services": [
  {"name": "any4", "vip": "$VIP", "protocol": "any", "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tb 1),$(tb 2)]},
  {"name": "any6", "vip": "$VIP6", "protocol": "any", "mode": "tun",
   "bridges": ["br-lb"], "backends": [$(tb6 1),$(tb6 2)]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -6 -c 1 -W 2 "$VIP6" >/dev/null || true

for fam in ${FAMILIES:-4 6}; do
    v=$VIP src=$SRC4
    [ "$fam" = 6 ] && v=$VIP6 src=$SRC6
    for proto in udp tcp; do
        t=v$fam$proto
        frag_round "$t" "$v" "$proto" "$src" s1:vxlan0 s2:vxlan0
        check "tun, IPv$fam, $proto, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "tun, IPv$fam, $proto: the servers got the client's fragments byte for byte" \
            frag_same "$t" "$v" s1 s2
    done
done
