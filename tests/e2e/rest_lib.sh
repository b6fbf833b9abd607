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

# stats_save FILE: GET /v1/stats into FILE.
stats_save() {
    api GET /v1/stats
    printf '%s' "$API_BODY" >"$1"
}

# stats_grew SERVICE BEFORE COUNTS [FLAGS]: since the stats in file
# BEFORE, every backend sN of SERVICE got as many new sessions as server
# SN answered connections in COUNTS (lbclient's output), with request
# packets (at least 3 per connection: SYN, ACK, request) and no session
# left open; a backend SN did not answer got none; the service counted
# the clients' packets once (no more than its backends got).  FLAGS, a
# comma-separated list: "replies": each backend's answers are counted too
# (at least 2 per connection: SYN-ACK, answer), else they must be null
# (DSR without a final stage); "open": sessions may still be open (a
# long connection runs meanwhile).
# Run under wait_for: the switch's counters lag up to 1 s.
stats_grew() {
    api GET /v1/stats
    "$PYTHON" - "$1" "$2" "$3" "$D/api.body" "${4:-}" <<'PY'
import json, sys
svc, before, counts, after, flags = sys.argv[1:]
flags = flags.split(",")
replies = "replies" in flags
def service(path):
    j = json.load(open(path))
    return [s for s in j["services"] if s["name"] == svc][0]
s0, s1 = service(before), service(after)
b0 = {b["name"]: b for b in s0["backends"]}
b1 = {b["name"]: b for b in s1["backends"]}
want = json.load(open(counts))
ok = True
sum_pk = 0
for name, b in sorted(b1.items()):
    n = want.get("S" + name[1:], 0) if name[:1] == "s" else 0
    old = b0.get(name, {"sessions": 0, "packets": 0, "reply_packets": 0})
    got = b["sessions"] - old["sessions"]
    pk = b["packets"] - old["packets"]
    sum_pk += pk
    rp = b["reply_packets"]
    if rp is not None:
        rp -= old["reply_packets"] or 0
    print("%s %s: %d new sessions (lbclient: %d), %d request packets, "
          "%s reply packets, %s open"
          % (svc, name, got, n, pk, rp, b["active_sessions"]))
    # lbclient's connections are closed: none open (TCP services).
    rok = rp is not None and rp >= 2 * n if replies else rp is None
    ok = (ok and got == n and pk >= 3 * n and rok
          and ("open" in flags or b["active_sessions"] in (0, None)))
spk = s1["packets"] - s0["packets"]
print("%s: %d packets from clients, %d to its backends" % (svc, spk, sum_pk))
ok = ok and spk <= sum_pk * 1.1 + 20
sys.exit(0 if ok and b1 else 1)
PY
}

# stats_grew_soon ARGS...: stats_grew within 5 s; what it saw printed
# (kept in the check's log).
stats_grew_soon() {
    local rc=0
    wait_for 5 stats_grew "$@" || rc=$?
    stats_grew "$@" || true
    return $rc
}

# open_sessions_held SERVICE CLIENT VIP PORT: six long TCP connections
# from host CLIENT to VIP:PORT (lbstream.py, 6 s each): every backend sN
# of SERVICE shows as open sessions the streams server SN holds, then,
# once they closed, none.
open_sessions_held() {
    local svc=$1 client=$2 vip=$3 port=$4 i
    rm -f "$D"/held*.backend
    for i in 1 2 3 4 5 6; do
        spawn_in "$client" "held$i" "$PYTHON" "$TOOLS/lbstream.py" "$vip" \
            "$port" --seconds 6 --max-stall 3 --name-file "$D/held$i.backend"
    done
    for i in 1 2 3 4 5 6; do
        wait_for 10 test -s "$D/held$i.backend" || return 1
    done
    cat "$D"/held*.backend >"$D/held.names"
    check "$svc: 6 open sessions counted on the backends that hold them" \
        open_sessions_soon "$svc" "$D/held.names"
    for i in 1 2 3 4 5 6; do spawn_wait "held$i" 30; done
    : >"$D/held.names"
    check "$svc: the streams closed, no open session" \
        open_sessions_soon "$svc" "$D/held.names"
}

# open_sessions_soon SERVICE NAMES: open_sessions_are within 5 s (the
# switch's counters lag up to 1 s); its last answer printed if not.
open_sessions_soon() {
    wait_for 5 open_sessions_are "$@" || { open_sessions_are "$@"; false; }
}

# open_sessions_are SERVICE NAMES: every backend sN of SERVICE has as many
# open sessions as file NAMES has lines SN.
open_sessions_are() {
    api GET /v1/stats
    "$PYTHON" - "$1" "$2" "$D/api.body" <<'PY'
import json, sys
svc, names, body = sys.argv[1:]
held = [l.strip() for l in open(names) if l.strip()]
ok = True
j = json.load(open(body))
for s in j["services"]:
    if s["name"] != svc:
        continue
    for b in s["backends"]:
        want = held.count("S" + b["name"][1:])
        print("%s %s: %s open (streams: %d)"
              % (svc, b["name"], b["active_sessions"], want))
        ok = ok and b["active_sessions"] == want
    ok = ok and s["active_sessions"] == len(held)
sys.exit(0 if ok else 1)
PY
}
