#!/usr/bin/env bash
# Mode slb's outbound SNAT (docs/slb.md): the VMs' own connections to the
# outside leave their hosts from the VIP, each host with source ports from
# its own blocks; the outside server's answers reach the mux (which
# answers ARP for the VIP), which tunnels them to the block's host, whose
# conntrack hands them back to the VM.  A host whose block runs out for a
# destination gets another one from mslbd.
#
#  host 1 (netns $OVS_NS)                     host 2 (netns h2, one ovs-vswitchd)
#  c1 198.18.0.10 -- br-sw == arm [br-lb] vx0   br-ul2 198.18.2.2 [br-host]  vx1
#  (the outside       ||  br-ul 198.18.2.1 ==          198.18.2.4 [br-host2] vx2
#   server: 9000/tcp,  ++== rl1/rl2 (br-host), rl3/rl4 (br-host2): the hosts'
#   9053/udp)                                   own links, out and back
#  vm1 .31, vm2 .32 behind br-host; vm3 .33, vm4 .34 behind br-host2
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
GW=198.18.0.254
C1=198.18.0.10

mslb_two_hosts
# The second host: its own final stage and tunnel address on host 2's
# ovs-vswitchd (the tunnel ports told apart by their local address).
vsctl2 set interface vx1 options:local_ip=198.18.2.2
vsctl2 add-br br-host2 -- set bridge br-host2 datapath_type=netdev \
    protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
    other-config:disable-in-band=true \
    -- set-controller br-host2 "unix:$D2/mslbd.sock" \
    -- add-port br-host2 vx2 -- set interface vx2 type=vxlan \
    options:remote_ip=flow options:key=flow options:local_ip=198.18.2.4
ip -n "$NS2" addr add 198.18.2.4/24 dev br-ul2
ip -n "$NS2" link set br-host2 up
ul2mac=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
appctl tnl/neigh/set br-ul 198.18.2.4 "$ul2mac" >/dev/null
cross_link rl3 br-sw rl4 br-host2

H2_VIPS=
H2_VIPS6=
for n in 1 2 3 4; do
    if [ "$n" -le 2 ]; then br=br-host; else br=br-host2; fi
    h2_server "$n" "02:00:00:00:00:3$n" "$br"
    start_server "s$n" "S$n" --tcp 8080
done
start_server c1 OUT --tcp 9000 --udp 9053

vm() {   # vm N
    local host=198.18.2.2 br=br-host
    if [ "$1" -gt 2 ]; then host=198.18.2.4; br=br-host2; fi
    printf '{"name":"vm%s","ip":"198.18.0.3%s","port":8080,"mac":"02:00:00:00:00:3%s","host":"%s","host_bridge":"%s"}' \
        "$1" "$1" "$1" "$host" "$br"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0"}, "gateways": ["$GW"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"}},
  {"name": "br-host2", "role": "final", "tunnel_ports": {"vxlan": "vx2"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"],
   "outbound": {"ports": "40000-40063", "block": 8,
                "exclude": ["198.18.0.32/32"]},
   "backends": [$(vm 1),$(vm 2),$(vm 3),$(vm 4)]}]}
JSON
mslbd_start "$D/mslb.json" --db "$D/mslb.db" --listen "punix:$D2/mslbd.sock" \
    --rest "$REST_PORT"
for b in br-lb br-host br-host2; do
    wait_for 20 grep -q "bridge $b: generation 1 installed" "$D/mslbd.log"
done
wait_rest

# blocks_of BRIDGE: the starts of BRIDGE's blocks, as GET shows them.
blocks_of() {
    api GET /v1/services/web
    json_get "' '.join(str(b['start']) for b in j['outbound']['blocks'] if b['host_bridge'] == '$1')"
}
check "each host got one block of 8 at start" \
    test "$(blocks_of br-host) / $(blocks_of br-host2)" = "40000 / 40008"

spawn capture ip netns exec "$OVS_NS" timeout 120 tcpdump -nn -p -U -i arm \
    -w "$D/arm.pcap" ip
capture_ready capture

check "the VIP still balances inbound over the four VMs" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 200 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1,S3:1,S4:1 --tolerance 0.1

# out VM PROTO PORT COUNT: VM's connections to the outside server; prints
# the source ports the server saw, after checking that they came from the
# VIP and that every connection was answered.
out() {
    nsx "$1" "$PYTHON" "$TOOLS/lbclient.py" "$2" "$C1" "$3" --count "$4" \
        --timeout 6 --info >"$D/out.json"
    "$PYTHON" - "$D/out.json" "$VIP" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors"] == 0, r
peers = [x["peer"] for x in r["replies"]]
assert all(p[0] == sys.argv[2] for p in peers), peers
print(" ".join(str(p[1]) for p in peers))
PY
}
in_block() {   # in_block START PORTS...: every port in [START, START+7]
    local start=$1 p
    shift
    for p in "$@"; do
        [ "$p" -ge "$start" ] && [ "$p" -le $((start + 7)) ] || return 1
    done
}
p1=$(out s1 tcp 9000 6 || true)
check "vm1's connections reach the outside from the VIP" test -n "$p1"
check "with ports of host 1's block ($p1)" in_block 40000 $p1
check "all different" test "$(tr ' ' '\n' <<<"$p1" | sort -u | wc -l)" -eq 6
p3=$(out s3 tcp 9000 4 || true)
check "vm3's from the VIP too" test -n "$p3"
check "with ports of host 2's block ($p3)" in_block 40008 $p3
p4=$(out s4 udp 9053 3 || true)
check "UDP from vm4 leaves from the VIP as well" test -n "$p4"
check "in host 2's block ($p4)" in_block 40008 $p4
check "the outside server logged the VIP as the source" \
    grep -q "OUT tcp conn from $VIP:400" "$D/logs/srv-OUT.log"

