#!/usr/bin/env bash
# Install benchmark: N services x M backends compiled and installed by mslbd,
# against `ovs-ofctl --bundle` adding the same flows and groups to the same
# switch, in the same run.  Prints both times and their ratio, flows and
# groups per service, then on the installed switch:
#   - mslbd's resident memory (VmRSS) after the install, and across
#     $WRITES REST writes (one backend's weight set back and forth);
#   - a restart of mslbd with the same --db: time until it has adopted the
#     switch's tables ("generation G installed (no change ...)", 0 operations);
#   - a restart of ovs-vswitchd with empty tables: time until mslbd has
#     installed everything again.
#   bench/install.sh [N] [M]        (default 1000 32; the target is 10000 32)
# WRITES=0 skips the writes; VERBOSE=1 runs mslbd with --verbose (its
# debug log costs time: the database import and load are logged whole).
set -euo pipefail
N=${1:-1000}
M=${2:-32}
WRITES=${WRITES:-10000}
VERBOSE=${VERBOSE:-0}
vopt=()
if [ "$VERBOSE" = 1 ]; then vopt=(--verbose); fi
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
export MSLBD_START_TIMEOUT=${MSLBD_START_TIMEOUT:-900}
COMPILE=${MSLB_COMPILE:-$top/build/mslb-compile}
. "$top/tests/e2e/lib.sh"
. "$top/tests/e2e/rest_lib.sh"

now() { date +%s.%N; }
secs() { printf '%.2f' "$(echo "$2 - $1" | bc -l)"; }
rss_mb() { echo $(($(awk '/^VmRSS/ {print $2}' "/proc/$1/status") / 1024)); }
load() { cut -d' ' -f1-3 /proc/loadavg; }
n_flows_on() {
    ofctl dump-aggregate br-lb | grep -o 'flow_count=[0-9]*' | cut -d= -f2
}
# log_after OFFSET PATTERN: the first line of mslbd.log after byte OFFSET
# that matches PATTERN (an awk regular expression).
log_after() {
    tail -c +"$(($1 + 1))" "$D/mslbd.log" \
        | awk -v p="$2" '!found && $0 ~ p { print; found = 1 } END { exit !found }'
}
log_lines() { stat -c %s "$D/mslbd.log"; }   # a byte offset, for tail -c
# log_time LINE: a vlog line's timestamp in seconds since the epoch.
log_time() { date -d "${1%%|*}" +%s.%N; }
# since_mark MARK LABEL=PATTERN...: for each PATTERN found after line MARK,
# prints LABEL and the time since the previous one (the first since $t0).
since_mark() {
    local mark=$1 prev=$t0 a l t
    shift
    for a in "$@"; do
        l=$(log_after "$mark" "${a#*=}") || continue
        t=$(log_time "$l")
        printf ' %s %s s;' "${a%%=*}" "$(secs "$prev" "$t")"
        prev=$t
    done
}

ovs_start
add_lb_bridge br-lb
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
front=$(ofport front)
back=$(ofport back)
"$PYTHON" "$top/bench/gen_config.py" "$N" "$M" >"$D/model.json"

# The limit: ovs-ofctl --bundle of exactly what mslbd would install.
"$COMPILE" --of15 "$D/model.json" br-lb "$front" "$back" >"$D/all.txt"
grep '^group_id=' "$D/all.txt" >"$D/groups.txt" || true
grep -v '^group_id=' "$D/all.txt" >"$D/flows.txt"
n_flows=$(wc -l <"$D/flows.txt")
n_groups=$(wc -l <"$D/groups.txt")
load_ofctl=$(load)
t0=$(now)
ofctl -O OpenFlow15 --bundle add-groups br-lb "$D/groups.txt"
ofctl -O OpenFlow15 --bundle add-flows br-lb "$D/flows.txt"
ofctl -O OpenFlow15 dump-flows br-lb table=99 >/dev/null   # a round trip
t1=$(now)
ofctl_s=$(echo "$t1 - $t0" | bc -l)
check "ovs-ofctl installed all $n_flows flows" test "$(n_flows_on)" -eq "$n_flows"
ofctl -O OpenFlow15 del-flows br-lb
ofctl -O OpenFlow15 del-groups br-lb

