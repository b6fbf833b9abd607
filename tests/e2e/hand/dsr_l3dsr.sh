#!/usr/bin/env bash
# L3DSR (DSCP) mode, flows loaded by hand on a real ovs-vswitchd
# (userspace datapath), checked with real traffic and packet captures.
#
#   c1 198.18.0.10 --+                                  +-- r1 eth1 198.18.1.1
#   r1 eth0 .0.1 ----+-- swf ==front [br-lb] back== swb -+
#                                                       +==veth== [br-host] --+-- s1 198.18.1.11
#                                                                            +-- s2 198.18.1.12
#
# First stage (br-lb): a request to VIP1 198.18.0.100 (tcp/80, udp/53,
# any other IP protocol) or VIP2 198.18.0.101 (tcp/80) gets
# nw_dst VIP -> RIP and a DSCP per VIP (VIP1 10, VIP2 12), MACs br-lb ->
# server, out of the back port. Final stage (br-host, the servers' host
# bridge): ip,nw_dst=RIP,ip_dscp=10|12 -> nw_dst back to VIP1|VIP2,
# DSCP 0, out to that server. The servers hold both VIPs on lo and answer
# from the VIP straight to the client through their router r1; nothing
# goes back through br-lb. No router on the forward path, so the server
# must receive byte for byte the IP packet the client sent (TTL and
# checksums included).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

IDLE=${IDLE:-60}
VIP1=198.18.0.100 DSCP1=10
VIP2=198.18.0.101 DSCP2=12
LBMAC=0a:00:00:00:00:01
C1=198.18.0.10
C1MAC=0a:00:00:00:00:10
SERVERS="s1 s2"
declare -A RIP=([s1]=198.18.1.11 [s2]=198.18.1.12)
declare -A RMAC=([s1]=0a:00:00:00:01:11 [s2]=0a:00:00:00:01:12)
declare -A BID=([s1]=0x0a000111 [s2]=0x0a000112)
# services: reg0 id -> DSCP of its VIP
SVC_TCP=1 SVC_UDP=2 SVC_IP=3 SVC_TCP2=4
declare -A SDSCP=([1]=$DSCP1 [2]=$DSCP1 [3]=$DSCP1 [4]=$DSCP2)

# ------------------------------------------------------------ topology
ovs_start
add_lb_bridge br-lb
add_lb_bridge br-host
add_switch_bridge swf
add_switch_bridge swb
link_bridges br-lb front swf sf-lb
link_bridges br-lb back swb sb-lb
link_bridges br-host uplink swb sb-host veth
add_host c1 swf "$C1/24" - "$C1MAC"
host_route c1 default via 198.18.0.1
# r1: router between the clients' and the servers' networks.
add_host r1 swf 198.18.0.1/24
R1NS=$(ns_of r1)
ip link add name eth1 netns "$R1NS" type veth peer name r1b netns "$OVS_NS"
ip netns exec "$R1NS" ethtool -K eth1 tx off rx off >/dev/null
in_ovs ethtool -K r1b tx off rx off >/dev/null
in_ovs sysctl -qw net.ipv6.conf.r1b.disable_ipv6=1
ip -n "$OVS_NS" link set r1b up
ip -n "$R1NS" addr add 198.18.1.1/24 dev eth1
ip -n "$R1NS" link set eth1 up
ip netns exec "$R1NS" sysctl -qw net.ipv4.ip_forward=1
vsctl add-port swb r1b
for s in $SERVERS; do
    add_host "$s" br-host "${RIP[$s]}/24" - "${RMAC[$s]}"
    host_route "$s" default via 198.18.1.1
    nsx "$s" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    nsx "$s" ip addr add "$VIP1/32" dev lo
    nsx "$s" ip addr add "$VIP2/32" dev lo
    start_server "$s" "${s^^}" --tcp 80 --udp 53
done
BACK=$(ofport back)
UPLINK=$(ofport uplink)

