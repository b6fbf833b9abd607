#!/usr/bin/env bash
# Statistics, mode nat (docs/api.md, "Statistics"): after N connections
# per backend GET /v1/stats says N sessions per backend, counts packets
# and bytes in both directions, and keeps every count across a group
# change (a backend added, another reweighted); rates; open sessions from
# the switch's conntrack, per backend, going to 0 for a drained backend
# once its connections close; the same in /metrics; restarted where the
# conntrack cannot be read, open TCP sessions estimated from the clients'
# SYNs, FINs and RSTs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

nat_topo_up
nat_config "$D/mslb.json" "$(nat_backend 1 8080),$(nat_backend 2 8080)"
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_rest
wait_generation 1

# stat SERVICE BACKEND FIELD: the field of GET /v1/stats ("" if absent).
stat() {
    api GET /v1/stats
    "$PYTHON" -c '
import json, sys
j = json.loads(sys.stdin.read())
s = [s for s in j["services"] if s["name"] == sys.argv[1]][0]
b = [b for b in s["backends"] if b["name"] == sys.argv[2]][0]
v = b
for k in sys.argv[3].split("."):
    v = v[k] if v is not None else None
print("null" if v is None else v)' "$1" "$2" "$3" <<<"$API_BODY"
}
# clients COUNT OUT: COUNT connections to web, the per-server counts in OUT.
clients() {
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count "$1" \
        --concurrency 8 --timeout 3 >"$2"
    cat "$2"
}
count_of() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$@"; }
sessions_are() {   # sessions_are BACKEND N
    local got
    got=$(stat web "$1" sessions)
    echo "$1: $got sessions (want $2)"
    [ "$got" = "$2" ]
}

clients 300 "$D/run1.json"
n1=$(count_of "$D/run1.json" S1)
n2=$(count_of "$D/run1.json" S2)
check "300 connections answered ($n1 by s1, $n2 by s2)" \
    test "$(count_of "$D/run1.json" errors)" = 0 -a $((n1 + n2)) -eq 300
check "s1's sessions: $n1" wait_for 5 sessions_are s1 "$n1"
check "s2's sessions: $n2" wait_for 5 sessions_are s2 "$n2"
both_ways() {   # both_ways BACKEND N: N sessions' packets each way
    local req rep rb bb
    req=$(stat web "$1" packets)
    rep=$(stat web "$1" reply_packets)
    bb=$(stat web "$1" bytes)
    rb=$(stat web "$1" reply_bytes)
    echo "$1: request $req packets $bb bytes, reply $rep packets $rb bytes"
    # A connection: SYN, ACK, request, FIN, ACK each way at least (the
    # server answers SYN-ACK, its reply, FIN).
    [ "$req" -ge $((4 * $2)) ] && [ "$rep" -ge $((3 * $2)) ] \
        && [ "$bb" -gt "$req" ] && [ "$rb" -gt "$rep" ]
}
check "s1: packets and bytes in both directions" both_ways s1 "$n1"
check "s2: packets and bytes in both directions" both_ways s2 "$n2"
req1=$(stat web s1 packets)
rep1=$(stat web s1 reply_packets)

# A group change: s3 added, s2 reweighted.  The counts stay.
expect_api 201 POST /v1/services/web/backends "$(nat_backend 3 8080)"
expect_api 200 PATCH /v1/services/web/backends/s2 '{"weight": 3}'
check "after the change s1 still has $n1 sessions" sessions_are s1 "$n1"
check "s2 still $n2" sessions_are s2 "$n2"
check "s3 none yet" sessions_are s3 0
kept_packets() {
    test "$(stat web s1 packets)" -ge "$req1" -a "$(stat web s1 reply_packets)" -ge "$rep1"
}
check "and s1's packet counts did not go back" kept_packets

