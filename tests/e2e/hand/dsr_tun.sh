#!/usr/bin/env bash
# TUN mode (L3 DSR by encapsulation), flows loaded by hand on a real
# ovs-vswitchd (userspace datapath), checked with real traffic.
#
#  c1 198.18.0.10 --- swf ==front [br-lb] vx0/gre0/gnv0 (tunnel ports,
#                      |                  local_ip 198.18.2.1)
#                   r1 eth0 .0.1
#  br-ul (balancer's underlay bridge, 198.18.2.1 on its internal port)
#                   --- r1 eth1 198.18.2.254
#  swt (servers' network 198.18.3.0/24) --- r1 eth2 .3.254
#                   +-- s1 198.18.3.11, Linux vxlan0 (VNI 100)
#                   +-- s2 198.18.3.12, Linux vxlan0 (VNI 100)
#  br-sh (host bridge of s3, 198.18.4.2 on its internal port, tunnel ports
#         gre-sh/gnv-sh)  --- r1 eth3 198.18.4.254, s3 198.18.4.13
#
# r1 routes between all four networks. Every server holds the VIP
# 198.18.0.100 on lo and answers the client straight through r1.
# This kernel has VXLAN but neither GRE nor Geneve: s1/s2 terminate VXLAN
# in Linux; GRE and Geneve are terminated by OVS in br-sh (a second
# bridge of the same ovs-vswitchd acting as s3's host), which hands the
# inner frame to s3.
#
# Services: VIP:80/tcp + VIP:53/udp -> vxlan to s1/s2; VIP:81/tcp +
# VIP:54/udp -> gre to s3; VIP:82/tcp + VIP:55/udp -> geneve to s3.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

IDLE=${IDLE:-60}
VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
C1=198.18.0.10
UL_IP=198.18.2.1 UL_GW=198.18.2.254
SH_IP=198.18.4.2
VNI=100
declare -A RIP=([s1]=198.18.3.11 [s2]=198.18.3.12 [s3]=198.18.4.13)
declare -A RMAC=([s1]=0a:00:00:00:03:11 [s2]=0a:00:00:00:03:12 [s3]=0a:00:00:00:04:13)
# MAC of the Linux vxlan device (the inner frame's destination).
declare -A VXMAC=([s1]=0a:00:00:00:13:11 [s2]=0a:00:00:00:13:12)
declare -A BID=([s1]=0x0a000311 [s2]=0x0a000312 [s3gre]=0x0a000413 [s3gnv]=0x1a000413)
SVC_VX_T=1 SVC_VX_U=2 SVC_GRE_T=3 SVC_GRE_U=4 SVC_GNV_T=5 SVC_GNV_U=6

# ------------------------------------------------------------ topology
ovs_start
add_lb_bridge br-lb
add_switch_bridge swf
add_switch_bridge br-ul
add_switch_bridge swt
add_lb_bridge br-sh
link_bridges br-lb front swf sf-lb
add_host c1 swf "$C1/24" - 0a:00:00:00:00:10
host_route c1 default via 198.18.0.1

# r1 with one leg per network: add_leg IF OVSPORT BRIDGE ADDR
add_host r1 swf 198.18.0.1/24
R1NS=$(ns_of r1)
ip netns exec "$R1NS" sysctl -qw net.ipv4.ip_forward=1
add_leg() {
    ip link add name "$1" netns "$R1NS" type veth peer name "$2" netns "$OVS_NS"
    ip netns exec "$R1NS" ethtool -K "$1" tx off rx off >/dev/null
    in_ovs ethtool -K "$2" tx off rx off >/dev/null
    in_ovs sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    ip -n "$OVS_NS" link set "$2" up
    ip -n "$R1NS" addr add "$4" dev "$1"
    ip -n "$R1NS" link set "$1" up
    vsctl add-port "$3" "$2"
}
add_leg eth1 r1u br-ul "$UL_GW/24"
add_leg eth2 r1t swt 198.18.3.254/24
add_leg eth3 r1h br-sh 198.18.4.254/24

