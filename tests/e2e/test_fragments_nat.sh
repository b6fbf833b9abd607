#!/usr/bin/env bash
# Fragments through modes nat and local, IPv4 and IPv6 (docs/mtu.md, issue
# 8): fragmented datagrams to udp:53 and tcp:80 NAT services arrive whole
# at one backend, translated to its address and port, spread over both; an
# existing session's fragments keep its backend; a backend's replies bigger
# than the MTU reach the client whole from VIP:port; fragmented datagrams to
# a local udp service reach the host's socket byte for byte; ping to a nat
# and a local VIP is answered by the balancer at 56 and 3,000 bytes; a
# one-armed nat bridge (one patch port for both sides) delivers fragmented
# datagrams whole too.
#
#   c1 198.18.0.10, 2001:db8::10 -- br-cl == front [br-lb, nat] back == br-sv -- s1 .1.21 / :1::21
#                                                                             -- s2 .1.22 / :1::22
#   c3 198.18.2.10, 2001:db8:2::10 -- [br-lo, local] LOCAL: 198.18.2.100, 2001:db8:2::100
#   c5 198.18.4.10 --+-- br-os == arm [br-one, nat one-armed, gateway 198.18.5.1]
#   s5, s6 .5.2x   --+   (VIP 198.18.4.100)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP=198.18.0.100
VIP6=2001:db8::100
LVIP=198.18.2.100
LVIP6=2001:db8:2::100
LAVIP=198.18.2.101    # local, protocol any: no controller
LBMAC=0a:00:00:00:00:01
LOMAC=0a:00:00:00:00:02
FRAGNAT=$TOOLS/fragnat.py
COUNT=8             # datagrams per order (one per source address)

ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
add_switch_bridge br-cl
add_switch_bridge br-sv
link_bridges br-lb front br-cl cl-up
link_bridges br-lb back br-sv sv-up
add_host c1 br-cl 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
SRC4="" SRC6=""
for i in $(seq 30 37); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
    ip -n "$(ns_of c1)" -6 addr add "2001:db8::$i/64" dev eth0 nodad
    SRC4+="${SRC4:+,}198.18.0.$i" SRC6+="${SRC6:+,}2001:db8::$i"
done
for i in 1 2; do
    add_host "s$i" br-sv "198.18.1.2$i/24" "2001:db8:1::2$i/64" "02:00:00:00:01:2$i"
    host_route "s$i" default via 198.18.1.1
    host_route "s$i" default via 2001:db8:1::1
    start_server "s$i" "S$i" --tcp 8080 --udp 5353 --max-seconds 300 --quiet
    spawn_in "s$i" "big-s$i" timeout 300 "$PYTHON" "$FRAGNAT" bigecho \
        --name "S$i" --port 7000 --size 3000 --ready "$D/pids/big-s$i.ready" \
        --max-seconds 290
    wait_for 10 test -s "$D/pids/big-s$i.ready"
done

# Mode local on its own bridge: the host is br-lo's interface in the
# switch's namespace, with the local VIPs.
add_lb_bridge br-lo "$MSLBD_TARGET"
add_host c3 br-lo 198.18.2.10/24 2001:db8:2::10/64 0a:00:00:00:00:30
in_ovs ip addr add "$LVIP/32" dev br-lo
in_ovs ip addr add "$LAVIP/32" dev br-lo
in_ovs ip route add 198.18.2.0/24 dev br-lo
in_ovs sysctl -qw net.ipv6.conf.br-lo.disable_ipv6=0
in_ovs ip -6 addr add "$LVIP6/128" dev br-lo nodad
in_ovs ip -6 route add 2001:db8:2::/64 dev br-lo

# One-armed nat: clients and servers on one segment (two subnets), the
# balancer's one port a patch port.
OVIP=198.18.4.100
add_lb_bridge br-one "$MSLBD_TARGET"
add_switch_bridge br-os
link_bridges br-one arm br-os os-up
add_host c5 br-os 198.18.4.10/24 - 0a:00:00:00:00:50
OSRC=""
for i in $(seq 30 37); do
    nsx c5 ip addr add "198.18.4.$i/24" dev eth0
    OSRC+="${OSRC:+,}198.18.4.$i"
done
for i in 5 6; do
    add_host "s$i" br-os "198.18.5.2$i/24" - "02:00:00:00:05:2$i"
    host_route "s$i" default via 198.18.5.1
    start_server "s$i" "S$i" --udp 5353 --max-seconds 300 --quiet
done

