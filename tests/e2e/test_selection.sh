#!/usr/bin/env bash
# Backend selection (issue 9), mode dr, with real TCP through a private
# ovs-vswitchd (tests/e2e/dsr_topo.sh with four servers, plus a second
# first-stage bridge br-lb2 on the same segment):
#
#   1. weights: 10,000 connections to a 1:2:3 service; each server's count
#      within 3 sigma of the binomial expectation;
#   2. changes under load: 1,000 open connections over s1..s3, then one
#      REST write adds s4, drains s2 and removes s3; every connection on
#      s1 and s2 is answered again by the same server; new connections go
#      to s1 and s4 only;
#   3. upcalls: 3,000 new connections to a warm dr service cost < 0.5
#      upcalls each (slot table, no learn() per connection);
#   4. 300 backends (macvlan MACs in the server namespaces): 3,000 + 3,000
#      connections all answered, every backend reached, < 0.5 upcalls per
#      connection after a warm-up of 3,000;
#   5. two first-stage bridges: 200 connections opened through br-lb go on
#      through br-lb2 (the client's ARP entry for the VIP moved) to the
#      same servers; again after a change (s4 added) made while they were
#      open.
#
# The clients and servers are bench/tcpbench (build/bench/tcpbench, or
# $TCPBENCH): servers answer with their name; every connection has its own
# source port, so that no 5-tuple repeats.  Checks 1 to 3 are
# tests/e2e/sel_lib.sh's, which the other modes' tests share.  Each check
# prints its figures ("# " lines).  Knobs: SEL_BIG (backends of check 4, default 300).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dsr_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

. "$(dirname "$0")/sel_lib.sh"
LBMAC2=0a:00:00:00:00:02
NBIG=${SEL_BIG:-300}
T_START=$SECONDS

# ---------------------------------------------------------------- setup

dsr_topo_up 4
add_lb_bridge br-lb2 "$MSLBD_TARGET"
link_bridges br-lb2 arm2 br-sw sw-lb2 veth
for i in 1 2 3 4; do
    sel_serve "s$i" "S$i" 7000 7001 7002 9000
done

# Check 4's backends: NBIG MACs spread over s1..s3, each a macvlan on the
# server's eth0 (no address: the VIP on lo answers, the reply leaves by
# eth0).  A macvlan counts the unicast frames for its MAC, which tells
# which backend a connection reached.
big_mac() { printf -v "$1" '02:00:00:0b:%02x:%02x' $(($2 >> 8)) $(($2 & 255)); }
big_ip() { printf -v "$1" '198.18.%d.%d' $((8 + $2 / 250)) $(($2 % 250 + 1)); }
t0=$SECONDS
for h in 1 2 3; do
    nsx "s$h" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.default.arp_ignore=1 \
        net.ipv6.conf.default.disable_ipv6=1
    for ((i = h - 1; i < NBIG; i += 3)); do
        big_mac mac "$i"
        echo "link add mv$i link eth0 address $mac type macvlan mode bridge"
        echo "link set mv$i up"
    done | ip -n "$(ns_of "s$h")" -batch -
done
t1=$SECONDS
big_backends=
for ((i = 0; i < NBIG; i++)); do
    big_mac mac "$i"
    big_ip ip "$i"
    big_backends+="${big_backends:+,}{\"name\":\"b$i\",\"ip\":\"$ip\",\"mac\":\"$mac\"}"
done
say "setup: $NBIG macvlan backends in $((t1 - t0)) s, their config in $((SECONDS - t1)) s"

