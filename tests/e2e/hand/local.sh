#!/usr/bin/env bash
# LOCAL mode (LVS "local node": the balancer host serves the VIP itself),
# flows loaded by hand on a real ovs-vswitchd (userspace datapath),
# checked with real traffic. Mixed with one DR backend, as LVS does.
#
#   c1 198.18.0.10 --+
#   s1 198.18.0.21 --+-- br-sw (standalone) ==veth== arm [br-lb] LOCAL
#                                                         |
#                          br-lb's internal port (OVS namespace):
#                          198.18.0.2/24, VIP 198.18.0.100/32 on lo,
#                          lbserver "L" listening there
#
# br-lb answers ARP/ping for the VIP; VIP:80/tcp and VIP:53/udp are
# balanced (learn() affinity) over s1 (DR: eth_dst = s1, back out of the
# arm) and the local node (eth_dst = br-lb's own MAC, output:LOCAL). The
# local stack answers from the VIP; its replies enter br-lb by the LOCAL
# port and leave by the arm straight to the client.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

IDLE=${IDLE:-60}
VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01          # answers ARP for the VIP
LOCALMAC=0a:00:00:00:00:02       # br-lb's internal (LOCAL) port
HOSTIP=198.18.0.2
C1=198.18.0.10 C1MAC=0a:00:00:00:00:10
S1=198.18.0.21 S1MAC=0a:00:00:00:00:21
declare -A BID=([s1]=0x0a000021 [local]=0x0a000002)
SVC_TCP=1 SVC_UDP=2

# ------------------------------------------------------------ topology
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb
vsctl set bridge br-lb other-config:hwaddr=$LOCALMAC
link_bridges br-lb arm br-sw sw-lb veth
add_host c1 br-sw "$C1/24" - "$C1MAC"
add_host s1 br-sw "$S1/24" - "$S1MAC"
nsx s1 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
nsx s1 ip addr add "$VIP/32" dev lo
start_server s1 S1 --tcp 80 --udp 53

# The local node is the OVS namespace's own stack. Its kernel also sees
# the frames of every veth end attached to OVS (userspace datapath):
# arp_ignore=1 keeps it from answering ARP for the VIP (on lo) or for
# 198.18.0.2 on those veth ends; arp_announce=2 makes its own ARP
# requests come from 198.18.0.2, not the VIP.
in_ovs sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.default.arp_ignore=1 \
    net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.default.arp_announce=2
in_ovs ethtool -K br-lb tx off rx off >/dev/null 2>&1 || true
in_ovs ip addr add "$HOSTIP/24" dev br-lb
in_ovs ip addr add "$VIP/32" dev lo
wait_for 5 sh -c "ip -n $OVS_NS link show br-lb | grep -qi $LOCALMAC"
spawn srv-L ip netns exec "$OVS_NS" "$PYTHON" "$TOOLS/lbserver.py" --name L \
    --pidfile "$D/pids/srv-L.ready" --tcp 80 --udp 53
wait_for 10 test -s "$D/pids/srv-L.ready"
ARM=$(ofport arm)

# --------------------------------------------------------------- flows
arp_reply() {
    echo "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:$LBMAC->arp_sha,set_field:$1->arp_spa,IN_PORT"
}
classify() { echo "set_field:$1->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)"; }
learn_tcp="learn(table=20,idle_timeout=$IDLE,fin_idle_timeout=5,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_udp="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=17,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"

write_flows() {
    local svc
    cat <<EOF
table=0,priority=300,arp,arp_op=1,arp_tpa=$VIP actions=$(arp_reply "$VIP")
table=0,priority=300,icmp,nw_dst=$VIP,icmp_type=8,icmp_code=0 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:$VIP->ip_src,set_field:0->icmp_type,IN_PORT
table=0,priority=260,ip,dl_src=$S1MAC actions=drop
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=80 actions=$(classify $SVC_TCP)
table=0,priority=200,udp,nw_dst=$VIP,tp_dst=53 actions=$(classify $SVC_UDP)
table=0,priority=100,in_port=LOCAL actions=output:$ARM
table=0,priority=100,in_port=$ARM,dl_dst=$LOCALMAC actions=LOCAL
table=0,priority=90,in_port=$ARM,arp,arp_tpa=$HOSTIP actions=LOCAL
table=0,priority=0 actions=drop
table=20,priority=1,reg0=$SVC_TCP,reg1=0 actions=group:$SVC_TCP
table=20,priority=1,reg0=$SVC_UDP,reg1=0 actions=group:$SVC_UDP
table=21,priority=100,reg0=$SVC_TCP,tcp actions=resubmit(,20),$learn_tcp,resubmit(,22)
table=21,priority=100,reg0=$SVC_UDP,udp actions=resubmit(,20),$learn_udp,resubmit(,22)
table=22,priority=0 actions=drop
EOF
    for svc in $SVC_TCP $SVC_UDP; do
        echo "table=22,priority=100,reg0=$svc,reg1=${BID[s1]} actions=set_field:$LBMAC->eth_src,set_field:$S1MAC->eth_dst,IN_PORT"
        echo "table=22,priority=100,reg0=$svc,reg1=${BID[local]} actions=set_field:$LOCALMAC->eth_dst,output:LOCAL"
    done
}

