#!/usr/bin/env bash
# Mode mslb (multi-stage transparent) end to end, with two hosts: the first
# stage encapsulates (VXLAN, GRE or Geneve per service) to the final-stage
# bridge on the server's host, a second ovs-vswitchd programmed by the same
# mslbd; the final stage hands the server exactly the packet the client
# sent (TCP, UDP, IP protocol 253), and the server answers directly.
#
#  host 1 (netns $OVS_NS)                        host 2 (netns h2)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] vx0/gre0/gnv0
#                      ||            br-ul 198.18.2.1 == br-ul2 198.18.2.2
#                      ||                              [br-host] vx1/gre1/gnv1
#                      ++=============== reply link ====  |
#                                                        s1 198.18.0.31 (VIP on lo)
#                                                        s2 .32, s3 .33, s4 .34
#
# Then the selection checks of issue 9 (tests/e2e/sel_lib.sh) in mode
# mslb, to VIP3: 10,000 connections split 1:2:3 over s1..s3; 1,000
# connections held across one REST write that adds s4, drains s2 and
# removes s3; upcalls per new connection to a warm service (both hosts).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/sel_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
S1MAC=02:00:00:00:00:31

# The servers, behind br-host: s1 (every service) and s2 (the weighted
# one); s3 and s4 for the selection checks.
VIP3=198.18.0.102
mslb_two_hosts
H2_VIPS="$VIP $VIP2 $VIP3"
H2_VIPS6=$VIP6
for n in 1 2 3 4; do
    h2_server "$n" "02:00:00:00:00:3$n"
    start_server "s$n" "S$n" --tcp 80 --udp 53
    sel_serve "s$n" "S$n" 7000 7001
done
# mb N [WEIGHT] [STATE]: backend sN behind br-host.
mb() {
    printf '{"name":"s%s","ip":"198.18.0.3%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host","weight":%s%s}' \
        "$1" "$1" "$1" "${2:-1}" "${3:+,\"state\":\"$3\"}"
}
NSS=$(ns_of s1)


