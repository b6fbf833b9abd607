# shellcheck shell=bash
# tests/e2e/lib.sh: end-to-end harness for mslb on a private Open vSwitch.
#
# Source it from a bash test (`set -euo pipefail` friendly):
#
#     . "$(dirname "$0")/lib.sh"     # makes $D, registers the EXIT trap
#     ovs_start
#     add_lb_bridge lb "$MSLBD_TARGET"
#     add_host c1 lb 198.18.0.10/24 2001:db8::10/64
#     mslbd_start "$D/mslbd.json"
#     check "tcp via vip" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.0.100 80 --count 10
#
# Isolation: everything lives in one run, named by a short random run id
# ($RID). ovs-vswitchd runs inside its own network namespace ($OVS_NS), so
# bridge (tap) devices, the OVS ends of veths and any address a test puts on
# a bridge port never touch the machine's root namespace and never collide
# with another run; port names can therefore be plain ("front", "c1").
# Hosts are namespaces "mslb-$RID-NAME" with one interface "eth0". OVS
# tools talk to this instance only through unix sockets in $D.
# cleanup (trap EXIT) stops what the run started, by pidfile, deletes the
# namespaces (which deletes the veths and taps in them) and removes $D,
# or keeps $D (plus final.* flow/group/conntrack dumps) and prints log
# tails when the test failed.
#
# Functions: ovs_start ovs_stop vsctl ofctl appctl in_ovs add_lb_bridge
# set_controller add_switch_bridge link_bridges ofport add_host host_route
# host_mac nsx ns_of start_server spawn spawn_in spawn_wait spawn_stop
# kill_pidfile mslbd_start mslbd_stop mslbd_kill9 mslbd_pid wait_for check
# check_fails e2e_hold log die. Variables: D RID OVS_NS TOOLS PYTHON
# MSLBD_SOCK MSLBD_TARGET. Knobs: MSLB_TMP (parent of $D, default /tmp),
# MSLB_KEEP=1, E2E_VERBOSE=1, E2E_HOLD=SECONDS, MSLBD, MSLBD_IN_OVS_NS=1,
# MSLBD_START_TIMEOUT, RID.

if [ -n "${MSLB_E2E_LIB_LOADED:-}" ]; then
    return 0
fi
MSLB_E2E_LIB_LOADED=1

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$(cd "$E2E_DIR/../tools" && pwd)
PYTHON=${PYTHON:-python3}

