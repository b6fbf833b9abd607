#!/usr/bin/env bash
# The model's database under concurrent REST writers and foreign writers:
# 20 writers x 50 writes at once lose nothing and leave the bridge exactly
# as a fresh compile of the final model; generations are contiguous; rows
# an ovsdb-client writes that break a model rule are refused (problems,
# health degraded, flows unchanged) until fixed, rows the schema refuses
# never land; the generation persists across restarts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"

nat_topo_up
db_seed "$D/seed.json"
DB_CONFIG=$D/seed.json db_start
check "seeded: bridge in step" wait_for 20 br_in_step
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "web balances over s1 and s2" vip_works

# ---- 1. Concurrent writers.
g0=$(generation)
check "20 writers x 50 writes, bounded in time" \
    burst 1 --writers 20 --writes 50 --seconds 60
check "every acknowledged write is there, none half-applied" \
    burst_verify --strict-errors 1
g1=$(generation)
all_acked() { test "$(summary 's["acknowledged"]')" = 1000; }
check "all 1000 writes acknowledged (2xx)" all_acked
# Transactions may carry several writes, each transaction adds exactly 1.
gens_contiguous() {
    test "$(summary 's["min_generation"]')" = $((g0 + 1))
    test "$(summary 's["max_generation"]')" = "$g1"
    test "$(summary 's["contiguous"]')" = True
    test "$(summary 's["acknowledged_generations"]')" -le 1000
}
check "acknowledged generations are exactly $((g0 + 1))..final (one per transaction)" \
    gens_contiguous
log "generation $g0 -> $g1 for $(summary 's["acknowledged"]') writes"
check "the bridge installs the final generation" wait_for 30 br_in_step
# mslbd's status row says the same (written a few times per second).
status_row_in_step() {
    local g
    g=$(generation)
    ovsdb-client transact "$DBSOCK" '["MSLB",{"op":"select","table":"Bridge_Status","where":[["name","==","br-lb"]],"columns":["connected","installed_generation","desired_generation"]}]' \
        | "$PYTHON" -c 'import json, sys
r = json.load(sys.stdin)[0]["rows"]
g = int(sys.argv[1])
sys.exit(not (len(r) == 1 and r[0]["connected"] is True
              and r[0]["installed_generation"] == g
              and r[0]["desired_generation"] == g))' "$g"
}
check "Bridge_Status: br-lb connected, installed = desired = the generation" \
    wait_for 5 status_row_in_step
check "br-lb's flows and groups = a fresh compile of the final model" \
    flows_match_model "$D/seed.json"
check "web still balances" vip_works
# All writers on one backend: the last acknowledged write wins.
contend_ok() {
    "$PYTHON" "$TOOLS/rest_burst.py" contend "$REST_URL" web s1 \
        --writers 20 --writes 10 --seconds 60
}
check "20 writers x 10 PATCHes of web/s1: the highest acknowledged generation's weight is left" \
    contend_ok
check "  ... all 200 acknowledged" grep -q '"acknowledged": 200' "$D/logs/check.$CHECK_N.out"
check "the bridge = a fresh compile" wait_for 20 flows_match_model "$D/seed.json"

# ---- 4. Rows written by another database client.
# The model's rules that the schema cannot express: refused into
# Global.problems, the model and the flows keep the last valid state.
check "health ok before" health_is ok
lb_state >"$D/flows.before"
gen_before=$(generation)
bump='{"op":"mutate","table":"Global","where":[],"mutations":[["generation","+=",1]]}'
web_s2='[["name","==","s2"],["port","==",8080]]'
check "ovsdb-client: web's s2 gets an IPv6 address (vip is IPv4)" db_transact \
    "{\"op\":\"update\",\"table\":\"Backend\",\"where\":$web_s2,\"row\":{\"ip\":\"2001:db8::12\"}}, $bump"
check "Global.problems names service web and the reason" wait_for 10 \
    sh -c "ovsdb-client dump $DBSOCK MSLB Global problems | grep 'Service web' | grep -q 'address family'"