# The balancer's underlay address, on a bridge OVS owns, and its route to
# the servers' network, in the OVS namespace's kernel (OVS reads both).
# 198.18.4.2 (s3's host, br-sh) is a local address of that same kernel
# (one ovs-vswitchd plays both hosts here): OVS's route table has it as a
# local /32 that no user route can beat, so the GRE/Geneve flows set
# pkt_mark=$MARK and OVS gets a route for that mark only (below).
MARK=7
# The OVS namespace's kernel also sees the frames of every veth end
# attached to OVS (userspace datapath): with arp_ignore=0 it answers r1's
# ARP for 198.18.4.2 on the r1h veth end with r1h's MAC, the GRE/Geneve
# packets then do not go to br-sh's LOCAL port and are not decapsulated.
in_ovs sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.default.arp_ignore=1
in_ovs ip addr add "$UL_IP/24" dev br-ul
in_ovs ip addr add "$SH_IP/24" dev br-sh
in_ovs ip link set br-sh up
in_ovs ip route add 198.18.3.0/24 via "$UL_GW"
in_ovs ethtool -K br-ul tx off rx off >/dev/null 2>&1 || true

# Tunnel ports on br-lb (flow-based remote and key; the source address
# comes from the route: with options:local_ip OVS also wants a local
# route for that address under the packet's pkt_mark, which a marked
# user route cannot provide).
vsctl add-port br-lb vx0 -- set interface vx0 type=vxlan \
    options:remote_ip=flow options:key=flow \
    -- add-port br-lb gre0 -- set interface gre0 type=gre \
    options:remote_ip=flow options:key=flow \
    -- add-port br-lb gnv0 -- set interface gnv0 type=geneve \
    options:remote_ip=flow options:key=flow
# Termination ports on s3's host bridge (a different local_ip, or OVS
# refuses them as duplicates of br-lb's).
vsctl add-port br-sh gre-sh -- set interface gre-sh type=gre \
    options:remote_ip=flow options:key=flow options:local_ip=$SH_IP \
    -- add-port br-sh gnv-sh -- set interface gnv-sh type=geneve \
    options:remote_ip=flow options:key=flow options:local_ip=$SH_IP

for s in s1 s2; do
    add_host "$s" swt "${RIP[$s]}/24" - "${RMAC[$s]}"
    host_route "$s" default via 198.18.3.254
    nsx "$s" ip link add vxlan0 type vxlan id $VNI dstport 4789 \
        local "${RIP[$s]}" dev eth0 nolearning
    nsx "$s" ip link set vxlan0 address "${VXMAC[$s]}"
    nsx "$s" ip link set vxlan0 up
    nsx "$s" ip addr add "$VIP/32" dev lo
    start_server "$s" "${s^^}" --tcp 80 --udp 53
done
add_host s3 br-sh "${RIP[s3]}/24" - "${RMAC[s3]}"
host_route s3 default via 198.18.4.254
nsx s3 ip addr add "$VIP/32" dev lo
start_server s3 S3 --tcp 81 --tcp 82 --udp 54 --udp 55
# OVS-only route to s3's host for packets marked $MARK.
appctl ovs/route/add "$SH_IP/32" br-ul "$UL_GW" pkt_mark=$MARK

VX=$(ofport vx0) GRE=$(ofport gre0) GNV=$(ofport gnv0)

# --------------------------------------------------------------- flows
arp_reply() {
    echo "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:$LBMAC->arp_sha,set_field:$1->arp_spa,IN_PORT"
}
classify() { echo "set_field:$1->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)"; }
learn_tcp="learn(table=20,idle_timeout=$IDLE,fin_idle_timeout=5,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_udp="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=17,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"

# encap BACKEND: table-22 actions (inner MACs, outer destination, key).
encap() {
    case $1 in
        s1|s2) echo "set_field:$LBMAC->eth_src,set_field:${VXMAC[$1]}->eth_dst,set_field:${RIP[$1]}->tun_dst,set_field:$VNI->tun_id,output:$VX" ;;
        s3gre) echo "set_field:$LBMAC->eth_src,set_field:${RMAC[s3]}->eth_dst,set_field:$SH_IP->tun_dst,set_field:0x13->tun_id,set_field:$MARK->pkt_mark,output:$GRE" ;;
        s3gnv) echo "set_field:$LBMAC->eth_src,set_field:${RMAC[s3]}->eth_dst,set_field:$SH_IP->tun_dst,set_field:0x14->tun_id,set_field:$MARK->pkt_mark,output:$GNV" ;;
    esac
}