# Short unique run id: namespace names, the OVS namespace, logs.
RID=${RID:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
# Unix socket paths must stay short (108 bytes): not $TMPDIR.
MSLB_TEST_DIR=$(mktemp -d "${MSLB_TMP:-/tmp}/mslb-e2e-$RID.XXXXXX")
D=$MSLB_TEST_DIR
OVS_NS=mslb-$RID-ovs
MSLBD_SOCK=$D/mslbd.sock
MSLBD_TARGET=unix:$MSLBD_SOCK
mkdir -p "$D/pids" "$D/logs"
export RID MSLB_TEST_DIR D TOOLS PYTHON OVS_NS MSLBD_SOCK MSLBD_TARGET

CHECK_N=0
CHECK_FAILS=0
E2E_NETNS=()
E2E_OVS_UP=0
MSLBD_CHILD=

# ---------------------------------------------------------------- basics

log() { printf '# %s %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }

# wait_for TIMEOUT CMD...: runs CMD every 0.1 s until it succeeds; fails
# (returns 1, with a message) after TIMEOUT whole seconds. Output of CMD is
# discarded.
wait_for() {
    local t=$1 i n end
    shift
    n=$((t * 10 + 1))
    end=$((SECONDS + t + 1))
    for ((i = 0; i < n; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        ((SECONDS < end)) || break
        sleep 0.1
    done
    log "wait_for: timed out after ${t}s: $*"
    return 1
}

# check NAME CMD...: runs CMD, prints "ok N - NAME" or "FAIL N - NAME" with
# the tail of CMD's output, counts failures (the script then exits 1 from
# the EXIT trap). Never aborts the script itself. CMD runs in a subshell
# with errexit on, so a shell function used as CMD stops at its first
# failing command. Output is kept in $D/logs/check.N.out; set E2E_VERBOSE=1
# to print it for passing checks too.
check() {
    local name=$1 rc=0 out
    shift
    CHECK_N=$((CHECK_N + 1))
    out=$D/logs/check.$CHECK_N.out
    # A background job is outside the `if` context, so errexit works in it.
    (set -e; "$@") >"$out" 2>&1 </dev/null &
    wait $! || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok $CHECK_N - $name"
        if [ "${E2E_VERBOSE:-0}" = 1 ]; then sed 's/^/    | /' "$out"; fi
    else
        CHECK_FAILS=$((CHECK_FAILS + 1))
        echo "FAIL $CHECK_N - $name (exit $rc)"
        tail -n 20 "$out" | sed 's/^/    | /'
    fi
    return 0
}

# check_fails NAME CMD...: like check, but CMD is expected to fail.
check_fails() {
    local name=$1
    shift
    check "$name" _e2e_invert "$@"
}
_e2e_invert() {
    local rc=0
    (set -e; "$@") &
    wait $! || rc=$?
    [ "$rc" -ne 0 ]
}

# e2e_hold [WHAT]: with E2E_HOLD=N set, pauses up to N seconds (or until
# `touch $D/release`) so a person can inspect the live setup from another
# shell (RID, D and the socket paths are printed). No-op otherwise.
e2e_hold() {
    [ -n "${E2E_HOLD:-}" ] || return 0
    log "holding ${E2E_HOLD}s ${1:-}: RID=$RID D=$D OVS_NS=$OVS_NS;" \
        "touch $D/release to go on"
    wait_for "$E2E_HOLD" test -e "$D/release" 2>/dev/null || true
    rm -f "$D/release"
}

# ------------------------------------------------------------- processes

# Every pid this run starts is also kept here (pidfile -> pid), so cleanup
# still stops it if a pidfile or all of $D went missing.
declare -gA E2E_PIDS=()
_e2e_remember() {
    local pid
    pid=$(tr -dc '0-9' <"$1" 2>/dev/null) || return 0
    if [ -n "$pid" ]; then E2E_PIDS[$1]=$pid; fi
}

# kill_pidfile FILE [TIMEOUT]: SIGTERM the pid in FILE (or the pid this run
# remembered for FILE), SIGKILL after TIMEOUT seconds (default 5), wait
# until it is gone, remove FILE.
kill_pidfile() {
    local f=$1 t=${2:-5} pid="" i
    if [ -s "$f" ]; then pid=$(tr -dc '0-9' <"$f"); fi
    [ -n "$pid" ] || pid=${E2E_PIDS[$f]:-}
    rm -f "$f"
    unset "E2E_PIDS[$f]"
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid from $f did not die"
    return 1
}

# spawn TAG CMD...: runs an executable (not a shell function) in the
# background; output to $D/logs/TAG.log, pid to $D/pids/TAG.pid (stopped
# by cleanup or spawn_stop TAG).
spawn() {
    local tag=$1
    shift
    "$@" >"$D/logs/$tag.log" 2>&1 </dev/null &
    echo $! >"$D/pids/$tag.pid"
    E2E_PIDS[$D/pids/$tag.pid]=$!
}

# spawn_in HOST TAG CMD...: spawn inside host namespace HOST.
spawn_in() {
    local host=$1 tag=$2
    shift 2
    spawn "$tag" ip netns exec "$(ns_of "$host")" "$@"
}

spawn_stop() { kill_pidfile "$D/pids/$1.pid" "${2:-5}"; }

# spawn_wait TAG [TIMEOUT]: waits (up to TIMEOUT s, default 60) for a
# spawned command to exit and returns its status; 124 if it is still
# running. The status is only known in the shell that called spawn (not
# when spawn ran inside $(...)): otherwise 0 once it has exited.
spawn_wait() {
    local f=$D/pids/$1.pid t=${2:-60} pid i rc=0
    pid=$(cat "$f" 2>/dev/null || echo "${E2E_PIDS[$f]:-}")
    if [ -z "$pid" ]; then
        log "spawn_wait: no pid for $1"
        return 0
    fi
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "spawn_wait: $1 still running after ${t}s"
        return 124
    fi
    rm -f "$f"
    unset "E2E_PIDS[$f]"
    # Only the shell that spawned it can collect its status.
    wait "$pid" 2>/dev/null || rc=$?
    if [ "$rc" -eq 127 ]; then
        log "spawn_wait: $1 (pid $pid) was spawned by another (sub)shell:" \
            "exit status unknown, judge by $D/logs/$1.log"
        rc=0
    fi
    return "$rc"
}

# ------------------------------------------------------------------- OVS

vsctl() { ovs-vsctl --db="unix:$D/db.sock" --timeout=20 "$@"; }
appctl() { ovs-appctl -t "$D/ovs-vswitchd.ctl" --timeout=20 "$@"; }
ovsdb_appctl() { ovs-appctl -t "$D/ovsdb-server.ctl" --timeout=20 "$@"; }

# ofctl [OPTIONS] COMMAND BRIDGE [ARGS]: ovs-ofctl -O OpenFlow13 with
# BRIDGE (a plain bridge name) turned into unix:$D/BRIDGE.mgmt. Pass your
# own -O to override the version.
ofctl() {
    local opts=() ver=(-O OpenFlow13) cmd br
    while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
        case $1 in
            -O) ver=(); opts+=("$1" "$2"); shift 2; continue ;;
            -O*|--protocols=*) ver=() ;;
        esac
        opts+=("$1")
        shift
    done
    cmd=$1
    shift
    if [ $# -gt 0 ] && [[ $1 != *:* && $1 != */* ]] && [ -S "$D/$1.mgmt" ]; then
        br=unix:$D/$1.mgmt
        shift
        set -- "$br" "$@"
    fi
    ovs-ofctl "${ver[@]}" ${opts[@]+"${opts[@]}"} "$cmd" "$@"
}

# in_ovs CMD...: runs CMD in the namespace where ovs-vswitchd lives (to
# put addresses on bridge ports, run tcpdump on OVS-side veth ends...).
in_ovs() { ip netns exec "$OVS_NS" "$@"; }

# ovs_start: private ovsdb-server + ovs-vswitchd (in namespace $OVS_NS)
# with everything in $D. Exports OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR.
ovs_start() {
    export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D
    _e2e_netns_add "$OVS_NS"
    ip -n "$OVS_NS" link set lo up
    ovsdb-tool create "$D/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    # -vconsole:off first, or "opened log file" still reaches stderr.
    ovsdb-server "$D/conf.db" -vconsole:off --remote="punix:$D/db.sock" \
        --unixctl="$D/ovsdb-server.ctl" --pidfile="$D/ovsdb-server.pid" \
        --log-file="$D/ovsdb-server.log" --detach --no-chdir
    E2E_OVS_UP=1
    _e2e_remember "$D/ovsdb-server.pid"
    vsctl --no-wait init
    # OVS_IN_ROOT_NS=1: in the root namespace, for tools that put switch
    # ports there (Mininet); still a private instance with its own rundir.
    local pre=(ip netns exec "$OVS_NS")
    [ "${OVS_IN_ROOT_NS:-0}" = 1 ] && pre=()
    ${pre[@]+"${pre[@]}"} ovs-vswitchd "unix:$D/db.sock" -vconsole:off \
        --unixctl="$D/ovs-vswitchd.ctl" --pidfile="$D/ovs-vswitchd.pid" \
        --log-file="$D/ovs-vswitchd.log" --detach --no-chdir
    _e2e_remember "$D/ovs-vswitchd.pid"
    wait_for 10 appctl version
    log "OVS up in $D (netns $OVS_NS)"
}

ovs_stop() {
    [ "$E2E_OVS_UP" = 1 ] || return 0
    kill_pidfile "$D/ovs-vswitchd.pid" 10 || true
    kill_pidfile "$D/ovsdb-server.pid" 5 || true
    E2E_OVS_UP=0
}

# add_lb_bridge NAME [CONTROLLER]: netdev bridge speaking OpenFlow 1.3/1.5,
# fail_mode=secure (no flows, no forwarding without a controller's flows),
# controller reconnect backoff capped at 1 s so restarts are quick.
add_lb_bridge() {
    local br=$1 target=${2:-}
    vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev \
        protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
        other-config:disable-in-band=true
    in_ovs ip link set "$br" up
    if [ -n "$target" ]; then
        set_controller "$br" "$target"
    fi
}

# set_controller BRIDGE TARGET: (re)points BRIDGE at TARGET (e.g.
# $MSLBD_TARGET), out-of-band, 1 s max backoff.
set_controller() {
    vsctl set-controller "$1" "$2" -- set controller "$1" \
        connection-mode=out-of-band max_backoff=1000
}

# add_switch_bridge NAME: plain L2 learning switch (fail_mode=standalone,
# no controller) for fan-out.
add_switch_bridge() {
    local br=$1
    vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev \
        protocols=OpenFlow13,OpenFlow15 fail_mode=standalone
    in_ovs ip link set "$br" up
}

# link_bridges BR1 PORT1 BR2 PORT2 [patch|veth]: connects two bridges.
# patch (default) is OVS-internal; veth goes through the kernel (a real
# link, e.g. to capture with in_ovs tcpdump -i PORT1).
link_bridges() {
    local b1=$1 p1=$2 b2=$3 p2=$4 kind=${5:-patch}
    case $kind in
        patch)
            vsctl add-port "$b1" "$p1" -- set interface "$p1" type=patch \
                options:peer="$p2" \
                -- add-port "$b2" "$p2" -- set interface "$p2" type=patch \
                options:peer="$p1"
            ;;
        veth)
            ip -n "$OVS_NS" link add "$p1" type veth peer name "$p2"
            _e2e_ovs_side_if "$p1"
            _e2e_ovs_side_if "$p2"
            vsctl add-port "$b1" "$p1" -- add-port "$b2" "$p2"
            ;;
        *) die "link_bridges: unknown kind $kind" ;;
    esac
}