# --------------------------------------------------------------- flows
arp_reply() {
    echo "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:$LBMAC->arp_sha,set_field:$1->arp_spa,IN_PORT"
}
classify() {   # classify SVC: table-0 actions into the affinity pipeline
    echo "set_field:$1->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)"
}
learn_tcp="learn(table=20,idle_timeout=$IDLE,fin_idle_timeout=5,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_udp="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=17,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
# Any other IP protocol: affinity on protocol + addresses.
learn_ip="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,NXM_OF_IP_PROTO[],NXM_OF_IP_SRC[],NXM_OF_IP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"

lb_flows() {
    local s svc
    cat <<EOF
table=0,priority=300,arp,arp_op=1,arp_tpa=$VIP1 actions=$(arp_reply "$VIP1")
table=0,priority=300,arp,arp_op=1,arp_tpa=$VIP2 actions=$(arp_reply "$VIP2")
table=0,priority=250,ip,nw_src=$VIP1 actions=drop
table=0,priority=250,ip,nw_src=$VIP2 actions=drop
table=0,priority=200,tcp,nw_dst=$VIP1,tp_dst=80 actions=$(classify $SVC_TCP)
table=0,priority=200,udp,nw_dst=$VIP1,tp_dst=53 actions=$(classify $SVC_UDP)
table=0,priority=200,tcp,nw_dst=$VIP2,tp_dst=80 actions=$(classify $SVC_TCP2)
table=0,priority=190,ip,nw_dst=$VIP1 actions=$(classify $SVC_IP)
table=0,priority=0 actions=drop
table=20,priority=1,reg0=$SVC_TCP,reg1=0 actions=group:$SVC_TCP
table=20,priority=1,reg0=$SVC_UDP,reg1=0 actions=group:$SVC_UDP
table=20,priority=1,reg0=$SVC_IP,reg1=0 actions=group:$SVC_IP
table=20,priority=1,reg0=$SVC_TCP2,reg1=0 actions=group:$SVC_TCP2
table=21,priority=100,reg0=$SVC_TCP,tcp actions=resubmit(,20),$learn_tcp,resubmit(,22)
table=21,priority=100,reg0=$SVC_UDP,udp actions=resubmit(,20),$learn_udp,resubmit(,22)
table=21,priority=100,reg0=$SVC_IP,ip actions=resubmit(,20),$learn_ip,resubmit(,22)
table=21,priority=100,reg0=$SVC_TCP2,tcp actions=resubmit(,20),$learn_tcp,resubmit(,22)
table=22,priority=0 actions=drop
EOF
    for s in $SERVERS; do
        echo "table=0,priority=260,ip,dl_src=${RMAC[$s]} actions=drop"
        for svc in $SVC_TCP $SVC_UDP $SVC_IP $SVC_TCP2; do
            echo "table=22,priority=100,ip,reg0=$svc,reg1=${BID[$s]} actions=set_field:${RIP[$s]}->ip_dst,set_field:${SDSCP[$svc]}->ip_dscp,set_field:$LBMAC->eth_src,set_field:${RMAC[$s]}->eth_dst,output:$BACK"
        done
    done
}

