# shellcheck shell=bash
# tests/e2e/health_lib.sh: checks of health monitors for the DSR modes'
# tests (test_health_l3dsr/tun/mslb; source after lib.sh and rest_lib.sh).
# The service under test is $HSVC (default "web") at $VIP port 80, the
# client c1, servers named S1, S2... as backends s1, s2...
#
#   health_is B STATE        B's health.state is STATE and health.last
#                            "success" for up, a failure for down
#   health_field B EXPR      EXPR (python, on the health object 'h')
#   service_field EXPR       EXPR (python, on the service 's')
#   conns COUNT EXPECT       lbclient, 0 errors, shares as EXPECT
#   conns_avoid COUNT B...   COUNT connections, 0 errors, none to the
#                            servers B... (names S1...), some to each other
#   down_within B T0 LIMIT   B is down, and was within LIMIT s of T0
#   stray_count              mslb_health_results_total{result="stray"}
#   health_all_up B...       each of B... is up (health_is)
#   stayed_up B...           each up, never logged down
#   transitions_are N        exactly N transitions logged

HSVC=${HSVC:-web}

health_field() {
    api GET "/v1/services/$HSVC/backends/$1"
    [ "$API_STATUS" = 200 ] || return 1
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
print(eval(sys.argv[1]))' "$2" <<<"$API_BODY"
}

health_is() {   # health_is BACKEND up|down
    api GET "/v1/services/$HSVC/backends/$1"
    [ "$API_STATUS" = 200 ] || return 1
    "$PYTHON" -c '
import json, sys
h = json.loads(sys.stdin.read()).get("health", {})
want = sys.argv[1]
last = h.get("last")
ok = h.get("state") == want and last and \
    ((last == "success") == (want == "up"))
sys.exit(not ok)' "$2" <<<"$API_BODY"
}

service_field() {
    api GET "/v1/services/$HSVC"
    "$PYTHON" -c 'import json,sys; s=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$API_BODY"
}

conns() {   # conns COUNT EXPECT
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count "$1" \
        --concurrency 4 --timeout 3 --expect "$2" --tolerance 0.15
}

# conns_avoid COUNT SERVER...: COUNT connections to the VIP, none failing,
# none answered by SERVER..., every other server of S1..S$HSERVERS some.
conns_avoid() {
    local n=$1 out
    shift
    out=$(nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count "$n" \
        --concurrency 4 --timeout 3)
    echo "$out"
    "$PYTHON" -c '
import json, sys
j = json.loads(sys.argv[1])
avoid = sys.argv[3:]
n = int(sys.argv[2])
others = ["S%d" % i for i in range(1, n + 1) if "S%d" % i not in avoid]
bad = [a for a in avoid if j.get(a, 0)]
idle = [o for o in others if not j.get(o, 0)]
sys.exit(bool(j["errors"] or bad or idle))' "$out" "${HSERVERS:-3}" "$@"
}

# down_within BACKEND T0 LIMIT: BACKEND is down, the first time it was
# seen down no later than LIMIT s after T0 (date +%s.%N).
down_within() {
    local b=$1 t0=$2 limit=$3 elapsed
    wait_for 15 health_is "$b" down || return 1
    elapsed=$("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))")
    echo "down after $elapsed s (limit $limit s)"
    "$PYTHON" -c "import sys; sys.exit(not $elapsed <= $limit)"
}

stray_count() {
    curl -s "$REST_URL/metrics" \
        | awk '/^mslb_health_results_total\{result="stray"\}/ {print $2}'
}


# health_all_up B...: each of B... is up, its last probe a success.
health_all_up() {
    local b
    for b in "$@"; do
        health_is "$b" up || { echo "$b: $API_BODY"; return 1; }
    done
}

# stayed_up B...: each of B... is up and was never logged down.
stayed_up() {
    health_all_up "$@"
    local b
    for b in "$@"; do
        ! grep "service $HSVC: backend $b (.* is down" "$D/mslbd.log" || return 1
    done
}

# transitions_are N: mslbd logged exactly N transitions of $HSVC's
# backends (printed), i.e. none but those the test caused.
transitions_are() {
    local n
    grep "service $HSVC: backend .* is \(up\|down\)" "$D/mslbd.log" || true
    n=$(grep -c "service $HSVC: backend .* is \(up\|down\)" "$D/mslbd.log" || true)
    echo "$n transitions, expected $1"
    [ "$n" -eq "$1" ]
}
