#!/bin/bash
# schemas/mslb.ovsschema: the database refuses what breaks its constraints
# (ranges, enums, unique indexes, references, row limits) on a private
# ovsdb-server, and collects a Backend no Service refers to.
#   test_ovsschema.sh [SCHEMA]
set -euo pipefail
SCHEMA=${1:-$(cd "$(dirname "$0")/../.." && pwd)/schemas/mslb.ovsschema}
D=$(mktemp -d /tmp/mslb-ovsschema.XXXXXX)
cleanup() {
    if [ -f "$D/db.pid" ]; then
        kill "$(cat "$D/db.pid")" 2>/dev/null || true
    fi
    rm -rf "$D"
}
trap cleanup EXIT
ovsdb-tool create "$D/t.db" "$SCHEMA"
ovsdb-server "$D/t.db" --remote="punix:$D/db.sock" --pidfile="$D/db.pid" \
    --unixctl="$D/db.ctl" --log-file="$D/db.log" --detach --no-chdir \
    2>/dev/null
R="unix:$D/db.sock"
fails=0

t() {
    ovsdb-client transact "$R" "[\"MSLB\", $1]" 2>&1
}
ok() {   # ok NAME OPS: every operation succeeds
    local out
    out=$(t "$2")
    if grep -q '"error"' <<<"$out"; then
        echo "FAIL $1: $out"; fails=$((fails + 1))
    else
        echo "ok   $1"
    fi
}
refused() {   # refused NAME PATTERN OPS: the transaction fails with PATTERN
    local out
    out=$(t "$3")
    if grep -q '"error"' <<<"$out" && grep -q -- "$2" <<<"$out"; then
        echo "ok   $1"
    else
        echo "FAIL $1 (wanted $2): $out"; fails=$((fails + 1))
    fi
}
count() {   # count TABLE: rows in TABLE
    t "{\"op\":\"select\",\"table\":\"$1\",\"where\":[],\"columns\":[\"_uuid\"]}" \
        | grep -o '"_uuid"' | wc -l
}

BR='{"op":"insert","table":"Bridge","uuid-name":"br","row":{"name":"br0","role":"first","ct_zone":1,"mac":"0a:00:00:00:00:01","frontend_port":"p1","tunnel_ports":["map",[["vxlan","vx0"]]],"gateways":["set",["198.18.0.1","2001:db8::1"]]}}'
BE='{"op":"insert","table":"Backend","uuid-name":"be","row":{"name":"s1","ip":"198.18.2.1","port":80,"weight":1,"state":"up"}}'
svc() {   # svc NAME ID VIP PORT [EXTRA]: a Service on bridge br0 with backend "be"
    echo "{\"op\":\"insert\",\"table\":\"Service\",\"row\":{\"name\":\"$1\",\"id\":$2,\"vip\":\"$3\",\"protocol\":\"tcp\",\"port\":$4,\"mode\":\"nat\",\"idle_timeout\":300,\"persistence\":0,\"bridges\":[\"named-uuid\",\"br\"],\"backends\":[\"named-uuid\",\"be\"]${5:-}}}"
}
BUMP='{"op":"mutate","table":"Global","where":[],"mutations":[["generation","+=",1]]}'

ok "global row" '{"op":"insert","table":"Global","row":{}}'
refused "second global row" "greater than the schema-defined limit" \
    '{"op":"insert","table":"Global","row":{}}'
refused "bridge without ct_zone" "not in the valid range 1 to 65535" \
    '{"op":"insert","table":"Bridge","row":{"name":"brx","role":"first"}}'
refused "bridge without role" "not one of the allowed values" \
    '{"op":"insert","table":"Bridge","row":{"name":"brx","ct_zone":1}}'
refused "bridge name too long" "greater than maximum allowed length 15" \
    '{"op":"insert","table":"Bridge","row":{"name":"br_much_too_long","role":"first","ct_zone":1}}'
refused "unknown tunnel type" "not one of the allowed values" \
    '{"op":"insert","table":"Bridge","row":{"name":"brx","role":"first","ct_zone":1,"tunnel_ports":["map",[["ipip","x"]]]}}'
refused "service without bridges" "references nonexistent row" \
    '{"op":"insert","table":"Service","row":{"name":"w","id":1,"vip":"198.18.1.1","protocol":"tcp","port":80,"mode":"nat","idle_timeout":300,"persistence":0}}'
ok "bridge, service and backend in one transaction, generation bumped" \
    "$BR, $BE, $(svc web 1 198.18.1.1 80), $BUMP"