set_group() {   # set_group add|mod GID NAME...
    local verb=$1 gid=$2 s spec
    shift 2
    spec="group_id=$gid,type=select,selection_method=dp_hash"
    for s in "$@"; do
        spec+=",bucket=weight:1,actions=set_field:${BID[$s]}->reg1,resubmit(,21)"
    done
    ofctl -O OpenFlow15 "$verb-group" br-lb "$spec"
}

write_flows >"$D/flows.txt"
set_group add $SVC_TCP s1 local
set_group add $SVC_UDP s1 local
ofctl add-flows br-lb "$D/flows.txt"
e2e_hold "after the flows were loaded"

client() { nsx c1 timeout 120 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }
# flow_packets FILTER: sum of n_packets of br-lb's flows whose dump
# line matches FILTER; fails when none does (no silent 0 for a bad filter).
flow_packets() {
    ofctl dump-flows br-lb | grep -- "$1" |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# ------------------------------------------------------------- traffic
check "c1 pings the VIP; its ARP entry is br-lb's VIP MAC" sh -c "
    ip netns exec $(ns_of c1) ping -c 2 -i 0.2 -W 2 $VIP >/dev/null &&
    ip netns exec $(ns_of c1) ip neigh show $VIP | grep -qi 'lladdr $LBMAC'"
check "tcp: 200 connections spread over s1 (DR) and the local node" \
    client tcp "$VIP" 80 --count 200 --expect S1:1,L:1 --tolerance 0.12
check "udp: 200 requests spread over s1 (DR) and the local node" \
    client udp "$VIP" 53 --count 200 --expect S1:1,L:1 --tolerance 0.12

local_info() {
    client tcp "$VIP" 80 --count 20 --info | tee "$D/info.json"
    "$PYTHON" - "$D/info.json" "$C1" "$VIP" <<'EOF'
import json, sys
rs = [r for r in json.load(open(sys.argv[1]))["replies"] if r["name"] == "L"]
assert rs, "no connection reached the local node"
for r in rs:
    assert r["peer"][0] == sys.argv[2] and r["local"] == [sys.argv[3], 80], r
print("local node: %d connections, peer=c1, local=VIP:80" % len(rs))
EOF
}
check "local node's sockets see c1 -> VIP:80" local_info

# A SYN-ACK from the local node reaches c1 from the VIP with br-lb's
# LOCAL MAC as source (it left the bridge by the arm); s1's come from s1.
capture_c1() {
    spawn_in c1 capc timeout 20 tcpdump -i eth0 -n -e -l \
        "tcp and src host $VIP and tcp[tcpflags] & tcp-syn != 0"
    wait_for 10 grep -q 'listening on' "$D/logs/capc.log"
    client tcp "$VIP" 80 --count 20 >/dev/null
    sleep 1
    spawn_stop capc
    sed -n 1,6p "$D/logs/capc.log"
    grep -q "^[0-9:.]* $LOCALMAC > $C1MAC, .* $VIP\.80 > $C1\.[0-9]*: Flags \[S\.\]" "$D/logs/capc.log"
    grep -q "^[0-9:.]* $S1MAC > $C1MAC, .* $VIP\.80 > $C1\.[0-9]*: Flags \[S\.\]" "$D/logs/capc.log"
}
check "capture at c1: SYN-ACKs from the VIP, from the local node (LOCAL MAC) and s1" capture_c1

counters() {
    sleep 1
    local from_local to_local from_s1
    from_local=$(flow_packets "priority=100,in_port=LOCAL")
    to_local=$(flow_packets "actions=set_field:$LOCALMAC->eth_dst,LOCAL")
    from_s1=$(flow_packets "priority=260,ip,dl_src=$S1MAC")
    echo "to the local node: $to_local packets; from LOCAL out of the arm: $from_local;" \
        "from s1 into br-lb: $from_s1"
    test "$to_local" -gt 0 && test "$from_local" -gt 0 && test "$from_s1" -eq 0
}
check "flow counters: requests into LOCAL, replies out of LOCAL, nothing from s1" counters

check "tcp stream to the VIP (either backend) unbroken for 3 s" \
    nsx c1 timeout 30 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 3 --max-stall 2

{
    ofctl --no-stats dump-flows br-lb
    ofctl -O OpenFlow15 dump-groups br-lb
} >"$D/final-hand.txt"
if [ "${E2E_VERBOSE:-0}" = 1 ]; then cat "$D/final-hand.txt"; fi
