#!/usr/bin/env bash
# DR mode (L2 direct server return), flows loaded by hand on a real
# ovs-vswitchd (userspace datapath), checked with real traffic. Also the
# learn()-based affinity design shared by every DSR mode.
#
#   c1 198.18.0.10 (+ .30-.45) --+
#   s1 198.18.0.21 -------------+-- br-sw (standalone) ==veth== arm [br-lb]
#   s2 198.18.0.22 -------------+
#   s3 198.18.0.23 -------------+
#
# s1-s3 carry the VIP 198.18.0.100/32 on lo (arp_ignore=1, arp_announce=2).
# br-lb (fail_mode=secure) is one-armed: it answers ARP and ping for the
# VIP, and sends VIP:80/tcp, VIP:53/udp and VIP:8080/tcp back out of its
# arm with eth_dst = the chosen server's MAC (and eth_src = its own MAC).
# The servers answer the client directly.
#
# Affinity (conntrack sees one direction only in DSR, so learn() instead):
#   reg0 = service id, reg1 = backend id
#   table 0  classify -> reg0, reg1=0, resubmit(,20), resubmit(,22)
#   table 20 learned entries, priority 100 (hit: load reg1)
#            miss, priority 1, reg0=SVC,reg1=0: group
#   group    select dp_hash (OF1.5), bucket: reg1=BID, resubmit(,21)
#   table 21 resubmit(,20) (re-lookup), learn(...) into table 20,
#            resubmit(,22)
#   table 22 reg0,reg1 -> rewrite + output; else drop
# On a miss the bucket forwards; back in table 0 reg1 is 0 again (a
# bucket's register changes do not survive the group), so table 0's
# resubmit(,22) drops. On a hit table 0's resubmit(,22) forwards.
#
# Knobs: IDLE (learned idle_timeout in this test, default 15; the design
# uses 60), PERSIST (hard_timeout of the source-IP variant, default 8).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

IDLE=${IDLE:-15}
FIN_IDLE=5
PERSIST=${PERSIST:-8}
VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
C1=198.18.0.10
C1MAC=0a:00:00:00:00:10
SERVERS="s1 s2 s3"
declare -A RIP=([s1]=198.18.0.21 [s2]=198.18.0.22 [s3]=198.18.0.23)
declare -A RMAC=([s1]=0a:00:00:00:00:21 [s2]=0a:00:00:00:00:22
                 [s3]=0a:00:00:00:00:23)
# Backend ids (reg1): any nonzero 32-bit number per backend.
declare -A BID=([s1]=0x0a000021 [s2]=0x0a000022 [s3]=0x0a000023)
# Service ids (reg0) and their group ids.
SVC_TCP=1 SVC_UDP=2 SVC_SRC=3

# ------------------------------------------------------------ topology
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb
link_bridges br-lb arm br-sw sw-lb veth
add_host c1 br-sw "$C1/24" - "$C1MAC"
for i in $(seq 30 45); do
    nsx c1 ip addr add "198.18.0.$i/24" dev eth0
done
for s in $SERVERS; do
    add_host "$s" br-sw "${RIP[$s]}/24" - "${RMAC[$s]}"
    nsx "$s" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2
    nsx "$s" ip addr add "$VIP/32" dev lo
    start_server "$s" "${s^^}" --tcp 80 --tcp 8080 --udp 53
done
ARM=$(ofport arm)

# --------------------------------------------------------------- flows
arp_reply() {   # arp_reply IP: ARP request -> reply with LBMAC, IN_PORT
    echo "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:$LBMAC->arp_sha,set_field:$1->arp_spa,IN_PORT"
}

# dr_out NAME: table-22 actions for backend NAME (DR rewrite). eth_src is
# rewritten too, see "eth_dst only" below.
dr_out() { echo "set_field:$LBMAC->eth_src,set_field:${RMAC[$1]}->eth_dst,IN_PORT"; }

