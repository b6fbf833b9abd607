#!/usr/bin/env bash
# The model's sources with the database: an old JSON state file given as
# --state is imported once (kept as FILE.imported), served, and a restart
# uses the database; SIGHUP applies the config file without touching what
# the REST API created or changed, and deletes what the file no longer
# names.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"

nat_topo_up

# ---- 5. The old JSON state file.
nat_config "$D/state.json"
sum=$(md5sum <"$D/state.json")
mslbd_start /dev/null --state "$D/state.json" --rest "$REST_PORT"
wait_rest
check "the JSON state file is imported" \
    grep -q "importing the old state file $D/state.json (kept as $D/state.json.imported)" "$D/mslbd.out"
check "  ... and kept, untouched, as state.json.imported" \
    test "$(md5sum <"$D/state.json.imported")" = "$sum"
check "  ... state.json is now the database" \
    sh -c "head -c 6 $D/state.json | grep -q '^OVSDB '"
services_are() {   # services_are NAME...
    local want
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    expect_api 200 GET /v1/services
    test "$(json_get '" ".join(sorted(s["name"] for s in j["services"])) + " "')" = "$want"
}
check "the imported services are served" services_are alt dns web
check "  ... and installed" wait_for 20 br_in_step
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "traffic through the VIP" vip_works
check "a change over REST" expect_api 200 PATCH /v1/services/web/backends/s1 '{"weight": 7}'
g=$(generation)
mslbd_stop
mv "$D/mslbd.log" "$D/mslbd.log.1"
: >"$D/mslbd.out"
mslbd_start /dev/null --state "$D/state.json" --rest "$REST_PORT"
wait_rest
check "restart: nothing imported again" sh -c "! grep -q importing $D/mslbd.out"
check "  ... the database's model: same generation" test "$(generation)" = "$g"
check "  ... with the REST change" sh -c \
    "curl -sf $REST_URL/v1/services/web/backends/s1 | grep -q '\"weight\": *7'"
check "  ... state.json.imported untouched" \
    test "$(md5sum <"$D/state.json.imported")" = "$sum"
mslbd_stop
rm -f "$D/state.json" "$D/state.json.imported" "$D"/mslb-db.*
mv "$D/mslbd.log" "$D/mslbd.log.2"

# ---- 6. SIGHUP: the config file's objects, and only those.
nat_config "$D/mslb.json"
DB_CONFIG=$D/mslb.json db_start
check "config loaded" wait_for 20 br_in_step
check "REST creates service api1" expect_api 201 POST /v1/services \
    "{\"name\":\"api1\",\"vip\":\"$VIP\",\"protocol\":\"tcp\",\"port\":82,\"bridges\":[\"br-lb\"],\"backends\":[$(nat_backend 3 8081)]}"
check "REST changes config service web (s1 weight 3)" \
    expect_api 200 PATCH /v1/services/web/backends/s1 '{"weight": 3}'
# The new file: no alt, web as it was in the file, dns with two backends.
cat >"$D/mslb.json" <<JSON
{
  "bridges": [
    {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
     "backend_port": "back", "gateways": ["198.18.1.1"]}
  ],
  "services": [
    {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
     "bridges": ["br-lb"], "backends": [$(nat_backend 1 8080 10),$(nat_backend 2 8080 5)]},
    {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
     "bridges": ["br-lb"], "backends": [$(nat_backend 1 5353),$(nat_backend 2 5353)]}
  ]
}
JSON
g=$(generation)
kill -HUP "$(mslbd_pid)"
check "SIGHUP: config loaded" wait_for 10 \
    grep -q "config $D/mslb.json loaded: generation $((g + 1))" "$D/mslbd.log"
check "alt, removed from the file, is deleted" expect_api 404 GET /v1/services/alt
no_port81() { ! ofctl dump-flows br-lb | grep -q 'tp_dst=81'; }
check "  ... and its flows are gone" wait_for 10 no_port81
check "api1, created over REST, survives" expect_api 200 GET /v1/services/api1
web_s1_weight() {
    expect_api 200 GET /v1/services/web/backends/s1
    test "$(json_get 'j["weight"]')" = "$1"
}
check "web, changed over REST, keeps the change" web_s1_weight 3
check "  ... with a warning in the log" grep -q \
    "config: service web was changed over the REST API: kept as it is" "$D/mslbd.log"
dns_backends() {
    expect_api 200 GET /v1/services/dns/backends
    test "$(json_get 'len(j["backends"])')" = "$1"
}
check "dns, changed in the file, follows the file" dns_backends 2
check "the bridge = a fresh compile of the model" wait_for 20 flows_match_model "$D/mslb.json"
check "traffic through the VIP" vip_works
# A second reload of the same file changes nothing more.
kill -HUP "$(mslbd_pid)"
check "a second SIGHUP: loaded" wait_for 10 \
    sh -c "test \$(grep -c 'config $D/mslb.json loaded' $D/mslbd.log) -eq 2"
check "  ... api1 and web's change still there" sh -c \
    "curl -sf $REST_URL/v1/services/api1 >/dev/null && curl -sf $REST_URL/v1/services/web/backends/s1 | grep -q '\"weight\": *3'"
check "  ... alt still gone" expect_api 404 GET /v1/services/alt
