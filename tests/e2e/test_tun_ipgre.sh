#!/usr/bin/env bash
# Mode tun over ipgre (docs/tun.md): GRE that carries the client's IP
# packet itself, no Ethernet frame inside, so the backends need no MAC.
# The first stage's port is an OVS gre port with packet_type=legacy_l3;
# the server's end here is host 2's ovs-vswitchd with such a port (this
# kernel has no GRE module) and a flow that hands the packet to the
# server, which holds the VIP on its loopback and answers directly.
#  - a tun service over ipgre with backends without `mac` is accepted,
#    GET shows no MAC and none to resolve; over vxlan it is refused;
#  - TCP through the VIP reaches the server, replies go straight back;
#  - the underlay carries GRE with protocol IPv4 (no frame inside);
#  - the size check allows the underlay MTU minus 28 (IP + GRE with key);
#  - the health monitor's probe takes the tunnel too: up, then down when
#    the server stops.
#
#  host 1 (netns $OVS_NS)                        host 2 (netns h2)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] ipgre0 (legacy_l3)
#                      ||            br-ul 198.18.2.1 == br-ul2 198.18.2.2
#                      ||                       [br-host] ipg1 (legacy_l3)
#                      ++=============== reply link ====  |
#                                                        s1 198.18.0.31 (VIP on lo)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.105
LBMAC=0a:00:00:00:00:01
S1MAC=02:00:00:00:00:31
mslb_two_hosts
H2_VIPS=$VIP
H2_VIPS6=
h2_server 1 "$S1MAC"
start_server s1 S1 --tcp 80

# The L3 GRE ports: the first stage's, and the server's end on host 2.
vsctl add-port br-lb ipgre0 -- set interface ipgre0 type=gre \
    options:remote_ip=flow options:key=flow options:packet_type=legacy_l3
vsctl2 add-port br-host ipg1 -- set interface ipg1 type=gre \
    options:remote_ip=flow options:key=flow options:packet_type=legacy_l3
# Host 2's bridge has no controller here: the packet from the tunnel
# (given a dummy frame by OVS) goes to s1, the rest is switched.
h2flows() {
    ovs-ofctl -O OpenFlow15 "$@"
}
h2flows add-flow "unix:$D2/br-host.mgmt" \
    "priority=100,in_port=ipg1,ip,nw_dst=$VIP,actions=set_field:02:00:00:00:00:fe->eth_src,set_field:$S1MAC->eth_dst,output:s1"
h2flows add-flow "unix:$D2/br-host.mgmt" "priority=0,actions=NORMAL"

cat >"$D/bad.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "ipgre": "ipgre0"}}],
 "services": [{"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "mode": "tun", "tunnel": "vxlan", "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.0.31", "host": "198.18.2.2"}]}]}
JSON
check "over vxlan a tun backend without mac is refused, the field named" sh -c \
    "! '$MSLBD' --check --config '$D/bad.json' >'$D/bad.out' 2>&1 && grep -q 'backends\[0\].*mac' '$D/bad.out'"
# The monitor's probes go the clients' way, from the gateway address
# 198.18.0.1 that br-lb answers for; s1's answers come back by the reply
# link.
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "gateways": ["198.18.0.1"],
   "tunnel_ports": {"vxlan": "vx0", "ipgre": "ipgre0"}}],
 "services": [{"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "mode": "tun", "tunnel": "ipgre", "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.4, "rise": 1,
               "fall": 2},
   "backends": [{"name": "s1", "ip": "198.18.0.31", "host": "198.18.2.2"}]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_rest

no_mac() {
    api GET /v1/services/web/backends/s1
    echo "$API_BODY"
    [ "$API_STATUS" = 200 ] && ! grep -q '"mac"' <<<"$API_BODY" \
        && ! grep -q '"resolved_mac"' <<<"$API_BODY"
}
check "GET: the backend has no mac and none to resolve" no_mac
usable() {
    api GET /v1/services/web
    test "$(json_get 'j["status"]["usable_backends"]')" = 1
}
check "and it is usable" usable
size_ok() {
    ofctl dump-flows br-lb table=22 | grep -q "check_pkt_larger(1486)"
}
check "packets up to 1472 bytes pass (1500 - 20 - 8), bigger go to mslbd" size_ok

spawn cap_ul ip netns exec "$NS2" timeout 60 tcpdump -nn -p -U -i ul2 \
    -w "$D/ul2.pcap" "ip proto 47"
capture_ready cap_ul
check "TCP through the VIP reaches s1 over ipgre" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 40 \
    --timeout 3 --expect S1:1 --tolerance 0
capture_stop cap_ul
gre_l3() {
    tcpdump -nn -v -r "$D/ul2.pcap" >"$D/ul2.txt" 2>/dev/null || true
    sed -n 1,4p "$D/ul2.txt"
    # Each GRE payload is its IP packet and the 8-byte header, exactly:
    # a frame inside would add 14.
    "$PYTHON" - "$D/ul2.txt" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
n = 0
for a, b in zip(lines, lines[1:]):
    m = re.search(r"GREv0, .*key=.*, length (\d+)", a)
    if m:
        inner = re.search(r"^\s*IP \(.*length (\d+)\)", b)
        assert inner, (a, b)
        assert int(m.group(1)) == int(inner.group(1)) + 8, (a, b)
        n += 1
print("%d GRE packets, each an IP packet with no frame" % n)
sys.exit(0 if n >= 40 else 1)
PY
}
check "the underlay carried GRE with the IP packet inside, no frame" gre_l3
check "s1 saw the VIP as destination" sh -c "grep -q 'to $VIP' '$D/logs/srv-S1.log'"

# The monitor's probe takes the same way: s1 up; its server stopped: down.
check "s1 is up: the probe through the tunnel answered" wait_for 10 health_is s1 up
spawn_stop srv-S1
check "its server stopped: s1 down" wait_for 10 health_is s1 down
