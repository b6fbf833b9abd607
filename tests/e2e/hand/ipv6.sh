#!/usr/bin/env bash
# IPv6 VIP, flows loaded by hand on a real ovs-vswitchd (userspace
# datapath), checked with real traffic: neighbour solicitation -> flow-
# built neighbour advertisement, ICMPv6 echo, DR (L2 DSR) with learn()
# affinity over IPv6, and the NAT mode's conntrack flows over IPv6.
#
#   c1 2001:db8::10 ---+
#   s1 2001:db8::21 ---+-- br-sw ==veth== arm [br-lb] back == swb --- s3 2001:db8:1::13
#   s2 2001:db8::22 ---+                                                (gw 2001:db8:1::1)
#
# VIP6 2001:db8::100: ND and ping answered by br-lb; [VIP6]:80/tcp and
# [VIP6]:53/udp in DR mode to s1/s2 (VIP6 on their lo); [VIP6]:8080/tcp
# in NAT mode (ct nat) to [2001:db8:1::13]:8080 behind br-lb's back port,
# whose gateway 2001:db8:1::1 br-lb also answers ND for.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

IDLE=${IDLE:-60}
VIP6=2001:db8::100
GW6=2001:db8:1::1
LBMAC=0a:00:00:00:00:01
C1=2001:db8::10 C1MAC=0a:00:00:00:00:10
declare -A RIP=([s1]=2001:db8::21 [s2]=2001:db8::22 [s3]=2001:db8:1::13)
declare -A RIP4=([s1]=198.18.0.21 [s2]=198.18.0.22 [s3]=198.18.1.13)
declare -A RMAC=([s1]=0a:00:00:00:00:21 [s2]=0a:00:00:00:00:22 [s3]=0a:00:00:00:01:13)
declare -A BID=([s1]=0x20010021 [s2]=0x20010022)
SVC_TCP=11 SVC_UDP=12

# ------------------------------------------------------------ topology
ovs_start
add_switch_bridge br-sw
add_switch_bridge swb
add_lb_bridge br-lb
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-lb back swb sb-lb
add_host c1 br-sw 198.18.0.10/24 "$C1/64" "$C1MAC"
for s in s1 s2; do
    add_host "$s" br-sw "${RIP4[$s]}/24" "${RIP[$s]}/64" "${RMAC[$s]}"
    nsx "$s" ip -6 addr add "$VIP6/128" dev lo
    start_server "$s" "${s^^}" --tcp 80 --udp 53
done
add_host s3 swb "${RIP4[s3]}/24" "${RIP[s3]}/64" "${RMAC[s3]}"
host_route s3 default via "$GW6"
start_server s3 S3 --tcp 8080
ARM=$(ofport arm)
BACK=$(ofport back)

# --------------------------------------------------------------- flows
# na_reply ADDR: NS for ADDR -> NA from ADDR with br-lb's MAC, out of the
# port it came in by. OVS cannot add an ND option, so the NS's source
# link-layer address option (type 1) is turned into the NA's target
# link-layer address option (type 2):
#  - set_field ->nd_tll is refused on a flow matching an NS (its
#    prerequisite, an ND advert, is checked against the match only), so
#    the MAC is written as nd_sll while the option is still type 1;
#  - OVS commits nd_ext (reserved, option type) before nd (sll/tll) in one
#    datapath commit, so the two must be split: check_pkt_larger forces a
#    commit in between (its result, in reg9, is not used);
#  - nd_reserved 0x60000000 = Solicited + Override; OVS recomputes the
#    ICMPv6 checksum when it writes nd_ext.
na_reply() {
    echo "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:$1->ipv6_src,set_field:$LBMAC->nd_sll,check_pkt_larger(65535)->NXM_NX_REG9[0],set_field:136->icmpv6_type,set_field:0->icmpv6_code,set_field:0x60000000->nd_reserved,set_field:2->nd_options_type,IN_PORT"
}
classify() { echo "set_field:$1->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)"; }
learn_tcp6="learn(table=20,idle_timeout=$IDLE,fin_idle_timeout=5,priority=100,NXM_NX_REG0[],eth_type=0x86dd,nw_proto=6,NXM_NX_IPV6_SRC[],NXM_NX_IPV6_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_udp6="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x86dd,nw_proto=17,NXM_NX_IPV6_SRC[],NXM_NX_IPV6_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"

