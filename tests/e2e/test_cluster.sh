#!/usr/bin/env bash
# Two mslbd on a 3-member clustered database, one switch connected to both
# (docs/deployment.md): exactly one is OpenFlow master (the switch says
# so too); a write through the standby is answered once the master
# installed it; kill -9 of the master during TCP streams: the standby is
# master within a second and adopts the flows (none re-added), no stream
# breaks; the master cut from the database (its link frozen) stops being
# master and the other takes over; kill -9 of the database leader during
# a REST write burst: writes resume after the election and no acknowledged
# write is lost; both mslbd killed at once: the switch keeps forwarding,
# and both restarted adopt the flows; a claim written over the master's
# demotes it; on a database whose generation went back, the claim the
# switch refuses as older than one it has seen is made again above that,
# and the flows are adopted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"
. "$(dirname "$0")/cluster_lib.sh"

PA=$REST_PORT
PB=$((REST_PORT + 1))

nat_topo_up
# Besides db_seed's: a monitored service with a backend whose MAC mslbd
# resolves (o1) and one that fails its checks (s3, a closed port): the
# master's findings, which the standby must compile alike.
db_seed "$D/seed.json" ',{"name":"mon","vip":"'"$VIP"'","protocol":"tcp",
  "port":82,"bridges":["br-lb"],
  "monitor":{"type":"tcp","interval":0.5,"timeout":0.3,"rise":2,"fall":2},
  "backends":[{"name":"r1","ip":"198.18.0.20","port":8080},
              {"name":"x3","ip":"198.18.1.13","port":9999,
               "mac":"02:00:00:00:01:13"}]}'
# be_field NAME SERVICE BACKEND EXPR: EXPR on backend BACKEND of SERVICE
# as mslbd NAME shows it ('b').
be_field() {
    ctl_api "$1" GET "/v1/services/$2"
    json_get "[b for b in j['backends'] if b['name'] == '$3'][0]$4"
}
check "a 3-member database cluster" cl_up
ctl_start a "$PA" --config "$D/seed.json"
bridge_controllers br-lb a b
check "a is master (the only one)" wait_for 20 ctl_is a master
cl_proxy_start
CTL_PROXY=1 ctl_start b "$PB"
check "b is standby" wait_for 10 ctl_is b standby
roles_are() { [ "$(switch_role a)" = "$1" ] && [ "$(switch_role b)" = "$2" ]; }
check "the switch: a master, b slave" wait_for 10 roles_are master slave
REST_URL=http://127.0.0.1:$PA
check "br-lb in step (as a reports)" wait_for 20 br_in_step
REST_URL=http://127.0.0.1:$PB
check "br-lb in step (as b reads it from the database)" wait_for 20 br_in_step
check "b names a as the bridge's master" test "$(
    ctl_api b GET /v1/bridges/br-lb; json_get 'j["master"]')" = a
metrics_say() {   # metrics_say NAME LINE: mslbd NAME's /metrics has LINE
    # Read whole first: grep -q stops at its match and, under pipefail,
    # curl's write into the closed pipe (exit 23) would fail the check.
    local text
    text=$(curl -s "http://127.0.0.1:${CTL_PORT[$1]}/metrics")
    grep -qx "$2" <<<"$text"
}
check "/metrics of a: mslb_controller_master 1" metrics_say a 'mslb_controller_master{name="a"} 1'
check "/metrics of b: mslb_controller_master 0" metrics_say b 'mslb_controller_master{name="b"} 0'
check "/metrics of b: mslb_build_info" metrics_say b 'mslb_build_info{version="[0-9.]*"} 1'
check "/metrics of b: the bridge's installed generation, from the master's status" \
    metrics_say b "mslb_bridge_installed_generation{bridge=\"br-lb\"} $(generation)"
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "the VIP works" vip_works
health_of() { be_field "$1" mon "$2" '["health"]["state"]'; }
mac_of() { be_field "$1" mon "$2" '["resolved_mac"]["mac"]'; }
x3_down() { [ "$(health_of "$1" x3)" = down ]; }
r1_mac() { [ "$(mac_of "$1" r1)" = "$(host_mac o1)" ]; }
check "a: x3 fails its checks" wait_for 10 x3_down a
check "a: r1's MAC resolved" wait_for 10 r1_mac a
check "b (standby) has x3 down too, as the master found" wait_for 10 x3_down b
check "b has r1's MAC, as the master found" wait_for 10 r1_mac b
check "b probes nothing itself" test "$(
    be_field b mon x3 '["health"].get("not_probed")')" = \
    "this mslbd is standby: the master probes"

