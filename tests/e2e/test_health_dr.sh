#!/usr/bin/env bash
# Health monitors in mode dr prove the client's path (docs/health.md): the
# probe is a SYN to VIP:port with only the server's MAC, sent through
# DSR_FORWARD like a client's packet, from the bridge's gateway address.
# A server without the VIP on its loopback is marked down although its
# real address still answers; a stopped server is down and gets no new
# connections; probes are not counted as sessions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dsr_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

GW=198.18.0.254
dsr_topo_up
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "gateways": ["$GW"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "dr",
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2},
   "bridges": ["br-lb"],
   "backends": [$(dsr_backend 1),$(dsr_backend 2),$(dsr_backend 3)]},
  {"name": "long", "vip": "$VIP", "protocol": "tcp", "port": 8080, "mode": "dr",
   "idle_timeout": 3,
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2},
   "bridges": ["br-lb"],
   "backends": [$(dsr_backend 1),$(dsr_backend 2 1000)]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1
wait_rest

health_is() {   # health_is BACKEND STATE [SERVICE]: its state, after a probe
    api GET "/v1/services/${3:-web}/backends/$1"
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
sys.exit(not (h.get("last") and h.get("state") == sys.argv[1]))' "$2" <<<"$API_BODY"
}
connections() {   # connections COUNT EXPECT
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count "$1" \
        --concurrency 4 --timeout 3 --expect "$2" --tolerance 0.15
}
sessions_of() {   # sessions_of BACKEND: REST stats' sessions
    api GET /v1/stats
    "$PYTHON" -c '
import json, sys
j = json.loads(sys.stdin.read())
print(sum(b["sessions"] for s in j["services"] if s["name"] == "web"
          for b in s["backends"] if b["name"] == sys.argv[1]))' "$1" <<<"$API_BODY"
}

for b in s1 s2 s3; do
    check "$b is probed and up" wait_for 10 health_is "$b" up
done
check "s1 gets SYNs to VIP:80 from the gateway address, and the RST" \
    nsx s1 timeout 5 tcpdump -nn -p -c 2 -i eth0 \
    "src host $GW and dst host $VIP and tcp dst port 80 and (tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)"
s1_before=$(sessions_of s1)
sleep 2
check "probes are not counted as sessions ($s1_before -> $(sessions_of s1))" \
    test "$(sessions_of s1)" -eq "$s1_before"
check "300 connections over three servers" connections 300 S1:1,S2:1,S3:1

# The VIP leaves s2's loopback: its real address still answers on port
# 80, but the in-band probe (to the VIP) does not.
nsx s2 ip addr del "$VIP/32" dev lo
check "s2 is down without the VIP on its loopback" wait_for 10 health_is s2 down
check "the reason is the unanswered probe" \
    grep -q "service web: backend s2 (198.18.0.22) is down: 2 failed probes in a row, the last: no answer within the timeout" "$D/mslbd.log"
check "s2's real address still answers on port 80" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.0.22 80 --count 3 --timeout 2
check "new connections avoid s2, none fails" connections 300 S1:1,S3:1
nsx s2 ip addr add "$VIP/32" dev lo
check "s2 is up with the VIP back" wait_for 10 health_is s2 up
check "connections reach all three again" connections 300 S1:1,S2:1,S3:1

# A stopped server: RST from its kernel, down at once.
spawn_stop srv-S3
check "s3 is down after its server stopped" wait_for 10 health_is s3 down
check "new connections avoid s3" connections 200 S1:1,S2:1
start_server s3 S3 --tcp 80 --tcp 8080 --udp 53
check "s3 is up again" wait_for 10 health_is s3 up

# Recovery keeps the sessions a substitute took: s2 (weight 1000 against
# s1's 1) fails, so a long connection opened meanwhile goes to s1; when
# s2 recovers it takes back (almost) every slot, the connection's too,
# which becomes a move from s1: the connection stays on s1, past
# idle_timeout (3 s: the move is kept while its session lives).
nsx s2 ip addr del "$VIP/32" dev lo
check "long: s2 down" wait_for 10 health_is s2 down long
spawn_in c1 stream "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 8080 --seconds 12 \
    --max-stall 3 --name-file "$D/stream.backend"
wait_for 10 test -s "$D/stream.backend"
check "the long connection went to s1" grep -q S1 "$D/stream.backend"
nsx s2 ip addr add "$VIP/32" dev lo
check "long: s2 up again" wait_for 10 health_is s2 up long
check "s2 took its slots back as moves" \
    grep -Eq "service long: backend s2 takes back [0-9]+ slots" "$D/mslbd.log"
long_id=$(ofctl dump-flows br-lb table=0 | grep 'tp_dst=8080' | head -1 \
    | sed -n 's/.*set_field:\(0x[0-9a-f]*\)->reg0.*/\1/p')
in_move() { ofctl dump-flows br-lb table=5 | grep "reg0=$long_id," | grep -q 'priority=120'; }
check "the moves are on the switch (service $long_id)" wait_for 10 in_move
check "new connections go to s2 again" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 8080 --count 100 \
    --concurrency 4 --timeout 3 --expect S1:1,S2:1000 --tolerance 0.05
stream_rc=0
spawn_wait stream 30 || stream_rc=$?
check "the connection opened during the outage kept s1 through the recovery" \
    test "$stream_rc" -eq 0
check "its move was kept past idle_timeout while it lived" \
    grep -Eq "recovery moves due in 1 service: [0-9]+ ended, [1-9][0-9]* kept" \
    "$D/mslbd.log"
check "and ended after it" wait_for 20 grep -Eq \
    "recovery moves due in 1 service: [1-9][0-9]* ended, 0 kept" "$D/mslbd.log"
