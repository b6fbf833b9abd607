#!/usr/bin/env bash
# `cmake --install` into a temporary prefix (issue 13, item 1): binaries,
# share/mslb (database schema, JSON schemas, example), man pages, the
# systemd unit; no path of the source tree in the binaries.  The installed
# mslbd, started as the unit starts it (NOTIFY_SOCKET set, --db, --pidfile,
# --log-file), creates its database from the installed schema, tells
# systemd READY=1 once it serves, passes traffic, answers ovs-appctl and
# the installed mslbctl, and says STOPPING=1 on SIGTERM.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"

BUILD=$(cd "$(dirname "$MSLBD")" && pwd)
SRC=$(cd "$E2E_DIR/../.." && pwd)
P=$D/prefix

check "cmake --install --prefix" sh -c "cmake --install '$BUILD' --prefix '$P' >'$D/install.log'"
for f in sbin/mslbd bin/mslbctl share/mslb/mslb.ovsschema \
    share/mslb/schemas/service.schema.json share/mslb/examples/mslb.json \
    share/man/man8/mslbd.8 share/man/man8/mslbctl.8 \
    share/bash-completion/completions/mslbctl \
    lib/systemd/system/mslbd.service; do
    check "installed: $f" test -s "$P/$f"
done
check "no path of the source tree in the installed binaries" sh -c \
    "! grep -aq '$SRC/' '$P/sbin/mslbd' '$P/bin/mslbctl'"
check "the man pages render without warnings" sh -c \
    "for m in '$P'/share/man/man8/*.8; do
         w=\$(LC_ALL=C.UTF-8 man --warnings=w -l -Tutf8 \"\$m\" 2>&1 >/dev/null)
         [ -z \"\$w\" ] || { echo \"\$m: \$w\"; exit 1; }
     done"
check "the example configuration is valid" \
    "$P/sbin/mslbd" --check --config "$P/share/mslb/examples/mslb.json"
# The unit as installed for this prefix: systemd finds nothing to fault.
sed "s|ExecStart=[^ ]*/mslbd|ExecStart=$P/sbin/mslbd|" \
    "$P/lib/systemd/system/mslbd.service" >"$D/mslbd.service"
check "the systemd unit is Type=notify and verifies" sh -c \
    "grep -qx 'Type=notify' '$D/mslbd.service' &&
     systemd-analyze verify --man=no '$D/mslbd.service' 2>&1 | tee '$D/verify.log' &&
     ! grep -q 'mslbd.service' '$D/verify.log'"

# Started as the unit starts it, with a systemd notification socket.
nat_topo_up
nat_config "$D/mslb.json"
mkdir -p "$D/run" "$D/lib" "$D/log"
spawn notify "$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n--\n")
        out.flush()
' "$D/notify.sock" "$D/notify.log"
wait_for 10 test -S "$D/notify.sock"
NOTIFY_SOCKET=$D/notify.sock "$P/sbin/mslbd" --db "$D/lib/mslb.db" \
    --pidfile "$D/run/mslbd.pid" --log-file "$D/log/mslbd.log" \
    --config "$D/mslb.json" --rest "$REST_PORT" \
    --listen "punix:$MSLBD_SOCK" >"$D/mslbd.out" 2>&1 </dev/null &
E2E_PIDS[$D/run/mslbd.pid]=$!
check "READY=1 with MAINPID once it serves" wait_for 20 sh -c \
    "grep -q '^READY=1$' '$D/notify.log' && grep -q '^MAINPID=[0-9]' '$D/notify.log'"
_e2e_remember "$D/run/mslbd.pid"
check "the pidfile was written before READY" test -s "$D/run/mslbd.pid"
check "its database created from the installed schema" grep -q \
    "created database $D/lib/mslb.db from $P/share/mslb/mslb.ovsschema" \
    "$D/log/mslbd.log"
check "installed" wait_for 20 grep -q "bridge br-lb: generation 1 installed" \
    "$D/log/mslbd.log"
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "traffic through the VIP" vip_works
check "ovs-appctl -t mslbd status" sh -c \
    "OVS_RUNDIR=$D/run ovs-appctl -t mslbd status | grep -q 'bridges: 1 configured, 1 connected, 1 in step'"
check "the installed mslbctl" sh -c \
    "'$P/bin/mslbctl' --url '$REST_URL' list | grep -q '^web '"
pid=$(tr -dc '0-9' <"$D/run/mslbd.pid")
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "SIGTERM: it exits" wait_for 20 gone
check "STOPPING=1 on the way out" grep -q '^STOPPING=1$' "$D/notify.log"
spawn_stop notify