# A write through the standby: in the database, installed by the master,
# answered installed.
write_via_b() {
    ctl_api b POST /v1/services/svc0/backends \
        '{"name":"viab","ip":"198.18.1.13","port":8080,"mac":"02:00:00:00:01:13"}'
    [ "$API_STATUS" = 201 ] && [ "$(json_get 'j["installed"]')" = True ]
}
check "a write through the standby is answered 201, installed" write_via_b
on_switch() { { ofctl dump-groups br-lb; ofctl dump-flows br-lb; } | grep -q "$1"; }
check "the master installed it (the switch has its flows)" on_switch 198.18.1.13

# ---- kill -9 of the master during TCP streams.
spawn_in c1 st1 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 10 --max-stall 3
spawn_in c2 st2 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 10 --max-stall 3
sleep 2
flows_snapshot "$D/flows.kill"
t_kill=$(date +%s.%N)
ctl_kill9 a
check "b is master" wait_for 10 ctl_is b master
wait_for 10 ms_between "$D/b.log" "bridge br-lb: generation [0-9]+ installed" "$t_kill" || true
ms=$(ms_between "$D/b.log" "bridge br-lb: generation [0-9]+ installed" "$t_kill" || echo none)
log "failover: kill -9 of the master -> b's first confirmed generation: $ms ms"
check "b took over and confirmed the bridge within 3 s ($ms ms; target 1 s)" \
    test "$ms" != none -a "${ms:-99999}" -lt 3000
check "b adopted the flows: nothing to send" \
    grep -q "bridge br-lb: generation [0-9]* installed (no change" "$D/b.log"
check "no flow removed, added or replaced since the kill" flows_kept "$D/flows.kill"
b_master() { [ "$(switch_role b)" = master ]; }
check "the switch: b master" wait_for 5 b_master
rc1=0; spawn_wait st1 30 || rc1=$?
rc2=0; spawn_wait st2 30 || rc2=$?
cat "$D/logs/st1.log" "$D/logs/st2.log" >&2
check "both TCP streams flowed across the failover" test "$rc1$rc2" = 00
check "the VIP works" vip_works

ctl_start a "$PA"
check "a comes back as standby" wait_for 10 ctl_is a standby
check "the switch: a slave again" wait_for 10 roles_are slave master
check "b stays master" ctl_is b master

# ---- the master cut from the database: it stops being master.
t_cut=$(date +%s.%N)
cl_partition
check "a becomes master once the database drops b's lock" wait_for 40 ctl_is a master
log "partition: a master after $("$PYTHON" -c "import time; print(round(time.time() - $t_cut, 1))") s"
check "the switch: a master, b slave" wait_for 10 roles_are master slave
check "b stops acting as master (demoted by the switch or lock lost)" \
    wait_for 30 grep -Eq "bridge br-lb: slave|no longer master" "$D/b.log"
check "the VIP works while b is cut off" vip_works
cl_heal
db_up() { ctl_api "$1" GET /v1/health; [ "$(json_get 'j["database"]["connected"]')" = True ]; }
check "b, healed, is connected to the database again" wait_for 30 db_up b
check "b is standby" ctl_is b standby
check "a stays master" ctl_is a master

