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
# source port, so that no 5-tuple repeats.  Each check prints its figures
# ("# " lines).  Knobs: SEL_BIG (backends of check 4, default 300).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dsr_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

TCPBENCH=${TCPBENCH:-$(dirname "${MSLBD:-/nonexistent}")/bench/tcpbench}
[ -x "$TCPBENCH" ] || die "tcpbench not found at $TCPBENCH (build it, or set TCPBENCH)"
LBMAC2=0a:00:00:00:00:02
NBIG=${SEL_BIG:-300}
T_START=$SECONDS

# say TEXT...: a figure for the reader, on stdout next to the checks.
say() { printf '# %s\n' "$*"; }

# jget FILE EXPR: EXPR (python, on the JSON object 'j') of FILE's last
# JSON line whose "phase" is PHASE when EXPR starts with "PHASE:".
jget() {
    "$PYTHON" - "$@" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
phase = None
if expr[:2] in ("1:", "2:"):
    phase, expr = int(expr[0]), expr[2:]
j = None
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if phase is None or o.get("phase") == phase:
        j = o
if j is None:
    sys.exit("no JSON result in %s" % path)
print(eval(expr))
PY
}

# upcalls: successful upcalls of the whole datapath so far (every bridge
# of this ovs-vswitchd shares it).
upcalls() {
    appctl dpif-netdev/pmd-stats-show \
        | awk '/miss with success upcall:/ { s += $NF } END { print s + 0 }'
}

# conn TAG PORT N SPORT: N connections (16 at a time) from source ports
# SPORT...; the result (with the answers per server) in $D/TAG.json.
conn() {
    nsx c1 "$TCPBENCH" conn "$VIP" "$2" "$3" 16 60 "$4" >"$D/$1.json" || true
    say "$1: $(cat "$D/$1.json")"
}

# ---------------------------------------------------------------- setup

dsr_topo_up 4
add_lb_bridge br-lb2 "$MSLBD_TARGET"
link_bridges br-lb2 arm2 br-sw sw-lb2 veth
for i in 1 2 3 4; do
    spawn_in "s$i" "tcpb-s$i" "$TCPBENCH" serve -n "S$i" 7000 7001 7002 9000
done
for i in 1 2 3 4; do
    wait_for 10 grep -q listening "$D/logs/tcpb-s$i.log" || die "tcpbench on s$i"
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
nsx c1 sysctl -qw net.ipv4.ip_local_port_range="60001 65000"
for p in 7000 7001 7002 9000; do
    wait_for 15 nsx c1 "$TCPBENCH" conn "$VIP" "$p" 4 2 3 \
        || die "no connection to $VIP:$p"
done
say "setup took $((SECONDS - T_START)) s"

# --------------------------------------------------- 1. weighted split

# binomial FILE N W1:W2:W3: every server's count within 3 sigma of
# N * w / W, every connection answered.
binomial() {
    "$PYTHON" - "$@" <<'PY'
import json, math, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
n, weights = int(sys.argv[2]), [int(w) for w in sys.argv[3].split(":")]
names = j.get("names", {})
ok = j["connections"] == n and j["errors"] == 0 and set(names) <= {"S%d" % (i + 1) for i in range(len(weights))}
for i, w in enumerate(weights):
    p = w / sum(weights)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    got = names.get("S%d" % (i + 1), 0)
    z = (got - mean) / sd
    print("S%d weight %d: %d connections, expected %.1f +- %.1f (3 sigma %.0f), z = %+.2f"
          % (i + 1, w, got, mean, sd, 3 * sd, z))
    ok = ok and abs(z) <= 3
print("answered %d of %d, errors %d" % (j["connections"], n, j["errors"]))
sys.exit(0 if ok else 1)
PY
}
conn split 7000 10000 2000
binomial "$D/split.json" 10000 1:2:3 | while read -r l; do say "split: $l"; done || true
check "1. 10,000 connections split 1:2:3, each server within 3 sigma" \
    binomial "$D/split.json" 10000 1:2:3

# --------------------------------------------- 2. changes under load

