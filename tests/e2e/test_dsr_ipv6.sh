#!/usr/bin/env bash
# The DSR modes over IPv6: dr (servers on the segment, VIP on lo) and l3dsr
# (destination and traffic class rewritten, restored by the final stage,
# byte for byte at the server), TCP and UDP.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP6=2001:db8::100
VIP6B=2001:db8::101
LBMAC=0a:00:00:00:00:01
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb "$MSLBD_TARGET"
add_lb_bridge br-host "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-host hostup br-sw sw-host veth
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
for i in 1 2; do      # dr servers, on the segment
    add_host "s$i" br-sw "198.18.0.2$i/24" "2001:db8::2$i/64" "02:00:00:00:00:2$i"
    ip -n "$(ns_of "s$i")" -6 addr add "$VIP6/128" dev lo nodad
    start_server "s$i" "S$i" --tcp 80 --udp 53
done
# l3dsr server behind the final stage, in another prefix, VIP on lo.
add_host s3 br-host 198.18.1.23/24 2001:db8:1::23/64 02:00:00:00:01:23
ip -n "$(ns_of s3)" -6 addr add "$VIP6B/128" dev lo nodad
host_route s3 2001:db8::/64 dev eth0
start_server s3 S3 --tcp 80 --udp 53

dr() { printf '{"name":"s%s","ip":"2001:db8::2%s","mac":"02:00:00:00:00:2%s"}' "$1" "$1" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"},
             {"name": "br-host", "role": "final"}],
 "services": [
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(dr 1),$(dr 2)]},
  {"name": "dns6", "vip": "$VIP6", "protocol": "udp", "port": 53, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(dr 1),$(dr 2)]},
  {"name": "l36", "vip": "$VIP6B", "protocol": "any", "mode": "l3dsr", "dscp": 12,
   "bridges": ["br-lb"], "backends": [{"name": "s3", "ip": "2001:db8:1::23",
     "mac": "02:00:00:00:01:23", "host_bridge": "br-host"}]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"

check "ping6 the dr VIP" nsx c1 ping -6 -c 2 -i 0.2 -W 2 "$VIP6"
check "neighbour entry of the VIP is the balancer" \
    sh -c "ip netns exec $(ns_of c1) ip -6 neigh show $VIP6 | grep -q $LBMAC"
spawn cap_lb ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm -w "$D/arm.pcap" ip6
spawn cap_c ip netns exec "$(ns_of c1)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/client.pcap" "ip6 and dst host $VIP6B"
spawn cap_s ip netns exec "$(ns_of s3)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/server.pcap" "ip6 and dst host $VIP6B"
capture_ready cap_lb cap_c cap_s
check "dr over IPv6: 200 TCP connections over two servers" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 200 \
    --concurrency 8 --expect S1:1,S2:1 --tolerance 0.15
check "dr over IPv6: 100 UDP sessions" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP6" 53 --count 100 \
    --concurrency 4 --expect S1:1,S2:1 --tolerance 0.2
check "l3dsr over IPv6: TCP" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6B" 80 \
    --count 20 --expect S3:1 --tolerance 0
check "l3dsr over IPv6: UDP" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP6B" 53 \
    --count 20 --expect S3:1 --tolerance 0
capture_stop cap_lb cap_c cap_s
replies=$(tcpdump -nn -r "$D/arm.pcap" "(src host $VIP6 or src host $VIP6B) and (tcp or udp)" 2>/dev/null | wc -l)
requests=$(tcpdump -nn -r "$D/arm.pcap" "src host 2001:db8::10 and (tcp or udp)" 2>/dev/null | wc -l)
check "br-lb saw the requests ($requests)" test "$requests" -gt 500
check "br-lb saw no replies ($replies)" test "$replies" -eq 0
compare() { "$PYTHON" "$TOOLS/pcap_same.py" "$D/client.pcap" "$D/server.pcap" "$1"; }
check "l3dsr over IPv6: the server got the client's TCP packets unchanged" compare 6
check "l3dsr over IPv6: the server got the client's UDP packets unchanged" compare 17
