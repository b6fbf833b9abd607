#!/usr/bin/env bash
# The REST API drives a running mslbd attached to a private OVS: services
# created over HTTP balance traffic; a backend added and another drained
# move new connections while an existing one stays; deleting a service
# removes its flows; bridges, stats, health and metrics report; the state
# survives a restart with no traffic loss; a damaged state file is refused
# and left untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

nat_topo_up
cat >"$D/seed.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}]}
JSON
mslbd_start "$D/seed.json" --state "$D/state.json" --rest "$REST_PORT"
wait_rest
wait_generation 1

web='{"name":"web","vip":"198.18.0.100","protocol":"tcp","port":80,
 "bridges":["br-lb"],"backends":[
  {"name":"s1","ip":"198.18.1.11","port":8080,"mac":"02:00:00:00:01:11"},
  {"name":"s2","ip":"198.18.1.12","port":8080,"mac":"02:00:00:00:01:12"}]}'
create_web() {
    expect_api 201 POST /v1/services "$web"
    test "$(json_get 'j["installed"]')" = True
    test "$(json_get 'j["service"]["backends"][0]["weight"]')" = 1
}
check "create a service: 201, installed, defaults filled" create_web
check "traffic balanced over s1 and s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 400 \
    --concurrency 8 --expect S1:1,S2:1 --tolerance 0.1
get_web() { expect_api 200 GET /v1/services/web; test "$(json_get 'len(j["backends"])')" = "$1"; }
check "GET /v1/services/web" get_web 2
bridge_in_step() {
    expect_api 200 GET /v1/bridges/br-lb
    test "$(json_get 'j["connected"]')" = True
    test "$(json_get 'j["installed_generation"] == j["desired_generation"]')" = True
}
check "bridges: connected, installed = desired" bridge_in_step

# A long-lived connection, then: add s3, drain the stream's backend.
spawn_in c1 stream "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 20 \
    --max-stall 3 --name-file "$D/stream.backend"
wait_for 10 test -s "$D/stream.backend"
keep=$(tr -dc 'S0-9' <"$D/stream.backend")
other=S1; [ "$keep" = S1 ] && other=S2
kb=$(echo "$keep" | tr S s)
check "add backend s3: 201" expect_api 201 POST /v1/services/web/backends \
    '{"name":"s3","ip":"198.18.1.13","port":8080,"mac":"02:00:00:00:01:13"}'
check "drain the stream's backend $kb: 200" \
    expect_api 200 PATCH "/v1/services/web/backends/$kb" '{"state":"drain"}'
check "new connections avoid the drained $keep" \
    nsx c2 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 \
    --concurrency 8 --expect "$other:1,S3:1" --tolerance 0.1
stream_rc=0
spawn_wait stream 40 || stream_rc=$?
check "the existing connection stayed on $keep throughout" \
    sh -c "test $stream_rc -eq 0 && grep -q '\"backend\": \"$keep\"' $D/logs/stream.log && grep -q '\"broken\": false' $D/logs/stream.log"

sessions_counted() {
    expect_api 200 GET /v1/stats
    test "$(json_get 'sum(b["sessions"] for s in j["services"] for b in s["backends"])')" -ge 300
}
# Group counters restart when the group changes: the 300 since the drain.
check "stats count sessions per backend" wait_for 10 sessions_counted
metrics_ok() {
    curl -sf "$REST_URL/metrics" >"$D/metrics.txt"
    grep -q '^mslb_backend_sessions_total{service="web",backend="s3"} [1-9]' "$D/metrics.txt"
}
check "metrics in Prometheus text" metrics_ok
health_ok() { expect_api 200 GET /v1/health; test "$(json_get 'j["status"]')" = ok; }
check "health ok" health_ok

# Restart: the services come back from the state file; traffic keeps
# flowing across the restart.
spawn_in c1 stream2 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 12 \
    --max-stall 3
sleep 1
mslbd_kill9
mv "$D/mslbd.log" "$D/mslbd.log.1"
mslbd_start /dev/null --state "$D/state.json" --rest "$REST_PORT"
wait_rest
check "restarted mslbd serves the same services" get_web 3
check "restart adopted the flows without change" wait_for 20 \
    grep -Eq "generation [0-9]+ installed \(no change" "$D/mslbd.log"
stream_rc=0
spawn_wait stream2 40 || stream_rc=$?
check "no traffic loss across the restart" test "$stream_rc" -eq 0

# Delete: flows gone, connections refused.
check "delete the service: 200" expect_api 200 DELETE /v1/services/web
no_port80_flows() { ! ofctl dump-flows br-lb | grep -q 'tp_dst=80'; }
check "its flows are gone" no_port80_flows
check "404 after delete" expect_api 404 GET /v1/services/web
check_fails "the VIP no longer answers on port 80" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 1 --timeout 1

# A damaged state file stops the daemon and is never overwritten.
mslbd_stop
printf '{"bridges": [' >"$D/state.json"
sum=$(md5sum <"$D/state.json")
refuses_damaged() {
    local rc=0
    "$MSLBD" --state "$D/state.json" --listen "punix:$D/y.sock" 2>"$D/damaged.err" || rc=$?
    test "$rc" -eq 1
    grep -q "state file $D/state.json is damaged" "$D/damaged.err"
}
check "damaged state file: mslbd refuses to start" refuses_damaged
check "  ... and leaves it untouched" test "$(md5sum <"$D/state.json")" = "$sum"
