#!/usr/bin/env bash
# Fragments in mode mslb (docs/mtu.md "Fragments"), IPv4 (VXLAN) and IPv6
# (Geneve): fragmented UDP and TCP datagrams, in order, reversed and
# shuffled, to an `any` service (VIP, VIP6) and to a VIP with an `any`
# service and port services udp:53 and tcp:80 (VIPM, VIPM6: every fragment
# to it goes through mslbd); every datagram whole at one of two servers
# behind the final stage (a second ovs-vswitchd), and every fragment the
# client sent reaches a server byte for byte. Topology of test_mslb.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/frag_lib.sh"

VIP=198.18.0.100
VIPM=198.18.0.101       # any, udp:53, tcp:80
VIP6=2001:db8::100
VIPM6=2001:db8::101     # any, udp:53, tcp:80
LBMAC=0a:00:00:00:00:01
S1MAC=02:00:00:00:00:31

# The servers, behind br-host: s1 (every service) and s2 (the weighted
# one).
VIP3=198.18.0.102
mslb_two_hosts
H2_VIPS="$VIP $VIPM $VIP3"
H2_VIPS6="$VIP6 $VIPM6"
for n in 1 2; do
    h2_server "$n" "02:00:00:00:00:3$n"
    start_server "s$n" "S$n" --tcp 80 --udp 53
done

# An any service keys sessions on (source, VIP, protocol): several sources.
SRC4="" SRC6=""
for i in $(seq 40 47); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done

be() { printf '{"name":"s%s","ip":"%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' "$1" "$2" "$1"; }
# svc NAME VIP PROTO PORT (PORT 0: none): a service on s1 and s2, over
# VXLAN (IPv4) or Geneve (IPv6).
svc() {
    local p="" t=vxlan b1=198.18.0.31 b2=198.18.0.32
    [ "$4" != 0 ] && p="\"port\": $4, "
    [[ $2 == *:* ]] && t=geneve b1=2001:db8::31 b2=2001:db8::32
    printf '{"name": "%s", "vip": "%s", "protocol": "%s", %s"mode": "mslb", "tunnel": "%s", "bridges": ["br-lb"], "backends": [%s,%s]}' \
        "$1" "$2" "$3" "$p" "$t" "$(be 1 $b1)" "$(be 2 $b2)"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "gre": "gre0", "geneve": "gnv0"}},
  {"name": "br-host", "role": "final",
   "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gnv1"}}],
 "services": [
  $(svc any4 "$VIP" any 0), $(svc any6 "$VIP6" any 0),
  $(svc mix4 "$VIPM" any 0), $(svc dns4 "$VIPM" udp 53),
  $(svc web4 "$VIPM" tcp 80),
  $(svc mix6 "$VIPM6" any 0), $(svc dns6 "$VIPM6" udp 53),
  $(svc web6 "$VIPM6" tcp 80)]}
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
            s1:eth0=02:00:00:00:00:31 s2:eth0=02:00:00:00:00:32
        check "mslb, IPv$fam, $what to a VIP with any and port services, fragments in order/reversed/shuffled: each datagram whole at one server, both used" \
            frag_where "$t" 2 s1 s2
        check "mslb, IPv$fam, $what to a VIP with any and port services: the servers got the client's fragments byte for byte" \
            frag_same "$t" "$v" s1 s2
    done
    v0=$VIP; [ "$fam" = 6 ] && v0=$VIP6
    check "mslb, IPv$fam: every fragment to $v (any and port services) went through mslbd" \
        frag_via_mslbd br-lb "$v" $((FRAG_COUNT * 27))
    # The switch hashes a fragment without its ports (and IPv6's later
    # ones with next header 44): fragments to an any-only VIP go through
    # mslbd too, to the slot of their datagram's 5-tuple.
    check "mslb, IPv$fam: fragments to $v0 (any only) went through mslbd too" \
        frag_via_mslbd br-lb "$v0" 1
done

# Ping to the `any` VIPs at 56 and 3,000 bytes (fragmented): answered by a
# server, as documented (docs/mtu.md "Ping to a VIP").
for size in 56 3000; do
    for v in $VIP $VIP6; do
        check "mslb: ping -s $size $v (any) answered, the requests at the servers" \
            frag_ping "$v" "$size" s1:eth0 s2:eth0
    done
done
