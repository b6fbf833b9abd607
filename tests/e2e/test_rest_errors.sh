#!/usr/bin/env bash
# Bad input over real HTTP: every case gets its documented status and error
# code, and after each one the model (GET) and the bridge's flows
# (dump-flows) are exactly as before.  Also: bearer token, HTTPS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"

ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
cat >"$D/seed.json" <<'JSON'
{"bridges": [{"name": "br-lb", "mac": "0a:00:00:00:00:01",
              "frontend_port": "front", "backend_port": "back"}],
 "services": [{"name": "web", "vip": "198.18.0.100", "protocol": "tcp",
   "port": 80, "bridges": ["br-lb"], "backends": [
     {"name": "s1", "ip": "198.18.1.11", "mac": "02:00:00:00:01:11"}]}]}
JSON
printf 'secret-token-%s\n' "$RID" >"$D/token"
mslbd_start "$D/seed.json" --state "$D/state.json" --rest "$REST_PORT" \
    --rest-token-file "$D/token"
REST_AUTH=(-H "Authorization: Bearer secret-token-$RID")
wait_rest
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

snapshot() {
    api GET /v1/services
    echo "$API_BODY" >"$1.model"
    ofctl dump-flows br-lb --no-stats | sort >"$1.flows"
    ofctl dump-groups br-lb | sort >"$1.groups"
}

svc() {   # svc FIELD=JSON...: the valid service with fields replaced
    "$PYTHON" - "$@" <<'PY'
import json, sys
s = {"name": "api", "vip": "198.18.0.101", "protocol": "tcp", "port": 443,
     "bridges": ["br-lb"],
     "backends": [{"name": "a", "ip": "198.18.1.21", "port": 8443,
                   "mac": "02:00:00:00:01:21", "weight": 5}]}
for arg in sys.argv[1:]:
    path, value = arg.split("=", 1)
    obj = s
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj[int(k)] if k.isdigit() else obj[k]
    last = keys[-1]
    if value == "DELETE":
        del obj[last]
    else:
        obj[int(last) if last.isdigit() else last] = json.loads(value)
print(json.dumps(s))
PY
}

# case STATUS CODE PATH-OF-ERROR METHOD URL [BODY] [CONTENT-TYPE]
run_case() {
    local status=$1 code=$2 epath=$3 method=$4 url=$5 body=${6:-}
    local ctype=${7:-application/json}
    local args=(-s -o "$D/case.body" -w '%{http_code}' -X "$method"
                --max-time 20 ${REST_AUTH[@]+"${REST_AUTH[@]}"})
    if [ -n "$body" ]; then
        args+=(-H "Content-Type: $ctype" --data-binary "@$D/case.in")
        printf '%s' "$body" >"$D/case.in"
    fi
    snapshot "$D/before"
    got=$(curl "${args[@]}" "$REST_URL$url") || got=000
    snapshot "$D/after"
    API_BODY=$(cat "$D/case.body")
    [ "$got" = "$status" ] || { echo "status $got, want $status: $API_BODY"; return 1; }
    [ "$(json_get 'j["error"]["code"]')" = "$code" ] \
        || { echo "code: $API_BODY"; return 1; }
    if [ "$epath" != - ]; then
        [ "$(json_get 'j["error"]["path"]')" = "$epath" ] \
            || { echo "path: $API_BODY"; return 1; }
    fi
    diff "$D/before.model" "$D/after.model"
    diff "$D/before.flows" "$D/after.flows"
    diff "$D/before.groups" "$D/after.groups"
}

T() { check "$1 -> $2 $3" run_case "$2" "$3" "${@:4}"; }