# mslbd: the import into its new database happens before it listens for
# switches; the bridge is pointed at it then, so "install" is from the
# switch being told where mslbd is to the barrier of the whole bundle.
load_mslbd=$(load)
t0=$(now)
mslbd_start "$D/model.json" --db "$D/mslb.db" --rest "$REST_PORT" ${vopt[@]+"${vopt[@]}"}
t1=$(now)
set_controller br-lb "$MSLBD_TARGET"
wait_for 3600 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
t2=$(now)
import_s=$(echo "$t1 - $t0" | bc -l)
mslbd_s=$(echo "$t2 - $t1" | bc -l)
check "mslbd installed all $n_flows flows" test "$(n_flows_on)" -eq "$n_flows"
grep -E "loaded into|compiled|operations to send|adopted|installed" \
    "$D/mslbd.log" | head -5 | sed 's/^/# mslbd: /'
pid=$(mslbd_pid)
rss_install=$(rss_mb "$pid")
dbpid=$(cat "$D/mslb-db.pid" 2>/dev/null || true)
rss_db=$([ -n "$dbpid" ] && rss_mb "$dbpid" || echo "?")

ratio=$(echo "$mslbd_s / $ofctl_s" | bc -l)
printf '\ninstall %s services x %s backends: %s flows, %s groups (%.1f flows and %.1f groups per service)\n' \
    "$N" "$M" "$n_flows" "$n_groups" "$(echo "$n_flows / $N" | bc -l)" \
    "$(echo "$n_groups / $N" | bc -l)"
printf '  ovs-ofctl --bundle (limit): %8.3f s   (load %s)\n' "$ofctl_s" "$load_ofctl"
printf '  mslbd switch set to barrier:%8.3f s   (load %s)\n' "$mslbd_s" "$load_mslbd"
printf '  ratio mslbd / limit:        %8.2f     (target <= 1.25)\n' "$ratio"
printf '  before that, once: import into the new database and listen %.2f s\n' "$import_s"
printf '  VmRSS after install: mslbd %s MB, its ovsdb-server %s MB\n' \
    "$rss_install" "$rss_db"

# Memory across REST writes.
if [ "$WRITES" -gt 0 ]; then
    wait_rest
    echo "  $WRITES REST writes (load $(load)):"
    "$PYTHON" "$top/bench/rest_client.py" churn "$REST_URL" \
        /v1/services/svc0/backends/b0 "$WRITES" "$pid" 900 | sed 's/^/    /'
fi

# Restart mslbd on the installed switch: it must adopt, not reinstall.
mslbd_stop
mark=$(log_lines)
load_restart=$(load)
t0=$(now)
mslbd_start "$D/model.json" --db "$D/mslb.db" --rest "$REST_PORT" ${vopt[@]+"${vopt[@]}"}
wait_for 3600 log_after "$mark" "bridge br-lb: generation [0-9]+ installed"
t1=$(now)
line=$(log_after "$mark" "bridge br-lb: generation [0-9]+ installed")
# The reconciler logs "installed (no change" only for an empty difference.
if [ "${line/installed (no change/}" != "$line" ]; then
    ops="0 operations"
else
    ops="$(echo "$line" | grep -o '(flows [^;]*') operations"
fi
echo "  mslbd restart with the same --db: adopted in $(secs "$t0" "$t1") s" \
    "(load $load_restart), $ops sent:"
echo "    ${line#*reconciler|}"
echo "   $(since_mark "$mark" "model loaded from the database=mslbd starting: model" \
    "switch reconnected (its backoff)=connected with OpenFlow" \
    "tables dumped=adopted [0-9]+ flows" "compared=installed \\(no")"
check "restart: adopted with no change" test "${line/installed (no change/}" != "$line"

# Restart ovs-vswitchd empty (same conf.db: the bridge comes back without
# flows): time to the full resync.
kill_pidfile "$D/ovs-vswitchd.pid" 10
mark=$(log_lines)
load_resync=$(load)
t0=$(now)
in_ovs ovs-vswitchd "unix:$D/db.sock" -vconsole:off \
    --unixctl="$D/ovs-vswitchd.ctl" --pidfile="$D/ovs-vswitchd.pid" \
    --log-file="$D/ovs-vswitchd.log" --detach --no-chdir
_e2e_remember "$D/ovs-vswitchd.pid"
wait_for 3600 log_after "$mark" "bridge br-lb: generation [0-9]+ installed"
t1=$(now)
line=$(log_after "$mark" "bridge br-lb: generation [0-9]+ installed")
echo "  ovs-vswitchd restarted empty: full resync in $(secs "$t0" "$t1") s" \
    "(load $load_resync):"
echo "    ${line#*reconciler|}"
echo "   $(since_mark "$mark" "ovs-vswitchd up and connected=connected with OpenFlow" \
    "empty tables dumped=adopted [0-9]+ flows" \
    "diff, bundle and barrier=generation [0-9]+ installed \\(flows")"
check "resync: all $n_flows flows back" test "$(n_flows_on)" -eq "$n_flows"
