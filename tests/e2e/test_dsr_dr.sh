#!/usr/bin/env bash
# Mode dr (L2 direct server return) end to end: only the destination MAC
# changes; TCP and UDP spread by weight; replies go from the servers to the
# client directly (br-lb sees none); sessions keep their backend (learned
# affinity) while backends change; idle entries age out; source-IP
# persistence; ping and ARP for the VIP.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dsr_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

dsr_topo_up
# A second VIP, for a service spread by address pair.
VIP2=198.18.0.101
for i in 1 2 3; do nsx "s$i" ip addr add "$VIP2/32" dev lo; done
config() {   # config WEB_BACKENDS
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "dr",
   "idle_timeout": 5, "bridges": ["br-lb"], "backends": [$1]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(dsr_backend 1),$(dsr_backend 2),$(dsr_backend 3)]},
  {"name": "sticky", "vip": "$VIP", "protocol": "tcp", "port": 8080, "mode": "dr",
   "persistence": 60, "bridges": ["br-lb"], "backends": [$(dsr_backend 1),$(dsr_backend 2),$(dsr_backend 3)]},
  {"name": "pairs", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "dr",
   "distribution": "2-tuple", "bridges": ["br-lb"], "backends": [$(dsr_backend 1),$(dsr_backend 2),$(dsr_backend 3)]}
 ]}
JSON
}
config "$(dsr_backend 1 2),$(dsr_backend 2 1)"
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1

check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "ARP for the VIP answers the balancer" \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP | grep -q $LBMAC"

capture_start 120
stats_save "$D/stats0.json"
check "1000 TCP connections split 2:1 by weight" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP 80 --count 1000 \
    --concurrency 8 --expect S1:2,S2:1 --tolerance 0.0667 >$D/counts.json"
check "GET /v1/stats: each backend's sessions are the connections it answered" \
    stats_grew_soon web "$D/stats0.json" "$D/counts.json"
open_sessions_held web c1 "$VIP" 80
check "300 UDP sessions over three backends" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 300 \
    --concurrency 4 --expect S1:1,S2:1,S3:1 --tolerance 0.1
check "servers saw the VIP as destination" \
    sh -c "grep -q 'to $VIP' $D/logs/srv-S1.log"
sessions=$(ofctl dump-flows br-lb table=20 | grep -c 'cookie=0x4c45' || true)
check "no state per connection: nothing learned for 1000 connections ($sessions)" \
    test "$sessions" -eq 0
slot_flows=$(ofctl dump-flows br-lb table=5 | grep -c 'reg5=\|reg0=' || true)
check "the slot table is in SLOTS ($slot_flows flows)" test "$slot_flows" -gt 0
sessions_reported() {
    expect_api 200 GET /v1/stats
    # Connections counted by their SYNs, per backend: at least the 1000.
    test "$(json_get 'sum(b["sessions"] for s in j["services"] if s["name"] == "web" for b in s["backends"])')" -ge 1000
}
check "REST stats count each backend's connections" wait_for 10 sessions_reported

spawn_in c1 stream "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 15 \
    --max-stall 3 --name-file "$D/stream.backend"
