#!/usr/bin/env bash
# NAT mode under change: a long-lived TCP connection keeps working while a
# backend is added and another removed, and while mslbd is killed and
# restarted (which must adopt the bridge's flows, not flush them); new
# connections follow the new backend set; a bad config changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"

nat_topo_up
nat_config "$D/mslb.json"
mslbd_start "$D/mslb.json"
wait_generation 1

# A stream that must survive everything below.
spawn_in c1 stream "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 25 \
    --max-stall 3 --name-file "$D/stream.backend"
wait_for 10 test -s "$D/stream.backend"
keep=$(tr -dc 'S0-9' <"$D/stream.backend")      # S1 or S2
if [ "$keep" = S1 ]; then gone=S2; else gone=S1; fi
log "stream on $keep; removing $gone, adding S3"
n=${keep#S}

# Backend change at run time: keep the stream's backend, drop the other,
# add s3 (equal weights).
nat_config "$D/mslb.json" "$(nat_backend "$n" 8080 5),$(nat_backend 3 8080 5)"
kill -HUP "$(mslbd_pid)"
wait_generation 2
check "after the change, new connections go to $keep and S3 only" \
    nsx c2 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 300 \
    --concurrency 4 --expect "$keep:1,S3:1" --tolerance 0.1
# Only the service's slot flows and the backends' own flows change; the
# shared hash groups are never modified (a table that changes size uses
# another width's group).
check "no group modified by the change" \
    grep -q "generation 2 installed (flows +[0-9]* ~[0-9]* -[0-9]*, groups +[0-9]* ~0 -[0-9]*" \
    "$D/mslbd.log"

# Helpers for the checks below.
min_flow_age_at_least() {     # every flow older than $1 seconds
    ofctl dump-flows br-lb | grep -o 'duration=[0-9]*' | cut -d= -f2 \
        | sort -n | head -1 | awk -v m="$1" '{ exit !($1 >= m) }'
}
no_flow_matches() { ! ofctl dump-flows br-lb | grep -q "$1"; }
refuses_to_start() {         # CONFIG PATTERN [--check]
    local out rc=0
    out=$("$MSLBD" ${3:-} --config "$1" --listen "punix:$D/x.sock" 2>&1) \
        || rc=$?
    [ "$rc" -eq 1 ] && grep -q "$2" <<<"$out"
}

# Crash and restart the controller during the transfer.
n_flows=$(ofctl dump-flows br-lb | grep -c cookie=)
killed_at=$(date +%s)
mslbd_kill9
sleep 2
check "bridge keeps its $n_flows flows while mslbd is down" \
    test "$(ofctl dump-flows br-lb | grep -c cookie=)" -eq "$n_flows"
mv "$D/mslbd.log" "$D/mslbd.log.1"
mslbd_start "$D/mslb.json"
wait_generation 1
check "restarted mslbd adopts the flows" \
    grep -q "adopted $n_flows flows and [0-9]* groups" "$D/mslbd.log"
check "restarted mslbd changes nothing" \
    grep -q "generation 1 installed (no change" "$D/mslbd.log"
# Flow ages are whole seconds and so are the clock readings: allow one
# second of rounding.  A flow re-added by the restart, which came 2 s after
# the kill, would be younger still.
check "no flow was re-added across the restart" \
    min_flow_age_at_least $(($(date +%s) - killed_at - 1))
stream_rc=0
spawn_wait stream 40 || stream_rc=$?
sed 's/^/# stream: /' "$D/logs/stream.log" | tail -1
check "the long-lived connection survived change and restart" \
    test "$stream_rc" -eq 0
check "  ... and never stalled over 3 s" \
    grep -q '"broken": false' "$D/logs/stream.log"

# A bad config is refused and changes nothing.
cp "$D/mslb.json" "$D/good.json"
sed 's/"gateways"/"gateway"/' "$D/good.json" >"$D/mslb.json"
bad='bridges\[0\].gateway: unknown key'
check "mslbd --check names the bad field" \
    refuses_to_start "$D/mslb.json" "$bad" --check
check "mslbd refuses to start with a bad config" \
    refuses_to_start "$D/mslb.json" "rejected: $bad"
lb_flows >"$D/flows.good"
kill -HUP "$(mslbd_pid)"
check "reload of a bad config is refused" wait_for 10 \
    grep -q "rejected: $bad; keeping generation 1" "$D/mslbd.log"
check "flows unchanged after the rejected reload" \
    diff "$D/flows.good" <(lb_flows)

# Removing a service removes its flows.
sed '/"name": "alt"/,/}]},/d' "$D/good.json" >"$D/mslb.json"
kill -HUP "$(mslbd_pid)"
wait_generation 2
check "removed service's flows are gone" no_flow_matches tp_dst=81
check_fails "removed service no longer answers" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 81 --count 1 --timeout 1