refused "bridge name unique" "identical values (br0) for index on column ..name" "$BR"
BRREF='{"op":"select","table":"Bridge","where":[["name","==","br0"]]}'
# Later services reuse br0 through a "named-uuid" bound by a wait-free
# trick: look its uuid up once.
BRUUID=$(t "$BRREF" | grep -o '"_uuid":\["uuid","[0-9a-f-]*"\]' | head -1 \
         | grep -o '[0-9a-f]\{8\}-[0-9a-f-]*')
svc2() {   # like svc, on the existing br0
    svc "$@" | sed "s/\"bridges\":\[\"named-uuid\",\"br\"\]/\"bridges\":[\"uuid\",\"$BRUUID\"]/"
}
refused "service name unique" "index on column ..name" \
    "$BE, $(svc2 web 2 198.18.1.2 80)"
refused "service id unique" "index on column ..id" \
    "$BE, $(svc2 web2 1 198.18.1.2 80)"
refused "service vip/protocol/port unique" "index on columns" \
    "$BE, $(svc2 web2 2 198.18.1.1 80)"
ok "same vip, other port" "$BE, $(svc2 web2 2 198.18.1.1 443)"
refused "service with an empty bridge set" "must have 1 to" \
    "$BE, $(svc2 web3 3 198.18.1.3 80 | sed 's/"bridges":\["uuid","[^"]*"\]/"bridges":["set",[]]/')"
refused "service id 0" "not in the valid range 1 to 16777215" \
    "$BE, $(svc2 web3 0 198.18.1.3 80)"
refused "service id 2^24" "not in the valid range 1 to 16777215" \
    "$BE, $(svc2 web3 16777216 198.18.1.3 80)"
refused "unknown mode" "not one of the allowed values" \
    "$BE, $(svc2 web3 3 198.18.1.3 80 | sed 's/"nat"/"ipvs"/')"
refused "port 65536" "not in the valid range 0 to 65535" \
    "$BE, $(svc2 web3 3 198.18.1.3 65536)"
refused "dscp 64" "not in the valid range 1 to 63" \
    "$BE, $(svc2 web3 3 198.18.1.3 80 ',"dscp":64')"
refused "idle_timeout 0" "not in the valid range 1 to 86400" \
    "$BE, $(svc2 web3 3 198.18.1.3 80 | sed 's/"idle_timeout":300/"idle_timeout":0/')"
refused "backend weight 0" "not in the valid range 1 to 10000" \
    "$(sed 's/"weight":1/"weight":0/' <<<"$BE"), $(svc2 web3 3 198.18.1.3 80)"
refused "backend state" "not one of the allowed values" \
    "$(sed 's/"up"/"sick"/' <<<"$BE"), $(svc2 web3 3 198.18.1.3 80)"
refused "dangling bridge reference" "referential integrity violation\|does not exist" \
    "$BE, $(svc web3 3 198.18.1.3 80 | sed 's/"named-uuid","br"/"uuid","11111111-2222-3333-4444-555555555555"/')"
refused "delete a bridge a service uses" "referential integrity violation" \
    '{"op":"delete","table":"Bridge","where":[["name","==","br0"]]}'
refused "generation below 0" "not in the valid range\|less than" \
    '{"op":"update","table":"Global","where":[],"row":{"generation":-1}}'
ok "orphan backend accepted" \
    '{"op":"insert","table":"Backend","row":{"name":"orphan","ip":"198.18.2.9","port":80,"weight":1,"state":"up"}}'
n=$(count Backend)
if [ "$n" = 2 ]; then
    echo "ok   orphan backend collected (2 backends left)"
else
    echo "FAIL orphan backend collected: $n backends"; fails=$((fails + 1))
fi
ok "delete a service" '{"op":"delete","table":"Service","where":[["name","==","web2"]]}'
n=$(count Backend)
if [ "$n" = 1 ]; then
    echo "ok   its backend collected"
else
    echo "FAIL its backend collected: $n backends"; fails=$((fails + 1))
fi
gen=$(t '{"op":"select","table":"Global","where":[],"columns":["generation"]}')
if grep -q '"generation":1' <<<"$gen"; then
    echo "ok   generation 1"
else
    echo "FAIL generation: $gen"; fails=$((fails + 1))
fi
ok "bridge status" '{"op":"insert","table":"Bridge_Status","row":{"name":"br0","connected":true,"installed_generation":1,"desired_generation":1,"flows":10,"groups":1}}'
refused "bridge status name unique" "index on column ..name" \
    '{"op":"insert","table":"Bridge_Status","row":{"name":"br0"}}'
echo "$fails failure(s)"
[ "$fails" = 0 ]
