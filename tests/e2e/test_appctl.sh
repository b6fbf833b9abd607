#!/usr/bin/env bash
# mslbd answers ovs-appctl as OVS's daemons do (docs/controller.md,
# "Control socket"): version, status, bridge/show, trace (the switch's
# ofproto/trace naming mslb's tables, the service and the backend),
# vlog/list, vlog/set
# (a module's debug lines appear in the log file), vlog/reopen after the
# log file was moved (as logrotate does), exit (the daemon stops, the
# bridge keeps its flows); `mslbd --version`, `mslbctl --version`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"

nat_topo_up
nat_config "$D/mslb.json"
mslbd_start "$D/mslb.json" --verbose=syslog:warn
check "installed" wait_generation 1

# The pidfile is $D/mslbd.pid, the socket $D/mslbd.PID.ctl: found by name.
ctl() { OVS_RUNDIR=$D ovs-appctl -t mslbd --timeout=10 "$@"; }
out() { ctl "$@" 2>&1; }

check "the control socket is beside the pidfile" \
    test -S "$D/mslbd.$(mslbd_pid).ctl"
second_refused() {
    local rc=0 first
    first=$(mslbd_pid)
    "$MSLBD" --config "$D/mslb.json" --listen "punix:$D/second.sock" \
        --pidfile "$D/mslbd.pid" >"$D/second.out" 2>&1 </dev/null || rc=$?
    cat "$D/second.out"
    [ "$rc" = 1 ] && grep -q "mslbd $first is running with this pidfile" "$D/second.out" \
        && [ "$(mslbd_pid)" = "$first" ] && kill -0 "$first"
}
check "a second mslbd on the same pidfile is refused; the first runs on" second_refused
check "version: mslbd's, on OVS's library" sh -c \
    "OVS_RUNDIR=$D ovs-appctl -t mslbd version | grep -qx 'mslbd 0.12.0' &&
     OVS_RUNDIR=$D ovs-appctl -t mslbd version | grep -q '^Open vSwitch Library'"
check "mslbd --version" sh -c "'$MSLBD' --version | grep -qx 'mslbd (mslb) 0.12.0'"
check "mslbctl --version" sh -c \
    "'$(dirname "$MSLBD")/mslbctl' --version | grep -qx 'mslbctl (mslb) 0.12.0'"
status_ok() {
    local s
    s=$(out status)
    echo "$s"
    grep -q "^mslbd .*: master (master .*, role generation [0-9]*)$" <<<"$s"
    grep -q "^model: generation 1, database connected, 0 problems$" <<<"$s"
    grep -q "^bridges: 1 configured, 1 connected, 1 in step$" <<<"$s"
}
check "status: master, the model's generation, bridges in step" \
    wait_for 10 status_ok
show_ok() {
    local s
    s=$(out bridge/show br-lb)
    echo "$s"
    grep -Eq "^br-lb: connected, master, dpid [0-9a-f]{16}, OpenFlow1[35], installed 1 of 1, [0-9]+ flows, 3 groups$" <<<"$s"
}
check "bridge/show br-lb" show_ok
check_fails "bridge/show of a bridge that never connected is an error" \
    ctl bridge/show br-nope
check "list-commands has mslbd's commands and OVS's vlog" sh -c \
    "OVS_RUNDIR=$D ovs-appctl -t mslbd list-commands | grep -q 'bridge/show' &&
     OVS_RUNDIR=$D ovs-appctl -t mslbd list-commands | grep -q 'vlog/reopen'"
check "vlog/list names mslbd's modules" sh -c \
    "OVS_RUNDIR=$D ovs-appctl -t mslbd vlog/list | grep -Eq '^ *reconciler '"
check "--verbose=syslog:warn set every module's syslog level" sh -c \
    "OVS_RUNDIR=$D ovs-appctl -t mslbd vlog/list | grep -Eq '^ *reconciler +INFO +WARN +INFO'"
bad_verbose() {
    local rc=0
    timeout 5 "$MSLBD" --verbose=nosuch:info --config "$D/mslb.json" \
        --listen "punix:$D/bad.sock" >"$D/badv.out" 2>&1 || rc=$?
    cat "$D/badv.out"
    [ "$rc" = 2 ] && grep -q 'no destination, level, or module' "$D/badv.out"
}
check "a bad --verbose spec stops mslbd (exit 2), naming it" bad_verbose

