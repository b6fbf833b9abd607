#!/usr/bin/env bash
# Fragments to an `any` service in mode mslb (docs/mtu.md "Fragments"),
# IPv4 (VXLAN) and IPv6 (Geneve): fragmented UDP and TCP datagrams, in
# order, reversed and shuffled; every datagram whole at one of two servers
# behind the final stage (a second ovs-vswitchd), and every fragment the
# client sent reaches a server byte for byte. Topology of test_mslb.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/frag_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
S1MAC=02:00:00:00:00:31

# The servers, behind br-host: s1 (every service) and s2 (the weighted
# one).
VIP3=198.18.0.102
mslb_two_hosts
H2_VIPS="$VIP $VIP2 $VIP3"
H2_VIPS6=$VIP6
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
