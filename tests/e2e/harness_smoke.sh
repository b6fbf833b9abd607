#!/usr/bin/env bash
# Smoke test of the e2e harness itself (no mslbd): a private OVS, two
# standalone switches joined by a patch link and a veth link (in turn),
# hosts on each; ping, IPv6 ping, TCP, UDP and a stream between them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ovs_start
add_switch_bridge swa
add_switch_bridge swb
add_host h1 swa 198.18.0.1/24 2001:db8:1::1/64
add_host h2 swb 198.18.0.2/24 2001:db8:1::2/64
start_server h2 H2 --tcp 8080 --udp 5353

client() { nsx h1 "$PYTHON" "$TOOLS/lbclient.py" "$@"; }

for kind in patch veth; do
    link_bridges swa "a-$kind" swb "b-$kind" "$kind"
    check "$kind: ping" nsx h1 ping -c 3 -i 0.2 -W 2 198.18.0.2
    check "$kind: ping6" nsx h1 ping -6 -c 3 -i 0.2 -W 2 2001:db8:1::2
    check "$kind: tcp x50" client tcp 198.18.0.2 8080 --count 50 --expect H2
    check "$kind: tcp6 x20" client tcp 2001:db8:1::2 8080 --count 20 --expect H2
    check "$kind: udp x50" client udp 198.18.0.2 5353 --count 50 --expect H2
    check "$kind: stream 2s" nsx h1 "$PYTHON" "$TOOLS/lbstream.py" \
        198.18.0.2 8080 --seconds 2 --chunk 32768
    vsctl del-port swa "a-$kind" -- del-port swb "b-$kind"
    if [ "$kind" = veth ]; then
        in_ovs ip link del "a-$kind"
    fi
done

# The bridges' controller-facing helpers (no controller listening: only
# the configuration is checked).
add_lb_bridge lbx "$MSLBD_TARGET"
check "lb bridge is secure, OF13, controller set" \
    test "$(vsctl get bridge lbx fail_mode)/$(vsctl get-controller lbx)" \
    = "secure/$MSLBD_TARGET"
check "ofctl wrapper reaches the bridge" ofctl dump-flows lbx
check "check_fails inverts" check_fails "inner" false