wait_for 10 test -s "$D/stream.backend"
keep=$(tr -dc 'S0-9' <"$D/stream.backend")
n=${keep#S}
# Keep only the stream's backend and add s3: new sessions move, the
# stream stays.
# S3 comes with weight 1000: the stream's backend keeps about 1/1000 of
# the slots, so the stream's slot almost surely moves to S3, and the move
# falls due (idle_timeout 5 s) while the stream still runs: it must last
# as long as the stream's learned entry lives.
# The stream's SYN counted before the change: the switch credits a
# datapath flow's packets to the rules it takes at its next pass (up to a
# second), so a SYN not yet credited would count to the new backend.
sleep 1.5
stats_save "$D/stats1.json"
config "$(dsr_backend "$n" 1),$(dsr_backend 3 1000)"
kill -HUP "$(mslbd_pid)"
wait_generation 2
check "after the change new connections go to S3 (1:1000 with $keep)" \
    sh -c "ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP 80 --count 300 \
    --concurrency 8 --expect $keep:1,S3:1000 --tolerance 0.12 >$D/counts2.json"
check "GET /v1/stats: $keep's counts went on across the change (+ its new sessions), S3's from 0" \
    stats_grew_soon web "$D/stats1.json" "$D/counts2.json" open
moved=$(ofctl dump-flows br-lb table=20 | grep 'cookie=0x4c45' | grep -c 'tp_dst=80' || true)
check "the moved slots learned their connections ($moved)" \
    test "$moved" -gt 0
stream_rc=0
spawn_wait stream 40 || stream_rc=$?
check "the long-lived connection kept its backend" test "$stream_rc" -eq 0
check "a due move was kept while the stream's session lived" \
    grep -Eq "slot moves due in [0-9]+ services?: [0-9]+ ended, [1-9][0-9]* kept" \
    "$D/mslbd.log"

n_from_servers=$(capture_count "$FROM_SERVERS")
n_from_client=$(capture_count "src host 198.18.0.10")
check "br-lb saw the client's requests ($n_from_client packets)" \
    test "$n_from_client" -gt 3000
check "br-lb saw no packet from the servers ($n_from_servers)" \
    test "$n_from_servers" -eq 0

check "source-IP persistence: one client, one backend" sh -c "
    ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp $VIP 8080 --count 60 >$D/sticky.json
    $PYTHON -c 'import json,sys; d=json.load(open(\"$D/sticky.json\")); sys.exit(not (d[\"errors\"] == 0 and len([k for k in d if k != \"errors\"]) == 1))'"

idle_gone() { ! ofctl dump-flows br-lb table=20 | grep 'cookie=0x4c45' | grep -q 'tp_dst=80'; }
check "idle sessions age out (idle_timeout 5 s)" wait_for 20 idle_gone
pairs_one_server() {   # lbclient's answers came from one server
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" 80 --count 200 \
        --concurrency 4 >"$D/pairs.json"
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["errors"] == 0 and len([k for k in d if k != "errors"]) == 1))' "$D/pairs.json"
}
check "distribution 2-tuple: 200 connections of one client, one server" \
    pairs_one_server
pairs_multipath() {
    ofctl dump-flows br-lb table=0 | grep "nw_dst=$VIP2" \
        | grep -q 'multipath(symmetric_l3'
}
check "distribution 2-tuple picks the slot by multipath over the addresses" \
    pairs_multipath
moves_gone() { ! ofctl dump-flows br-lb table=5 | grep -q 'priority=120'; }
check "the slots' moves end once their sessions are gone" wait_for 30 moves_gone

# A session whose client falls silent without closing it (here: stopped)
# is never seen to close: the open-session estimate forgets it once its
# backend had no packet for the service's idle_timeout (5 s), not before.
spawn_in c1 silent "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 30 \
    --max-stall 60 --name-file "$D/silent.backend"
wait_for 10 test -s "$D/silent.backend"
cp "$D/silent.backend" "$D/silent.names"
: >"$D/silent.none"
check "a long connection: one open session" \
    open_sessions_soon web "$D/silent.names"
kill -STOP "$(cat "$D/pids/silent.pid")"
stopped=$SECONDS
sleep 2
check "its client stopped without a FIN: still open 2 s later" \
    open_sessions_are web "$D/silent.names"
check "forgotten once its backend had no packet for idle_timeout" \
    wait_for 12 open_sessions_are web "$D/silent.none"
check "and not before idle_timeout ($((SECONDS - stopped)) s after the stop)" \
    test $((SECONDS - stopped)) -ge 5
kill -CONT "$(cat "$D/pids/silent.pid")"
spawn_stop silent
