#!/usr/bin/env bash
# mslbctl against a real mslbd and a real switch: create a service from
# flags, see traffic balanced, add and drain backends, read status and
# stats, delete; exit codes scripts rely on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
MSLBCTL=${MSLBCTL:-$(dirname "$MSLBD")/mslbctl}
export MSLB_URL=$REST_URL

nat_topo_up
cat >"$D/seed.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}]}
JSON
mslbd_start "$D/seed.json" --rest "$REST_PORT"
wait_rest
wait_generation 1

ctl() { "$MSLBCTL" "$@"; }
exit_code() {   # exit_code N CMD...: CMD exits with N
    local want=$1 rc=0
    shift
    "$@" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq "$want" ] || { echo "exit $rc, want $want"; return 1; }
}

check "create from flags" sh -c "$MSLBCTL create web --vip $VIP --protocol tcp --port 80 --bridge br-lb \
    --backend name=s1,ip=198.18.1.11,port=8080,mac=02:00:00:00:01:11 \
    --backend name=s2,ip=198.18.1.12,port=8080,mac=02:00:00:00:01:12 | grep -q 'service web created (generation 2, installed)'"
check "list shows it" sh -c "$MSLBCTL list | grep -Eq '^web +$VIP +tcp +80 +nat +2/2'"
check "traffic over s1 and s2" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 \
    --count 200 --concurrency 8 --expect S1:1,S2:1 --tolerance 0.12
check "backend add" sh -c "$MSLBCTL backend add web --name s3 --ip 198.18.1.13 --port 8080 --mac 02:00:00:00:01:13 | grep -q 'backend s3 added'"
check "backend drain" sh -c "$MSLBCTL backend drain web s1 | grep -q 'set to drain'"
check "new connections skip the drained s1" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 \
    --count 200 --concurrency 8 --expect S2:1,S3:1 --tolerance 0.12
check "show lists the states" sh -c "$MSLBCTL show web | grep -Eq '^s1 +198.18.1.11 +8080 .* drain'"
check "status: bridge connected and installed" sh -c "$MSLBCTL status | grep -Eq '^br-lb +yes'"
check "stats: sessions for s3" sh -c "$MSLBCTL --json stats web | grep -q '\"sessions\"'"
check "unknown service exits 4" exit_code 4 ctl show nope
check "invalid weight exits 1" exit_code 1 ctl backend weight web s2 0
check "usage error exits 2" exit_code 2 ctl create
check "no server exits 3" exit_code 3 ctl --url http://127.0.0.1:1 list
check "delete" sh -c "$MSLBCTL delete web | grep -q 'service web deleted'"
check_fails "the VIP no longer answers" nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 1 --timeout 1

# Bridges: put from a file (a second, unconnected bridge), show, replace,
# a refused one (the API's field path in the error), delete.
cat >"$D/br2.json" <<JSON
{"name": "br-lb2", "mac": "0a:00:00:00:00:02", "frontend_port": "f2",
 "backend_port": "b2", "gateways": ["198.18.1.2"]}
JSON
check "bridge put creates" sh -c \
    "$MSLBCTL bridge put --file $D/br2.json | grep -Eq '^bridge br-lb2 created \(generation [0-9]+'"
check "bridge show" sh -c \
    "$MSLBCTL bridge show br-lb2 | grep -Eq '^configured: +yes' &&
     $MSLBCTL bridge show br-lb2 | grep -Eq '^connected: +no'"
sed -i 's/"198.18.1.2"/"198.18.1.3"/' "$D/br2.json"
check "bridge put replaces" sh -c \
    "$MSLBCTL bridge put --file $D/br2.json | grep -q '^bridge br-lb2 replaced'"
cat >"$D/bad.json" <<JSON
{"name": "br-bad", "mac": "not-a-mac", "frontend_port": "f", "backend_port": "b"}
JSON
check "a bad bridge exits 1, naming the field" sh -c \
    "! $MSLBCTL bridge put --file $D/bad.json 2>$D/bad.err; grep -q 'mac' $D/bad.err"
check "bridge delete" sh -c "$MSLBCTL bridge delete br-lb2 | grep -q '^bridge br-lb2 deleted'"
check "a deleted bridge is not found (exit 4)" exit_code 4 ctl bridge show br-lb2

# --set: fields without a flag of their own; a refused one names the field.
check "create with --set idle_timeout and a monitor object" sh -c \
    "$MSLBCTL create web2 --vip $VIP --protocol tcp --port 81 --bridge br-lb \
        --set idle_timeout=30 --set 'monitor={\"type\": \"tcp\", \"interval\": 2}' \
        --backend name=s3,ip=198.18.1.13,port=8081,mac=02:00:00:00:01:13 \
        | grep -q 'service web2 created'"
check "show has the monitor given by --set" sh -c \
    "$MSLBCTL --json show web2 | grep -q '\"interval\": 2'"
check "a refused --set exits 1 and names the field" sh -c \
    "! $MSLBCTL create web3 --vip $VIP --protocol tcp --port 82 --bridge br-lb \
        --set idle_timeout=0 2>$D/set.err; grep -q 'idle_timeout' $D/set.err"
check "delete web2" sh -c "$MSLBCTL delete web2 | grep -q 'service web2 deleted'"
