#!/usr/bin/env bash
# What becomes of a failed backend's established sessions, mode dr
# (docs/health.md, "sessions"): the probes go to port 9090, served by a
# process of their own on each server, so a server's probe target can
# stop while its service port keeps serving the connections it has.
#   web    (VIP:80)   "sessions": "keep" (default): a long connection to
#                     the failed backend lasts; new ones go elsewhere.
#   hard   (VIP:8080) "sessions": "reset": the long connection is reset
#                     (RST from the VIP, sent by mslbd) at its next packet.
#   sticky (VIP2:80)  source-IP persistence 60 s: the client is learned to
#                     the failed backend, but its new connections go
#                     elsewhere (and it is learned there: one entry per
#                     client, so its connections still open on the failed
#                     backend move with it, docs/health.md).
#   pinned (VIP2:8080) persistence and "sessions": "reset": the learned
#                     client's packets to the failed backend are answered
#                     by mslbd with an RST from the VIP.
# Backends: s1 (weight 1000) and s2 (weight 1), so the connections opened
# first go to s1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dsr_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

GW=198.18.0.254
VIP2=198.18.0.101
dsr_topo_up 2
for i in 1 2; do
    nsx "s$i" ip addr add "$VIP2/32" dev lo
    start_server "s$i" "P$i" --tcp 9090
done
mon() {   # mon [EXTRA]: the monitor, port 9090
    printf '{"type": "tcp", "port": 9090, "interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2%s}' "${1:-}"
}
BACKENDS="$(dsr_backend 1 1000),$(dsr_backend 2 1)"
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "gateways": ["$GW"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "dr",
   "monitor": $(mon), "bridges": ["br-lb"], "backends": [$BACKENDS]},
  {"name": "hard", "vip": "$VIP", "protocol": "tcp", "port": 8080, "mode": "dr",
   "monitor": $(mon ', "sessions": "reset"'), "bridges": ["br-lb"],
   "backends": [$BACKENDS]},
  {"name": "sticky", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "dr",
   "persistence": 60, "monitor": $(mon), "bridges": ["br-lb"],
   "backends": [$BACKENDS]},
  {"name": "pinned", "vip": "$VIP2", "protocol": "tcp", "port": 8080, "mode": "dr",
   "persistence": 60, "monitor": $(mon ', "sessions": "reset"'),
   "bridges": ["br-lb"], "backends": [$BACKENDS]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1
wait_rest

health_is() {   # health_is SERVICE BACKEND STATE: its state, after a probe
    api GET "/v1/services/$1/backends/$2"
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
sys.exit(not (h.get("last") and h.get("state") == sys.argv[1]))' "$3" <<<"$API_BODY"
}
all_are() {   # all_are BACKEND STATE: in the four services
    local s
    for s in web hard sticky pinned; do
        health_is "$s" "$1" "$2" || return 1
    done
}
rejects() {   # mslbd's RSTs
    curl -s "$REST_URL/metrics" \
        | awk '/^mslb_rejects_total\{kind="rst"\}/ {print $2}'
}
stream() {   # stream NAME VIP PORT: a 12 s connection, in the background
    spawn_in c1 "$1" "$PYTHON" "$TOOLS/lbstream.py" "$2" "$3" --seconds 12 \
        --max-stall 3 --name-file "$D/$1.backend"
}

for b in s1 s2; do
    check "$b is probed and up in every service" wait_for 10 all_are "$b" up
done
check "the service shows its monitor's sessions policy" sh -c "
    curl -s $REST_URL/v1/services/hard | grep -q '\"sessions\": *\"reset\"'"
BAD="{\"name\": \"bad\", \"vip\": \"$VIP\", \"protocol\": \"tcp\", \"port\": 81, \"mode\": \"dr\",
 \"monitor\": $(mon ', "sessions": "end"'), \"bridges\": [\"br-lb\"], \"backends\": [$BACKENDS]}"
api POST /v1/services "$BAD"
echo "HTTP $API_STATUS $API_BODY"
check "a bad policy is refused (422), naming the field" sh -c "
    [ '$API_STATUS' = 422 ] && echo '$API_BODY' | grep -q 'monitor.sessions'"
api GET /v1/services/bad
check "and changes nothing" test "$API_STATUS" = 404

# Long connections, all to s1.
stream keep "$VIP" 80
stream reset "$VIP" 8080
stream pinned "$VIP2" 8080
for s in keep reset pinned; do
    check "the $s connection is open" wait_for 10 test -s "$D/$s.backend"
    check "the $s connection went to s1" grep -q S1 "$D/$s.backend"
done
check "new connections of the sticky client go to s1 (learned)" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" 80 --count 20 \
    --timeout 3 --expect S1:1 --tolerance 0

rst_before=$(rejects)

# s1's probe target stops: s1 is down in every service, while its port 80
# and 8080 keep serving.
spawn_stop srv-P1
check "s1 is down in every service" wait_for 10 all_are s1 down
check "new connections of web go to s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 40 \
    --concurrency 4 --timeout 3 --expect S2:1 --tolerance 0
check "new connections of hard go to s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 8080 --count 40 \
    --concurrency 4 --timeout 3 --expect S2:1 --tolerance 0
# The first SYN relearns the client; the switch's cached flows for its
# other packets may still name s1 for a moment (so that connection may be
# reset: docs/health.md, "Known gaps").
nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" 80 --count 1 --timeout 3 || true
check "the sticky client's new connections go to s2, though learned to s1" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" 80 --count 20 \
    --timeout 3 --expect S2:1 --tolerance 0

rc=0
spawn_wait reset 30 || rc=$?
cat "$D/logs/reset.log" >&2 || true
check "sessions reset: the connection to s1 is reset" test "$rc" -ne 0
check "by an RST (its slot's new owner answers it)" \
    grep -q "ConnectionResetError" "$D/logs/reset.log"
rc=0
spawn_wait pinned 30 || rc=$?
cat "$D/logs/pinned.log" >&2 || true
check "sessions reset, persistence: the learned client's connection is reset" \
    test "$rc" -ne 0
check "by an RST" grep -q "ConnectionResetError" "$D/logs/pinned.log"
check "which mslbd sent (mslb_rejects_total rst $rst_before -> $(rejects))" \
    test "$(rejects)" -gt "$rst_before"
rc=0
spawn_wait keep 30 || rc=$?
cat "$D/logs/keep.log" >&2 || true
check "sessions kept: the connection to s1 lasted its 12 s" test "$rc" -eq 0

start_server s1 P1 --tcp 9090
check "s1 is up again in every service" wait_for 10 all_are s1 up
check "new connections of hard go to s1 again" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 8080 --count 40 \
    --concurrency 4 --timeout 3 --expect S1:1000,S2:1 --tolerance 0.1
