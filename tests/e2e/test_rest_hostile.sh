#!/usr/bin/env bash
# A hostile client against the REST edge (docs/api.md, "The HTTP edge"):
# paths are matched on their raw segments, Content-Type as a media type,
# ?wait strictly; malformed HTTP gets the JSON error body too, never an
# HTML page; and idle or trickling connections cannot lock others out.
# Each refused request leaves the model, flows and groups as they were.
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
TOKEN=hostile-token-$RID
printf '%s\n' "$TOKEN" >"$D/token"
mslbd_start "$D/seed.json" --state "$D/state.json" --rest "$REST_PORT" \
    --rest-token-file "$D/token"
REST_AUTH=(-H "Authorization: Bearer $TOKEN")
wait_rest
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
RAW=("$PYTHON" "$TOOLS/rawhttp.py")

snapshot() {
    api GET /v1/services
    echo "$API_BODY" >"$1.model"
    ofctl dump-flows br-lb --no-stats | sort >"$1.flows"
    ofctl dump-groups br-lb | sort >"$1.groups"
}

unchanged() {
    diff "$D/before.model" "$D/after.model"
    diff "$D/before.flows" "$D/after.flows"
    diff "$D/before.groups" "$D/after.groups"
}

# curl_case STATUS CODE ERROR-PATH METHOD URL [BODY] [CONTENT-TYPE]: the URL
# is sent as is (--path-as-is, no globbing).
curl_case() {
    local status=$1 code=$2 epath=$3 method=$4 url=$5 body=${6:-}
    local ctype=${7:-application/json} got
    local args=(-s -g --path-as-is -o "$D/case.body" -w '%{http_code}'
                -X "$method" --max-time 20 "${REST_AUTH[@]}")
    if [ -n "$body" ]; then
        printf '%s' "$body" >"$D/case.in"
        args+=(-H "Content-Type: $ctype" --data-binary "@$D/case.in")
    fi
    snapshot "$D/before"
    got=$(curl "${args[@]}" "$REST_URL$url") || got=000
    snapshot "$D/after"
    API_BODY=$(cat "$D/case.body")
    [ "$got" = "$status" ] || { echo "status $got, want $status: $API_BODY"; return 1; }
    [ "$(json_get 'j["error"]["code"]')" = "$code" ] || { echo "code: $API_BODY"; return 1; }
    if [ "$epath" != - ]; then
        [ "$(json_get 'j["error"]["path"]')" = "$epath" ] || { echo "path: $API_BODY"; return 1; }
    fi
    unchanged
}
C() { check "$1 -> $2 $3" curl_case "$2" "$3" "${@:4}"; }

# raw_case STATUS CODE REQUEST [rawhttp options]: REQUEST is escaped text.
raw_case() {
    local want="$1 $2" req=$3 got
    shift 3
    snapshot "$D/before"
    got=$("${RAW[@]}" send 127.0.0.1 "$REST_PORT" "$req" --token "$TOKEN" "$@")
    snapshot "$D/after"
    echo "answer: $got"
    [ "${got% *}" = "$want" ] || { echo "want $want"; return 1; }
    unchanged
}
R() { check "$1 -> $2 $3" raw_case "$2" "$3" "${@:4}"; }

H='Host: x\r\n{auth}'
PATCH='{"weight": 3}'

