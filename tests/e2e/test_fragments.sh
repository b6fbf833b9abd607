#!/usr/bin/env bash
# Fragments and ping to a VIP, mode dr, IPv4 and IPv6 (docs/mtu.md): every
# fragment of a datagram to an `any` service or to a port service (udp:53,
# tcp:80) reaches one server, in order or not, and different datagrams are
# spread; ping to an `any` VIP is answered by a server at 64 and 3,000
# bytes, ping to a VIP with only port services by the balancer, also at
# 3,000 bytes (in fragments).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"

VIP=198.18.0.100      # any
VIPP=198.18.0.101     # udp:53 only
VIP6=2001:db8::100    # any
VIPP6=2001:db8::101   # udp:53 and tcp:80
LBMAC=0a:00:00:00:00:01
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
# Sources: an any service keys sessions on (source, VIP, protocol).
SRC4="" SRC6=""
for i in $(seq 30 37); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done
for i in 1 2; do
    add_host "s$i" br-sw "198.18.0.2$i/24" "2001:db8::2$i/64" "02:00:00:00:00:2$i"
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    for a in $VIP $VIPP; do nsx "s$i" ip addr add "$a/32" dev lo; done
    for a in $VIP6 $VIPP6; do
        ip -n "$(ns_of "s$i")" -6 addr add "$a/128" dev lo nodad
    done
    start_server "s$i" "S$i" --udp 53
done
be() { printf '{"name":"s%s","ip":"%s","mac":"02:00:00:00:00:2%s"}' "$1" "$2" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"}],
 "services": [
  {"name": "any4", "vip": "$VIP", "protocol": "any", "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 198.18.0.21),$(be 2 198.18.0.22)]},
  {"name": "dns4", "vip": "$VIPP", "protocol": "udp", "port": 53, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 198.18.0.21),$(be 2 198.18.0.22)]},
  {"name": "web4", "vip": "$VIPP", "protocol": "tcp", "port": 80, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 198.18.0.21),$(be 2 198.18.0.22)]},
  {"name": "any6", "vip": "$VIP6", "protocol": "any", "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 2001:db8::21),$(be 2 2001:db8::22)]},
  {"name": "dns6", "vip": "$VIPP6", "protocol": "udp", "port": 53, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 2001:db8::21),$(be 2 2001:db8::22)]},
  {"name": "web6", "vip": "$VIPP6", "protocol": "tcp", "port": 80, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1 2001:db8::21),$(be 2 2001:db8::22)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -6 -c 1 -W 2 "$VIP6" >/dev/null || true

N=0
# frags_at_one_server TAG VIP PROTO ORDER COUNT [DPORT]: COUNT datagrams of 3,000
# bytes in fragments of 1,400, each whole at one server, over both.
frags_at_one_server() {
    local tag=$1 vip=$2 proto=$3 order=$4 count=$5 filt s src=$SRC4
    N=$((N + 1))
    [[ $vip == *:* ]] && src=$SRC6
    if [[ $vip == *:* ]]; then filt="ip6 and ip6[6] == 44"; else
        filt="ip and (ip[6:2] & 0x3fff != 0)"; fi
    for s in s1 s2; do
        spawn_in "$s" "cap-$tag-$s" timeout 60 tcpdump -nn -p -U -i eth0 \
            -w "$D/$tag-$s.pcap" "$filt"
    done
    capture_ready "cap-$tag-s1" "cap-$tag-s2"
    nsx c1 timeout 60 /usr/bin/python3 "$TOOLS/fragsend.py" send "$vip" \
        --proto "$proto" --order "$order" --count "$count" --sources "$src" \
        --sport-base $((20000 + N * 100)) --size 3000 --fragsize 1400 \
        --dport "${6:-53}"
    sleep 1
    capture_stop "cap-$tag-s1" "cap-$tag-s2"
    "$PYTHON" "$TOOLS/fragsend.py" where "$D/$tag-s1.pcap" S1 \
        "$D/$tag-s2.pcap" S2 --expect "$count" --min-servers 2
}
for fam in ${FAMILIES:-4 6}; do
    v=$VIP; [ $fam = 6 ] && v=$VIP6
    for proto in udp tcp; do
        for order in in reverse shuffle; do
            check "any, IPv$fam, $proto, fragments $order: 16 datagrams, each whole at one server" \
                frags_at_one_server "a$fam$proto$order" "$v" "$proto" "$order" 16
        done
    done
done

# Port services: the controller keeps each datagram's fragments together.
for fam in ${FAMILIES:-4 6}; do
    v=$VIPP; [ $fam = 6 ] && v=$VIPP6
    for proto in udp tcp; do
        port=53; [ $proto = tcp ] && port=80
        for order in in reverse shuffle; do
            check "$proto:$port, IPv$fam, fragments $order: 16 datagrams, each whole at one server" \
                frags_at_one_server "p$fam$proto$order" "$v" "$proto" "$order" 16 $port
        done
    done
done

# ping_by WHO VIP SIZE: ping answered, the reply's source MAC a server's
# (WHO=server) or the balancer's (WHO=balancer).
ping_by() {
    local who=$1 vip=$2 size=$3 six="" tag=p$N
    N=$((N + 1))
    [[ $vip == *:* ]] && six=-6
    spawn_in c1 "$tag" timeout 30 tcpdump -nn -e -p -U -i eth0 -w "$D/$tag.pcap" \
        "icmp[0] == 0 or (ip6 and (icmp6 or ip6[6] == 44))"
    capture_ready "$tag"
    nsx c1 ping $six -c 2 -i 0.3 -W 2 -s "$size" "$vip"
    sleep 0.5
    capture_stop "$tag"
    tcpdump -nn -e -r "$D/$tag.pcap" 2>/dev/null | grep -v "^.*> $vip" |
        grep -vi "0a:00:00:00:00:10 >" | sed -n 1,3p | tee "$D/$tag.txt"
    if [ "$who" = server ]; then
        grep -q "^.* 02:00:00:00:00:2[12] > " "$D/$tag.txt"
    else
        grep -q "^.* $LBMAC > " "$D/$tag.txt"
    fi
}
for size in 56 3000; do
    check "ping $VIP (any) at $size bytes: answered by a server" ping_by server "$VIP" "$size"
    check "ping $VIP6 (any) at $size bytes: answered by a server" ping_by server "$VIP6" "$size"
done
for size in 56 3000; do
    check "ping $VIPP (port services only) at $size bytes: answered by the balancer" \
        ping_by balancer "$VIPP" "$size"
    check "ping $VIPP6 (port services only) at $size bytes: answered by the balancer" \
        ping_by balancer "$VIPP6" "$size"
done

# metric NAME: its value in /metrics.
metric() {
    curl -s --max-time 10 "$REST_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
metrics_count() {
    local fwd ans
    fwd=$(metric 'mslb_fragmented_datagrams_total{result="forwarded"}')
    ans=$(metric 'mslb_fragmented_datagrams_total{result="answered"}')
    echo "forwarded $fwd answered $ans"
    # 12 rounds of 16 port-service datagrams; 2 pings at 3,000 bytes per
    # family to the port-only VIPs.
    [ "${fwd:-0}" -ge 192 ] && [ "${ans:-0}" -ge 4 ]
}
check "/metrics counts the datagrams kept together and the echoes answered" \
    metrics_count