churn_backends() {   # the churn service's backends: s1 s2 s3
    printf '%s,%s,%s' "$(dsr_backend 1)" "$(dsr_backend 2)" "$(dsr_backend 3)"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"},
             {"name": "br-lb2", "mac": "$LBMAC2", "frontend_port": "arm2"}],
 "services": [
  {"name": "split", "vip": "$VIP", "protocol": "tcp", "port": 7000, "mode": "dr",
   "bridges": ["br-lb"],
   "backends": [$(dsr_backend 1 1),$(dsr_backend 2 2),$(dsr_backend 3 3)]},
  {"name": "churn", "vip": "$VIP", "protocol": "tcp", "port": 7001, "mode": "dr",
   "idle_timeout": 60, "bridges": ["br-lb"], "backends": [$(churn_backends)]},
  {"name": "two", "vip": "$VIP", "protocol": "tcp", "port": 7002, "mode": "dr",
   "bridges": ["br-lb", "br-lb2"],
   "backends": [$(dsr_backend 1),$(dsr_backend 2),$(dsr_backend 3)]},
  {"name": "big", "vip": "$VIP", "protocol": "tcp", "port": 9000, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$big_backends]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1
wait_for 20 grep -q "bridge br-lb2: generation 1 installed" "$D/mslbd.log"
wait_rest

# Both bridges answer ARP for the VIP: pin the client's entry to br-lb
# (check 5 moves it), and keep the kernel's own source ports above the
# ones the checks choose.
nsx c1 ip neigh replace "$VIP" lladdr "$LBMAC" dev eth0 nud permanent
sel_client_prep
for p in 7000 7001 7002 9000; do
    sel_wait_port "$p"
done
say "setup took $((SECONDS - T_START)) s"

# --------------------------------------------------- 1. weighted split

sel_split split 7000 10000 2000 1:2:3 "1. "

# --------------------------------------------- 2. changes under load

# One write: s4 added, s2 drained, s3 removed.
body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "mode": "dr", "idle_timeout": 60, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP" "$(dsr_backend 1)" "$(dsr_backend 2 | sed 's/}$/,"state":"drain"}/')" "$(dsr_backend 4)")
sel_churn churn 7001 16000 churn "$body" S1 S2 S3 "S1 S4"

# ------------------------------------------------------------ 3. upcalls

sel_upcall_check split-upcalls 7000 12000 "3. dr: "

# ------------------------------------------------------- 4. 300 backends

# big_unicast: per backend, unicast frames its macvlan received so far
# ("INDEX COUNT" lines).
big_unicast() {
    local h
    for h in 1 2 3; do
        nsx "s$h" sh -c 'for d in /sys/class/net/mv*; do
            echo "${d##*/mv} $(( $(cat $d/statistics/rx_packets) - $(cat $d/statistics/multicast) ))"
        done'
    done | sort -n
}
# The upcall figure: with a slot table of M slots, each slot's datapath
# flow costs one upcall the first time a connection hashes to it, so a
# batch of 3,000 after a warm-up of 3,000 costs about
# M e^(-3000/M) (1 - e^(-3000/M)) / 3000 upcalls per connection: 0.34 for
# M = 4,096, 0.58 for 8,192, 0.87 for 32,768.
big_unicast >"$D/big.0"
conn big-warm 9000 3000 18000
upcall_run big-upcalls 9000 3000 21000
UPC_BIG=$UPC
big_unicast >"$D/big.1"
awk 'NR == FNR { a[$1] = $2; next } { print $1, $2 - a[$1] }' \
    "$D/big.0" "$D/big.1" >"$D/big.delta"
reached=$(awk '$2 > 0' "$D/big.delta" | wc -l)
say "big: $reached of $NBIG backends reached; unicast frames per backend:" \
    "$(awk '{ print $2 }' "$D/big.delta" | sort -n | awk '{ a[NR] = $1 } END { printf "min %d median %d max %d", a[1], a[int((NR + 1) / 2)], a[NR] }')"
for h in 1 2 3; do
    say "big: backends on s$h got $(awk -v h=$h '$1 % 3 == h - 1 { s += $2 } END { print s + 0 }' "$D/big.delta") frames"
done
all_answered() {
    local f
    for f in big-warm big-upcalls; do
        test "$(jget "$D/$f.json" "j['connections']")" -eq 3000
        test "$(jget "$D/$f.json" "j['errors']")" -eq 0
    done
}
check "4. $NBIG backends: 2 x 3,000 connections all answered" all_answered
check "4. $NBIG backends: every backend reached ($reached)" test "$reached" -eq "$NBIG"
check "4. $NBIG backends: $UPC_BIG upcalls per connection after a warm-up (< 0.5)" \
    lt_half "$UPC_BIG"

# ------------------------------------- 5. the same choice on br-lb2

arm2_rx() {
    ofctl dump-ports br-lb2 arm2 | sed -n 's/.*rx pkts=\([0-9]*\).*/\1/p'
}
# two_bridges TAG SPORT CHANGE...: 200 connections opened through br-lb
# from source ports SPORT...; then CHANGE (a command); then the client's
# ARP entry for the VIP moves to br-lb2 and every connection asks again.
two_bridges() {
    local tag=$1 sport=$2 rx0 rx1 open same
    shift 2
    rm -f "$D/go-$tag"
    spawn_in c1 "$tag" "$TCPBENCH" hold "$VIP" 7002 200 "$sport" "$D/go-$tag" 60
    wait_for 30 grep -q '"phase": 1' "$D/logs/$tag.log" || die "$tag: no phase 1"
    say "$tag before (through br-lb): $(grep '"phase": 1' "$D/logs/$tag.log")"
    "$@"
    rx0=$(arm2_rx)
    nsx c1 ip neigh replace "$VIP" lladdr "$LBMAC2" dev eth0 nud permanent
    touch "$D/go-$tag"
    spawn_wait "$tag" 30 || true
    rx1=$(arm2_rx)
    nsx c1 ip neigh replace "$VIP" lladdr "$LBMAC" dev eth0 nud permanent
    say "$tag after (through br-lb2, which received $((rx1 - rx0)) packets):" \
        "$(grep '"phase": 2' "$D/logs/$tag.log" || echo 'no phase 2')"
    open=$(jget "$D/logs/$tag.log" "1:j['open']" || echo 0)
    same=$(jget "$D/logs/$tag.log" "2:sum(j['same'].values())" || echo 0)
    check "5. $tag: 200 connections opened through br-lb ($open)" test "$open" -eq 200
    check "5. $tag: br-lb2 carried their next packets ($((rx1 - rx0)) >= 200)" \
        test $((rx1 - rx0)) -ge 200
    check "5. $tag: through br-lb2, all $open answered again by the same server ($same)" \
        test "$same" -eq "$open"
}
# Then the same after a change that moves a quarter of the service's
# connections (s4 added): br-lb still knows where the open ones go; br-lb2
# must send them to the same servers although it never saw them.
add_s4_to_two() {
    api PUT "/v1/services/two?wait=20" "$(printf '{"name": "two", "vip": "%s", "protocol": "tcp", "port": 7002, "mode": "dr", "bridges": ["br-lb", "br-lb2"], "backends": [%s,%s,%s,%s]}' \
        "$VIP" "$(dsr_backend 1)" "$(dsr_backend 2)" "$(dsr_backend 3)" "$(dsr_backend 4)")"
    say "two: PUT add s4: HTTP $API_STATUS," \
        "$(tr -d ' \n' <<<"$API_BODY" | grep -o '"generation":[0-9]*,"installed":[a-z]*' || true)"
}
two_bridges two-stable 24000 :
two_bridges two-change 24200 add_s4_to_two

say "total $((SECONDS - T_START)) s"