learn_tcp="learn(table=20,idle_timeout=$IDLE,fin_idle_timeout=$FIN_IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_udp="learn(table=20,idle_timeout=$IDLE,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=17,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"
learn_src="learn(table=20,hard_timeout=$PERSIST,priority=100,NXM_NX_REG0[],eth_type=0x800,NXM_OF_IP_SRC[],load:NXM_NX_REG1[]->NXM_NX_REG1[])"

# Table 21, reached from a bucket with reg1 = the bucket's backend. It
# first looks table 20 up again (RELOOKUP): an entry learned meanwhile
# wins over the bucket's choice, and learn() then rewrites the same
# entry. Without it (RELOOKUP=''), a connection whose packets still take
# the group's datapath flow when the group changes is moved: the
# revalidator re-translates that flow with the new buckets and its cached
# learn() overwrites the entry (see "pitfall: no re-lookup" below).
# With reg1 != 0 the miss rules of table 20 do not match, and a miss in a
# resubmitted table does nothing.
RELOOKUP="resubmit(,20),"
table21() {
    cat <<EOF
table=21,priority=100,reg0=$SVC_TCP,tcp actions=$RELOOKUP$learn_tcp,resubmit(,22)
table=21,priority=100,reg0=$SVC_UDP,udp actions=$RELOOKUP$learn_udp,resubmit(,22)
table=21,priority=100,reg0=$SVC_SRC,ip actions=$RELOOKUP$learn_src,resubmit(,22)
EOF
}

write_flows() {
    local s svc
    cat <<EOF
table=0,priority=300,arp,arp_op=1,arp_tpa=$VIP actions=$(arp_reply "$VIP")
table=0,priority=300,icmp,nw_dst=$VIP,icmp_type=8,icmp_code=0 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$LBMAC->eth_src,move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:$VIP->ip_src,set_field:0->icmp_type,IN_PORT
table=0,priority=250,ip,nw_src=$VIP actions=drop
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=80 actions=set_field:$SVC_TCP->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)
table=0,priority=200,udp,nw_dst=$VIP,tp_dst=53 actions=set_field:$SVC_UDP->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)
table=0,priority=200,tcp,nw_dst=$VIP,tp_dst=8080 actions=set_field:$SVC_SRC->reg0,set_field:0->reg1,resubmit(,20),resubmit(,22)
table=0,priority=0 actions=drop
table=20,priority=1,reg0=$SVC_TCP,reg1=0 actions=group:$SVC_TCP
table=20,priority=1,reg0=$SVC_UDP,reg1=0 actions=group:$SVC_UDP
table=20,priority=1,reg0=$SVC_SRC,reg1=0 actions=group:$SVC_SRC
$(table21)
table=22,priority=0 actions=drop
EOF
    # Counters: IP from a server reaching br-lb (must stay 0 in DSR).
    for s in $SERVERS; do
        echo "table=0,priority=260,ip,dl_src=${RMAC[$s]} actions=drop"
        for svc in $SVC_TCP $SVC_UDP $SVC_SRC; do
            echo "table=22,priority=100,reg0=$svc,reg1=${BID[$s]} actions=$(dr_out "$s")"
        done
    done
}

# set_group add|mod GID NAME...: select group, one weight-1 bucket per
# NAME. Selection (OpenFlow 1.5 only; an OF1.3 group mod silently drops
# it): SEL_<GID> if set, else dp_hash over the 5-tuple.
set_group() {
    local verb=$1 gid=$2 s spec sel
    shift 2
    sel=SEL_$gid
    spec="group_id=$gid,type=select,selection_method=${!sel:-dp_hash}"
    for s in "$@"; do
        spec+=",bucket=weight:1,actions=set_field:${BID[$s]}->reg1,resubmit(,21)"
    done
    echo "$spec" >"$D/group$gid.txt"
    ofctl -O OpenFlow15 "$verb-group" br-lb "$spec"
}
# Source-IP persistence: here the group hashes the source address only
# (selection_method=hash, computed in the slow path), so one client maps
# to one bucket even without any learned entry. A dp_hash group works too
# thanks to the re-lookup (checked below with the revalidators paused).
# shellcheck disable=SC2034 # read by set_group via ${!sel}
SEL_3="hash,fields(ip_src)"

write_flows >"$D/flows.txt"
set_group add $SVC_TCP s1 s2
set_group add $SVC_UDP s1 s2
set_group add $SVC_SRC s1 s2
ofctl add-flows br-lb "$D/flows.txt"
e2e_hold "after the flows were loaded"