# 1. Raw path segments: an encoding never names another resource.
C "NUL in a name"              404 not_found - DELETE '/v1/services/web%00junk'
C "encoded slash"              404 not_found - DELETE '/v1/services/web%2Fbackends%2Fs1'
C "encoded name"               404 not_found - GET '/v1/services/%77eb'
C "encoded name, write"        404 not_found - DELETE '/v1/services/%77eb'
C "dot-dot segments"           404 not_found - DELETE '/v1/services/web/backends/../../web'
C "dot segment"                404 not_found - DELETE '/v1/services/./web'
C "empty segment"              404 not_found - DELETE '/v1//services/web'
C "trailing slash"             404 not_found - DELETE '/v1/services/web/'
C "encoded space"              404 not_found - PATCH '/v1/services/web/backends/s1%20' "$PATCH"
C "too many segments"          404 not_found - GET '/v1/services/web/backends/s1/x'
R "dot-dot, raw request"       404 not_found "DELETE /v1/services/x/../web HTTP/1.1\r\n$H\r\n"
# 2. Content-Type is a media type.
C "application/jsonx"          415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" application/jsonx
C "application/json-seq"       415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" application/json-seq
C "text/json"                  415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" text/json
C "charset latin1"             415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" 'application/json; charset=latin1'
C "empty parameter"            415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" 'application/json;'
C "garbage after type"         415 unsupported_media_type - PATCH /v1/services/web/backends/s1 "$PATCH" 'application/json garbage'
# 3. ?wait: one integer 0-300; no other parameters.
C "wait twice"                 422 invalid wait DELETE '/v1/services/web?wait=1&wait=2'
C "wait empty"                 422 invalid wait DELETE '/v1/services/web?wait='
C "wait without value"         422 invalid wait DELETE '/v1/services/web?wait'
C "wait=+1"                    422 invalid wait DELETE '/v1/services/web?wait=+1'
C "wait=01x"                   422 invalid wait DELETE '/v1/services/web?wait=01x'
C "wait=301"                   422 invalid wait DELETE '/v1/services/web?wait=301'
C "wait=-1"                    422 invalid wait DELETE '/v1/services/web?wait=-1'
C "wait=%31 (encoded)"         422 invalid wait DELETE '/v1/services/web?wait=%31'
C "wait=1e2"                   422 invalid wait DELETE '/v1/services/web?wait=1e2'
C "unknown parameter"          422 invalid force DELETE '/v1/services/web?force=1'
C "encoded parameter name"     422 invalid 'w%61it' DELETE '/v1/services/web?w%61it=1'
C "parameter on a read"        422 invalid x GET '/v1/services?x'
# 4. Malformed HTTP: JSON errors, never HTML.
R "no HTTP version"            400 bad_request 'GET /v1/services\r\n\r\n'
R "two spaces"                 400 bad_request "GET  /v1/services HTTP/1.1\r\n$H\r\n"
R "not a path"                 400 bad_request "GET http://x/v1/services HTTP/1.1\r\n$H\r\n"
R "HTTP/2.0"                   505 http_version_not_supported "GET /v1/services HTTP/2.0\r\n$H\r\n"
R "garbage version"            400 bad_request "GET /v1/services HTTX/1.1\r\n$H\r\n"
R "HTTP/1.1 without Host"      400 bad_request 'GET /v1/services HTTP/1.1\r\n{auth}\r\n'
R "two Host headers"           400 bad_request "GET /v1/services HTTP/1.1\r\nHost: a\r\n$H\r\n"
R "header without colon"       400 bad_request "GET /v1/services HTTP/1.1\r\n${H}Bogus\r\n\r\n"
R "space before colon"         400 bad_request "GET /v1/services HTTP/1.1\r\n${H}X-A : 1\r\n\r\n"
R "folded header"              400 bad_request "GET /v1/services HTTP/1.1\r\n${H}X-A: 1\r\n 2\r\n\r\n"
R "bare LF"                    400 bad_request "GET /v1/services HTTP/1.1\n${H}\r\n"
R "NUL in a header"            400 bad_request "GET /v1/services HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
R "unknown method"             405 method_not_allowed "BREW /v1/services HTTP/1.1\r\n$H\r\n"
R "lower-case method"          405 method_not_allowed "delete /v1/services/web HTTP/1.1\r\n$H\r\n"
R "unknown method, no path"    404 not_found "BREW /coffee HTTP/1.1\r\n$H\r\n"
long=$(head -c 3000 /dev/zero | tr '\0' a)
R "URL of 3000 bytes"          414 uri_too_long "GET /v1/services/$long HTTP/1.1\r\n$H\r\n"
R "headers of 9000 bytes"      431 headers_too_large "GET /v1/services HTTP/1.1\r\n${H}X-Big: $long$long$long\r\n\r\n"
R "Content-Length not a number" 400 bad_request "POST /v1/services HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 1x\r\n\r\n{}"
R "two Content-Lengths"        400 bad_request "POST /v1/services HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
R "chunked body"               411 length_required "POST /v1/services HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
# The body is never sent: the answer must come at once.
huge_fast() {
    local got
    got=$("${RAW[@]}" send 127.0.0.1 "$REST_PORT" "POST /v1/services HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n" --token "$TOKEN")
    echo "answer: $got"
    [ "${got% *}" = "413 payload_too_large" ]
    awk -v s="${got##* }" 'BEGIN { exit !(s < 2) }'
}
check "huge Content-Length -> 413 before the body" huge_fast
# A head trickled byte by byte is cut at the deadline (10 s from connecting)
# even though bytes keep coming.
trickle() {
    local got
    # 80 bytes at 0.2 s: 16 s at most, however the server behaves.
    got=$("${RAW[@]}" send 127.0.0.1 "$REST_PORT" "GET /v1/services HTTP/1.1\r\n${H}X-Slow: ${long:0:40}" --token "$TOKEN" --slow 0.2)
    echo "answer: $got"
    [ "${got% *}" = "408 timeout" ]
    awk -v s="${got##* }" 'BEGIN { exit !(s >= 9 && s < 13) }'
}
check "trickled head -> 408 at the deadline" trickle

# The good forms still work.
good_forms() {
    curl -sf -g --path-as-is "${REST_AUTH[@]}" -X PATCH \
        -H 'Content-Type: APPLICATION/JSON ; Charset="UTF-8"' \
        --data-binary '{"weight": 2}' "$REST_URL/v1/services/web/backends/s1?wait=0" >/dev/null
    curl -sf -g "${REST_AUTH[@]}" -X PATCH -H 'Content-Type: application/json;charset=utf-8' \
        --data-binary '{"weight": 1}' "$REST_URL/v1/services/web/backends/s1?wait=300" >/dev/null
    curl -sf -g "${REST_AUTH[@]}" "$REST_URL/v1/services/web" | grep -q '"weight": 1'
}
check "media type in any case with parameters; wait=0 and wait=300" good_forms

# 5. Connection exhaustion: 300 idle connections from 127.0.0.1; the API
# still answers another address at once, this one with 503, and this one
# again after the head deadline.
flood() {
    "${RAW[@]}" flood 127.0.0.1 "$REST_PORT" --token "$TOKEN" --count 300 \
        --other 127.0.0.2
}
check "300 idle connections lock nobody out" flood
sed 's/^/    # /' "$D/logs/check.$CHECK_N.out"
check "still serving after the flood" expect_api 200 GET /v1/services/web