T "malformed JSON"          400 malformed_json -    POST /v1/services '{"name": "api",'
T "not an object"           422 invalid None         POST /v1/services '[1,2]'
T "wrong type: port"        422 invalid port         POST /v1/services "$(svc 'port="443"')"
T "wrong type: backends"    422 invalid backends     POST /v1/services "$(svc 'backends={}')"
T "unknown key"             422 invalid color        POST /v1/services "$(svc 'color="red"')"
T "unknown key in backend"  422 invalid backends[0].colour POST /v1/services "$(svc 'backends.0.colour=1')"
T "missing vip"             422 invalid vip          POST /v1/services "$(svc vip=DELETE)"
T "weight 0"                422 invalid backends[0].weight POST /v1/services "$(svc 'backends.0.weight=0')"
T "weight 10001"            422 invalid backends[0].weight POST /v1/services "$(svc 'backends.0.weight=10001')"
T "weight 1.5"              422 invalid backends[0].weight POST /v1/services "$(svc 'backends.0.weight=1.5')"
T "port 0"                  422 invalid port         POST /v1/services "$(svc 'port=0')"
T "port 65536"              422 invalid port         POST /v1/services "$(svc 'port=65536')"
T "backend port 70000"      422 invalid backends[0].port POST /v1/services "$(svc 'backends.0.port=70000')"
T "bad vip"                 422 invalid vip          POST /v1/services "$(svc 'vip="198.18.0.300"')"
T "bad mac"                 422 invalid backends[0].mac POST /v1/services "$(svc 'backends.0.mac="02:00:00:00:01"')"
T "mixed address families"  422 invalid backends[0].ip POST /v1/services "$(svc 'backends.0.ip="2001:db8::21"')"
T "protocol sctp"           422 invalid protocol     POST /v1/services "$(svc 'protocol="sctp"')"
T "mss 100"                 422 invalid mss          POST /v1/services "$(svc 'mss=100')"
T "mss on udp"              422 invalid mss          POST /v1/services "$(svc 'protocol="udp"' 'mss=1400')"
T "unknown bridge"          422 invalid bridges[0]   POST /v1/services "$(svc 'bridges=["br-x"]')"
T "duplicate VIP"           409 conflict -           POST /v1/services "$(svc 'vip="198.18.0.100"' 'port=80')"
T "duplicate name"          409 conflict name        POST /v1/services "$(svc 'name="web"')"
T "duplicate backend"       409 conflict name        POST /v1/services/web/backends '{"name":"s1","ip":"198.18.1.12","mac":"02:00:00:00:01:12"}'
T "same IP, other MAC"      422 invalid -            POST /v1/services "$(svc 'backends.0.ip="198.18.1.11"')"
T "PUT name mismatch"       422 invalid name         PUT /v1/services/other "$(svc)"
T "patch: bad state"        422 invalid state        PATCH /v1/services/web/backends/s1 '{"state":"off"}'
T "patch: empty"            422 invalid None         PATCH /v1/services/web/backends/s1 '{}'
T "patch: unknown backend"  404 not_found -          PATCH /v1/services/web/backends/zz '{"weight":2}'
T "unknown service"         404 not_found -          GET /v1/services/nope
T "unknown resource"        404 not_found -          GET /v1/nothing
T "wrong method"            405 method_not_allowed - DELETE /v1/services
T "wrong method on health"  405 method_not_allowed - POST /v1/health '{}'
T "text/plain body"         415 unsupported_media_type - POST /v1/services "$(svc)" text/plain
T "delete a used bridge"    409 conflict -           DELETE /v1/bridges/br-lb
T "bad wait"                422 invalid wait         DELETE '/v1/services/web?wait=abc'
big=$(head -c 1100000 /dev/zero | tr '\0' ' ')
T "oversize body"           413 payload_too_large -  POST /v1/services "{$big}"
REST_AUTH=()
T "missing token"           401 unauthorized -       GET /v1/services
REST_AUTH=(-H "Authorization: Bearer wrong")
T "wrong token"             401 unauthorized -       POST /v1/services "$(svc)"
REST_AUTH=(-H "Authorization: Bearer secret-token-$RID")

check "405 names the allowed methods" sh -c \
    "curl -s -i -X DELETE -H 'Authorization: Bearer secret-token-$RID' $REST_URL/v1/services | grep -qi '^Allow: GET, POST'"
good() { expect_api 201 POST /v1/services "$(svc)"; }
check "the valid body is accepted afterwards" good

# HTTPS with a certificate and key.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
mslbd_stop
mslbd_start /dev/null --state "$D/state.json" --rest "$REST_PORT" \
    --rest-cert "$D/cert.pem" --rest-key "$D/key.pem"
https_ok() {
    curl -s --cacert "$D/cert.pem" "https://127.0.0.1:$REST_PORT/v1/services/api" \
        | grep -q '"vip": "198.18.0.101"'
}
check "HTTPS with the given certificate" wait_for 10 https_ok
# Under TLS mslbd cannot peek at the head: these come from the handler.
https_refused() {   # https_refused STATUS CODE CURL-ARGS...
    local want="$1 $2" got
    shift 2
    got=$(curl -s --cacert "$D/cert.pem" --max-time 10 -o "$D/tls.body" \
        -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@" \
        "https://127.0.0.1:$REST_PORT/v1/services")
    API_BODY=$(cat "$D/tls.body")
    echo "$got $API_BODY"
    [ "$got $(json_get 'j["error"]["code"]')" = "$want" ]
}
check "HTTPS: huge Content-Length -> 413 before the body" \
    https_refused 413 payload_too_large -H 'Content-Length: 99999999999' --data-binary x
check "HTTPS: chunked body -> 411" \
    https_refused 411 length_required -H 'Transfer-Encoding: chunked' --data-binary '{}'
check "HTTPS: NUL in a name -> 404" sh -c \
    "curl -s --cacert $D/cert.pem -o /dev/null -w '%{http_code}' -X DELETE https://127.0.0.1:$REST_PORT/v1/services/api%00x | grep -qx 404 && curl -sf --cacert $D/cert.pem https://127.0.0.1:$REST_PORT/v1/services/api >/dev/null"
check_fails "plain HTTP is refused on the HTTPS port" \
    curl -sf --max-time 5 "http://127.0.0.1:$REST_PORT/v1/health"