write_flows() {
    local s
    cat <<EOF
table=0,priority=301,icmp6,icmp_type=135,icmp_code=0,nd_target=$VIP6,ipv6_src=:: actions=drop
table=0,priority=300,icmp6,icmp_type=135,icmp_code=0,nd_target=$VIP6 actions=$(na_reply "$VIP6")
table=0,priority=300,icmp6,icmp_type=135,icmp_code=0,nd_target=$GW6,in_port=$BACK actions=$(na_reply "$GW6")
table=0,priority=300,icmp6,ipv6_dst=$VIP6,icmp_type=128,icmp_code=0 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:$VIP6->ipv6_src,set_field:129->icmpv6_type,IN_PORT
table=0,priority=250,ipv6,ipv6_src=$VIP6 actions=drop
table=0,priority=200,tcp6,ipv6_dst=$VIP6,tp_dst=80 actions=$(classify $SVC_TCP)
table=0,priority=200,udp6,ipv6_dst=$VIP6,tp_dst=53 actions=$(classify $SVC_UDP)
table=0,priority=0 actions=drop
table=20,priority=1,reg0=$SVC_TCP,reg1=0 actions=group:$SVC_TCP
table=20,priority=1,reg0=$SVC_UDP,reg1=0 actions=group:$SVC_UDP
table=21,priority=100,reg0=$SVC_TCP,tcp6 actions=resubmit(,20),$learn_tcp6,resubmit(,22)
table=21,priority=100,reg0=$SVC_UDP,udp6 actions=resubmit(,20),$learn_udp6,resubmit(,22)
table=22,priority=0 actions=drop
EOF
    for s in s1 s2; do
        echo "table=0,priority=260,tcp6,dl_src=${RMAC[$s]} actions=drop"
        echo "table=0,priority=260,udp6,dl_src=${RMAC[$s]} actions=drop"
        echo "table=22,priority=100,reg0=$SVC_TCP,reg1=${BID[$s]} actions=set_field:$LBMAC->eth_src,set_field:${RMAC[$s]}->eth_dst,IN_PORT"
        echo "table=22,priority=100,reg0=$SVC_UDP,reg1=${BID[$s]} actions=set_field:$LBMAC->eth_src,set_field:${RMAC[$s]}->eth_dst,IN_PORT"
    done
    # NAT mode over IPv6 (same shape as tests/e2e/nat_handflows.sh).
    cat <<EOF
table=0,priority=200,tcp6,ipv6_dst=$VIP6,tp_dst=8080 actions=ct(zone=1,nat,table=1)
table=0,priority=200,tcp6,ipv6_src=${RIP[s3]},tp_src=8080,in_port=$BACK actions=ct(zone=1,nat,table=3)
table=1,priority=200,ct_state=+new+trk,tcp6,ipv6_dst=$VIP6,tp_dst=8080 actions=ct(commit,zone=1,table=2,nat(dst=[${RIP[s3]}]:8080),exec(move:NXM_OF_ETH_SRC[]->NXM_NX_CT_LABEL[0..47]))
table=1,priority=100,ct_state=-inv+trk actions=goto_table:2
table=1,priority=0 actions=drop
table=2,priority=100,tcp6,ipv6_dst=${RIP[s3]},tp_dst=8080 actions=set_field:$LBMAC->eth_src,set_field:${RMAC[s3]}->eth_dst,output:$BACK
table=2,priority=0 actions=drop
table=3,priority=100,ct_state=+rpl+trk,tcp6,ipv6_src=$VIP6,tp_src=8080 actions=move:NXM_NX_CT_LABEL[0..47]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,output:$ARM
table=3,priority=0 actions=drop
EOF
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
set_group add $SVC_TCP s1 s2
set_group add $SVC_UDP s1 s2
ofctl add-flows br-lb "$D/flows.txt"
e2e_hold "after the flows were loaded"

client() { nsx c1 timeout 120 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }
# flow_packets FILTER: sum of n_packets of br-lb's flows whose dump
# line matches FILTER; fails when none does (no silent 0 for a bad filter).
flow_packets() {
    ofctl dump-flows br-lb | grep -- "$1" |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# ------------------------------------------------------ neighbour (ND)
# Capture the NA c1 receives (tcpdump -vv verifies the ICMPv6 checksum),
# then c1's neighbour entry must be REACHABLE with br-lb's MAC: the
# kernel accepted a solicited NA with the override flag and a TLL option.
nd_ok() {
    nsx c1 ip -6 neigh flush dev eth0
    spawn_in c1 cap-na timeout 20 tcpdump -i eth0 -n -e -vv -l -c 1 \
        "icmp6 and ip6[40] == 136"
    wait_for 10 grep -q 'listening on' "$D/logs/cap-na.log"
    nsx c1 ping -6 -c 1 -W 2 "$VIP6"
    spawn_wait cap-na 20 || true
    cat "$D/logs/cap-na.log"
    nsx c1 ip -6 neigh show "$VIP6" | tee /dev/stderr |
        grep -q "lladdr $LBMAC .*REACHABLE"
    grep -q "$LBMAC > $C1MAC" "$D/logs/cap-na.log"
    grep -q "icmp6 sum ok" "$D/logs/cap-na.log"
    grep -q "tgt is $VIP6, Flags \[solicited, override\]" "$D/logs/cap-na.log"
    # tcpdump calls the TLL option "destination link-address option (2)"
    grep -q "link-address option (2), length 8 (1): $LBMAC" "$D/logs/cap-na.log"
}
check "NS for VIP6 -> NA by flows: S+O flags, TLL=br-lb MAC, checksum ok, c1 REACHABLE" nd_ok

# Pitfalls of the NA flow: set_field ->nd_tll is refused on an NS match;
# without the forced commit the option becomes a TLL that still holds the
# client's own MAC (so c1 resolves the VIP to itself).
nd_tll_refused() {
    ! ofctl add-flow br-lb "table=9,priority=1,icmp6,icmp_type=135,icmp_code=0,nd_target=$VIP6 actions=set_field:136->icmpv6_type,set_field:0->icmpv6_code,set_field:$LBMAC->nd_tll,IN_PORT" 2>&1
}
check "pitfall: set_field:MAC->nd_tll on an NS match is rejected (prerequisite)" nd_tll_refused
one_commit() {
    local ns_match="table=0,priority=300,icmp6,icmp_type=135,icmp_code=0,nd_target=$VIP6"
    ofctl add-flow br-lb "$ns_match actions=$(na_reply "$VIP6" | sed 's/check_pkt_larger(65535)->NXM_NX_REG9\[0\],//')"
    nsx c1 ip -6 neigh flush dev eth0
    spawn_in c1 cap-na1 timeout 20 tcpdump -i eth0 -n -e -vv -l -c 1 \
        "icmp6 and ip6[40] == 136"
    wait_for 10 grep -q 'listening on' "$D/logs/cap-na1.log"
    nsx c1 ping -6 -c 1 -W 1 "$VIP6" || true
    spawn_wait cap-na1 20 || true
    cat "$D/logs/cap-na1.log"
    ofctl add-flow br-lb "$ns_match actions=$(na_reply "$VIP6")"
    nsx c1 ip -6 neigh flush dev eth0
    grep -q "link-address option (2), length 8 (1): $C1MAC" "$D/logs/cap-na1.log"
}
check "pitfall: in one datapath commit the TLL option keeps the client's MAC" one_commit

# Unicast NS of neighbour unreachability detection (STALE -> DELAY ->
# PROBE, about 5 s) is answered too.
nud_probe() {
    nsx c1 ip -6 neigh replace "$VIP6" lladdr "$LBMAC" nud stale dev eth0
    nsx c1 ping -6 -c 1 -W 2 "$VIP6"
    wait_for 10 sh -c "ip netns exec $(ns_of c1) ip -6 neigh show $VIP6 | grep -q REACHABLE"
    nsx c1 ip -6 neigh show "$VIP6"
}
check "unicast NS (NUD probe) answered: STALE -> REACHABLE again" nud_probe

check "servers do not answer NS for VIP6 on lo (only br-lb's MAC seen)" sh -c "
    ip netns exec $(ns_of c1) ip -6 neigh show $VIP6 | grep -qv '${RMAC[s1]}\|${RMAC[s2]}'"

echo_ok() {
    nsx c1 ping -6 -c 3 -i 0.2 -W 2 "$VIP6" | tee /dev/stderr | grep -q "3 received"
    test "$(flow_packets "icmp_type=128")" -ge 3
}
check "ICMPv6 echo to VIP6 answered by flows" echo_ok

# ----------------------------------------------------------- DR over v6
check "dr6 tcp: 200 connections spread over s1/s2" \
    client tcp "$VIP6" 80 --count 200 --expect S1:1,S2:1 --tolerance 0.12
check "dr6 udp: 200 requests spread over s1/s2" \
    client udp "$VIP6" 53 --count 200 --expect S1:1,S2:1 --tolerance 0.12
learned6() {
    ofctl dump-flows br-lb table=20 | grep 'priority=100' >"$D/learned6.txt" || true
    sed -n 1,2p "$D/learned6.txt"
    grep -q "tcp6,reg0=0x$(printf %x $SVC_TCP),ipv6_src=$C1,ipv6_dst=$VIP6,tp_src=" "$D/learned6.txt"
    grep -q "udp6,reg0=0x$(printf %x $SVC_UDP),ipv6_src=$C1,ipv6_dst=$VIP6,tp_src=" "$D/learned6.txt"
    test "$(grep -c . "$D/learned6.txt")" -ge 380
}
check "dr6: learned IPv6 5-tuple entries in table 20" learned6
info6() {
    client tcp "$VIP6" 80 --count 3 --info | tee "$D/info6.json"
    grep -q "\"peer\": \[\"$C1\", [0-9]*\], \"local\": \[\"$VIP6\", 80\]" "$D/info6.json"
}
check "dr6: server sockets see c1 -> [VIP6]:80" info6
capture6() {
    spawn_in s1 cap6 timeout 20 tcpdump -i eth0 -n -e -l -c 2 "ip6 and tcp port 80"
    wait_for 10 grep -q 'listening on' "$D/logs/cap6.log"
    client tcp "$VIP6" 80 --count 20 >/dev/null
    spawn_wait cap6 20 || true
    cat "$D/logs/cap6.log"
    grep -q "$LBMAC > ${RMAC[s1]}, .* $C1\.[0-9]* > $VIP6\.80: Flags \[S\]" "$D/logs/cap6.log"
    grep -q "${RMAC[s1]} > $C1MAC, .* $VIP6\.80 > $C1\.[0-9]*: Flags \[S\.\]" "$D/logs/cap6.log"
}
check "dr6: capture at s1: SYN to VIP6 from br-lb, SYN-ACK straight to c1" capture6
no_replies6() {
    sleep 1
    local a b
    a=$(flow_packets "priority=260,.*dl_src=")
    b=$(flow_packets "priority=250,ipv6,ipv6_src=$VIP6")
    echo "TCP/UDP over IPv6 at br-lb from server MACs: $a, from VIP6: $b"
    test "$a" -eq 0 && test "$b" -eq 0
}
check "dr6: br-lb saw no reply" no_replies6

# ---------------------------------------------------------- NAT over v6
nat6() {
    client tcp "$VIP6" 8080 --count 50 --expect S3
    client tcp "$VIP6" 8080 --count 2 --info | tee "$D/nat6.json"
    grep -q "\"peer\": \[\"$C1\", [0-9]*\], \"local\": \[\"${RIP[s3]}\", 8080\]" "$D/nat6.json"
    appctl dpctl/dump-conntrack zone=1 | tee "$D/ct6.txt" | sed -n 1,2p
    grep -q "tcp,orig=(src=$C1,dst=$VIP6,.*reply=(src=${RIP[s3]},dst=$C1," "$D/ct6.txt"
}
check "nat6: [VIP6]:8080 -> ct(nat(dst=[${RIP[s3]}]:8080)), replies un-NATed" nat6
check "nat6: s3 resolved its gateway to br-lb's MAC (NA responder on back)" sh -c "
    ip netns exec $(ns_of s3) ip -6 neigh show $GW6 | grep -q 'lladdr $LBMAC'"

{
    ofctl --no-stats dump-flows br-lb
    ofctl -O OpenFlow15 dump-groups br-lb
} >"$D/final-hand.txt"
if [ "${E2E_VERBOSE:-0}" = 1 ]; then cat "$D/final-hand.txt"; fi
