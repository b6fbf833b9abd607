#!/usr/bin/env bash
# Mode slb (docs/slb.md), the mux and host-agent data path: the first
# stage (the mux) encapsulates the client's packet unchanged to the final
# stage on the backend's host, which translates VIP:port to the backend's
# own address and port (conntrack) and delivers it; the backend's reply is
# translated back to VIP:port on that host and leaves from there: it never
# passes the mux.  The VMs do not hold the VIP.
#
#  host 1 (netns $OVS_NS)                        host 2 (netns h2)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] vx0 (gateway 198.18.0.254)
#                      ||            br-ul 198.18.2.1 == br-ul2 198.18.2.2
#                      ||                              [br-host] vx1
#                      ++=============== reply link ====  |
#                                               vm1 198.18.0.31, vm2 .32
#                                               (listening on 8080, 5353)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
LBMAC=0a:00:00:00:00:01
GW=198.18.0.254
HGW=198.18.0.250        # The host agent's: its probes' source.
HSERVERS=2

mslb_two_hosts
H2_VIPS=                # The VMs do not hold the VIP.
H2_VIPS6=
for n in 1 2; do
    h2_server "$n" "02:00:00:00:00:3$n"
    start_server "s$n" "S$n" --tcp 8080 --udp 5353
done
vm() {   # vm N PORT [WEIGHT]
    printf '{"name":"s%s","ip":"198.18.0.3%s","port":%s,"mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host","weight":%s}' \
        "$1" "$1" "$2" "$1" "${3:-1}"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0"}, "gateways": ["$GW"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"},
   "gateways": ["$HGW"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.4, "rise": 2, "fall": 2},
   "backends": [$(vm 1 8080),$(vm 2 8080)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "slb",
   "bridges": ["br-lb"], "backends": [$(vm 1 5353),$(vm 2 5353)]},
  {"name": "weighted", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"], "backends": [$(vm 1 8080 1),$(vm 2 8080 3)]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
wait_rest

# No reply may cross the mux: a capture on its arm for the whole test.
spawn capture ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" ip
capture_ready capture

for b in s1 s2; do
    check "$b is probed (by its host agent, through the host's translation) and up" \
        wait_for 10 health_is "$b" up
    check "$b's probes leave from its host's bridge" \
        test "$(health_field "$b" 'h.get("probed_from")')" = br-host
done
check "300 TCP connections to VIP:80 over both VMs" conns 300 S1:1,S2:1
check "vm1 got them on its own address and port 8080" \
    grep -q "S1 tcp conn from 198.18.0.10:[0-9]* to 198.18.0.31:8080" \
    "$D/logs/srv-S1.log"
check "UDP to VIP:53 reaches both VMs on port 5353" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 200 \
    --concurrency 4 --timeout 2 --expect S1:1,S2:1 --tolerance 0.15
stats_save "$D/stats0.json"
check "weights 1:3 on VIP2" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP2 80 --count 400 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:3 --tolerance 0.06 >$D/counts.json"
check "GET /v1/stats: each backend's sessions are the connections it answered, its answers counted on its host" \
    stats_grew_soon weighted "$D/stats0.json" "$D/counts.json" replies
open_sessions_held weighted c1 "$VIP2" 80
# seen NS IF FILTER: a packet matching FILTER crosses IF (in namespace NS)
# while c1 opens 5 connections to VIP:80.
seen() {
    ip netns exec "$1" timeout 5 tcpdump -nn -p -c 1 -i "$2" "$3" \
        >"$D/seen.out" 2>&1 &
    local pid=$!
    sleep 1
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 5 \
        --timeout 3 >/dev/null
    wait "$pid"
}
check "the underlay carries the requests (VXLAN to host 2)" \
    seen "$NS2" ul2 "src host 198.18.2.1 and dst host 198.18.2.2 and udp dst port 4789"
check "vm1 sees VIP traffic as its own address and port" \
    seen "$(ns_of s1)" eth0 "dst host 198.18.0.31 and tcp dst port 8080"
check "replies leave host 2 by its own link, from VIP:80" \
    seen "$NS2" rl2 "src host $VIP and tcp src port 80"

# A VM stops serving: its host's translation still delivers the probe,
# the VM's kernel refuses it, the mux stops choosing it.
spawn_stop srv-S2
check "s2 is down after its server stopped" wait_for 10 health_is s2 down
check "new connections avoid s2, none fails" conns_avoid 200 S2
start_server s2 S2 --tcp 8080 --udp 5353
check "s2 is up again" wait_for 10 health_is s2 up
check "connections reach both again" conns 200 S1:1,S2:1

capture_stop capture
# The probes are the host agent's: not even their answers reach the mux.
replies=$(tcpdump -nn -r "$D/arm.pcap" \
    "src host $VIP or src host $VIP2" 2>/dev/null | wc -l)
requests=$(tcpdump -nn -r "$D/arm.pcap" "dst host $VIP or dst host $VIP2" 2>/dev/null | wc -l)
check "the mux saw the requests ($requests packets)" test "$requests" -gt 1000
check "and no reply ($replies packets from the VIPs)" test "$replies" -eq 0
check "nor any packet from the VMs' addresses" test "$(tcpdump -nn -r "$D/arm.pcap" \
    'src host 198.18.0.31 or src host 198.18.0.32' 2>/dev/null | wc -l)" -eq 0
check "nor any to a probe address" test "$(tcpdump -nn -r "$D/arm.pcap" \
    "dst host $GW or dst host $HGW" 2>/dev/null | wc -l)" -eq 0
