# shellcheck shell=bash
# Helpers for tests that drive mslbd's REST API (source after lib.sh).

# Below the ephemeral range (32768-60999), so that no client connection
# on this busy machine holds it when mslbd binds.
REST_PORT=$((20000 + 0x${RID:0:4} % 12000))
REST_URL=${REST_URL:-http://127.0.0.1:$REST_PORT}
REST_AUTH=()

# api METHOD PATH [BODY]: prints the body, then "HTTP NNN" on its own line.
api() {
    local method=$1 path=$2 body=${3:-}
    local args=(-s -S -o "$D/api.body" -w '%{http_code}' -X "$method"
                --max-time 30 ${REST_AUTH[@]+"${REST_AUTH[@]}"})
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    API_STATUS=$(curl "${args[@]}" "$REST_URL$path" 2>"$D/api.err") || API_STATUS=000
    API_BODY=$(cat "$D/api.body" 2>/dev/null || true)
}

# expect_api STATUS METHOD PATH [BODY]: fails unless the status matches.
expect_api() {
    local want=$1
    shift
    api "$@"
    if [ "$API_STATUS" != "$want" ]; then
        echo "$* -> HTTP $API_STATUS, expected $want: $API_BODY" >&2
        return 1
    fi
}

# jq-less JSON field access: json_get EXPR (python expression on 'j').
json_get() {
    "$PYTHON" -c 'import json,sys; j=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$API_BODY"
}

wait_rest() {
    wait_for 10 curl -s -o /dev/null ${REST_AUTH[@]+"${REST_AUTH[@]}"} "$REST_URL/v1/health"
}