be() {   # be N FAMILY PORT
    local ip=198.18.1.2$1
    [ "$2" = 6 ] && ip=2001:db8:1::2$1
    printf '{"name":"s%s","ip":"%s","port":%s,"mac":"02:00:00:00:01:2%s"}' \
        "$1" "$ip" "$3" "$1"
}
svc() {   # svc NAME VIP PROTO PORT FAMILY BACKEND_PORT
    printf '{"name":"%s","vip":"%s","protocol":"%s","port":%s,"bridges":["br-lb"],"backends":[%s,%s]}' \
        "$1" "$2" "$3" "$4" "$(be 1 "$5" "$6")" "$(be 2 "$5" "$6")"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
   "backend_port": "back", "gateways": ["198.18.1.1", "2001:db8:1::1"]},
  {"name": "br-lo", "mac": "$LOMAC", "frontend_port": "c3"},
  {"name": "br-one", "mac": "0a:00:00:00:00:05", "frontend_port": "arm",
   "gateways": ["198.18.5.1"]}],
 "services": [
  $(svc dns4 $VIP udp 53 4 5353), $(svc web4 $VIP tcp 80 4 8080),
  $(svc big4 $VIP udp 54 4 7000),
  $(svc dns6 $VIP6 udp 53 6 5353), $(svc web6 $VIP6 tcp 80 6 8080),
  $(svc big6 $VIP6 udp 54 6 7000),
  {"name": "odns4", "vip": "$OVIP", "protocol": "udp", "port": 53,
   "bridges": ["br-one"], "backends": [
     {"name": "s5", "ip": "198.18.5.25", "port": 5353, "mac": "02:00:00:00:05:25"},
     {"name": "s6", "ip": "198.18.5.26", "port": 5353, "mac": "02:00:00:00:05:26"}]},
  {"name": "ldns4", "vip": "$LVIP", "protocol": "udp", "port": 53,
   "mode": "local", "bridges": ["br-lo"], "backends": []},
  {"name": "lany4", "vip": "$LAVIP", "protocol": "any",
   "mode": "local", "bridges": ["br-lo"], "backends": []},
  {"name": "ldns6", "vip": "$LVIP6", "protocol": "udp", "port": 53,
   "mode": "local", "bridges": ["br-lo"], "backends": []}]}
JSON
# MSLBD_ARGS=-v: debug logs (module fragments) in $D/mslbd.log.
# shellcheck disable=SC2086
mslbd_start "$D/mslb.json" ${MSLBD_ARGS:-}
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-lo: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-one: generation 1 installed" "$D/mslbd.log"
# Neighbours first (scapy resolves them itself, slowly).
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -6 -c 1 -W 2 "$VIP6" >/dev/null || true
nsx c3 ping -c 1 -W 2 "$LVIP" >/dev/null || true
nsx c3 ping -c 1 -W 2 "$LAVIP" >/dev/null || true
nsx c5 ping -c 1 -W 2 "$OVIP" >/dev/null || true
nsx c3 ping -6 -c 1 -W 2 "$LVIP6" >/dev/null || true
e2e_hold "after setup"

frag_only() {   # frag_only ADDR: fragments to ADDR
    if [[ $1 == *:* ]]; then
        echo "ip6 and dst host $1 and ip6[6] == 44"
    else
        echo "ip and dst host $1 and (ip[6:2] & 0x3fff != 0)"
    fi
}
be_addr() {   # be_addr N FAMILY
    if [ "$2" = 6 ]; then echo "2001:db8:1::2$1"; else echo "198.18.1.2$1"; fi
}
# send_frags HOST VIP PROTO DPORT ORDER SOURCES SPORT_BASE SIZE: COUNT
# datagrams of SIZE bytes, in fragments of 1,400.
send_frags() {
    nsx "$1" timeout 60 /usr/bin/python3 "$TOOLS/fragsend.py" send "$2" \
        --proto "$3" --dport "$4" --order "$5" --count "$COUNT" \
        --sources "$6" --sport-base "$7" --size "$8" --fragsize 1400
}
# cap_start TAG FILTER_FN FAMILY: captures at s1 and s2 (FILTER_FN's
# filter for the backend's address), in $D/TAG-sN.pcap.
cap_start() {
    local tag=$1 fn=$2 fam=$3 i
    for i in 1 2; do
        spawn_in "s$i" "cap-$tag-s$i" timeout 90 tcpdump -nn -p -U -i eth0 \
            -w "$D/$tag-s$i.pcap" "$("$fn" "$(be_addr $i "$fam")")"
    done
    capture_ready "cap-$tag-s1" "cap-$tag-s2"
}
cap_stop() {
    sleep 0.5
    capture_stop "cap-$1-s1" "cap-$1-s2"
}

