#!/usr/bin/env bash
# Mininet (issue 13, item 6): mininet/topos.py's `mslbnat` topology built
# by Mininet's Python API on a private ovs-vswitchd (userspace datapath,
# root namespace, its own rundir), mslbd as the remote controller; real
# TCP from a Mininet host through the VIP to the three servers, a ping of
# the VIP; the network stopped and gone afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"

PREFIX=m${RID:0:3}                   # Switch and port names: unique here.
# Mininet is Debian's package: its Python, whatever python3 comes first.
MN_PYTHON=${MN_PYTHON:-/usr/bin/python3}
OFPORT=$((REST_PORT + 1))
OVS_IN_ROOT_NS=1 ovs_start
(cd "$E2E_DIR/../../mininet" && "$MN_PYTHON" -c \
    "import topos; print(topos.mslb_config(prefix='$PREFIX'))") >"$D/mslb.json"
mslbd_start "$D/mslb.json" --listen "ptcp:$OFPORT:127.0.0.1" --rest "$REST_PORT"
check "the mininet topology module loads (mn --custom)" sh -c \
    "cd /tmp && '$MN_PYTHON' -c \"import sys; sys.path.insert(0, '$E2E_DIR/../../mininet'); import topos; assert 'mslbnat' in topos.topos\""

check "Mininet runs the topology, mslbd programs it" \
    "$MN_PYTHON" "$E2E_DIR/mininet_nat.py" "$PREFIX" "$OFPORT" "$TOOLS" "$D/mn.json"
{ cat "$D/mn.json"; echo; } >&2 || true
field() { "$PYTHON" -c "import json,sys; j=json.load(open('$D/mn.json')); print($1)"; }
check "mslbd installed its flows on the load balancer" \
    test "$(field 'j["flows"]')" -gt 10
check "mslbd: the Mininet switch is a model bridge, connected" \
    grep -q "bridge ${PREFIX}lb: generation 1 installed" "$D/mslbd.log"
check "c1 pings the VIP" test "$(field 'j["ping_ok"]')" = True
check "60 TCP connections through the VIP, none failed" \
    test "$(field 'j["client"].get("errors", 1)')" = 0
check "every server answered" test "$(field 'sorted(k for k in j["client"] if k.startswith("S"))')" = "['S1', 'S2', 'S3']"
check "the network is gone (no bridge, no port of it left)" sh -c \
    "! ovs-vsctl --db=unix:$D/db.sock list-br | grep -q '^$PREFIX' &&
     ! ip link show | grep -q ' $PREFIX'"
