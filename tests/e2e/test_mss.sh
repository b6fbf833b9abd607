#!/usr/bin/env bash
# MSS clamping (docs/mtu.md "MSS clamping"): a service with "mss" lowers
# the MSS option of the SYNs clients send to it before they reach the
# server (mslbd pauses each SYN and resumes it changed), in mode nat (two
# arms, patch ports) and mode dr, IPv4 and IPv6; connections work; a
# service without "mss" leaves SYNs alone; /metrics counts the SYNs.
#
#   nat: nat_topo.sh's (c1 -- br-cl == [br-lb] == br-sv -- s1, s2, s3)
#   dr:  c4 198.18.4.10, 2001:db8:4::10 -- br-dsw == arm [br-dlb]
#        d1, d2 .4.2x (VIPs .4.100 / :4::100 on lo) -- br-dsw
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

DVIP=198.18.4.100
DVIP6=2001:db8:4::100
nat_topo_up
add_switch_bridge br-dsw
add_lb_bridge br-dlb "$MSLBD_TARGET"
link_bridges br-dlb arm br-dsw dsw-up veth
add_host c4 br-dsw 198.18.4.10/24 2001:db8:4::10/64 0a:00:00:00:00:40
for i in 1 2; do
    add_host "d$i" br-dsw "198.18.4.2$i/24" "2001:db8:4::2$i/64" "02:00:00:00:04:2$i"
    nsx "d$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    nsx "d$i" ip addr add "$DVIP/32" dev lo
    ip -n "$(ns_of "d$i")" -6 addr add "$DVIP6/128" dev lo nodad
    start_server "d$i" "D$i" --tcp 80
done

dbe() {   # dbe N FAMILY
    local ip=198.18.4.2$1
    [ "$2" = 6 ] && ip=2001:db8:4::2$1
    printf '{"name":"d%s","ip":"%s","mac":"02:00:00:00:04:2%s"}' "$1" "$ip" "$1"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
   "backend_port": "back", "gateways": ["198.18.1.1"]},
  {"name": "br-dlb", "mac": "0a:00:00:00:00:04", "frontend_port": "arm"}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mss": 1200,
   "bridges": ["br-lb"], "backends": [$(nat_backend 1 8080),$(nat_backend 2 8080)]},
  {"name": "alt", "vip": "$VIP", "protocol": "tcp", "port": 81,
   "bridges": ["br-lb"], "backends": [$(nat_backend 3 8081)]},
  {"name": "dweb", "vip": "$DVIP", "protocol": "tcp", "port": 80, "mode": "dr",
   "mss": 1300, "bridges": ["br-dlb"], "backends": [$(dbe 1 4),$(dbe 2 4)]},
  {"name": "dweb6", "vip": "$DVIP6", "protocol": "tcp", "port": 80,
   "mode": "dr", "mss": 1280, "bridges": ["br-dlb"],
   "backends": [$(dbe 1 6),$(dbe 2 6)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-dlb: generation 1 installed" "$D/mslbd.log"

syns() {   # syns TAG HOST...: start capturing SYNs at each host
    local tag=$1 h tags=()
    shift
    for h in "$@"; do
        spawn_in "$h" "cap-$tag-$h" timeout 60 tcpdump -nn -v -p -U -i eth0 \
            -w "$D/$tag-$h.pcap" "(ip and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02)"
        tags+=("cap-$tag-$h")
    done
    capture_ready "${tags[@]}"
}
syns_stop() {   # syns_stop TAG HOST...: the MSS values seen, sorted, counted
    local tag=$1 h
    shift
    sleep 0.5
    for h in "$@"; do capture_stop "cap-$tag-$h"; done
    for h in "$@"; do
        tcpdump -nn -v -r "$D/$tag-$h.pcap" 2>/dev/null
    done | { grep -o "mss [0-9]*" || true; } | sort | uniq -c | tee "$D/$tag.mss"
}
# only_mss TAG VALUE: every SYN seen had MSS VALUE, and there were some.
only_mss() {
    cat "$D/$1.mss"
    grep -q "mss $2\$" "$D/$1.mss" && ! grep -v "mss $2\$" "$D/$1.mss" | grep -q .
}

syns n80 s1 s2
check "nat tcp:80 (mss 1200): 20 connections through the VIP" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 20 --timeout 5
syns_stop n80 s1 s2
check "nat tcp:80: every SYN reaches the backends with MSS 1200" only_mss n80 1200

syns n81 s3
check "nat tcp:81 (no mss): 5 connections" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 81 --count 5 --timeout 5
syns_stop n81 s3
check "nat tcp:81: SYNs keep the client's MSS (1460)" only_mss n81 1460

syns d80 d1 d2
check "dr tcp:80 (mss 1300): 20 connections through the VIP" \
    nsx c4 "$PYTHON" "$TOOLS/lbclient.py" tcp "$DVIP" 80 --count 20 --timeout 5
syns_stop d80 d1 d2
check "dr tcp:80: every SYN reaches the servers with MSS 1300" only_mss d80 1300

syns d6 d1 d2
check "dr tcp:80 IPv6 (mss 1280): 20 connections through the VIP" \
    nsx c4 "$PYTHON" "$TOOLS/lbclient.py" tcp "$DVIP6" 80 --count 20 --timeout 5
syns_stop d6 d1 d2
check "dr tcp:80 IPv6: every SYN reaches the servers with MSS 1280" only_mss d6 1280

clamped() {
    local n
    n=$(curl -s --max-time 10 "$REST_URL/metrics" |
        awk '$1 == "mslb_mss_syns_total{result=\"clamped\"}" { print $2 }')
    echo "clamped: $n"
    [ "${n:-0}" -ge 60 ]
}
check "/metrics counts the clamped SYNs" clamped
