# shellcheck shell=bash
# Several mslbd on a 3-member clustered model database (docs/deployment.md).
# Source after lib.sh and rest_lib.sh.
#
#   db1 db2 db3   ovsdb-server, Raft on tcp:127.0.0.1:CL_PORT+i, clients on
#                 punix:$D/dbI.sock and ptcp:CL_PORT+10+i (probed: a
#                 silent client loses its locks)
#   ctl_start N   mslbd N: --db-remote on every member, --name N, OpenFlow
#                 on punix:$D/N.sock, REST on its own port, log $D/N.log
#
# A mslbd started with CTL_PROXY=1 reaches the members through
# tests/tools/tcp_proxy.py (ports CL_PORT+20+i): stopping the proxy
# (cl_partition) cuts it from the database without closing anything.

SCHEMA=${SCHEMA:-$E2E_DIR/../../schemas/mslb.ovsschema}
CL_PORT=$((40000 + 0x${RID:2:4} % 9000))
CL_REMOTES="unix:$D/db1.sock,unix:$D/db2.sock,unix:$D/db3.sock"
CL_PROXIED="tcp:127.0.0.1:$((CL_PORT + 21)),tcp:127.0.0.1:$((CL_PORT + 22)),tcp:127.0.0.1:$((CL_PORT + 23))"
declare -A CTL_PORT=()

cl_member_start() {
    local i=$1
    spawn "db$i" ovsdb-server "$D/db$i.db" --remote="punix:$D/db$i.sock" \
        --remote="ptcp:$((CL_PORT + 10 + i)):127.0.0.1" \
        --pidfile="$D/db$i.pid" --unixctl="$D/db$i.ctl" \
        --log-file="$D/db$i.log" -vconsole:off
}

cl_status() { ovs-appctl -t "$D/db$1.ctl" --timeout=5 cluster/status MSLB; }

cl_member_ok() { cl_status "$1" 2>/dev/null | grep -q "Status: cluster member"; }

# cl_up: creates the cluster (db1 first, db2 and db3 join) and waits until
# every member is in it and one leads.
cl_up() {
    local i
    ovsdb-tool create-cluster "$D/db1.db" "$SCHEMA" "tcp:127.0.0.1:$((CL_PORT + 1))"
    cl_member_start 1
    for i in 2 3; do
        ovsdb-tool join-cluster "$D/db$i.db" MSLB \
            "tcp:127.0.0.1:$((CL_PORT + i))" "tcp:127.0.0.1:$((CL_PORT + 1))"
        cl_member_start "$i"
    done
    for i in 1 2 3; do
        wait_for 30 cl_member_ok "$i" || return 1
    done
    wait_for 20 cl_leader >/dev/null
}

