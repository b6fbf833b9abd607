# shellcheck shell=bash
# Helpers for the database-backed control plane tests (source after
# lib.sh, nat_topo.sh and rest_lib.sh).  mslbd runs with --db $DB, so its
# ovsdb-server's socket and pidfile are next to it.

DB=$D/mslb.db
DBSOCK=unix:$D/mslb-db.sock
DBPID=$D/mslb-db.pid
MSLB_COMPILE=${MSLB_COMPILE:-$E2E_DIR/../../build/mslb-compile}

# db_seed FILE [EXTRA_SERVICES_JSON]: br-lb, service web (tcp/80 over s1
# and s2, real servers) and four services svc0..svc3 (tcp/1001..1004, no
# backends) for write bursts.
db_seed() {
    local extra=${2:-}
    local i svcs=""
    for i in 0 1 2 3; do
        svcs+=$(printf ',{"name":"svc%s","vip":"%s","protocol":"tcp","port":%s,"bridges":["br-lb"],"backends":[]}' \
            "$i" "$VIP" "$((1001 + i))")
    done
    cat >"$1" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}],
 "services": [{"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
               "bridges": ["br-lb"],
               "backends": [$(nat_backend 1 8080), $(nat_backend 2 8080)]}
              $svcs $extra]}
JSON
}

# db_start [ARGS...]: mslbd with --db $DB and the REST API; waits for it.
db_start() {
    mslbd_start "${DB_CONFIG:-/dev/null}" --db "$DB" --rest "$REST_PORT" "$@"
    wait_rest
}

# generation: the model's generation (GET /v1/health).
generation() {
    curl -sf --max-time 10 "$REST_URL/v1/health" \
        | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["generation"])'
}

health_is() {
    expect_api 200 GET /v1/health
    test "$(json_get 'j["status"]')" = "$1"
}

# br_in_step: br-lb installed the model's current generation.
br_in_step() {
    local g
    g=$(generation)
    expect_api 200 GET /v1/bridges/br-lb
    test "$(json_get 'j["installed_generation"]')" = "$g"
    test "$(json_get 'j["desired_generation"]')" = "$g"
}

# dbq TABLE COLUMN...: ovsdb-client dump of mslbd's database.
dbq() { ovsdb-client --timeout=10 dump "$DBSOCK" MSLB "$@"; }

# db_transact JSON_OPS: ovsdb-client transact '["MSLB", OPS]'; prints the
# server's answer.
db_transact() {
    ovsdb-client --timeout=10 transact "$DBSOCK" "[\"MSLB\", $1]"
}

# problems: Global.problems as one line.
problems() { dbq Global problems | tail -n 1; }

# lb_state: br-lb's flows and groups, without counters, sorted.
lb_state() {
    {
        ofctl -O OpenFlow15 dump-flows br-lb --no-stats
        ofctl -O OpenFlow15 dump-groups br-lb
    } | grep -v '^OFPST_.* reply\|^$' | sed 's/^ *//' | sort
}

# Flows and groups in mslb-compile's form: no spaces, "table=0" spelled
# out, no bucket ids, weight 1 spelled out (OpenFlow 1.5 dumps leave it).
_canon_switch() {
    lb_state | sed -E 's/, /,/g; s/ actions=/,actions=/; s/bucket_id:[0-9]+,//g; s/bucket=actions=/bucket=weight:1,actions=/g' \
        | sed -E '/^cookie=[^,]*,priority=/s/^(cookie=[^,]*),/\1,table=0,/' | sort
}

# flows_match_model SEED: br-lb holds exactly what a fresh compile of the
# model (SEED's bridges plus the services GET /v1/services returns) gives.
flows_match_model() {
    local seed=$1
    curl -sf --max-time 10 "$REST_URL/v1/services" >"$D/model.services.json"
    "$PYTHON" - "$seed" "$D/model.services.json" >"$D/model.now.json" <<'PY'
import json, sys
seed = json.load(open(sys.argv[1]))
svcs = json.load(open(sys.argv[2]))["services"]
print(json.dumps({"bridges": seed["bridges"], "services": svcs}))
PY
    "$MSLB_COMPILE" --of15 "$D/model.now.json" br-lb "$(ofport front)" \
        "$(ofport back)" | sort >"$D/flows.want"
    _canon_switch >"$D/flows.got"
    test -s "$D/flows.want"
    diff "$D/flows.want" "$D/flows.got" >"$D/flows.diff" || {
        echo "br-lb differs from a fresh compile ($(wc -l <"$D/flows.diff") diff lines):"
        cut -c1-300 "$D/flows.diff" | head -n 20
        return 1
    }
}

# warm_up: the client and the servers resolve the VIP and the gateway
# (ARP) before the first connections are counted, as test_nat_traffic does.
warm_up() {
    nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
    nsx s1 ping -c 2 -i 0.2 -W 2 198.18.1.1
    nsx s2 ping -c 2 -i 0.2 -W 2 198.18.1.1
}

# vip_works: 20 connections to the VIP on port 80 all answered.
vip_works() {
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 20 \
        --concurrency 4 --timeout 2
}

# burst TAG [rest_burst.py run options]: 20 writers x 50 writes, results in
# $D/burst.TAG.json, summary on stdout.
burst() {
    local tag=$1
    shift
    "$PYTHON" "$TOOLS/rest_burst.py" run "$REST_URL" --tag "$tag" \
        --out "$D/burst.$tag.json" "$@"
}

# burst_verify [--strict-errors] TAGS...: every acknowledged write is
# there, nothing half-applied; summary in $D/verify.json.
burst_verify() {
    local opts=() files=() t
    for t in "$@"; do
        case $t in
            --*) opts+=("$t") ;;
            *) files+=("$D/burst.$t.json") ;;
        esac
    done
    "$PYTHON" "$TOOLS/rest_burst.py" verify "$REST_URL" \
        ${opts[@]+"${opts[@]}"} --summary "$D/verify.json" "${files[@]}"
}

# summary EXPR: a python expression on the last verify summary 's'.
summary() {
    "$PYTHON" -c 'import json,sys; s=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' \
        "$1" "$D/verify.json"
}