lb_flows() {
    local svc b
    cat <<EOF
table=0,priority=300,arp,arp_op=1,arp_tpa=$VIP actions=$(arp_reply "$VIP")
table=0,priority=300,icmp,nw_dst=$VIP,icmp_type=8,icmp_code=0 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:$VIP->ip_src,set_field:0->icmp_type,IN_PORT
table=0,priority=260,in_port=$VX actions=drop
table=0,priority=260,in_port=$GRE actions=drop
table=0,priority=260,in_port=$GNV actions=drop
table=0,priority=250,ip,nw_src=$VIP actions=drop
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=80 actions=$(classify $SVC_VX_T)
table=0,priority=200,udp,nw_dst=$VIP,tp_dst=53 actions=$(classify $SVC_VX_U)
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=81 actions=$(classify $SVC_GRE_T)
table=0,priority=200,udp,nw_dst=$VIP,tp_dst=54 actions=$(classify $SVC_GRE_U)
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=82 actions=$(classify $SVC_GNV_T)
table=0,priority=200,udp,nw_dst=$VIP,tp_dst=55 actions=$(classify $SVC_GNV_U)
table=0,priority=0 actions=drop
table=22,priority=0 actions=drop
EOF
    for svc in $SVC_VX_T $SVC_GRE_T $SVC_GNV_T; do
        echo "table=20,priority=1,reg0=$svc,reg1=0 actions=group:$svc"
        echo "table=21,priority=100,reg0=$svc,tcp actions=resubmit(,20),$learn_tcp,resubmit(,22)"
    done
    for svc in $SVC_VX_U $SVC_GRE_U $SVC_GNV_U; do
        echo "table=20,priority=1,reg0=$svc,reg1=0 actions=group:$svc"
        echo "table=21,priority=100,reg0=$svc,udp actions=resubmit(,20),$learn_udp,resubmit(,22)"
    done
    for svc in $SVC_VX_T $SVC_VX_U; do
        for b in s1 s2; do
            echo "table=22,priority=100,reg0=$svc,reg1=${BID[$b]} actions=$(encap $b)"
        done
    done
    for svc in $SVC_GRE_T $SVC_GRE_U; do
        echo "table=22,priority=100,reg0=$svc,reg1=${BID[s3gre]} actions=$(encap s3gre)"
    done
    for svc in $SVC_GNV_T $SVC_GNV_U; do
        echo "table=22,priority=100,reg0=$svc,reg1=${BID[s3gnv]} actions=$(encap s3gnv)"
    done
}

# s3's host bridge: decapsulated frames from either tunnel go to s3.
sh_flows() {
    cat <<EOF
table=0,priority=100,in_port=$(ofport gre-sh) actions=set_field:${RMAC[s3]}->eth_dst,output:$(ofport s3)
table=0,priority=100,in_port=$(ofport gnv-sh) actions=set_field:${RMAC[s3]}->eth_dst,output:$(ofport s3)
table=0,priority=0 actions=NORMAL
EOF
}

set_group() {   # set_group add|mod GID BACKEND...
    local verb=$1 gid=$2 b spec
    shift 2
    spec="group_id=$gid,type=select,selection_method=dp_hash"
    for b in "$@"; do
        spec+=",bucket=weight:1,actions=set_field:${BID[$b]}->reg1,resubmit(,21)"
    done
    ofctl -O OpenFlow15 "$verb-group" br-lb "$spec"
}

