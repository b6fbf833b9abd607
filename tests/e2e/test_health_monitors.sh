#!/usr/bin/env bash
# The http, udp and icmp monitors, in mode nat (docs/health.md): an HTTP
# server answering 500 is down and 200 up again; an accepted status
# without the expected body is down; a UDP server that stops answers with
# ICMP port unreachable and is down, one that answers without the
# expected text is down; a server that stops answering pings is down for
# an icmp monitor.  Probes are in band, from the bridge's gateway address.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

nat_topo_up
for i in 1 2 3; do
    echo 200 >"$D/status-S$i"
    spawn_in "s$i" "http-S$i" "$PYTHON" "$TOOLS/httpstatus.py" --port 8090 \
        --name "S$i" --status-file "$D/status-S$i" --pidfile "$D/pids/http-S$i.ready"
    wait_for 10 test -s "$D/pids/http-S$i.ready"
done
FAST='"interval": 0.5, "timeout": 0.3, "rise": 2, "fall": 2'
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "monitor": {"type": "http", "port": 8090, "path": "/health",
               "status": "200-299", "body": "from S", $FAST},
   "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 8080),$(nat_backend 2 8080),$(nat_backend 3 8080)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
   "monitor": {"type": "udp", "send": "PING", "expect": "S", $FAST},
   "bridges": ["br-lb"],
   "backends": [$(nat_backend 1 5353),$(nat_backend 2 5353)]},
  {"name": "alt", "vip": "$VIP", "protocol": "tcp", "port": 81,
   "monitor": {"type": "icmp", $FAST},
   "bridges": ["br-lb"], "backends": [$(nat_backend 3 8081)]}
 ]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_generation 1
wait_rest

health_is() {   # health_is SERVICE BACKEND STATE [LAST]
    api GET "/v1/services/$1/backends/$2"
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
want_last = sys.argv[2] if len(sys.argv) > 2 else None
sys.exit(not (h.get("last") and h.get("state") == sys.argv[1]
              and (want_last is None or h.get("last") == want_last)))' \
        "${@:3}" <<<"$API_BODY"
}

for b in s1 s2 s3; do
    check "http: $b up" wait_for 10 health_is web "$b" up success
done
check "the HTTP server got GET /health with the Host header" \
    grep -q '"GET /health HTTP/1.1" 200' "$D/logs/http-S1.log"
check "udp: s1 up" wait_for 10 health_is dns s1 up success
check "udp: s2 up" wait_for 10 health_is dns s2 up success
check "icmp: s3 up" wait_for 10 health_is alt s3 up success

echo 500 >"$D/status-S2"
check "http: s2 answering 500 is down" wait_for 10 health_is web s2 down
check "with the status as the reason" \
    grep -q "service web: backend s2 (198.18.1.12) is down: 2 failed probes in a row, the last: HTTP status 500" "$D/mslbd.log"
check "new connections avoid s2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 200 \
    --concurrency 4 --timeout 3 --expect S1:1,S3:1 --tolerance 0.15
echo 200 >"$D/status-S2"
check "http: s2 answering 200 is up again" wait_for 10 health_is web s2 up

# An accepted status, but not the body asked for.
api GET /v1/services/web
doc=$("$PYTHON" -c '
import json, sys
s = json.loads(sys.stdin.read())
s["monitor"]["body"] = "no such text"
print(json.dumps(s))' <<<"$API_BODY")
check "a monitor asking for other text is accepted" expect_api 200 PUT /v1/services/web "$doc"
check "http: s1 without that text in its answer is down" \
    wait_for 10 health_is web s1 down
check "with that as the reason" \
    grep -qF 'service web: backend s1 (198.18.1.11) is down: 2 failed probes in a row, the last: HTTP status 200 without "no such text" in the body' "$D/mslbd.log"

# udp: a stopped server answers ICMP port unreachable.
spawn_stop srv-S1
check "udp: s1 down once its server stopped (port unreachable)" \
    wait_for 10 health_is dns s1 down refused
check "the reason names the ICMP" \
    grep -q "service dns: backend s1 (198.18.1.11) is down: 2 failed probes in a row, the last: port unreachable (ICMP)" "$D/mslbd.log"
check "udp: s2 still up" health_is dns s2 up

# icmp: a server that stops answering pings.
nsx s3 sysctl -qw net.ipv4.icmp_echo_ignore_all=1
check "icmp: s3 not answering pings is down" wait_for 10 health_is alt s3 down timeout
nsx s3 sysctl -qw net.ipv4.icmp_echo_ignore_all=0
check "icmp: s3 up again" wait_for 10 health_is alt s3 up

check "/metrics counts bad answers and refusals" sh -c "
    curl -s $REST_URL/metrics | grep -q '^mslb_health_results_total{result=\"bad\"} [1-9]'
    curl -s $REST_URL/metrics | grep -q '^mslb_health_results_total{result=\"refused\"} [1-9]'"