# 1. New sessions: each datagram whole at one backend, translated.
# nat_round TAG VIP PROTO PORT FAMILY: COUNT datagrams in order, reversed
# and shuffled, from 8 sources, source ports from BASE on.
nat_round() {
    local tag=$1 vip=$2 proto=$3 port=$4 fam=$5 base=$6 order src=$SRC4
    [ "$fam" = 6 ] && src=$SRC6
    cap_start "$tag" frag_only "$fam"
    for order in in reverse shuffle; do
        send_frags c1 "$vip" "$proto" "$port" "$order" "$src" "$base" 3000
        base=$((base + 100))
    done
    cap_stop "$tag"
}
BASE=20000
for fam in 4 6; do
    v=$VIP; [ $fam = 6 ] && v=$VIP6
    for proto in udp tcp; do
        port=53 bport=5353
        [ $proto = tcp ] && port=80 bport=8080
        tag=n$fam$proto
        BASE=$((BASE + 1000))
        check "nat $proto:$port IPv$fam: $((COUNT * 3)) fragmented datagrams sent (in, reverse, shuffle)" \
            nat_round "$tag" "$v" "$proto" "$port" "$fam" "$BASE"
        check "nat $proto:$port IPv$fam: each datagram whole at one backend, both used" \
            "$PYTHON" "$TOOLS/fragsend.py" where "$D/$tag-s1.pcap" S1 \
            "$D/$tag-s2.pcap" S2 --expect $((COUNT * 3)) --min-servers 2
        check "nat $proto:$port IPv$fam: fragments to the backend's address, first ones to port $bport" \
            "$PYTHON" "$FRAGNAT" translated "$D/$tag-s1.pcap" "$(be_addr 1 $fam)" \
            "$bport" "$D/$tag-s2.pcap" "$(be_addr 2 $fam)" "$bport"
    done
done

# 2. An existing session (a small datagram first): its fragmented
# datagrams follow conntrack's translation to the same backend.
udp_or_frag() {
    if [[ $1 == *:* ]]; then
        echo "ip6 and dst host $1 and (udp or ip6[6] == 44)"
    else
        echo "ip and dst host $1 and (udp or (ip[6:2] & 0x3fff != 0))"
    fi
}
session_round() {
    local tag=$1 vip=$2 fam=$3 src=198.18.0.10
    [ "$fam" = 6 ] && src=2001:db8::10
    cap_start "$tag" udp_or_frag "$fam"
    nsx c1 timeout 40 "$PYTHON" "$FRAGNAT" small "$vip" 53 --source "$src" \
        --sport-base 40000 --count 16
    COUNT=16 send_frags c1 "$vip" udp 53 shuffle "$src" 40000 3000
    cap_stop "$tag"
}
for fam in 4 6; do
    v=$VIP; [ $fam = 6 ] && v=$VIP6
    check "nat udp:53 IPv$fam: 16 sessions, a small datagram then a fragmented one each" \
        session_round "s$fam" "$v" "$fam"
    check "nat udp:53 IPv$fam: each session's fragmented datagram at its first datagram's backend" \
        "$PYTHON" "$FRAGNAT" sessions "$D/s$fam-s1.pcap" S1 "$D/s$fam-s2.pcap" S2 \
        --expect 16
    check "nat udp:53 IPv$fam: the sessions' fragmented datagrams whole" \
        "$PYTHON" "$TOOLS/fragsend.py" where "$D/s$fam-s1.pcap" S1 \
        "$D/s$fam-s2.pcap" S2 --expect 16
done

# 3. Replies bigger than the MTU: the backend's stack fragments them, the
# balancer translates every fragment back, the client's stack reassembles.
for v in $VIP $VIP6; do
    check "nat udp:54 $v: 16 answers of 3,000 bytes whole from $v:54, both backends" \
        nsx c1 timeout 60 "$PYTHON" "$FRAGNAT" bigclient "$v" 54 --count 16 \
        --size 3000 --timeout 1.5 --min-servers 2
done