lb_flows >"$D/lb.flows"
sh_flows >"$D/sh.flows"
set_group add $SVC_VX_T s1 s2
set_group add $SVC_VX_U s1 s2
set_group add $SVC_GRE_T s3gre
set_group add $SVC_GRE_U s3gre
set_group add $SVC_GNV_T s3gnv
set_group add $SVC_GNV_U s3gnv
ofctl add-flows br-lb "$D/lb.flows"
ofctl add-flows br-sh "$D/sh.flows"
e2e_hold "after the flows were loaded"

client() { nsx c1 timeout 120 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }
# flow_packets BRIDGE FILTER: sum of n_packets of the flows whose dump
# line matches FILTER; fails when none does (no silent 0 for a bad filter).
flow_packets() {
    ofctl dump-flows "$1" | grep -- "$2" |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# ----------------------------------------------------- underlay state
routes_ok() {
    appctl ovs/route/show | grep -E "198\.18\." | tee "$D/routes.txt"
    appctl ovs/route/lookup "${RIP[s1]}"
    appctl ovs/route/lookup "$SH_IP"
    appctl ovs/route/lookup "$SH_IP" pkt_mark=$MARK
    appctl ovs/route/lookup "${RIP[s1]}" | grep -q "gateway $UL_GW"
    appctl ovs/route/lookup "$SH_IP" pkt_mark=$MARK | grep -q "gateway $UL_GW"
}
check "OVS routes: servers' networks via r1 on br-ul (br-sh: marked /32)" routes_ok
# The first encapsulated packet needs r1's MAC: OVS sends its own ARP
# request from br-ul and snoops the reply (the first packet is lost).
warm_neigh() {
    client udp "$VIP" 53 --count 3 --retries 5 --timeout 1 || true
    appctl tnl/neigh/show | tee "$D/neigh.txt"
    grep -q "$UL_GW" "$D/neigh.txt"
}
check "tnl/neigh learned r1's MAC on br-ul" warm_neigh

# ------------------------------------------------------------- traffic
check "ping VIP answered by br-lb" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "vxlan: 200 tcp connections spread over s1/s2" \
    client tcp "$VIP" 80 --count 200 --expect S1:1,S2:1 --tolerance 0.12
check "vxlan: 200 udp requests spread over s1/s2" \
    client udp "$VIP" 53 --count 200 --expect S1:1,S2:1 --tolerance 0.12
check "gre (terminated by OVS in br-sh): 50 tcp connections to s3" \
    client tcp "$VIP" 81 --count 50 --expect S3
check "gre: 50 udp requests to s3" client udp "$VIP" 54 --count 50 --expect S3
check "geneve (terminated by OVS in br-sh): 50 tcp connections to s3" \
    client tcp "$VIP" 82 --count 50 --expect S3
check "geneve: 50 udp requests to s3" client udp "$VIP" 55 --count 50 --expect S3

info_ok() {   # info_ok PORT: server sees c1 -> VIP:PORT
    client tcp "$VIP" "$1" --count 2 --info | tee "$D/info.json"
    grep -q "\"peer\": \[\"$C1\", [0-9]*\], \"local\": \[\"$VIP\", $1\]" "$D/info.json"
}
info_all() {   # not an && list: errexit must apply inside info_ok
    info_ok 80
    info_ok 81
    info_ok 82
}
check "servers see c1 -> VIP:80 (vxlan), VIP:81 (gre), VIP:82 (geneve)" info_all

# What s1 receives on eth0: VXLAN from the balancer's underlay address,
# inner frame to the VIP; its reply leaves eth0 unencapsulated from the
# VIP to the client (via r1's MAC).
capture_s1() {
    spawn_in s1 cap1 timeout 20 tcpdump -i eth0 -n -e -l -c 6 \
        "udp port 4789 or (tcp and src host $VIP)"
    wait_for 10 grep -q 'listening on' "$D/logs/cap1.log"
    client tcp "$VIP" 80 --count 20 >/dev/null
    spawn_wait cap1 20 || true
    cat "$D/logs/cap1.log"
    grep -q "$UL_IP\.[0-9]* > ${RIP[s1]}\.4789: VXLAN, flags \[I\] (0x08), vni $VNI" "$D/logs/cap1.log"
    grep -q "$LBMAC > ${VXMAC[s1]}, .* $C1\.[0-9]* > $VIP\.80: Flags \[S\]" "$D/logs/cap1.log"
    grep -q "${RMAC[s1]} > .* $VIP\.80 > $C1\.[0-9]*: Flags \[S\.\]" "$D/logs/cap1.log"
}
check "capture at s1: VXLAN in (vni $VNI, inner dst VIP), plain reply out" capture_s1

capture_s3() {
    spawn in_ovs_cap ip netns exec "$OVS_NS" timeout 20 tcpdump -i r1h -n -l \
        "dst host $SH_IP"
    wait_for 10 grep -q 'listening on' "$D/logs/in_ovs_cap.log"
    client tcp "$VIP" 81 --count 1 >/dev/null
    client tcp "$VIP" 82 --count 1 >/dev/null
    sleep 1
    spawn_stop in_ovs_cap
    cat "$D/logs/in_ovs_cap.log"
    grep -q "$UL_IP > $SH_IP: GREv0, key=0x13" "$D/logs/in_ovs_cap.log"
    grep -q "$UL_IP\.[0-9]* > $SH_IP\.6081: Geneve" "$D/logs/in_ovs_cap.log"
}
check "capture toward br-sh: GRE (key 0x13) and Geneve from the balancer" capture_s3

no_replies() {
    sleep 1
    local a b c
    a=$(flow_packets br-lb "priority=260,in_port=")
    b=$(flow_packets br-lb "priority=250,ip,nw_src=$VIP")
    c=$(flow_packets br-sh "priority=100,in_port=")
    echo "packets into br-lb from its tunnel ports: $a, from the VIP: $b;" \
        "frames decapsulated by br-sh: $c"
    ofctl dump-ports br-lb front | sed -n 2,3p
    test "$a" -eq 0 && test "$b" -eq 0 && test "$c" -gt 0
}
check "br-lb saw no reply (tunnel ports and front)" no_replies

# Long-lived connection through the tunnel (1 KiB chunks).
check "vxlan: 3 s stream unbroken" nsx c1 timeout 30 "$PYTHON" \
    "$TOOLS/lbstream.py" "$VIP" 80 --seconds 3 --max-stall 2

# -------------------------------------------------------------- MTU
# Encapsulation adds 50 (VXLAN) bytes: a full-size datagram from the
# client does not fit a 1500-byte underlay. Measured with a 1472-byte UDP
# payload; then the underlay path MTU is raised to 1600 and it fits.
big_udp() {
    nsx c1 "$PYTHON" - "$VIP" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
for i in range(3):
    s.sendto(b"x" * 1472, (sys.argv[1], 53))
    try:
        print("reply:", s.recv(100)); sys.exit(0)
    except socket.timeout:
        pass
print("no reply"); sys.exit(1)
EOF
}
check_fails "mtu: 1472-byte udp payload over vxlan with a 1500-byte underlay is lost" big_udp
raise_mtu() {
    local s
    ip -n "$R1NS" link set eth1 mtu 1600
    ip -n "$R1NS" link set eth2 mtu 1600
    in_ovs ip link set r1u mtu 1600
    in_ovs ip link set r1t mtu 1600
    vsctl set interface r1u mtu_request=1600 -- set interface r1t mtu_request=1600
    in_ovs ip link set br-ul mtu 1600
    for s in s1 s2; do
        in_ovs ip link set "$s" mtu 1600
        vsctl set interface "$s" mtu_request=1600
        nsx "$s" ip link set eth0 mtu 1600
    done
    sleep 1
    big_udp
}
check "mtu: the same datagram passes with a 1600-byte underlay" raise_mtu

{
    ofctl --no-stats dump-flows br-lb
    ofctl -O OpenFlow15 dump-groups br-lb
    ofctl --no-stats dump-flows br-sh
    appctl ovs/route/show
    appctl tnl/neigh/show
    appctl tnl/ports/show -v
} >"$D/final-hand.txt" 2>&1
if [ "${E2E_VERBOSE:-0}" = 1 ]; then cat "$D/final-hand.txt"; fi