# An excluded destination sees the VM's own address.
check "vm1 to vm2 (excluded) is not translated" \
    eval 'nsx s1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.0.32 8080 \
        --count 2 --timeout 3 --expect S2:1 >/dev/null'
check "vm2 saw vm1's own address" \
    grep -q "S2 tcp conn from 198.18.0.31:" "$D/logs/srv-S2.log"

# Host 1's block runs out for this destination (its 6 closed connections
# stay in conntrack for a while): mslbd gives host 1 more blocks and the
# connections go on after their SYN's retransmission.
p1b=$(out s1 tcp 9000 12 || true)
check "12 more connections from vm1 all succeed" test -n "$p1b"
echo "ports: $p1b"
more=$(blocks_of br-host)
check "host 1 has more blocks now ($more)" test "$(wc -w <<<"$more")" -ge 2
check "host 2 kept its one block" test "$(blocks_of br-host2)" = 40008
check "the new ports are in host 1's blocks" "$PYTHON" - "$more" $p1b <<'PY'
import sys
starts = [int(s) for s in sys.argv[1].split()]
ports = [int(p) for p in sys.argv[2:]]
assert all(any(s <= p < s + 8 for s in starts) for p in ports), (starts, ports)
assert len(set(ports)) == len(ports), ports
PY
api GET /v1/snat
echo "$API_BODY"
check "GET /v1/snat counts the exhaustion and the new blocks" \
    test "$(json_get "[(h['exhausted'] > 0, h['grown'] > 0) for h in j['hosts'] if h['host_bridge'] == 'br-host'][0]")" = "(True, True)"
curl -s --max-time 10 "$REST_URL/metrics" >"$D/metrics.txt"
grep mslb_snat "$D/metrics.txt" | grep -v '^#'
check "and /metrics" grep -q 'mslb_snat_exhausted_total{service="web",host_bridge="br-host"} [1-9]' "$D/metrics.txt"
check "vm3 unaffected" eval 'out s3 tcp 9000 3 >/dev/null'

capture_stop capture
answers=$(tcpdump -nn -r "$D/arm.pcap" \
    "src host $C1 and dst host $VIP and (tcp or udp) and dst portrange 40000-40063" 2>/dev/null | wc -l)
leaving=$(tcpdump -nn -r "$D/arm.pcap" \
    "src host $VIP and src portrange 40000-40063" 2>/dev/null | wc -l)
check "the answers came in through the mux ($answers packets)" test "$answers" -gt 50
check "the outbound packets did not ($leaving)" test "$leaving" -eq 0

# The blocks live in the database (--db: a throwaway one, without it,
# starts anew from the config): a restarted mslbd keeps them, and the
# flows it adopts send the answers to the same hosts.
before="$(blocks_of br-host) / $(blocks_of br-host2)"
mslbd_kill9
mv "$D/mslbd.log" "$D/mslbd.log.1"
mslbd_start "$D/mslb.json" --db "$D/mslb.db" --listen "punix:$D2/mslbd.sock" \
    --rest "$REST_PORT"
for b in br-lb br-host br-host2; do
    wait_for 20 grep -q "bridge $b: generation [0-9]* installed" "$D/mslbd.log"
done
wait_rest
check "after mslbd's kill -9 and restart the hosts keep their blocks ($before)" \
    test "$(blocks_of br-host) / $(blocks_of br-host2)" = "$before"
p1c=$(out s1 udp 9053 3 || true)
check "and vm1 reaches the outside again ($p1c)" test -n "$p1c"

# Bad outbounds are refused, with the member named, and change nothing.
bad() {   # bad STATUS TEXT BODY
    api PUT /v1/services/web2 "$3"
    [ "$API_STATUS" = "$1" ] && grep -q "$2" <<<"$API_BODY" \
        || { echo "got $API_STATUS $API_BODY" >&2; return 1; }
}
svc2() {   # svc2 EXTRA: a second service with EXTRA members
    printf '{"name":"web2","vip":"198.18.0.101","protocol":"tcp","port":80,"mode":"%s","bridges":["br-lb"],"backends":[%s]%s}' \
        "${MODE:-slb}" "$(vm 1 | sed 's/vm1/x1/; s/8080/80/')" "$1"
}
check "outbound outside mode slb" bad 422 "outbound: only for mode slb" \
    "$(MODE=mslb svc2 ',"outbound":{}')"
check "ports off the block size" bad 422 "outbound.ports: must start and end" \
    "$(svc2 ',"outbound":{"ports":"40001-40063","block":8}')"
check "the same outbound address twice" bad 409 "outbound.ip: 198.18.0.100 is already" \
    "$(svc2 ',"outbound":{"ip":"198.18.0.100"}')"
check "vm1 through two outbounds" bad 409 "sends its outbound connections through" \
    "$(svc2 ',"outbound":{}')"
api GET /v1/services/web2
check "nothing was created" test "$API_STATUS" = 404
