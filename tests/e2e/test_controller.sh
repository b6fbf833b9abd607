#!/usr/bin/env bash
# The controller side: several bridges at once over punix:, ptcp: and an
# active connection to a switch that listens; each bridge gets its own
# flows; a bridge the model does not name is left alone; bridges come back
# after the controller restarts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ovs_start
# mslbd runs in the switch's namespace so that 127.0.0.1 is shared.
export MSLBD_IN_OVS_NS=1
port=$((20000 + 0x${RID:0:4} % 20000))
add_lb_bridge br-a "$MSLBD_TARGET"                  # punix:
add_lb_bridge br-b "tcp:127.0.0.1:$port"            # ptcp:
add_lb_bridge br-c "ptcp:$((port + 1)):127.0.0.1"   # the switch listens
add_lb_bridge br-x "$MSLBD_TARGET"                  # not in the model
add_lb_bridge br-d "$MSLBD_TARGET"                  # known by datapath id
vsctl set bridge br-d other-config:datapath-id=00000000000000d1
for br in a b c x d; do
    vsctl add-port "br-$br" "f-$br" -- set interface "f-$br" type=internal
done
ofctl add-flow br-x "cookie=0x1234,priority=5,actions=drop"

svc() {   # svc NAME BRIDGE VIP
    printf '{"name":"%s","vip":"%s","protocol":"tcp","port":80,"bridges":["%s"],"backends":[{"name":"b","ip":"198.19.0.1","mac":"02:00:00:00:00:01"}]}' "$1" "$3" "$2"
}
br() {    # br NAME
    printf '{"name":"%s","mac":"0a:00:00:00:00:01","frontend_port":"f-%s"}' "$1" "${1#br-}"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [$(br br-a), $(br br-b), $(br br-c),
             {"name":"br-d","datapath_id":"d1","mac":"0a:00:00:00:00:01","frontend_port":"f-d"}],
 "services": [$(svc a br-a 198.18.0.1), $(svc b br-b 198.18.0.2), $(svc c br-c 198.18.0.3),
              $(svc d br-d 198.18.0.4)]}
JSON

mslbd_start "$D/mslb.json" --listen "ptcp:$port:127.0.0.1" \
    --connect "tcp:127.0.0.1:$((port + 1))"
for b in a b c d; do
    check "br-$b programmed" wait_for 20 \
        grep -q "bridge br-$b: generation 1 installed" "$D/mslbd.log"
done
check "br-a has only its own service" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-a.mgmt | grep -q nw_dst=198.18.0.1, &&
     ! ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-a.mgmt | grep -q nw_dst=198.18.0.2"
check "br-c (active connection) has its service" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-c.mgmt | grep -q nw_dst=198.18.0.3,"
check "br-d recognised by its datapath id" sh -c \
    "ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-d.mgmt | grep -q nw_dst=198.18.0.4,"
check "a bridge not in the model is left alone" wait_for 10 \
    grep -q "bridge br-x (dpid [0-9a-f]*): not in the model; removing mslb.s flows (0) and leaving others alone" \
    "$D/mslbd.log"
check "its flows are untouched" sh -c \
    "test \$(ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-x.mgmt | grep -c cookie=) -eq 1"
check "OpenFlow 1.5 negotiated where offered" \
    grep -q "bridge br-a (dpid .*): connected with OpenFlow15" "$D/mslbd.log"

# Restart: every bridge comes back and is adopted without change.
mslbd_stop
mv "$D/mslbd.log" "$D/mslbd.log.1"
mslbd_start "$D/mslb.json" --listen "ptcp:$port:127.0.0.1" \
    --connect "tcp:127.0.0.1:$((port + 1))"
for b in a b c; do
    check "br-$b back after restart, unchanged" wait_for 20 \
        grep -q "bridge br-$b: generation 1 installed (no change" "$D/mslbd.log"
done

# A port that appears later: the service waits for it, then installs.
cat >"$D/mslb.json" <<JSON
{"bridges": [$(br br-a), {"name":"br-b","mac":"0a:00:00:00:00:01","frontend_port":"late"}],
 "services": [$(svc a br-a 198.18.0.1), $(svc b br-b 198.18.0.2)]}
JSON
kill -HUP "$(mslbd_pid)"
check "missing port reported" wait_for 10 \
    grep -q 'bridge br-b: port "late" not found; waiting for it' "$D/mslbd.log"
vsctl add-port br-b late -- set interface late type=internal
check "installed once the port appears" wait_for 10 \
    grep -q "bridge br-b: generation 2 installed" "$D/mslbd.log"
check "br-c, dropped from the model, loses its mslb flows" wait_for 10 \
    grep -q "bridge br-c: generation 2 installed" "$D/mslbd.log"
check "  ... all of them" sh -c \
    "! ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-c.mgmt | grep -q cookie=0x4d53"