# trace: the switch's ofproto/trace with mslb's table and service names;
# a new session's backend is picked after a dp_hash recirculation that
# ofproto/trace does not follow, which the answer says.
FLOW="in_port=front,tcp,dl_dst=$LBMAC,nw_src=198.18.0.10,nw_dst=$VIP,tp_src=40000,tp_dst=80"
trace_ok() {
    local s
    s=$(out trace br-lb "$FLOW" || true)
    echo "$s"
    grep -q "^ *0\. .*\[CLASSIFY" <<<"$s"
    grep -q "\[.*, service web\]" <<<"$s"
    grep -Eq "^mslb: service web, backend( s[12]|: chosen by the datapath's hash of the packet \(dp_hash\), not traced)$" <<<"$s"
}
check "trace: a client's SYN to the VIP names the tables, service and backend" \
    trace_ok
trace_other() {
    out trace br-lb "in_port=front,tcp,dl_dst=$LBMAC,nw_src=198.18.0.10,nw_dst=198.18.0.99,tp_dst=80" \
        | grep -q "^mslb: service none$"
}
check "trace: a packet to no VIP hits no service" trace_other
check_fails "trace of a bridge the switch does not have is an error" \
    ctl trace br-nope "$FLOW"

# A stuck ovs-vswitchd: trace waits in the background and gives up after
# 3 s; mslbd answers everything else meanwhile.
vs_pid=$(tr -dc '0-9' <"$D/ovs-vswitchd.pid")
kill -STOP "$vs_pid"
t0=$(date +%s%N)
spawn stuck sh -c "OVS_RUNDIR=$D ovs-appctl -t mslbd --timeout=10 trace br-lb '$FLOW'; echo \"rc=\$?\""
sleep 0.5
check "mslbd answers status while the trace waits" ctl status
stuck_done() { grep -q '^rc=' "$D/logs/stuck.log"; }
wait_for 10 stuck_done || true
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT "$vs_pid"
cat "$D/logs/stuck.log"
check "the trace failed after about 3 s ($ms ms), saying why" sh -c \
    "grep -q 'did not answer in 3000 ms' '$D/logs/stuck.log' && grep -q '^rc=[1-9]' '$D/logs/stuck.log' && [ $ms -ge 2900 ] && [ $ms -lt 6000 ]"
check "trace works again once the switch runs" trace_ok

# vlog/set: the reconciler's debug lines reach the log file.
check_fails "no reconciler debug line yet" grep -q "|DBG|reconciler|" "$D/mslbd.log"
check "vlog/set reconciler:file:dbg" ctl vlog/set reconciler:file:dbg
nat_config "$D/mslb.json" "$(nat_backend 1 8080 3),$(nat_backend 2 8080 5)"
kill -HUP "$(mslbd_pid)"
check "a reload is installed" wait_generation 2
check "the reconciler's debug lines are in the log file" \
    grep -q "|DBG|reconciler|bridge br-lb: .* operations to send" "$D/mslbd.log"

# vlog/reopen after the file was moved away.
mv "$D/mslbd.log" "$D/mslbd.log.1"
check "vlog/reopen" ctl vlog/reopen
check "a new log file" test -e "$D/mslbd.log"
nat_config "$D/mslb.json"
kill -HUP "$(mslbd_pid)"
check "the next lines go to the new file" \
    wait_for 10 grep -q "bridge br-lb: generation 3 installed" "$D/mslbd.log"
check "not to the moved one" sh -c "! grep -q 'generation 3 installed' $D/mslbd.log.1"

# exit: the daemon stops as on SIGTERM; the bridge keeps its flows.
flows=$(ofctl dump-flows br-lb --no-stats | wc -l)
pid=$(mslbd_pid)
check "exit" ctl exit
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "mslbd exited" wait_for 10 gone
check "its pidfile is gone" wait_for 5 sh -c "! test -e $D/mslbd.pid"
check "br-lb kept its $flows flows" \
    test "$(ofctl dump-flows br-lb --no-stats | wc -l)" = "$flows"

# Without --db or --pidfile the database is thrown away in a directory of
# its own under /tmp: nothing of it is left after exit.
"$MSLBD" --config "$D/mslb.json" --listen "punix:$D/tw.sock" \
    --log-file "$D/tw.log" >"$D/tw.out" 2>&1 </dev/null &
tw=$!
E2E_PIDS[$D/tw.pid]=$tw
wait_for 10 grep -q "created database /tmp/mslbd-db\." "$D/tw.log"
twdir=$(sed -n 's|.*created database \(/tmp/mslbd-db\.[^/ ]*\)/mslb\.db .*|\1|p' "$D/tw.log" | head -n 1)
check "a throwaway database directory ($twdir) while it runs" test -d "$twdir"
kill -TERM "$tw"
tw_gone() { ! kill -0 "$tw" 2>/dev/null; }
wait_for 10 tw_gone || true
check "and nothing of it after exit" sh -c "! test -e '$twdir'"