# ---- kill -9 of the database leader during a REST write burst via b.
REST_URL=http://127.0.0.1:$PB
leader_kill_burst "$REST_URL" 16 || true
leader=$LEADER
log "database leader db$leader killed"
cat "$D/logs/burst1.log" >&2
resumed() { writes_resumed "$D/burst.1.json" "$T_LEADER"; }
log "$(resumed 2>&1 || true)"
check "writes resumed after the election" resumed
check "every acknowledged write is there, none half-applied" burst_verify 1
cl_member_start "$leader"
check "the killed member rejoins" wait_for 30 cl_member_ok "$leader"
check "br-lb in step" wait_for 20 br_in_step

# ---- both mslbd killed at once: the switch keeps forwarding; restarted,
# they adopt the flows.
spawn_in c1 st3 "$PYTHON" "$TOOLS/lbstream.py" "$VIP" 80 --seconds 8 --max-stall 3
sleep 1
flows_snapshot "$D/flows.both"
ctl_kill9 a
ctl_kill9 b
sleep 2
check "the VIP works with no controller" vip_works
ctl_start a "$PA"
CTL_PROXY=1 ctl_start b "$PB"
one_master() {
    local ra rb
    ra=$(ctl_role a) rb=$(ctl_role b)
    echo "a: $ra, b: $rb"
    [ "$ra$rb" = masterstandby ] || [ "$ra$rb" = standbymaster ]
}
check "one master again" wait_for 20 one_master
REST_URL=http://127.0.0.1:$PA
check "br-lb in step" wait_for 20 br_in_step
check "the flows were adopted: none removed, added or replaced" flows_kept "$D/flows.both"
rc3=0; spawn_wait st3 30 || rc3=$?
check "a TCP stream flowed while both were down and restarted" test "$rc3" = 0
check "the VIP works" vip_works

# ---- a claim over the master's: it steps down and claims above.
g_before=$(ctl_api a GET /v1/health >/dev/null; json_get 'j["controller"]["role_generation"]')
high=$(( $(date +%s%3N) + 1000000000 ))
ovsdb-client --timeout=10 transact "unix:$D/db$(cl_leader).sock" \
    '["MSLB",{"op":"update","table":"Global","where":[],"row":{"role_generation":'"$high"',"master":["set",["intruder"]]}}]' >/dev/null
gen_above_high() {
    local r g
    for n in a b; do
        ctl_api "$n" GET /v1/health
        r=$(json_get 'j["controller"]["role"]')
        g=$(json_get 'j["controller"]["role_generation"]')
        if [ "$r" = master ] && [ "$g" -gt "$high" ]; then return 0; fi
    done
    return 1
}
check "a claim written over the master's: a master claims above it" \
    wait_for 10 gen_above_high
check "the demoted one said so" grep -q "claimed role generation $high over ours" \
    "$D/a.log" "$D/b.log"
REST_URL=http://127.0.0.1:$PA
check "br-lb in step" wait_for 20 br_in_step

# ---- a database whose generation went back (restored from a backup):
# the switch has seen a higher one.
flows_snapshot "$D/flows.back"
ctl_kill9 a
ctl_kill9 b
ovsdb-client --timeout=10 transact "unix:$D/db$(cl_leader).sock" \
    '["MSLB",{"op":"update","table":"Global","where":[],"row":{"role_generation":1}}]' >/dev/null
ctl_start a "$PA"
check "a's first claim is refused as stale, it claims above the switch's" \
    wait_for 20 grep -q "a switch has seen role generation" "$D/a.log"
check "a is master of br-lb again" wait_for 20 sh -c \
    "grep -q 'bridge br-lb: master' $D/a.log && curl -s http://127.0.0.1:$PA/v1/bridges/br-lb | grep -q '\"openflow_role\": *\"master\"'"
check "a adopted the flows: none removed, added or replaced" \
    flows_kept "$D/flows.back"