rm -f "$D/go"
spawn_in c1 hold "$TCPBENCH" hold "$VIP" 7001 1000 16000 "$D/go" 120
wait_for 60 grep -q '"phase": 1' "$D/logs/hold.log" || die "hold: no phase 1"
say "churn before: $(grep '"phase": 1' "$D/logs/hold.log")"
declare -A before
for s in S1 S2 S3; do
    before[$s]=$(jget "$D/logs/hold.log" "1:j['names'].get('$s', 0)")
done
check "2. 1,000 connections open, on S1 S2 S3 (${before[S1]} ${before[S2]} ${before[S3]})" \
    test "$(jget "$D/logs/hold.log" "1:j['open']")" -eq 1000 \
    -a "${before[S1]}" -gt 0 -a "${before[S2]}" -gt 0 -a "${before[S3]}" -gt 0

# One write: s4 added, s2 drained, s3 removed.
body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "mode": "dr", "idle_timeout": 60, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP" "$(dsr_backend 1)" "$(dsr_backend 2 | sed 's/}$/,"state":"drain"}/')" "$(dsr_backend 4)")
t0=$SECONDS
api PUT "/v1/services/churn?wait=20" "$body"
say "churn: PUT add s4, drain s2, remove s3: HTTP $API_STATUS," \
    "$(tr -d ' \n' <<<"$API_BODY" | grep -o '"generation":[0-9]*,"installed":[a-z]*' || true) in $((SECONDS - t0)) s"
installed() { [ "$API_STATUS" = 200 ] && grep -q '"installed": *true' <<<"$API_BODY"; }
check "2. the change is one REST write, installed" installed
touch "$D/go"
hold_rc=0
spawn_wait hold 60 || hold_rc=$?
say "churn after: $(grep '"phase": 2' "$D/logs/hold.log" || echo "no phase 2 (exit $hold_rc)")"
declare -A same broken other
for s in S1 S2 S3; do
    same[$s]=$(jget "$D/logs/hold.log" "2:j['same'].get('$s', 0)" || echo -1)
    other[$s]=$(jget "$D/logs/hold.log" "2:j['other'].get('$s', 0)" || echo -1)
    broken[$s]=$(jget "$D/logs/hold.log" "2:j['broken_by'].get('$s', 0)" || echo -1)
    say "churn: on $s before: ${before[$s]}; after the change answered by $s: ${same[$s]}, by another: ${other[$s]}, broken: ${broken[$s]}"
done
check "2. connections on S1 (kept): all ${before[S1]} answered again by S1" \
    test "${same[S1]}" -eq "${before[S1]}"
check "2. connections on S2 (drained): all ${before[S2]} answered again by S2" \
    test "${same[S2]}" -eq "${before[S2]}"
say "churn: connections on the removed S3: ${broken[S3]} of ${before[S3]} broke (allowed), ${same[S3]} still answered by S3, ${other[S3]} by another"
conn churn-new 7001 300 17000
new_only_s1_s4() {
    test "$(jget "$D/churn-new.json" "j['connections']")" -eq 300
    test "$(jget "$D/churn-new.json" "j['errors']")" -eq 0
    test "$(jget "$D/churn-new.json" "sorted(j['names'])")" = "['S1', 'S4']"
}
check "2. new connections go to S1 and S4 only: $(jget "$D/churn-new.json" "j.get('names')" || true)" \
    new_only_s1_s4

# ------------------------------------------------------------ 3. upcalls

# upcall_run TAG PORT N SPORT: N connections; sets UPC (upcalls per
# connection, two decimals) and says the figures.
upcall_run() {
    local u0 u1 n
    u0=$(upcalls)
    conn "$1" "$2" "$3" "$4"
    u1=$(upcalls)
    n=$(jget "$D/$1.json" "j['connections']" || echo 0)
    UPC=$(awk -v u=$((u1 - u0)) -v n="$n" 'BEGIN { printf "%.2f", n ? u / n : 99 }')
    say "$1: $((u1 - u0)) upcalls for $n connections: $UPC per connection;" \
        "datapath flows: $(appctl upcall/show | sed -n 's/.*flows *: *//p' | head -n 1)"
}
lt_half() { awk -v x="$1" 'BEGIN { exit !(x < 0.5) }'; }
conn split-warm 7000 2000 12000
upcall_run split-upcalls 7000 3000 14000
check "3. 3,000 new connections to a warm dr service: $UPC upcalls per connection (< 0.5)" \
    lt_half "$UPC"

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
