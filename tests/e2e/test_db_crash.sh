#!/usr/bin/env bash
# Crashes during a burst of REST writes (20 writers): mslbd killed with -9
# and restarted on the same --db keeps every acknowledged write, nothing
# half-applied, the generation does not go back, and a TCP stream through
# the VIP keeps flowing; mslbd's ovsdb-server killed with -9 is restarted
# by mslbd, which reconnects: no write answered 2xx is lost, errors are
# 503/409, never a false success, and health comes back to ok.
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

# gen_above N: the model's generation is above N.
gen_above() { test "$(generation)" -gt "$1"; }

# ---- 2. kill -9 mslbd in the middle of a burst.
g0=$(generation)
spawn_in c1 stream "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 14 \
    --max-stall 4
spawn burst1 "$PYTHON" "$TOOLS/rest_burst.py" run "$REST_URL" --tag 1 \
    --out "$D/burst.1.json" --seconds 30 --timeout 10
wait_for 20 gen_above $((g0 + 100)) || true
g_kill=$(generation)
mslbd_kill9
log "mslbd killed at generation >= $g_kill"
spawn_wait burst1 60 || true
cat "$D/logs/burst1.log" >&2
mv "$D/mslbd.log" "$D/mslbd.log.1"
db_start
mid_burst() {
    "$PYTHON" - "$D/burst.1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["records"]
ok = sum(1 for x in r if x["status"] and 200 <= x["status"] < 300)
lost = sum(1 for x in r if x["status"] is None)
print("acknowledged", ok, "connection failed", lost)
sys.exit(0 if ok >= 100 and lost >= 1 else 1)
PY
}
check "the kill hit the burst (some writes acknowledged, some cut)" mid_burst
check "every write acknowledged before the kill is there, none half-applied" \
    burst_verify --strict-errors 1
check "generation after restart >= every acknowledged one" \
    test "$(generation)" -ge "$(summary 's["max_generation"]')"
check "generation after restart >= the one seen before the kill ($g_kill)" \
    test "$(generation)" -ge "$g_kill"
check "no problems in the database" test "$(problems)" = '{}'
check "health ok" wait_for 20 health_is ok
check "br-lb = a fresh compile of the model" wait_for 20 flows_match_model "$D/seed.json"
stream_rc=0
spawn_wait stream 40 || stream_rc=$?
check "a TCP stream through the VIP flowed across the crash" test "$stream_rc" -eq 0
check "new connections through the VIP work" vip_works

# ---- 3. kill -9 mslbd's ovsdb-server in the middle of a burst.
g0=$(generation)
mslbd_before=$(mslbd_pid)
dbpid_before=$(cat "$DBPID")
spawn burst2 "$PYTHON" "$TOOLS/rest_burst.py" run "$REST_URL" --tag 2 \
    --out "$D/burst.2.json" --seconds 30 --timeout 10
wait_for 20 gen_above $((g0 + 100)) || true
kill -KILL "$dbpid_before"
log "ovsdb-server $dbpid_before killed"
check "mslbd notices and restarts its ovsdb-server" wait_for 10 \
    grep -q "ovsdb-server for $DB exited (status [0-9]*, signal 9)" "$D/mslbd.log"
new_server() { test -s "$DBPID" && test "$(cat "$DBPID")" != "$dbpid_before"; }
check "  ... a new ovsdb-server runs" wait_for 10 new_server
check "  ... mslbd reconnects" wait_for 10 \
    sh -c "grep -c 'database connected' $D/mslbd.log | grep -qv '^1$'"
spawn_wait burst2 60 || true
cat "$D/logs/burst2.log" >&2
check "mslbd itself kept running" test "$(mslbd_pid)" = "$mslbd_before"
check "every acknowledged write is there, none half-applied (no false success)" \
    burst_verify 1 2
log "burst 2: $(summary 's["by_status"]'), refused but applied: $(summary 's["refused_but_present"]')"
errors_are_unavailable_or_conflict() {
    "$PYTHON" - "$D/burst.2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["records"]
bad = [x for x in r if x["status"] and not 200 <= x["status"] < 300
       and x["status"] not in (409, 503)]
print(len(bad), "errors other than 409/503:", bad[:3])
sys.exit(1 if bad else 0)
PY
}
check "errors during the outage are 503 (or 409)" errors_are_unavailable_or_conflict
check "generation >= every acknowledged one" \
    test "$(generation)" -ge "$(summary 's["max_generation"]')"
check "health back to ok" wait_for 20 health_is ok
check "br-lb = a fresh compile of the model" wait_for 20 flows_match_model "$D/seed.json"
check "traffic through the VIP" vip_works