check "/v1/health: degraded" wait_for 10 health_is degraded
check "the log says the row was refused" \
    grep -q "database: Service web refused, the model keeps its last valid state" "$D/mslbd.log"
web_kept() {
    expect_api 200 GET /v1/services/web/backends/s2
    test "$(json_get 'j["ip"]')" = 198.18.1.12
}
check "the model keeps web's last valid version" web_kept
flows_same() {
    lb_state >"$D/flows.now"
    diff "$D/flows.before" "$D/flows.now" | cut -c1-200 | head -n 10
    cmp -s "$D/flows.before" "$D/flows.now"
}
check "the bridge's flows and groups are unchanged" flows_same
check "web still balances" vip_works
check "fixing the row: problem cleared" db_transact \
    "{\"op\":\"update\",\"table\":\"Backend\",\"where\":$web_s2,\"row\":{\"ip\":\"198.18.1.12\"}}, $bump"
no_problems() { test "$(problems)" = '{}'; }
check "  ... Global.problems empty" wait_for 10 no_problems
check "  ... health ok" wait_for 10 health_is ok
check "  ... flows still as before" flows_same

# A cross-service rule: one backend address, two MACs.
mac_clash="{\"op\":\"insert\",\"table\":\"Backend\",\"uuid-name\":\"nb\",
  \"row\":{\"name\":\"x\",\"ip\":\"198.18.1.11\",\"port\":8081,\"mac\":\"02:00:00:00:09:99\",\"weight\":1,\"state\":\"up\"}},
 {\"op\":\"mutate\",\"table\":\"Service\",\"where\":[[\"name\",\"==\",\"svc0\"]],
  \"mutations\":[[\"backends\",\"insert\",[\"set\",[[\"named-uuid\",\"nb\"]]]]]}, $bump"
check "ovsdb-client: svc0 gets web's s1 address with another MAC" db_transact "$mac_clash"
check "Global.problems names svc0 and the MAC" wait_for 10 \
    sh -c "ovsdb-client dump $DBSOCK MSLB Global problems | grep 'Service svc0' | grep -q 'mac: differs'"
check "/v1/health: degraded" wait_for 10 health_is degraded
check_fails "svc0 has no backend x" expect_api 200 GET /v1/services/svc0/backends/x
check "the bridge's flows and groups are unchanged" flows_same
check "fixing the MAC: accepted" db_transact \
    "{\"op\":\"update\",\"table\":\"Backend\",\"where\":[[\"name\",\"==\",\"x\"]],\"row\":{\"mac\":\"02:00:00:00:01:11\"}}, $bump"
check "  ... problem cleared, health ok" wait_for 10 health_is ok
check "  ... svc0 has backend x" expect_api 200 GET /v1/services/svc0/backends/x
check "  ... and the bridge = a fresh compile" wait_for 20 flows_match_model "$D/seed.json"

# A service naming a final-stage bridge as its (first-stage) bridge.
lb_state >"$D/flows.before"
check "ovsdb-client: svc1 moves to a new final-stage bridge br-fin" db_transact \
    "{\"op\":\"insert\",\"table\":\"Bridge\",\"uuid-name\":\"bf\",\"row\":{\"name\":\"br-fin\",\"role\":\"final\",\"ct_zone\":1}},
     {\"op\":\"update\",\"table\":\"Service\",\"where\":[[\"name\",\"==\",\"svc1\"]],\"row\":{\"bridges\":[\"named-uuid\",\"bf\"]}}, $bump"
check "Global.problems names svc1: not a first-stage bridge" wait_for 10 \
    sh -c "ovsdb-client dump $DBSOCK MSLB Global problems | grep 'Service svc1' | grep -q 'is not a first-stage bridge'"
# (Health is degraded here anyway: br-fin is in the model, not connected.)
svc1_on_br_lb() {
    expect_api 200 GET /v1/services/svc1
    test "$(json_get 'j["bridges"]')" = "['br-lb']"
}
check "svc1 stays on br-lb in the model" svc1_on_br_lb
check "the bridge's flows and groups are unchanged" flows_same
br_lb_uuid=$(dbq Bridge _uuid name | awk '$2 == "br-lb" {print $1}')
check "fixing it (back to br-lb, br-fin deleted): accepted" db_transact \
    "{\"op\":\"update\",\"table\":\"Service\",\"where\":[[\"name\",\"==\",\"svc1\"]],\"row\":{\"bridges\":[\"uuid\",\"$br_lb_uuid\"]}},
     {\"op\":\"delete\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"br-fin\"]]}, $bump"
check "  ... problem cleared, health ok" wait_for 10 health_is ok
check "  ... flows unchanged" flows_same

# A bridge-level rule: br-lb, which services use, turned final-stage.
check "ovsdb-client: br-lb's role becomes final" db_transact \
    "{\"op\":\"update\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"br-lb\"]],\"row\":{\"role\":\"final\"}}, $bump"
check "Global.problems names bridge br-lb" wait_for 10 \
    sh -c "ovsdb-client dump $DBSOCK MSLB Global problems | grep -q 'Bridge br-lb.*role: bridge is used by service'"
check "/v1/health: degraded" wait_for 10 health_is degraded
check "the bridge's flows and groups are unchanged" flows_same
check "web still balances" vip_works
check "fixing it: accepted" db_transact \
    "{\"op\":\"update\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"br-lb\"]],\"row\":{\"role\":\"first\"}}, $bump"
check "  ... problem cleared, health ok" wait_for 10 health_is ok
check "  ... flows unchanged" flows_same

# What the schema refuses never lands.
lb_state >"$D/flows.before"
g=$(generation)
db_rows() { dbq Service; dbq Backend; }
db_rows >"$D/db.before"
schema_refuses() {   # schema_refuses ROW_JSON WHAT
    db_transact "{\"op\":\"update\",\"table\":\"Backend\",\"where\":$web_s2,\"row\":$1}, $bump" \
        >"$D/transact.out" 2>&1 || true
    cat "$D/transact.out"
    grep -q "$2" "$D/transact.out"
}
check "weight 0: ovsdb error" schema_refuses '{"weight":0}' 'constraint violation'
check "state \"sideways\": ovsdb error" schema_refuses '{"state":"sideways"}' 'constraint violation'
rows_same() { db_rows | diff "$D/db.before" -; }
check "  ... nothing changed in the database" rows_same
check "  ... generation unchanged" test "$(generation)" = "$g"
check "  ... flows unchanged" flows_same

# ---- 7. The generation persists across restarts and keeps growing.
g=$(generation)
mslbd_stop
mv "$D/mslbd.log" "$D/mslbd.log.1"
db_start
check "after a clean restart: same generation $g" test "$(generation)" = "$g"
patch_web() {
    expect_api 200 PATCH /v1/services/web/backends/s1 "{\"weight\": $1}"
    test "$(json_get 'j["generation"]')" = "$2"
}
check "a write gives generation $((g + 1))" patch_web 2 $((g + 1))
dbpid=$(cat "$DBPID")
mslbd_kill9
gone() { ! kill -0 "$1" 2>/dev/null; }
check "mslbd's ovsdb-server $dbpid ends with mslbd (kill -9)" wait_for 5 gone "$dbpid"
mv "$D/mslbd.log" "$D/mslbd.log.2"
db_start
check "after kill -9 and restart: generation $((g + 1))" test "$(generation)" = $((g + 1))
check "  ... with the write in the model" sh -c \
    "curl -sf $REST_URL/v1/services/web/backends/s1 | grep -q '\"weight\": *2'"
check "the next write gives $((g + 2))" patch_web 1 $((g + 2))
check "the restarted daemon adopted the flows" wait_for 20 br_in_step