# Rates: a reference read (a second after the last one, so that it becomes
# the reference), traffic, the switch's lag, a read a second later or more.
sleep 1.1
stat web s1 sessions >/dev/null
clients 300 "$D/run2.json"
sleep 1.5
m1=$(count_of "$D/run2.json" S1)
m2=$(count_of "$D/run2.json" S2)
m3=$(count_of "$D/run2.json" S3)
rates_ok() {
    local r
    api GET /v1/stats
    r=$(json_get '[b["rates"] for s in j["services"] if s["name"] == "web" for b in s["backends"] if b["name"] == "s3"][0]')
    echo "s3's rates: $r"
    "$PYTHON" -c '
import sys
r = eval(sys.argv[1])
assert r["seconds"] >= 1.0, r
assert abs(r["sessions"] * r["seconds"] - int(sys.argv[2])) <= 1, r
assert r["packets"] > 0 and r["reply_packets"] > 0 and r["bytes"] > 0, r' "$r" "$m3"
}
check "rates: s3's $m3 new sessions per second over the interval" rates_ok
check "300 more answered by s1 $m1, s2 $m2, s3 $m3" \
    test "$(count_of "$D/run2.json" errors)" = 0 -a $((m1 + m2 + m3)) -eq 300
check "s1's sessions: $n1 + $m1" wait_for 5 sessions_are s1 $((n1 + m1))
check "s2's sessions: $n2 + $m2" sessions_are s2 $((n2 + m2))
check "s3's sessions: $m3" sessions_are s3 "$m3"

# Open sessions from conntrack: 6 long connections, then s1 drained.
for i in 1 2 3 4 5 6; do
    spawn_in c1 "stream$i" "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 \
        --seconds 6 --max-stall 3 --name-file "$D/stream$i.backend"
done
for i in 1 2 3 4 5 6; do wait_for 10 test -s "$D/stream$i.backend"; done
open_s1=$(cat "$D"/stream*.backend | grep -c '^S1' || true)
open_all_ok() {
    local a b c
    a=$(stat web s1 active_sessions)
    b=$(stat web s2 active_sessions)
    c=$(stat web s3 active_sessions)
    echo "open: s1 $a s2 $b s3 $c (s1 should be $open_s1, all 6)"
    [ "$a" = "$open_s1" ] && [ $((a + b + c)) -eq 6 ]
}
check "6 open sessions, $open_s1 of them with s1" wait_for 5 open_all_ok
expect_api 200 PATCH /v1/services/web/backends/s1 '{"state": "drain"}'
check "drained s1 keeps its open sessions" open_all_ok
for i in 1 2 3 4 5 6; do spawn_wait "stream$i" 30; done
s1_empty() { test "$(stat web s1 active_sessions)" = 0; }
check "their connections closed: s1 has no open session" wait_for 10 s1_empty
metrics_ok() {
    curl -sf "$REST_URL/metrics" >"$D/metrics.txt"
    grep -q "^mslb_backend_sessions_total{service=\"web\",backend=\"s1\"} $((n1 + m1 + open_s1))\$" "$D/metrics.txt" \
        && grep -q '^mslb_backend_packets_total{service="web",backend="s1",direction="reply"} [1-9]' "$D/metrics.txt" \
        && grep -q '^mslb_backend_bytes_total{service="web",backend="s2",direction="request"} [1-9]' "$D/metrics.txt" \
        && grep -q '^mslb_backend_active_sessions{service="web",backend="s1"} 0$' "$D/metrics.txt"
}
check "/metrics: sessions, both directions, open sessions" metrics_ok
conntrack_read() {
    api GET /v1/stats
    test "$(json_get 'j["conntrack"]["read"]')" = True
}
check "GET /v1/stats says the conntrack was read" conntrack_read

# Where the switch's conntrack cannot be read (mslbd given another
# OVS_RUNDIR, as when it runs away from the switch): TCP's open sessions
# estimated from the clients' SYNs, FINs and RSTs (NAT_OUT's copies).
mslbd_stop
mv "$D/mslbd.log" "$D/mslbd.1.log"     # wait_generation reads the new one.
mkdir -p "$D/elsewhere"
OVS_RUNDIR=$D/elsewhere mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_rest
wait_generation 1
conntrack_unread() {
    api GET /v1/stats
    test "$(json_get 'j["conntrack"]["read"]')" = False
}
check "restarted away from the switch: conntrack not read" conntrack_unread
: >"$D/none.names"
check "no session open (all closed before)" open_sessions_soon web "$D/none.names"
open_sessions_held web c1 "$VIP" 80