client() { nsx c1 timeout 120 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }
# learned [FILTER]: learned (priority 100) rows of table 20.
learned() {
    ofctl dump-flows br-lb table=20 | grep 'priority=100' |
        grep -- "${1:-.}" || true
}
n_learned() { learned "$@" | grep -c . || true; }
# learned_at_most N [FILTER]: for wait_for (evaluated on every try).
learned_at_most() { test "$(n_learned "${2:-.}")" -le "$1"; }
# flow_packets FILTER: sum of n_packets of br-lb's flows whose dump
# line matches FILTER; fails when none does (no silent 0 for a bad filter).
flow_packets() {
    ofctl dump-flows br-lb | grep -- "$1" |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# -------------------------------------------------------- ARP and ping
check "c1 pings the VIP (answered by br-lb flows)" \
    nsx c1 ping -c 3 -i 0.2 -W 2 "$VIP"
check "c1 resolved the VIP to br-lb's MAC (servers keep quiet)" \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP | grep -qi 'lladdr $LBMAC'"

# --------------------------------------------------------- TCP and UDP
tcp_spread() {
    client tcp "$VIP" 80 --count 200 --expect S1:1,S2:1 --tolerance 0.12 \
        --detail "$D/tcp.detail"
}
check "tcp: 200 connections spread over s1/s2 (+-12%)" tcp_spread

# Every answered connection's learned entry names the backend that
# answered: first packet (group) and later packets (table 20) agree.
learned_match_answers() {
    learned tcp >"$D/learned.tcp.txt"
    sed -n 1,2p "$D/learned.tcp.txt"
    "$PYTHON" - "$D/tcp.detail" "$D/learned.tcp.txt" \
        "${BID[s1]}=S1" "${BID[s2]}=S2" "${BID[s3]}=S3" <<'EOF'
import json, re, sys
ans = {d["sport"]: d["name"] for d in map(json.loads, open(sys.argv[1]))}
names = {int(k, 16): v for k, v in (a.split("=") for a in sys.argv[3:])}
got = {}
for line in open(sys.argv[2]):
    m = re.search(r"tp_src=(\d+).*load:(0x[0-9a-f]+)->NXM_NX_REG1", line)
    if m:
        got[int(m.group(1))] = names[int(m.group(2), 16)]
both = set(ans) & set(got)
bad = [(p, ans[p], got[p]) for p in both if ans[p] != got[p]]
print("connections %d, learned entries %d, compared %d, mismatches %d"
      % (len(ans), len(got), len(both), len(bad)))
assert len(both) >= 150 and not bad, bad[:5]
EOF
}
check "tcp: learned entries (table 20) name the backend that answered" \
    learned_match_answers

udp_spread() {
    client udp "$VIP" 53 --count 200 --expect S1:1,S2:1 --tolerance 0.12
    test "$(n_learned udp)" -ge 190
}
check "udp: 200 requests spread over s1/s2, one learned entry each" udp_spread

# Each request reaches exactly one server exactly once: on a miss the
# bucket forwards, and table 0's trailing resubmit(,22) sees reg1=0 again
# (register changes in a bucket do not survive the group) and drops.
# SYNs counted at s1+s2 for 20 new connections must be exactly 20.
syn_once() {
    local s n=0 c
    for s in s1 s2; do
        spawn_in "$s" "syn-$s" timeout 30 tcpdump -i eth0 -n -l \
            "tcp[tcpflags] == tcp-syn and dst port 80"
    done
    wait_for 10 grep -q 'listening on' "$D/logs/syn-s1.log"
    wait_for 10 grep -q 'listening on' "$D/logs/syn-s2.log"
    client tcp "$VIP" 80 --count 20
    sleep 1
    for s in s1 s2; do
        spawn_stop "syn-$s"
        c=$(grep -c "> $VIP\.80: Flags \[S\]" "$D/logs/syn-$s.log" || true)
        echo "SYNs at $s: $c"
        n=$((n + c))
    done
    # The two datapath passes of a new connection.
    appctl dpctl/dump-flows | grep -E 'dst=80' | sed -n 1,4p
    test "$n" -eq 20
}
check "miss path: each new connection's SYN reaches one server once" syn_once

# ------------------------------------------- direct return: no replies
no_replies() {
    sleep 1   # revalidator pushes stats about every 0.5 s
    local from_srv from_vip
    from_srv=$(flow_packets "priority=260,ip,dl_src=")
    from_vip=$(flow_packets "priority=250,ip,nw_src=$VIP")
    ofctl dump-ports br-lb "$ARM"
    echo "IP packets at br-lb from the servers' MACs: $from_srv, from the VIP: $from_vip"
    test "$from_srv" -eq 0 && test "$from_vip" -eq 0
}
check "br-lb saw no packet from a server and none from the VIP" no_replies

# The frames the server receives: dst IP = VIP, dst MAC = s1, src MAC =
# br-lb; the replies go to c1's MAC from the VIP directly.
capture_s1() {
    spawn_in s1 cap1 timeout 20 tcpdump -i eth0 -n -e -l -c 8 'tcp port 80'
    wait_for 10 grep -q 'listening on' "$D/logs/cap1.log"
    client tcp "$VIP" 80 --count 20 >/dev/null
    spawn_wait cap1 20 || true
    cat "$D/logs/cap1.log"
    grep -q "$LBMAC > ${RMAC[s1]}, .* $C1\.[0-9]* > $VIP\.80: Flags \[S\]" "$D/logs/cap1.log"
    grep -q "${RMAC[s1]} > $C1MAC, .* $VIP\.80 > $C1\.[0-9]*: Flags \[S\.\]" "$D/logs/cap1.log"
}
check "capture at s1: requests to dst $VIP, replies straight to c1's MAC" capture_s1

# ---------------------------------------------- learned entries expire
run_stream() {   # run_stream TAG SECONDS; sets $x (backend, lower case)
    rm -f "$D/$1.name"
    spawn_in c1 "$1" timeout 60 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 \
        --seconds "$2" --max-stall 2 --io-timeout 3 --name-file "$D/$1.name"
    wait_for 10 test -s "$D/$1.name"
    x=$(tr '[:upper:]' '[:lower:]' <"$D/$1.name")
}
# UDP entries live until idle_timeout. A TCP entry gets fin_idle_timeout
# once the client's FIN passes through it: certain for a connection that
# lives longer than a revalidation round (the stream below); for very
# short ones the FIN may still take the group's datapath flow, and their
# entries then just idle out (counted, not asserted).
expiry() {
    local t0 sport
    wait_for $((IDLE + 4)) learned_at_most 0
    run_stream fin 2
    spawn_wait fin 20
    t0=$SECONDS
    sport=$(sed -n 's/.*from port \([0-9]*\).*/\1/p' "$D/logs/fin.log")
    client tcp "$VIP" 80 --count 20 >/dev/null
    client udp "$VIP" 53 --count 20 >/dev/null
    appctl revalidator/wait
    appctl revalidator/wait
    echo "right after: tcp $(n_learned tcp), udp $(n_learned udp)," \
        "tcp with fin_idle_timeout applied: $(n_learned "idle_timeout=$FIN_IDLE,")"
    learned "tp_src=$sport,"
    learned "tp_src=$sport," | grep -q "idle_timeout=$FIN_IDLE,"
    learned udp | sed -n 1p
    wait_for $((FIN_IDLE + 3)) learned_at_most 0 "tp_src=$sport,"
    echo "stream's entry gone after $((SECONDS - t0)) s;" \
        "left: tcp $(n_learned tcp), udp $(n_learned udp)"
    test "$(n_learned udp)" -eq 20
    wait_for $((IDLE + 4)) learned_at_most 0
    echo "all entries gone after $((SECONDS - t0)) s (idle_timeout=$IDLE)"
    test $((SECONDS - t0)) -ge $((IDLE - 2))
}
check "learned entries: fin_idle_timeout after a stream's FIN, idle_timeout for udp" expiry

# -------------------------------------- affinity across a group change
stream_keeps_backend() {
    local x
    run_stream stream1 8
    echo "stream on $x"
    # Every bucket now leads to s3 only.
    set_group mod $SVC_TCP s3 s3
    client tcp "$VIP" 80 --count 50 --expect S3
    spawn_wait stream1 30
    cat "$D/logs/stream1.log"
    grep -q "\"backend\": \"${x^^}\"" "$D/logs/stream1.log"
    grep -q '"broken": false' "$D/logs/stream1.log"
}
check "tcp: a running connection keeps its backend after mod-group to s3" \
    stream_keeps_backend
set_group mod $SVC_TCP s1 s2

# The race, made deterministic by pausing the revalidators: the stream's
# packets all take the group's datapath flows (its learned entry exists
# but no datapath flow has been re-translated yet), the group is changed
# to s3 only, then the revalidators resume and re-translate those flows.
# race_stream -> 0 when the stream survived on its first backend.
race_stream() {
    local x rc=0
    # Exactly one resume per pause: a resume of running revalidators
    # blocks ovs-vswitchd's main thread for good (pause barrier).
    appctl revalidator/pause
    {
        run_stream race 5 && echo "stream on $x" && sleep 0.5 &&
            set_group mod $SVC_TCP s3 s3 && sleep 0.5
    } || rc=1
    appctl revalidator/resume
    test "$rc" -eq 0
    spawn_wait race 30 || rc=$?
    cat "$D/logs/race.log"
    set_group mod $SVC_TCP s1 s2
    test "$rc" -eq 0 && grep -q "\"backend\": \"${x^^}\"" "$D/logs/race.log"
}
check "tcp: stream on the group's datapath path survives a mod-group (re-lookup)" \
    race_stream
no_relookup_race() {
    local rc=0
    RELOOKUP='' table21 | ofctl add-flows br-lb -
    race_stream || rc=$?
    table21 | ofctl add-flows br-lb -
    test "$rc" -ne 0
    # broken by a reset from the new backend, not by a setup failure
    grep -q '"broken": true.*ConnectionResetError' "$D/logs/race.log"
}
check "pitfall: without the re-lookup in table 21 the same stream is moved (reset)" \
    no_relookup_race

# UDP: the same 5-tuples (fixed source ports) before and after the group
# is changed to s3 only: all stay where they were, new ones go to s3.
udp_sticky() {
    client udp "$VIP" 53 --count 100 --src-port-base 40000 \
        --detail "$D/udp.before" --expect S1:1,S2:1 --tolerance 0.2
    set_group mod $SVC_UDP s3
    client udp "$VIP" 53 --count 100 --src-port-base 40000 \
        --detail "$D/udp.after"
    client udp "$VIP" 53 --count 50 --src-port-base 41000 --expect S3
    "$PYTHON" - "$D/udp.before" "$D/udp.after" <<'EOF'
import json, sys
b = {d["sport"]: d["name"] for d in map(json.loads, open(sys.argv[1]))}
a = {d["sport"]: d["name"] for d in map(json.loads, open(sys.argv[2]))}
moved = [p for p in b if a.get(p) != b[p]]
print("same 5-tuples: %d, moved after mod-group: %d" % (len(b), len(moved)))
assert len(b) == 100 and not moved
EOF
}
check "udp: existing 5-tuples keep their backend after mod-group to s3" udp_sticky
set_group mod $SVC_UDP s1 s2

# ---------------------------------------------- source-IP persistence
# Service tcp/8080: learn keyed on reg0 + ip_src only, hard_timeout.
persistence() {
    local i out n
    for i in $(seq 30 45); do
        out=$(client tcp "$VIP" 8080 --count 10 --source "198.18.0.$i")
        echo "198.18.0.$i: $out"
        # one backend per source address
        n=$(echo "$out" | grep -o '"S[0-9]": [0-9]*' | grep -c .)
        test "$n" -eq 1
    done | tee "$D/persist.txt"
    # both backends in use across the 16 sources
    grep -q '"S1"' "$D/persist.txt" && grep -q '"S2"' "$D/persist.txt"
    learned "reg0=0x$SVC_SRC," | sed -n 1,2p
    test "$(n_learned "reg0=0x$SVC_SRC,")" -eq 16
    learned "reg0=0x$SVC_SRC," | grep -q "hard_timeout=$PERSIST"
    ! learned "reg0=0x$SVC_SRC," | grep -q tp_src
}
check "source-IP persistence: each source on one backend, 16 entries" persistence
persist_expiry() {
    local t0=$SECONDS
    # Traffic does not extend a hard_timeout.
    client tcp "$VIP" 8080 --count 5 --source 198.18.0.30 >/dev/null
    wait_for $((PERSIST + 5)) learned_at_most 0 "reg0=0x$SVC_SRC,"
    echo "source entries gone after $((SECONDS - t0)) s (hard_timeout=$PERSIST)"
}
check "source-IP persistence: entries expire after hard_timeout" persist_expiry

# The same variant with a dp_hash (5-tuple) group and the revalidators
# paused, so that no learned entry is in effect in the datapath: every new
# connection of a client takes the group's datapath flows and may hash to
# another bucket. With the re-lookup in table 21 the first connection's
# entry still decides (all on one backend); without it each connection's
# bucket wins and overwrites the entry (spread over both backends).
# persist_paused -> prints the client's result for 12 connections.
persist_paused() {
    wait_for $((PERSIST + 5)) learned_at_most 0 "reg0=0x$SVC_SRC,"
    SEL_3=dp_hash set_group mod $SVC_SRC s1 s2
    appctl revalidator/pause >/dev/null
    client tcp "$VIP" 8080 --count 12 --source 198.18.0.30 --max-errors 12 \
        2>/dev/null || true
    appctl revalidator/resume >/dev/null
    set_group mod $SVC_SRC s1 s2
}
persist_race_fixed() {
    local out
    out=$(persist_paused)
    echo "with re-lookup: $out"
    echo "$out" | grep -Eq '^\{"S[12]": 12, "errors": 0\}$'
}
check "source-IP persistence, dp_hash group, revalidators paused: one backend" \
    persist_race_fixed
persist_race_pitfall() {
    local out
    RELOOKUP='' table21 | ofctl add-flows br-lb -
    out=$(persist_paused)
    table21 | ofctl add-flows br-lb -
    echo "without re-lookup: $out"
    echo "$out" | grep -q '"S1"' && echo "$out" | grep -q '"S2"'
}
check "pitfall: without the re-lookup the same client is spread over both" \
    persist_race_pitfall

# ------------------------------------------------ pitfall: eth_dst only
# With only eth_dst rewritten, the request leaves br-lb with the client's
# MAC as source: br-sw learns the client's MAC on its br-lb port, and the
# servers' replies to the client are switched to br-lb (where they are
# dropped) instead of to c1. Measured, then the good flows are restored.
eth_dst_only() {
    local s svc before after res
    for s in s1 s2; do
        for svc in $SVC_TCP; do
            echo "table=22,priority=100,reg0=$svc,reg1=${BID[$s]} actions=set_field:${RMAC[$s]}->eth_dst,IN_PORT"
        done
    done | ofctl add-flows br-lb -
    sleep 1
    before=$(flow_packets "priority=260,ip,dl_src=")
    res=$(client tcp "$VIP" 80 --count 20 --timeout 1 --max-errors 20) || true
    sleep 1
    after=$(flow_packets "priority=260,ip,dl_src=")
    echo "eth_dst only: client result $res; server packets that reached br-lb: $((after - before))"
    appctl fdb/show br-sw | grep -i "$C1MAC" || true
    write_flows | grep "^table=22,priority=100" | ofctl add-flows br-lb -
    test $((after - before)) -gt 0
}
check "pitfall: rewriting eth_dst only makes br-sw send replies to br-lb" \
    eth_dst_only
# Relearn c1 at its own port before any later use.
nsx c1 ping -c 1 -W 1 "${RIP[s1]}" >/dev/null 2>&1 || true

{
    echo "# flows"
    ofctl --no-stats dump-flows br-lb
    echo "# groups"
    ofctl -O OpenFlow15 dump-groups br-lb
} >"$D/final-hand.txt"
if [ "${E2E_VERBOSE:-0}" = 1 ]; then cat "$D/final-hand.txt"; fi
