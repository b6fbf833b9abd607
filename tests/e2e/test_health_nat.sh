#!/usr/bin/env bash
# Health monitors in mode nat, end to end (docs/health.md): TCP probes from
# the bridge's gateway address to each backend's address and port; a
# stopped server is down within fall x interval and gets no new
# connections, the others are unaffected; started again it is up after
# 'rise' successes; with every backend down the service reports itself
# empty; a server that flaps faster than rise/fall allow does not flap the
# flows; probes are visible in REST and /metrics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

INTERVAL=0.5
FALL=2
RISE=2
nat_topo_up
MON="{\"type\": \"tcp\", \"interval\": $INTERVAL, \"timeout\": 0.3, \"rise\": $RISE, \"fall\": $FALL}"
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "monitor": $MON, "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 8080),$(nat_backend 2 8080),$(nat_backend 3 8080)]},
  {"name": "alt", "vip": "$VIP", "protocol": "tcp", "port": 81,
   "bridges": ["br-lb"], "backends": [$(nat_backend 3 8081)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
   "monitor": {"type": "tcp", "port": 8080, "interval": $INTERVAL, "timeout": 0.3, "rise": $RISE, "fall": $FALL},
   "empty": "reject", "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 5353),$(nat_backend 3 5353)]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1
wait_rest

# backend_field BACKEND EXPR: EXPR (python, on 'b') of web's backend.
backend_field() {
    api GET "/v1/services/web/backends/$1"
    "$PYTHON" -c 'import json,sys; b=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" <<<"$API_BODY"
}
health_is() {   # health_is BACKEND STATE: its state, after a probe
    [ "$(backend_field "$1" 'b.get("health", {}).get("state") if b.get("health", {}).get("last") else None')" = "$2" ]
}
service_field() {
    api GET /v1/services/web
    "$PYTHON" -c 'import json,sys; s=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$API_BODY"
}
# put_monitor JSON: PUT web back, as GET showed it (with its read-only
# "status" and backends' "health"), with JSON as its monitor.
put_monitor() {
    api GET /v1/services/web
    local doc
    doc=$("$PYTHON" -c '
import json, sys
s = json.loads(sys.stdin.read())
s["monitor"] = json.loads(sys.argv[1])
if len(sys.argv) > 2:
    s["empty"] = sys.argv[2]
print(json.dumps(s))' "$@" <<<"$API_BODY")
    api PUT /v1/services/web "$doc"
    echo "HTTP $API_STATUS $API_BODY"
    [ "$API_STATUS" = 200 ]
}
connections() {   # connections COUNT EXPECT: lbclient to VIP:80
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count "$1" \
        --concurrency 4 --timeout 3 --expect "$2" --tolerance 0.15
}

for b in s1 s2 s3; do
    check "$b is probed and up" wait_for 10 health_is "$b" up
done
check "a backend without a monitor shows no health" sh -c "
    curl -s $REST_URL/v1/services/alt/backends/s3 | grep -qv '\"health\"'"
check "probe latency is reported" \
    test "$(backend_field s1 'b["health"]["latency_ms"] is not None')" = True
check "the service has 3 usable backends" \
    test "$(service_field 's["status"]["usable_backends"]')" = 3
check "300 connections over three servers" connections 300 S1:10,S2:10,S3:10
sent_before=$(curl -s "$REST_URL/metrics" | awk '/^mslb_health_probes_total/ {print $2}')
check "probes are counted in /metrics ($sent_before)" test "${sent_before:-0}" -gt 0

# Stop S2: its port answers RST, the probe fails at once.
t0=$(date +%s.%N)
spawn_stop srv-S2
check "s2 is down after its server stopped" wait_for 10 health_is s2 down
elapsed=$("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))")
limit=$("$PYTHON" -c "print($FALL * $INTERVAL + 1.0)")
check "down within fall x interval (${elapsed} s, limit $limit s)" \
    "$PYTHON" -c "import sys; sys.exit(not $elapsed <= $limit)"
check "the transition is logged once, with its reason" sh -c "
    test \$(grep -c 'service web: backend s2 (198.18.1.12) is down: $FALL failed probes in a row, the last: connection refused' $D/mslbd.log) -eq 1"
check "REST shows the reason" sh -c "
    curl -s $REST_URL/v1/services/web/backends/s2 | grep -q 'failed probes in a row'"
check "new connections avoid s2, none fails" connections 300 S1:1,S3:1
check "the service has 2 usable backends" \
    test "$(service_field 's["status"]["usable_backends"]')" = 2
check "/metrics: mslb_backend_up of s2 is 0" sh -c "
    curl -s $REST_URL/metrics | grep -q '^mslb_backend_up{service=\"web\",backend=\"s2\"} 0'"
check "/metrics: mslb_backend_up of s1 is 1" sh -c "
    curl -s $REST_URL/metrics | grep -q '^mslb_backend_up{service=\"web\",backend=\"s1\"} 1'"

# Start it again: up after 'rise' successes.
start_server s2 S2 --tcp 8080 --tcp 8081 --udp 5353
check "s2 is up again" wait_for 10 health_is s2 up
check "the recovery is logged with its reason" \
    grep -q "service web: backend s2 (198.18.1.12) is up: $RISE successful probes in a row" "$D/mslbd.log"
check "connections reach all three again" connections 300 S1:10,S2:10,S3:10

# A server that flaps every 2 s (down 1 s, up 1 s) with rise 3 / fall 3
# at 1 s: never 3 results in a row the other way, so the flows never
# change.
check "rise 3 / fall 3 at 1 s accepted" put_monitor \
    '{"type": "tcp", "interval": 1, "timeout": 0.5, "rise": 3, "fall": 3}'
sleep 3
transitions() { grep -c 'service web: backend s2 .* is \(up\|down\)' "$D/mslbd.log" || true; }
before=$(transitions)
flows_before=$(ofctl dump-flows br-lb table=5 --no-stats | sort | md5sum)
for i in 1 2 3 4; do
    spawn_stop srv-S2
    sleep 0.8
    start_server s2 S2 --tcp 8080 --tcp 8081 --udp 5353
    sleep 0.8
done
check "a server flapping every 2 s does not flap (transitions $before -> $(transitions))" \
    test "$(transitions)" -eq "$before"
check "and the slot table did not change" \
    test "$(ofctl dump-flows br-lb table=5 --no-stats | sort | md5sum)" = "$flows_before"

# Every backend down: the service is empty; the other service is not.
check "fast probes again" put_monitor "$MON"
for i in 1 2 3; do spawn_stop "srv-S$i"; done
for b in s1 s2 s3; do
    check "$b down" wait_for 10 health_is "$b" down
done
check "the service reports itself empty" \
    test "$(service_field 's["status"]["empty"]')" = True
check "/metrics: mslb_service_empty of web is 1" sh -c "
    curl -s $REST_URL/metrics | grep -q '^mslb_service_empty{service=\"web\"} 1'"
# attempt PROTO PORT: what a client gets from the VIP: connected, refused
# (an RST, or for UDP an ICMP port unreachable) or timeout (dropped).
attempt() {
    nsx c1 "$PYTHON" -c '
import socket, sys
proto, vip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET,
                  socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(1.5)
try:
    s.connect((vip, port))
    if proto == "udp":
        s.send(b"HELLO\n")
        s.recv(100)
    print("connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")' "$1" "$VIP" "$2"
}
check "empty with drop (the default): a SYN is dropped" \
    test "$(attempt tcp 80)" = timeout
check "dns is empty too" sh -c "
    curl -s $REST_URL/v1/services/dns | grep -q '\"empty\": *true'"
check "empty with reject: a UDP datagram gets ICMP port unreachable" \
    test "$(attempt udp 53)" = refused
check "reject over TCP: web with empty reject" put_monitor "$MON" reject
check "empty with reject: a SYN gets an RST" test "$(attempt tcp 80)" = refused
check "/metrics counts the refusals" sh -c "
    curl -s $REST_URL/metrics | grep -q '^mslb_rejects_total{kind=\"rst\"} [1-9]'
    curl -s $REST_URL/metrics | grep -q '^mslb_rejects_total{kind=\"icmp\"} [1-9]'"
for i in 1 2 3; do start_server "s$i" "S$i" --tcp 8080 --tcp 8081 --udp 5353; done
for b in s1 s2 s3; do
    check "$b up again" wait_for 10 health_is "$b" up
done
check "and serves again" connections 200 S1:10,S2:10,S3:10
check "no refusal once it has backends again" test "$(attempt tcp 80)" = connected

# Bad monitors are refused with the field named, nothing changes.
gen=$(curl -s "$REST_URL/v1/services" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
refused() {   # refused MONITOR FIELD: PUT refused with 422 naming FIELD
    ! put_monitor "$1" >"$D/refused.out"
    grep -q 'HTTP 422' "$D/refused.out"
    grep -q "$2" "$D/refused.out"
}
check "timeout above interval refused, the field named" \
    refused '{"type": "tcp", "interval": 1, "timeout": 2}' monitor.timeout
check "an unknown type refused, the field named" \
    refused '{"type": "smtp"}' monitor.type
check "nothing changed" test "$(curl -s "$REST_URL/v1/services" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')" = "$gen"