host_flows() {
    local s
    for s in $SERVERS; do
        cat <<EOF
table=0,priority=100,ip,in_port=$UPLINK,nw_dst=${RIP[$s]},ip_dscp=$DSCP1 actions=set_field:$VIP1->ip_dst,set_field:0->ip_dscp,set_field:${RMAC[$s]}->eth_dst,output:$(ofport "$s")
table=0,priority=100,ip,in_port=$UPLINK,nw_dst=${RIP[$s]},ip_dscp=$DSCP2 actions=set_field:$VIP2->ip_dst,set_field:0->ip_dscp,set_field:${RMAC[$s]}->eth_dst,output:$(ofport "$s")
EOF
    done
    echo "table=0,priority=0 actions=NORMAL"
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

lb_flows >"$D/lb.flows"
host_flows >"$D/host.flows"
for g in $SVC_TCP $SVC_UDP $SVC_IP $SVC_TCP2; do
    set_group add "$g" s1 s2
done
ofctl add-flows br-lb "$D/lb.flows"
ofctl add-flows br-host "$D/host.flows"
e2e_hold "after the flows were loaded"

client() { nsx c1 timeout 120 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }
# flow_packets BRIDGE FILTER: sum of n_packets of the flows whose dump
# line matches FILTER; fails when none does (no silent 0 for a bad filter).
flow_packets() {
    ofctl dump-flows "$1" | grep -- "$2" |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# ------------------------------------------------------------- traffic
check "c1 resolves VIP1 and VIP2 to br-lb's MAC" sh -c "
    ip netns exec $(ns_of c1) ping -c 1 -W 2 $VIP1 >/dev/null || true
    ip netns exec $(ns_of c1) ping -c 1 -W 2 $VIP2 >/dev/null || true
    ip netns exec $(ns_of c1) ip neigh show $VIP1 | grep -qi 'lladdr $LBMAC' &&
    ip netns exec $(ns_of c1) ip neigh show $VIP2 | grep -qi 'lladdr $LBMAC'"
# No ICMP responder on br-lb here: a server answers, through r1 (ttl 63).
check "ping VIP1 carried to a server, answered from the VIP via r1 (ttl=63)" \
    sh -c "ip netns exec $(ns_of c1) ping -c 3 -i 0.2 -W 2 $VIP1 | tee /dev/stderr | grep -q 'ttl=63'"
check "tcp VIP1:80: 200 connections spread over s1/s2" \
    client tcp "$VIP1" 80 --count 200 --expect S1:1,S2:1 --tolerance 0.12
check "udp VIP1:53: 200 requests spread over s1/s2" \
    client udp "$VIP1" 53 --count 200 --expect S1:1,S2:1 --tolerance 0.12
check "tcp VIP2:80 (DSCP 12): 100 connections spread over s1/s2" \
    client tcp "$VIP2" 80 --count 100 --expect S1:1,S2:1 --tolerance 0.2
# The server's socket sees the client's address and the VIP it asked for.
info_vip() {   # info_vip VIP
    client tcp "$1" 80 --count 4 --info | tee "$D/info.json"
    "$PYTHON" - "$D/info.json" "$C1" "$1" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["replies"]:
    assert r["peer"][0] == sys.argv[2] and r["local"] == [sys.argv[3], 80], r
EOF
}
check "server sockets see peer=c1, local=VIP1:80" info_vip "$VIP1"
check "server sockets see peer=c1, local=VIP2:80 (DSCP 12 -> VIP2)" info_vip "$VIP2"

# ------------------------------------------------------------ captures
# c1's eth0 (sent), the uplink into br-host (between the two stages) and
# s1/s2's eth0 (received). TCP, UDP, ICMP echo and raw GRE (IP proto 47,
# sent with a python raw socket) to VIP1, TCP to VIP2.
send_gre() {
    nsx c1 "$PYTHON" - "$VIP1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
for i in range(5):
    # GRE header: no flags, version 0, protocol 0x88b5 (local experimental)
    s.sendto(b"\x00\x00\x88\xb5" + b"mslb-l3dsr-gre-%d" % i, (sys.argv[1], 0))
EOF
}
captures() {
    local h
    for h in c1 s1 s2; do
        spawn_in "$h" "cap-$h" timeout 60 tcpdump -i eth0 -n -U -w "$D/$h.pcap" \
            "ip and (dst host $VIP1 or dst host $VIP2)"
    done
    spawn cap-up ip netns exec "$OVS_NS" timeout 60 tcpdump -i sb-host -n -U \
        -w "$D/uplink.pcap" "ip and (dst host ${RIP[s1]} or dst host ${RIP[s2]})"
    for h in c1 s1 s2 up; do
        wait_for 10 grep -q 'listening on' "$D/logs/cap-$h.log"
    done
    client tcp "$VIP1" 80 --count 10
    client udp "$VIP1" 53 --count 10
    nsx c1 ping -c 3 -i 0.2 -W 2 "$VIP1"
    send_gre
    client tcp "$VIP2" 80 --count 5
    sleep 1
    for h in c1 s1 s2 up; do spawn_stop "cap-$h"; done
    "$PYTHON" - "$D" "$VIP1" "$VIP2" "$DSCP1" "$DSCP2" <<'EOF'
import collections, socket, struct, sys
d, vips, dscps = sys.argv[1], sys.argv[2:4], [int(x) for x in sys.argv[4:6]]

def ip_packets(path):
    """IPv4 packets (bytes, link layer stripped) of an Ethernet pcap."""
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4, "pcap magic"
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if frame[12:14] == b"\x08\x00":
            ihl_tot = struct.unpack("!H", frame[16:18])[0]
            out.append(frame[14:14 + ihl_tot])
    return out

def desc(p):
    return "proto=%d ttl=%d tos=0x%02x %s->%s id=%d csum=0x%04x len=%d" % (
        p[9], p[8], p[1], socket.inet_ntoa(p[12:16]), socket.inet_ntoa(p[16:20]),
        struct.unpack("!H", p[4:6])[0], struct.unpack("!H", p[10:12])[0], len(p))

sent = ip_packets(d + "/c1.pcap")
recv = ip_packets(d + "/s1.pcap") + ip_packets(d + "/s2.pcap")
mid = ip_packets(d + "/uplink.pcap")
cs, cr = collections.Counter(sent), collections.Counter(recv)
by_proto = collections.Counter(p[9] for p in recv)
print("sent by c1: %d, received by s1+s2: %d, seen between the stages: %d"
      % (len(sent), len(recv), len(mid)))
print("received per IP protocol:", dict(by_proto))
# One GRE packet followed through the three points (matched by IP id).
g = next(p for p in recv if p[9] == 47)
gid = g[4:6]
for name, lst in (("sent by c1 ", sent), ("between    ", mid), ("at a server", recv)):
    p = next(p for p in lst if p[9] == 47 and p[4:6] == gid)
    print("%s: %s | %s" % (name, desc(p), p[:20].hex()))
for p in recv:
    assert socket.inet_ntoa(p[16:20]) in vips and p[1] >> 2 == 0, desc(p)
for p in mid:
    assert p[1] >> 2 in dscps, desc(p)
    # between the stages the packet differs from the client's only in
    # dst and tos (and the IP checksum)
gre = [p for p in recv if p[9] == 47]
print("GRE payload at the server:", gre[0][20:] if gre else None)
assert cs == cr, ("not byte-identical", cs - cr, cr - cs)
assert all(by_proto[x] > 0 for x in (1, 6, 17, 47)), by_proto
assert len(mid) == len(recv)
print("every packet the servers received is byte-identical to one c1 sent")
EOF
}
check "captures: servers receive exactly the client's IP packets (dst=VIP, DSCP 0, TTL, checksums) for tcp/udp/icmp/gre" \
    captures

learned_other() {
    ofctl dump-flows br-lb table=20 | grep 'priority=100' | grep "reg0=0x$SVC_IP," |
        tee /dev/stderr | grep -q 'nw_proto=47'
}
check "affinity for other protocols: learned entries keyed on protocol + addresses" \
    learned_other

no_replies() {
    sleep 1
    local a b
    a=$(flow_packets br-lb "priority=260,ip,dl_src=")
    b=$(flow_packets br-lb "priority=250,ip,nw_src=")
    echo "IP packets at br-lb from server MACs: $a, from a VIP: $b"
    echo "br-host DSCP rules: $(flow_packets br-host 'priority=100') packets"
    test "$a" -eq 0 && test "$b" -eq 0 && test "$(flow_packets br-host 'priority=100')" -gt 0
}
check "br-lb saw no reply; br-host's DSCP rules did the second stage" no_replies

# Without the second stage the server receives dst=RIP with DSCP 10, and
# its socket bound to the wildcard answers from the RIP: the client drops
# that (it talks to the VIP). Shown with the DSCP rules removed.
no_second_stage() {
    ofctl del-flows br-host "ip,ip_dscp=$DSCP1"
    if client tcp "$VIP1" 80 --count 3 --timeout 1; then rc=1; else rc=0; fi
    ofctl add-flows br-host "$D/host.flows"
    return "$rc"
}
check "without br-host's rules the VIP does not work (control)" no_second_stage

{
    ofctl --no-stats dump-flows br-lb
    ofctl -O OpenFlow15 dump-groups br-lb
    ofctl --no-stats dump-flows br-host
} >"$D/final-hand.txt"
if [ "${E2E_VERBOSE:-0}" = 1 ]; then cat "$D/final-hand.txt"; fi
