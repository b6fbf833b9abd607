#!/usr/bin/env bash
# Mode l3dsr end to end: the first stage rewrites the destination to the
# real server and marks the VIP in the DSCP; the final-stage bridge in front
# of the server (programmed by the same mslbd) restores both, so the server
# receives exactly the packet the client sent, for TCP, UDP and another IP
# protocol; it answers from the VIP, directly.
#
#   c1 198.18.0.10 --+-- br-sw ==veth== arm [br-lb]   (first stage)
#                    |
#                    +==veth== hostup [br-host] -- s1 198.18.1.21 (VIP on lo)
#                              (final stage)     s2 .22, s3 .23, s4 .24
#
# Then the selection checks of issue 9 (tests/e2e/sel_lib.sh) in mode
# l3dsr, to VIP2: 10,000 connections split 1:2:3 over s1..s3; 1,000
# connections held across one REST write that adds s4, drains s2 and
# removes s3; upcalls per new connection to a warm service.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/sel_lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb "$MSLBD_TARGET"
add_lb_bridge br-host "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-host hostup br-sw sw-host veth
add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
VIP2=198.18.0.102
for i in 1 2 3 4; do
    add_host "s$i" br-host "198.18.1.2$i/24" - "02:00:00:00:01:2$i"
    nsx "s$i" ip addr add "$VIP/32" dev lo
    nsx "s$i" ip addr add "$VIP2/32" dev lo
    host_route "s$i" 198.18.0.0/24 dev eth0        # the client, directly
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    start_server "s$i" "S$i" --tcp 80 --udp 53
    sel_serve "s$i" "S$i" 7000 7001
done
# lb N [WEIGHT] [STATE]: backend sN behind br-host.
lb() {
    printf '{"name":"s%s","ip":"198.18.1.2%s","mac":"02:00:00:00:01:2%s","host_bridge":"br-host","weight":%s%s}' \
        "$1" "$1" "$1" "${2:-1}" "${3:+,\"state\":\"$3\"}"
}

cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"},
             {"name": "br-host", "role": "final"}],
 "services": [
  {"name": "all", "vip": "$VIP", "protocol": "any", "mode": "l3dsr",
   "dscp": 10, "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.1.21", "mac": "02:00:00:00:01:21",
                 "host_bridge": "br-host"}]},
  {"name": "web", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "l3dsr",
   "dscp": 11, "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.1.21", "mac": "02:00:00:00:01:21",
                 "host_bridge": "br-host", "weight": 2},
                {"name": "s2", "ip": "198.18.1.22", "mac": "02:00:00:00:01:22",
                 "host_bridge": "br-host", "weight": 1}]},
  {"name": "split", "vip": "$VIP2", "protocol": "tcp", "port": 7000, "mode": "l3dsr",
   "dscp": 11, "bridges": ["br-lb"], "backends": [$(lb 1 1),$(lb 2 2),$(lb 3 3)]},
  {"name": "churn", "vip": "$VIP2", "protocol": "tcp", "port": 7001, "mode": "l3dsr",
   "dscp": 11, "idle_timeout": 60, "bridges": ["br-lb"],
   "backends": [$(lb 1),$(lb 2),$(lb 3)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"

# Captures at both ends while the client sends TCP, UDP and IP protocol 253.
spawn cap_c ip netns exec "$(ns_of c1)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/client.pcap" "ip and dst host $VIP and not icmp"
spawn cap_s ip netns exec "$(ns_of s1)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/server.pcap" "ip and dst host $VIP and not icmp"
capture_ready cap_c cap_s
check "TCP through the VIP" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 \
    --count 20 --expect S1:1 --tolerance 0
check "UDP through the VIP" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 \
    --count 20 --expect S1:1 --tolerance 0
nsx c1 "$PYTHON" - "$VIP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
for i in range(5):
    s.sendto(b"mslb-proto-253-%d" % i, (sys.argv[1], 0))
PY
# The raw packets wait for ARP: let them arrive before the captures stop.
raw_arrived() {
    test "$(tcpdump -nn -r "$D/server.pcap" 'ip proto 253' 2>/dev/null \
            | wc -l)" -ge 5
}
wait_for 20 raw_arrived || true
capture_stop cap_c cap_s

# Every IP packet the client sent must reach the server byte for byte.
compare() {
    "$PYTHON" "$TOOLS/pcap_same.py" "$D/client.pcap" "$D/server.pcap" "$1"
}
check "server got the client's TCP packets unchanged (dst VIP, DSCP 0)" compare 6
check "server got the client's UDP packets unchanged" compare 17
check "server got protocol 253 packets unchanged" compare 253
stats_save "$D/stats0.json"
check "300 TCP connections spread 2:1 by weight over two servers" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP2 80 --count 300 \
    --concurrency 8 --expect S1:2,S2:1 --tolerance 0.1 >$D/counts.json"
check "GET /v1/stats: each backend's sessions are the connections it answered, its answers counted on its host" \
    stats_grew_soon web "$D/stats0.json" "$D/counts.json" replies
open_sessions_held web c1 "$VIP2" 80
check "the first stage rewrote toward the server with DSCP 10" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-lb.mgmt table=22 | grep -q 'set_field:10->ip_dscp'"
check "the final stage restored (its flow counted packets)" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-host.mgmt | grep 'nw_tos=40' | grep -vq 'n_packets=0,'"

# ----------------------------------------- selection (issue 9), l3dsr

SEL_VIP=$VIP2
body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "mode": "l3dsr", "dscp": 11, "idle_timeout": 60, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP2" "$(lb 1)" "$(lb 2 1 drain)" "$(lb 4)")
sel_mode_checks l3dsr "$body"