# ofport PORT: OpenFlow port number of PORT (names are unique per run).
ofport() { vsctl get interface "$1" ofport; }

# ----------------------------------------------------------------- hosts

ns_of() { printf 'mslb-%s-%s' "$RID" "$1"; }

# nsx HOST CMD...: runs CMD in host HOST's namespace.
nsx() {
    local h=$1
    shift
    ip netns exec "$(ns_of "$h")" "$@"
}

# add_host NAME BRIDGE IPV4/PREFIX [IPV6/PREFIX|-] [MAC|-]: namespace
# mslb-$RID-NAME whose "eth0" is a veth to port NAME (<= 15 chars) on
# BRIDGE. Checksum offload off on both ends (userspace datapath), lo up,
# IPv6 without DAD or router solicitations.
add_host() {
    local name=$1 br=$2 v4=$3 v6=${4:--} mac=${5:--} ns
    ns=$(ns_of "$name")
    [ ${#name} -le 15 ] || die "add_host: port name '$name' longer than 15"
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.all.accept_ra=0 \
        net.ipv6.conf.default.router_solicitations=0 >/dev/null
    ip link add name eth0 netns "$ns" type veth peer name "$name" netns "$OVS_NS"
    if [ "$mac" != - ]; then
        ip -n "$ns" link set eth0 address "$mac"
    fi
    ip netns exec "$ns" ethtool -K eth0 tx off rx off >/dev/null
    _e2e_ovs_side_if "$name"
    ip -n "$ns" addr add "$v4" dev eth0
    if [ "$v6" != - ]; then
        ip -n "$ns" -6 addr add "$v6" dev eth0 nodad
    fi
    ip -n "$ns" link set eth0 up
    vsctl add-port "$br" "$name"
}

# host_route HOST ROUTE...: ip route replace ROUTE in HOST (-6 when the
# route mentions an IPv6 address), e.g. host_route s1 default via 198.18.1.1
host_route() {
    local h=$1 fam=-4 a
    shift
    for a in "$@"; do
        [[ $a == *:* ]] && fam=-6
    done
    ip -n "$(ns_of "$h")" "$fam" route replace "$@"
}

# host_mac HOST: MAC address of HOST's eth0.
host_mac() { nsx "$1" cat /sys/class/net/eth0/address; }

# start_server HOST NAME [lbserver args...]: runs tests/tools/lbserver.py
# --name NAME in HOST (tag srv-NAME) and waits until it listens, e.g.
# start_server s1 S1 --tcp 8080 --udp 5353
start_server() {
    local h=$1 name=$2
    shift 2
    spawn_in "$h" "srv-$name" "$PYTHON" "$TOOLS/lbserver.py" --name "$name" \
        --pidfile "$D/pids/srv-$name.ready" "$@"
    wait_for 10 test -s "$D/pids/srv-$name.ready" \
        || { cat "$D/logs/srv-$name.log" >&2; return 1; }
}

# ----------------------------------------------------------------- mslbd

# mslbd_start CONFIG [ARGS...]: starts $MSLBD with --config CONFIG --listen
# punix:$D/mslbd.sock --pidfile $D/mslbd.pid --log-file $D/mslbd.log ARGS
# and waits (10 s, $MSLBD_START_TIMEOUT) for its pidfile and socket.
# Bridges reach it at $MSLBD_TARGET. MSLBD_IN_OVS_NS=1 runs it inside
# $OVS_NS (to reach addresses put on bridge ports).
mslbd_start() {
    local cfg=$1 pre=() t=${MSLBD_START_TIMEOUT:-10} i rc
    shift
    [ -n "${MSLBD:-}" ] || die "mslbd_start: set MSLBD to the mslbd binary"
    [ -x "$MSLBD" ] || die "mslbd_start: $MSLBD is not executable"
    rm -f "$D/mslbd.pid"
    if [ "${MSLBD_IN_OVS_NS:-0}" = 1 ]; then
        pre=(ip netns exec "$OVS_NS")
    fi
    ${pre[@]+"${pre[@]}"} "$MSLBD" --config "$cfg" --listen "punix:$MSLBD_SOCK" \
        --pidfile "$D/mslbd.pid" --log-file "$D/mslbd.log" "$@" \
        >>"$D/mslbd.out" 2>&1 </dev/null &
    MSLBD_CHILD=$!
    # Until it writes its pidfile, cleanup knows it by the child's pid.
    E2E_PIDS[$D/mslbd.pid]=$MSLBD_CHILD
    for ((i = 0; i < t * 10; i++)); do
        if [ -s "$D/mslbd.pid" ] && [ -S "$MSLBD_SOCK" ]; then
            _e2e_remember "$D/mslbd.pid"
            return 0
        fi
        if [ -n "$MSLBD_CHILD" ] && ! kill -0 "$MSLBD_CHILD" 2>/dev/null; then
            rc=0
            wait "$MSLBD_CHILD" || rc=$?
            MSLBD_CHILD=
            # A daemonizing mslbd exits 0 in its parent: keep waiting then.
            if [ "$rc" -ne 0 ]; then
                log "mslbd exited with status $rc before it was ready"
                tail -n 20 "$D/mslbd.out" "$D/mslbd.log" >&2 2>/dev/null || true
                return 1
            fi
        fi
        sleep 0.1
    done
    log "mslbd not ready after ${t}s"
    tail -n 20 "$D/mslbd.out" "$D/mslbd.log" >&2 2>/dev/null || true
    mslbd_stop
    return 1
}

# mslbd_pid: pid of the running mslbd (from its pidfile).
mslbd_pid() {
    if [ -s "$D/mslbd.pid" ]; then
        tr -dc '0-9' <"$D/mslbd.pid"
    else
        echo "${E2E_PIDS[$D/mslbd.pid]:-}"
    fi
}

# mslbd_stop: SIGTERM (SIGKILL after 10 s) by pidfile.
mslbd_stop() {
    kill_pidfile "$D/mslbd.pid" 10 || true
    _e2e_reap_mslbd
}

# mslbd_kill9: SIGKILL by pidfile, as a crash; the socket file stays.
mslbd_kill9() {
    local pid i
    pid=$(mslbd_pid)
    [ -n "$pid" ] || return 0
    rm -f "$D/mslbd.pid"
    unset "E2E_PIDS[$D/mslbd.pid]"
    # stderr off: bash would report the SIGKILLed job ("Killed ...").
    {
        kill -KILL "$pid" || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" || break
            sleep 0.1
        done
        _e2e_reap_mslbd
    } 2>/dev/null
}

_e2e_reap_mslbd() {
    if [ -n "$MSLBD_CHILD" ] && ! kill -0 "$MSLBD_CHILD" 2>/dev/null; then
        wait "$MSLBD_CHILD" 2>/dev/null || true
        MSLBD_CHILD=
    fi
}

# --------------------------------------------------------------- cleanup

_e2e_netns_add() {
    ip netns add "$1"
    E2E_NETNS+=("$1")
    echo "$1" >>"$D/netns.list"
}

# OVS-side end of a veth: up, no offloads, no IPv6 chatter.
_e2e_ovs_side_if() {
    ip netns exec "$OVS_NS" sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" \
        >/dev/null 2>&1 || true
    # The switch's namespace holds addresses of its own (a local VIP on a
    # bridge's LOCAL port, br-ul's): its kernel must not answer ARP for
    # them on a port's veth too, or a host may learn the veth's MAC and
    # its pings reach that kernel as well as the bridge's flows
    # (test_fragments_nat saw duplicate echo replies).
    ip netns exec "$OVS_NS" sysctl -qw "net.ipv4.conf.$1.arp_ignore=8" \
        >/dev/null 2>&1 || true
    ip netns exec "$OVS_NS" ethtool -K "$1" tx off rx off >/dev/null 2>&1 || true
    ip -n "$OVS_NS" link set "$1" up
}

# Flow and group tables of every bridge, for post-mortem ($D/final.*).
_e2e_dump_state() {
    local br
    for br in $(vsctl list-br 2>/dev/null); do
        {
            ofctl dump-flows "$br"
            ofctl dump-groups "$br"
            ofctl dump-ports-desc "$br"
        } >"$D/final.$br.txt" 2>&1 || true
    done
    appctl dpctl/dump-flows >"$D/final.dpflows.txt" 2>&1 || true
    appctl dpctl/dump-conntrack >"$D/final.conntrack.txt" 2>&1 || true
}

cleanup() {
    local rc=$? f ns pid i
    trap - EXIT INT TERM
    set +e
    if [ "$CHECK_FAILS" -gt 0 ] && [ "$rc" -eq 0 ]; then
        rc=1
    fi
    [ "$rc" -ne 0 ] && [ "$E2E_OVS_UP" = 1 ] && _e2e_dump_state
    # A test's own undo (E2E_AT_EXIT: a command line), before the rest.
    if [ -n "${E2E_AT_EXIT:-}" ]; then
        eval "$E2E_AT_EXIT"
    fi
    for f in "$D"/pids/*.pid "${!E2E_PIDS[@]}"; do
        case $f in
            "$D"/pids/*.pid) kill_pidfile "$f" 3 ;;
        esac
    done
    mslbd_stop
    # mslbd's own ovsdb-server outlives an mslbd killed with -9.
    for f in "$D"/mslbd-db/mslb-db.pid "$D"/mslb-db.pid "$D"/*/mslb-db.pid; do
        [ -f "$f" ] && kill_pidfile "$f" 5
    done
    ovs_stop
    # Anything left in our own namespaces was started by this run.
    {
        for ns in ${E2E_NETNS[@]+"${E2E_NETNS[@]}"}; do
            for pid in $(ip netns pids "$ns"); do
                kill -KILL "$pid"
            done
        done
    } 2>/dev/null
    for ns in ${E2E_NETNS[@]+"${E2E_NETNS[@]}"}; do
        for ((i = 0; i < 20; i++)); do
            ip netns del "$ns" 2>/dev/null && break
            ip netns list | grep -qw "$ns" || break
            sleep 0.1
        done
    done
    echo "# checks: $CHECK_N, failed: $CHECK_FAILS, exit: $rc"
    if [ "$rc" -ne 0 ] || [ "${MSLB_KEEP:-0}" = 1 ]; then
        echo "# test dir kept: $D"
        if [ "$rc" -ne 0 ]; then
            for f in "$D/ovs-vswitchd.log" "$D/mslbd.log" "$D/mslbd.out" \
                "$D"/logs/srv-*.log; do
                [ -s "$f" ] || continue
                echo "# ---- tail $f"
                tail -n 25 "$f"
            done
        fi
    else
        rm -rf "$D"
    fi
    exit "$rc"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- captures

# capture_ready TAG...: waits until each spawned tcpdump (logs in
# $D/logs/TAG.log) says it is listening, so no packet is missed.
capture_ready() {
    local tag
    for tag in "$@"; do
        wait_for 20 grep -q "listening on" "$D/logs/$tag.log"
    done
}

# capture_stop TAG...: stops spawned captures (started with -U and -w
# $D/TAG.pcap-like files named in their command lines).  tcpdump may lag
# behind the kernel, and on SIGTERM it drops what it has not read yet, so
# first wait until every capture file has stopped growing for a second.
capture_stop() {
    local tag f sizes prev="" i
    local files=()
    for tag in "$@"; do
        f=$(tr '\0' '\n' <"/proc/$(cat "$D/pids/$tag.pid")/cmdline" 2>/dev/null \
            | grep -A1 '^-w$' | tail -n 1 || true)
        [ -n "$f" ] && files+=("$f")
    done
    for ((i = 0; i < 30; i++)); do
        sizes=$(stat -c %s ${files[@]+"${files[@]}"} 2>/dev/null | tr '\n' ' ')
        [ "$sizes" = "$prev" ] && break
        prev=$sizes
        sleep 1
    done
    for tag in "$@"; do
        spawn_stop "$tag" 10 || true
    done
}