be='{"name":"s1","ip":"198.18.0.31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host"}'
be6='{"name":"s1","ip":"2001:db8::31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host"}'
be_w='{"name":"s1","ip":"198.18.0.31","mac":"'$S1MAC'","host":"198.18.2.2","host_bridge":"br-host","weight":3},{"name":"s2","ip":"198.18.0.32","mac":"02:00:00:00:00:32","host":"198.18.2.2","host_bridge":"br-host","weight":1}'
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "gre": "gre0", "geneve": "gnv0"}},
  {"name": "br-host", "role": "final",
   "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gnv1"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "mslb",
   "tunnel": "gre", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "raw", "vip": "$VIP2", "protocol": "any", "mode": "mslb",
   "tunnel": "geneve", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "all6", "vip": "$VIP6", "protocol": "any", "mode": "mslb",
   "tunnel": "vxlan", "bridges": ["br-lb"], "backends": [$be6]},
  {"name": "weighted", "vip": "$VIP3", "protocol": "tcp", "port": 80,
   "mode": "mslb", "tunnel": "geneve", "bridges": ["br-lb"],
   "backends": [$be_w]},
  {"name": "split", "vip": "$VIP3", "protocol": "tcp", "port": 7000,
   "mode": "mslb", "tunnel": "vxlan", "bridges": ["br-lb"],
   "backends": [$(mb 1 1),$(mb 2 2),$(mb 3 3)]},
  {"name": "churn", "vip": "$VIP3", "protocol": "tcp", "port": 7001,
   "mode": "mslb", "tunnel": "vxlan", "idle_timeout": 60, "bridges": ["br-lb"],
   "backends": [$(mb 1),$(mb 2),$(mb 3)]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
# The final stage asks for the servers behind it (ARP probe, neighbour
# solicitation), so that its MAC learning knows where they are before the
# first restored packet: nothing is flooded to the other servers.
wait_for 20 grep -q "bridge br-host: announcing 4 addresses" "$D/mslbd.log"
spawn_in s2 cap_s2 timeout 120 tcpdump -nn -e -p -U -i eth0 \
    -w "$D/s2-for-s1.pcap" "ether dst $S1MAC"
capture_ready cap_s2
sleep 0.5

spawn cap_c ip netns exec "$(ns_of c1)" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/client.pcap" "(dst host $VIP or dst host $VIP2 or dst host $VIP6) and not icmp and not icmp6"
spawn cap_s ip netns exec "$NSS" timeout 120 tcpdump -nn -p -U -i eth0 \
    -w "$D/server.pcap" "(dst host $VIP or dst host $VIP2 or dst host $VIP6) and not icmp and not icmp6"
spawn cap_lb ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" "ip or ip6"
capture_ready cap_c cap_s cap_lb
check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "TCP through the VIP (VXLAN to the final stage)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 50 --timeout 5 \
    --expect S1:1 --tolerance 0
check "UDP through the VIP (GRE to the final stage)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 50 \
    --expect S1:1 --tolerance 0
stats_save "$D/stats0.json"
check "400 TCP connections spread 3:1 by weight over two servers (Geneve)" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP3 80 --count 400 \
    --concurrency 8 --timeout 5 --expect S1:3,S2:1 --tolerance 0.1 >$D/counts.json"
check "GET /v1/stats: each backend's sessions are the connections it answered, its answers counted on its host" \
    stats_grew_soon weighted "$D/stats0.json" "$D/counts.json" replies
open_sessions_held weighted c1 "$VIP3" 80
check "TCP over IPv6 through the VIP (every protocol, VXLAN)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP6" 80 --count 30 \
    --expect S1:1 --tolerance 0
nsx c1 "$PYTHON" - "$VIP2" "$VIP6" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253)
for i in range(5):
    s.sendto(b"mslb-proto-253-%d" % i, (sys.argv[1], 0))
    s6.sendto(b"mslb6-proto-253-%d" % i, (sys.argv[2], 0))
PY
# The raw packets wait for ARP: let them arrive before the captures stop.
raw_arrived() {
    test "$(tcpdump -nn -r "$D/server.pcap" 'ip proto 253 or ip6 proto 253' \
            2>/dev/null | wc -l)" -ge 10
}
wait_for 20 raw_arrived || true
capture_stop cap_c cap_s cap_lb cap_s2

compare() {
    "$PYTHON" "$TOOLS/pcap_same.py" "$D/client.pcap" "$D/server.pcap" "$1"
}
check "server got the client's TCP packets unchanged" compare 6
check "server got the client's UDP packets unchanged" compare 17
check "server got protocol 253 packets unchanged (Geneve; IPv6 over VXLAN)" compare 253
from_client=$(tcpdump -nn -r "$D/arm.pcap" 'src host 198.18.0.10 or src host 2001:db8::10' 2>/dev/null | wc -l)
replies=$(tcpdump -nn -r "$D/arm.pcap" "(src host $VIP or src host $VIP2 or src host $VIP6 or src host 198.18.0.31 or src host 2001:db8::31) and (tcp or udp)" 2>/dev/null | wc -l)
check "br-lb saw the requests ($from_client packets)" test "$from_client" -gt 100
check "br-lb saw no replies ($replies)" test "$replies" -eq 0
flooded=$(tcpdump -nn -r "$D/s2-for-s1.pcap" 2>/dev/null | wc -l)
check "no frame for s1 flooded to s2 by the final stage ($flooded)" \
    test "$flooded" -eq 0

# ------------------------------------------ selection (issue 9), mslb

SEL_VIP=$VIP3
SEL_CTLS="$D/ovs-vswitchd.ctl $D2/vswitchd.ctl"
body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "mode": "mslb", "tunnel": "vxlan", "idle_timeout": 60, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP3" "$(mb 1)" "$(mb 2 1 drain)" "$(mb 4)")
sel_mode_checks mslb "$body" "mslb (both hosts): "
