#!/usr/bin/env bash
# Fragments in mode l3dsr (docs/mtu.md "Fragments"), IPv4 and IPv6:
# fragmented UDP and TCP datagrams, in order, reversed and shuffled, to an
# `any` service (VIP, VIP6) and to a VIP with an `any` service and port
# services udp:53 and tcp:80 (VIPM, VIPM6: every fragment to it goes
# through mslbd); every datagram whole at one of two servers behind the
# final stage, and every fragment the client sent reaches a server byte
# for byte (the final stage restores the VIP and the DSCP / traffic class).
#
#   c1 198.18.0.10 (+ sources .30-.37) --+-- br-sw == arm [br-lb]
#                                        +== hostup [br-host] -- s1, s2
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
add_lb_bridge br-lb "$MSLBD_TARGET"
add_lb_bridge br-host "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-host hostup br-sw sw-host veth
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
# An any service keys sessions on (source, VIP, protocol): several sources.
SRC4="" SRC6=""
for i in $(seq 30 37); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done
for i in 1 2; do
    add_host "s$i" br-host "198.18.1.2$i/24" "2001:db8:1::2$i/64" "02:00:00:00:01:2$i"
    for a in $VIP $VIPM; do nsx "s$i" ip addr add "$a/32" dev lo; done
    for a in $VIP6 $VIPM6; do
        ip -n "$(ns_of "s$i")" -6 addr add "$a/128" dev lo nodad
    done
    host_route "s$i" 198.18.0.0/24 dev eth0
    host_route "s$i" 2001:db8::/64 dev eth0
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    start_server "s$i" "S$i" --tcp 80 --udp 53
done
be() { printf '{"name":"s%s","ip":"%s","mac":"02:00:00:00:01:2%s","host_bridge":"br-host"}' "$1" "$2" "$1"; }
# svc NAME VIP PROTO PORT DSCP (PORT 0: none): a service on s1 and s2.
svc() {
    local p="" b1=198.18.1.21 b2=198.18.1.22
    [ "$4" != 0 ] && p="\"port\": $4, "
    [[ $2 == *:* ]] && b1=2001:db8:1::21 b2=2001:db8:1::22
    printf '{"name": "%s", "vip": "%s", "protocol": "%s", %s"mode": "l3dsr", "dscp": %s, "bridges": ["br-lb"], "backends": [%s,%s]}' \
        "$1" "$2" "$3" "$p" "$5" "$(be 1 $b1)" "$(be 2 $b2)"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"},
             {"name": "br-host", "role": "final"}],
 "services": [
  $(svc any4 "$VIP" any 0 10),
  $(svc any6 "$VIP6" any 0 12),
  $(svc mix4 "$VIPM" any 0 14), $(svc dns4 "$VIPM" udp 53 14),
  $(svc web4 "$VIPM" tcp 80 14),
  $(svc mix6 "$VIPM6" any 0 16), $(svc dns6 "$VIPM6" udp 53 16),
  $(svc web6 "$VIPM6" tcp 80 16)]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -6 -c 1 -W 2 "$VIP6" >/dev/null || true

for fam in ${FAMILIES:-4 6}; do
    v=$VIP src=$SRC4
    [ "$fam" = 6 ] && v=$VIP6 src=$SRC6
    for proto in udp tcp; do
        t=v$fam$proto
        frag_round "$t" "$v" "$proto" "$src" s1:eth0=02:00:00:00:01:21 s2:eth0=02:00:00:00:01:22
        check "l3dsr, IPv$fam, $proto, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "l3dsr, IPv$fam, $proto: the servers got the client's fragments byte for byte" \
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
        FRAG_DPORT=$port frag_round "$t" "$v" "$proto" "$src" \
            s1:eth0=02:00:00:00:01:21 s2:eth0=02:00:00:00:01:22
        check "l3dsr, IPv$fam, $what to a VIP with any and port services, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "l3dsr, IPv$fam, $what to a VIP with any and port services: the servers got the client's fragments byte for byte" \
            frag_same "$t" "$v" s1 s2
    done
    v0=$VIP; [ "$fam" = 6 ] && v0=$VIP6
    check "l3dsr, IPv$fam: every fragment to $v (any and port services) went through mslbd" \
        frag_via_mslbd br-lb "$v" $((FRAG_COUNT * 27))
    # The switch hashes a fragment without its ports (and IPv6's later
    # ones with next header 44): fragments to an any-only VIP go through
    # mslbd too, to the slot of their datagram's 5-tuple.
    check "l3dsr, IPv$fam: fragments to $v0 (any only) went through mslbd too" \
        frag_via_mslbd br-lb "$v0" 1
done

# Ping to the `any` VIPs at 56 and 3,000 bytes (fragmented): answered by a
# server, as documented (docs/mtu.md "Ping to a VIP").
for size in 56 3000; do
    for v in $VIP $VIP6; do
        check "l3dsr: ping -s $size $v (any) answered, the requests at the servers" \
            frag_ping "$v" "$size" s1:eth0 s2:eth0
    done
done