# cl_leader: prints the leading member's number.
cl_leader() {
    local i
    for i in 1 2 3; do
        if cl_status "$i" 2>/dev/null | grep -q "^Role: leader"; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

cl_kill9() {
    local pid
    pid=$(cat "$D/pids/db$1.pid")
    rm -f "$D/pids/db$1.pid"
    unset "E2E_PIDS[$D/pids/db$1.pid]"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cl_proxy_start() {
    spawn dbproxy "$PYTHON" "$TOOLS/tcp_proxy.py" \
        "$((CL_PORT + 21)):$((CL_PORT + 11))" \
        "$((CL_PORT + 22)):$((CL_PORT + 12))" \
        "$((CL_PORT + 23)):$((CL_PORT + 13))"
    wait_for 10 grep -q ready "$D/logs/dbproxy.log"
}
cl_partition() { kill -STOP "$(cat "$D/pids/dbproxy.pid")"; }
cl_heal() { kill -CONT "$(cat "$D/pids/dbproxy.pid")"; }

# ctl_start NAME REST_PORT [ARGS...]: mslbd NAME on the cluster; waits for
# its pidfile and REST API.
ctl_start() {
    local name=$1 port=$2 i remotes=$CL_REMOTES
    shift 2
    CTL_PORT[$name]=$port
    if [ "${CTL_PROXY:-0}" = 1 ]; then
        remotes=$CL_PROXIED
    fi
    rm -f "$D/pids/$name.pid"
    # The pidfile in $D/pids: cleanup stops it with the test.
    "$MSLBD" --db-remote "$remotes" --name "$name" \
        --listen "punix:$D/$name.sock" --pidfile "$D/pids/$name.pid" \
        --log-file "$D/$name.log" --rest "$port" "$@" \
        >>"$D/$name.out" 2>&1 </dev/null &
    E2E_PIDS[$D/pids/$name.pid]=$!
    for ((i = 0; i < 300; i++)); do
        if [ -s "$D/pids/$name.pid" ]; then
            _e2e_remember "$D/pids/$name.pid"
            wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/v1/health"
            return
        fi
        sleep 0.1
    done
    tail -n 20 "$D/$name.out" "$D/$name.log" >&2 || true
    return 1
}

ctl_kill9() {
    local pid
    pid=$(tr -dc '0-9' <"$D/pids/$1.pid")
    rm -f "$D/pids/$1.pid"
    unset "E2E_PIDS[$D/pids/$1.pid]"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ctl_api NAME METHOD PATH [BODY]: api against mslbd NAME.
ctl_api() {
    local name=$1
    shift
    REST_URL=http://127.0.0.1:${CTL_PORT[$name]} api "$@"
}

# ctl_role NAME: "master" or "standby", as mslbd NAME says.
ctl_role() {
    ctl_api "$1" GET /v1/health
    json_get 'j["controller"]["role"]'
}
ctl_is() { test "$(ctl_role "$1")" = "$2"; }

# bridge_controllers BRIDGE NAME...: points BRIDGE at every mslbd NAME.
bridge_controllers() {
    local br=$1 n u targets=()
    shift
    for n in "$@"; do targets+=("unix:$D/$n.sock"); done
    vsctl set-controller "$br" "${targets[@]}"
    for u in $(vsctl --bare --columns=_uuid list controller); do
        vsctl set controller "$u" connection-mode=out-of-band max_backoff=1000
    done
}

# switch_role NAME: the role the switch gave mslbd NAME's connection
# (master, slave, other), from the switch's own database.
switch_role() {
    vsctl --bare --columns=role find controller "target=\"unix:$D/$1.sock\""
}

# flows_snapshot FILE: br-lb's flows with their ages, and the time.
flows_snapshot() {
    { date +%s.%N; ofctl dump-flows br-lb; } >"$1"
}

# flows_kept FILE: every flow of snapshot FILE is still there and has aged
# by the time since (none was deleted, added again or replaced), and
# there is no other.
flows_kept() {
    local now
    now=$(mktemp "$D/flows.XXXXXX")
    flows_snapshot "$now"
    "$PYTHON" - "$1" "$now" <<'PY'
import re, sys

def load(path):
    lines = open(path).read().splitlines()
    t = float(lines[0])
    flows = {}
    for line in lines[1:]:
        m = re.search(r"duration=([0-9.]+)s", line)
        if not m:
            continue
        key = re.sub(r"(duration|n_packets|n_bytes|idle_age|hard_age)=[^ ,]+,? ?", "", line).strip()
        flows[key] = float(m.group(1))
    return t, flows

t0, before = load(sys.argv[1])
t1, after = load(sys.argv[2])
elapsed = t1 - t0
young = [k for k in before if k in after and after[k] < before[k] + elapsed - 1.0]
print("%d flows before, %d after, %d missing, %d new, %d replaced (%.1f s apart)"
      % (len(before), len(after), len(set(before) - set(after)),
         len(set(after) - set(before)), len(young), elapsed), file=sys.stderr)
for k in (young + sorted(set(before) ^ set(after)))[:5]:
    print("  " + k[:200], file=sys.stderr)
sys.exit(0 if before and before.keys() == after.keys() and not young else 1)
PY
}

# writes_resumed BURST_FILE T0: how long after T0 (epoch seconds, the
# database leader's kill) a write sent after it was acknowledged, from a
# rest_burst.py record file; fails if none was, or none before T0.
writes_resumed() {
    "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))["records"]
t = float(sys.argv[2])
ok = [r for r in recs if r["status"] and 200 <= r["status"] < 300]
before = [r for r in ok if r["t1"] < t]
after = sorted(r["t1"] for r in ok if r["t0"] >= t)
failed = sum(1 for r in recs
             if r["t0"] >= t and not (r["status"] and r["status"] < 300))
if not before or not after:
    print("acknowledged before the kill: %d, sent after it and acknowledged: %d"
          % (len(before), len(after)))
    sys.exit(1)
print("writes resumed %.2f s after the leader's kill (%d acknowledged before; "
      "after: %d acknowledged, %d answered 503 or cut meanwhile)"
      % (after[0] - t, len(before), len(after), failed))
PY
}

# leader_kill_burst URL SECONDS: a REST write burst (8 writers, tag 1,
# $D/burst.1.json) against URL for SECONDS, the database leader killed
# (-9) 4 s into it; sets LEADER (its number) and T_LEADER (epoch seconds
# of the kill), waits for the burst's end (its exit code).
leader_kill_burst() {
    LEADER=$(cl_leader)
    spawn burst1 "$PYTHON" "$TOOLS/rest_burst.py" run "$1" --tag 1 \
        --out "$D/burst.1.json" --seconds "$2" --timeout 10 --writers 8 \
        --writes 100000 --backoff 0.2
    sleep 4
    T_LEADER=$(date +%s.%N)
    cl_kill9 "$LEADER"
    spawn_wait burst1 60
}

# ms_between LOG PATTERN T0: milliseconds from T0 (epoch seconds, from
# date +%s.%N) to the first line of LOG after T0 that matches PATTERN.
ms_between() {
    "$PYTHON" - "$@" <<'PY'
import datetime, re, sys
log, pat, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
for line in open(log):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\|", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    if t >= t0 and re.search(pat, line):
        print(int(round((t - t0) * 1000)))
        sys.exit(0)
sys.exit(1)
PY
}
