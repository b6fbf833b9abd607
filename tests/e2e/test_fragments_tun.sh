#!/usr/bin/env bash
# Fragments in mode tun (docs/mtu.md "Fragments"), IPv4 and IPv6 inside
# an IPv4 VXLAN underlay: fragmented UDP and TCP datagrams, in order,
# reversed and shuffled, to an `any` service (VIP, VIP6) and to a VIP with
# an `any` service and port services udp:53 and tcp:80 (VIPM, VIPM6:
# every fragment to it goes through mslbd); every datagram whole at one of
# two servers (captured on their vxlan0, after Linux terminated the
# tunnel), and every fragment the client sent reaches a server byte for
# byte. Topology of test_dsr_tun.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/frag_lib.sh"

VIP=198.18.0.100
VIP6=2001:db8::100
VIPM=198.18.0.101       # any, udp:53, tcp:80
VIPM6=2001:db8::101     # any, udp:53, tcp:80
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
    for a in $VIP $VIPM; do nsx "s$i" ip addr add "$a/32" dev lo; done
    for a in $VIP6 $VIPM6; do
        nsx "s$i" ip -6 addr add "$a/128" dev lo nodad
    done
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
# svc NAME VIP PROTO PORT (PORT 0: none): a service on s1 and s2.
svc() {
    local p="" b=tb
    [ "$4" != 0 ] && p="\"port\": $4, "
    [[ $2 == *:* ]] && b=tb6
    printf '{"name": "%s", "vip": "%s", "protocol": "%s", %s"mode": "tun", "bridges": ["br-lb"], "backends": [%s,%s]}' \
        "$1" "$2" "$3" "$p" "$($b 1)" "$($b 2)"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}}],
 "services": [
  $(svc any4 "$VIP" any 0), $(svc any6 "$VIP6" any 0),
  $(svc mix4 "$VIPM" any 0), $(svc dns4 "$VIPM" udp 53),
  $(svc web4 "$VIPM" tcp 80),
  $(svc mix6 "$VIPM6" any 0), $(svc dns6 "$VIPM6" udp 53),
  $(svc web6 "$VIPM6" tcp 80)]}
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

# The VIP with an any service and port services: udp:53 and tcp:80 go to
# the port services, the any round (udp:9 in IPv4, tcp:9 in IPv6) to the
# any service, each datagram kept together by mslbd.
for fam in ${FAMILIES:-4 6}; do
    v=$VIPM src=$SRC4 anyp=udp:9
    [ "$fam" = 6 ] && v=$VIPM6 src=$SRC6 anyp=tcp:9
    for sp in udp:53 tcp:80 "$anyp"; do
        proto=${sp%:*} port=${sp#*:} what=$sp t=m$fam${sp/:/}
        [ "$sp" = "$anyp" ] && what="any ($sp)"
        FRAG_DPORT=$port frag_round "$t" "$v" "$proto" "$src" s1:vxlan0 s2:vxlan0
        check "tun, IPv$fam, $what to a VIP with any and port services, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "tun, IPv$fam, $what to a VIP with any and port services: the servers got the client's fragments byte for byte" \
            frag_same "$t" "$v" s1 s2
    done
    v0=$VIP; [ "$fam" = 6 ] && v0=$VIP6
    check "tun, IPv$fam: every fragment to $v (any and port services) went through mslbd" \
        frag_via_mslbd br-lb "$v" $((FRAG_COUNT * 27))
    # The switch hashes a fragment without its ports (and IPv6's later
    # ones with next header 44): fragments to an any-only VIP go through
    # mslbd too, to the slot of their datagram's 5-tuple.
    check "tun, IPv$fam: fragments to $v0 (any only) went through mslbd too" \
        frag_via_mslbd br-lb "$v0" 1
done

# Ping to the `any` VIPs at 56 and 3,000 bytes (fragmented): answered by a
# server, as documented (docs/mtu.md "Ping to a VIP").
for size in 56 3000; do
    for v in $VIP $VIP6; do
        check "tun: ping -s $size $v (any) answered, the requests at the servers" \
            frag_ping "$v" "$size" s1:vxlan0 s2:vxlan0
    done
done