# 4. Mode local: fragmented datagrams reach the host's socket whole.
local_round() {   # local_round VIP FAMILY SOURCE [TAG]
    local vip=$1 tag=${4:-sink$2} order base=$((30000 + $2 * 1000))
    spawn "$tag" ip netns exec "$OVS_NS" timeout 60 "$PYTHON" "$FRAGNAT" sink \
        "$vip" 53 --count $((COUNT * 3)) --size 3000 --timeout 30 \
        --ready "$D/pids/$tag.ready"
    wait_for 10 test -s "$D/pids/$tag.ready"
    for order in in reverse shuffle; do
        send_frags c3 "$vip" udp 53 "$order" "$3" "$base" 3000
        base=$((base + 100))
    done
    spawn_wait "$tag" 40 || { cat "$D/logs/$tag.log"; return 1; }
    cat "$D/logs/$tag.log"
}
check "local udp:53 $LVIP: $((COUNT * 3)) fragmented datagrams reach the host's socket byte for byte" \
    local_round "$LVIP" 4 198.18.2.10
check "local udp:53 $LVIP6: $((COUNT * 3)) fragmented datagrams reach the host's socket byte for byte" \
    local_round "$LVIP6" 6 2001:db8:2::10
check "local any $LAVIP: $((COUNT * 3)) fragmented datagrams reach the host's socket byte for byte (flows only)" \
    local_round "$LAVIP" 4 198.18.2.10 sinkany

# 5. Ping: answered by the balancer (source MAC the bridge's), whole.
# ping_balancer TAG HOST VIP SIZE MAC
ping_balancer() {
    local tag=$1 host=$2 vip=$3 size=$4 mac=$5 six="" filt
    filt="ip and src host $vip and (icmp or (ip[6:2] & 0x3fff != 0))"
    if [[ $vip == *:* ]]; then
        six=-6 filt="ip6 and src host $vip and (icmp6 or ip6[6] == 44)"
    fi
    spawn_in "$host" "$tag" timeout 30 tcpdump -nn -e -p -U -i eth0 \
        -w "$D/$tag.pcap" "$filt"
    capture_ready "$tag"
    nsx "$host" timeout 20 ping $six -c 2 -i 0.3 -W 2 -s "$size" "$vip" \
        | tee "$D/$tag.ping"
    capture_stop "$tag"
    grep -q " 2 received" "$D/$tag.ping"
    tcpdump -nn -e -r "$D/$tag.pcap" 2>/dev/null | tee "$D/$tag.txt"
    # Every frame from the VIP comes from the bridge's MAC; some do.
    grep -q "^[^ ]* $mac > " "$D/$tag.txt"
    if grep -v "^[^ ]* $mac > " "$D/$tag.txt" | grep -q .; then
        echo "frames from another MAC"
        return 1
    fi
}
N=0
for size in 56 3000; do
    for v in $VIP $VIP6; do
        N=$((N + 1))
        check "ping -s $size nat VIP $v: answered by the balancer ($LBMAC)" \
            ping_balancer "ping$N" c1 "$v" "$size" "$LBMAC"
    done
    for v in $LVIP $LVIP6; do
        N=$((N + 1))
        check "ping -s $size local VIP $v: answered by the balancer ($LOMAC)" \
            ping_balancer "ping$N" c3 "$v" "$size" "$LOMAC"
    done
done

# 6. One-armed nat: mslbd sends the fragments from the controller's port
# (a packet-out through ct() cannot start at a patch port), and NAT_OUT's
# fragment flows name the arm by number.
one_arm_round() {
    local i order base=36000
    for i in 5 6; do
        spawn_in "s$i" "cap-one-s$i" timeout 90 tcpdump -nn -p -U -i eth0 \
            -w "$D/one-s$i.pcap" "$(frag_only "198.18.5.2$i")"
    done
    capture_ready cap-one-s5 cap-one-s6
    for order in in reverse shuffle; do
        send_frags c5 "$OVIP" udp 53 "$order" "$OSRC" "$base" 3000
        base=$((base + 100))
    done
    sleep 0.5
    capture_stop cap-one-s5 cap-one-s6
}
check "one-armed nat udp:53: $((COUNT * 3)) fragmented datagrams sent" one_arm_round
check "one-armed nat udp:53: each datagram whole at one backend, both used" \
    "$PYTHON" "$TOOLS/fragsend.py" where "$D/one-s5.pcap" S5 \
    "$D/one-s6.pcap" S6 --expect $((COUNT * 3)) --min-servers 2
check "one-armed nat udp:53: fragments to the backend's address, first ones to port 5353" \
    "$PYTHON" "$FRAGNAT" translated "$D/one-s5.pcap" 198.18.5.25 5353 \
    "$D/one-s6.pcap" 198.18.5.26 5353
