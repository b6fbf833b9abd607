#!/usr/bin/env bash
# Mode slb's east-west fastpath (docs/slb.md): a VM on an slb host that
# connects to a VIP goes straight to the chosen backend's host (or to a
# backend on its own host) without any mux: the host runs the service's
# pipeline itself, with the same slot table and hash as the muxes, and
# the health facts (a backend the monitor finds down is avoided here too).
#
#  host 1 (netns $OVS_NS): c1 198.18.0.10 -- br-sw == arm [br-lb] (the mux)
#                          br-ul 198.18.2.1, the underlay switch
#  host 2 (own ovs-vswitchd): br-ul2 198.18.2.2, [br-host]  vm1 .31, vm2 .32
#  host 3 (own ovs-vswitchd): br-ul3 198.18.2.6, [br-host3] vm3 .33, vm4 .34
#  every host's final stage also has a link (rl*) to br-sw: one L2 segment
#  web VIP .100 tcp 80 and dns VIP .100 udp 53: vm2, vm3, vm4
#  api VIP .101 tcp 80: vm1
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
LBMAC=0a:00:00:00:00:01
GW=198.18.0.254

mslb_two_hosts
mslb_host3
H2_VIPS=
H2_VIPS6=
for n in 1 2; do
    h2_server "$n" "02:00:00:00:00:3$n"
done
for n in 3 4; do
    h3_server "$n" "02:00:00:00:00:3$n"
done
for n in 1 2 3 4; do
    start_server "s$n" "S$n" --tcp 8080 --udp 5353
done

vm() {   # vm N PORT
    local host=198.18.2.2 br=br-host
    if [ "$1" -gt 2 ]; then host=198.18.2.6; br=br-host3; fi
    printf '{"name":"vm%s","ip":"198.18.0.3%s","port":%s,"mac":"02:00:00:00:00:3%s","host":"%s","host_bridge":"%s"}' \
        "$1" "$1" "$2" "$1" "$host" "$br"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0"}, "gateways": ["$GW"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"}},
  {"name": "br-host3", "role": "final", "tunnel_ports": {"vxlan": "vx3"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.4, "rise": 2, "fall": 2},
   "backends": [$(vm 2 8080),$(vm 3 8080),$(vm 4 8080)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "slb",
   "bridges": ["br-lb"], "backends": [$(vm 2 5353),$(vm 3 5353),$(vm 4 5353)]},
  {"name": "api", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"], "backends": [$(vm 1 8080)]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock" \
    --listen "punix:$D3/mslbd.sock" --rest "$REST_PORT"
for b in br-lb br-host br-host3; do
    wait_for 20 grep -q "bridge $b: generation 1 installed" "$D/mslbd.log"
done
wait_rest
for b in vm2 vm3 vm4; do
    check "$b is up" wait_for 10 health_is "$b" up
done

check "through the mux: c1 to VIP:80 reaches vm2, vm3, vm4" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 150 \
    --concurrency 4 --timeout 3 --expect S2:1,S3:1,S4:1 --tolerance 0.15

# From here on, nothing of vm1's may cross the mux.  (The captures leave
# out the health probes, which would keep them growing: capture_stop
# waits for quiet files.)
spawn capture ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" "ip and not host $GW"
capture_ready capture
spawn ul ip netns exec "$NS2" timeout 120 tcpdump -nn -p -U -i ul2 \
    -w "$D/ul2.pcap" "udp dst port 4789 and src host 198.18.2.2"
capture_ready ul

check "east-west: vm1 to VIP:80 reaches vm2 (its own host), vm3, vm4" \
    nsx s1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 \
    --concurrency 4 --timeout 3 --expect S2:1,S3:1,S4:1 --tolerance 0.15
check "vm2 saw vm1's own address (translated on host 2 itself)" \
    grep -q "S2 tcp conn from 198.18.0.31:[0-9]* to 198.18.0.32:8080" \
    "$D/logs/srv-S2.log"
check "vm3 too (through host 3's translation)" \
    grep -q "S3 tcp conn from 198.18.0.31:[0-9]* to 198.18.0.33:8080" \
    "$D/logs/srv-S3.log"
check "east-west UDP: vm1 to VIP:53 over the three" \
    nsx s1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 150 \
    --concurrency 4 --timeout 2 --expect S2:1,S3:1,S4:1 --tolerance 0.15
check "host 3 to host 2: vm3 to VIP2 reaches vm1" \
    nsx s3 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" 80 --count 20 \
    --timeout 3 --expect S1:1

# The health facts reach the hosts' pipelines too.
spawn_stop srv-S4
start_server s4 S4 --udp 5353
check "vm4 is down once its TCP server stopped" wait_for 10 health_is vm4 down
check "vm1's connections avoid vm4, none fails" \
    nsx s1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 200 \
    --concurrency 4 --timeout 3 --expect S2:1,S3:1 --tolerance 0.15

capture_stop capture
capture_stop ul
from_vms=$(tcpdump -nn -r "$D/arm.pcap" \
    "src host 198.18.0.31 or src host 198.18.0.33" 2>/dev/null | wc -l)
to_vip=$(tcpdump -nn -r "$D/arm.pcap" "dst host $VIP or dst host $VIP2" \
    2>/dev/null | wc -l)
check "no packet of vm1's or vm3's crossed the mux ($from_vms)" test "$from_vms" -eq 0
check "nor any to the VIPs ($to_vip)" test "$to_vip" -eq 0
direct=$(tcpdump -nn -r "$D/ul2.pcap" "src host 198.18.2.2 and dst host 198.18.2.6" \
    2>/dev/null | wc -l)
check "host 2 tunnelled to host 3 directly ($direct packets)" test "$direct" -gt 100
