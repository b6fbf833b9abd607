#!/usr/bin/env bash
# VIPs announced by BGP (docs/bgp.md), with real FRR daemons: mslbd runs
# its own bgpd (--bgp) and announces a VIP while a first-stage bridge of
# the service is programmed and the service has a usable backend.  An
# edge router (zebra + bgpd, ECMP) peers with it and with a second "mux"
# (a plain bgpd announcing the same VIP), and installs the VIP in its
# kernel with one next hop per mux that announces it.
#
#   $OVS_NS: br-lb (nat), mslbd + its bgpd, mux1 198.18.3.2 --+
#                                                              r1 198.18.3.1
#                                                    router R (AS 65000)
#                                                              r2 198.18.4.1
#   m2: a static bgpd (AS 65002), announcing VIP, mux2 198.18.4.2 --+
#
# Checks: both next hops; a monitored service whose backend never answers
# is not announced; the backend set down -> withdrawn, up -> announced;
# the bridge's controller removed -> withdrawn, back -> announced; a bad
# --bgp file refused with the field named; bgpd killed -> started again;
# mslbd killed (-9) -> its bgpd dies with it and the router withdraws its
# path at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/frr_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
R=$(ns_of r)
# mslbd (and so its bgpd) runs in $OVS_NS, where the mux's address is: so
# does its REST API's loopback.
curl() { ip netns exec "$OVS_NS" curl "$@"; }

ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
frr_ns r
frr_ns m2
frr_link "$OVS_NS" mux1 198.18.3.2/24 "$R" r1 198.18.3.1/24
frr_link "$(ns_of m2)" mux2 198.18.4.2/24 "$R" r2 198.18.4.1/24

frr_start r "frr defaults datacenter
hostname r
router bgp 65000
 bgp router-id 198.18.3.1
 no bgp ebgp-requires-policy
 bgp bestpath as-path multipath-relax
 neighbor 198.18.3.2 remote-as 65001
 neighbor 198.18.3.2 timers 1 3
 neighbor 198.18.4.2 remote-as 65002
 neighbor 198.18.4.2 timers 1 3
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family" 1
frr_start m2 "frr defaults datacenter
hostname m2
router bgp 65002
 bgp router-id 198.18.4.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 198.18.4.1 remote-as 65000
 neighbor 198.18.4.1 timers 1 3
 address-family ipv4 unicast
  network $VIP/32
 exit-address-family"

cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "0a:00:00:00:00:01",
              "frontend_port": "front", "backend_port": "back",
              "gateways": ["198.18.1.1"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "bridges": ["br-lb"],
   "backends": [{"name": "s1", "ip": "198.18.1.11", "port": 8080,
                 "mac": "02:00:00:00:01:11"}]},
  {"name": "dark", "vip": "$VIP2", "protocol": "tcp", "port": 80,
   "monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.3, "fall": 1},
   "bridges": ["br-lb"],
   "backends": [{"name": "s2", "ip": "198.18.1.12", "port": 8080,
                 "mac": "02:00:00:00:01:12"}]}]}
JSON

# A bad --bgp file: refused, the field named, nothing started.
cat >"$D/bad-bgp.json" <<JSON
{"asn": 65001, "router_id": "198.18.3.2", "peers": [{"address": "198.18.3.1"}],
 "run_dir": "$D/bgp-bad"}
JSON
rc=0
"$MSLBD" --config "$D/mslb.json" --listen "punix:$D/bad.sock" \
    --pidfile "$D/bad.pid" --bgp "$D/bad-bgp.json" >"$D/bad.out" 2>&1 \
    </dev/null || rc=$?
cat "$D/bad.out" >&2
check "a bad --bgp file stops mslbd (exit 1)" test "$rc" -eq 1
check "naming the field" grep -q "peers\[0\]: asn: is required" "$D/bad.out"
bad_bgp() {   # bad_bgp JSON MESSAGE: mslbd refuses --bgp JSON with MESSAGE
    printf '%s\n' "$1" >"$D/bad-bgp.json"
    ! "$MSLBD" --config "$D/mslb.json" --listen "punix:$D/bad.sock" \
        --pidfile "$D/bad.pid" --bgp "$D/bad-bgp.json" >"$D/bad.out" 2>&1 \
        </dev/null
    grep -F -- "$2" "$D/bad.out"
}
check "no router_id" bad_bgp '{"asn": 1, "peers": [{"address": "198.18.3.1", "asn": 2}]}' \
    "router_id: must be an IPv4 address"
check "no peer" bad_bgp '{"asn": 1, "router_id": "198.18.3.2", "peers": []}' \
    "peers: must be a non-empty array"
check "a peer that is no address" bad_bgp \
    '{"asn": 1, "router_id": "198.18.3.2", "peers": [{"address": "r1", "asn": 2}]}' \
    "peers[0]: address: must be an IPv4 or IPv6 address"
check "an AS number out of range" bad_bgp \
    '{"asn": 4294967296, "router_id": "198.18.3.2", "peers": [{"address": "198.18.3.1", "asn": 2}]}' \
    "asn: must be an integer from 1 to 4294967295"
check "an unknown member" bad_bgp \
    '{"asn": 1, "router_id": "198.18.3.2", "peer": [], "peers": [{"address": "198.18.3.1", "asn": 2}]}' \
    "peer: unknown key"
check "bridges that are no list of names" bad_bgp \
    '{"asn": 1, "router_id": "198.18.3.2", "bridges": ["br-lb", 3], "peers": [{"address": "198.18.3.1", "asn": 2}]}' \
    "bridges[1]: must be a bridge name"
check "an empty bridges list" bad_bgp \
    '{"asn": 1, "router_id": "198.18.3.2", "bridges": [], "peers": [{"address": "198.18.3.1", "asn": 2}]}' \
    "bridges: must be a non-empty array of bridge names"
check "not JSON" bad_bgp '{"asn": 1,' "bad-bgp.json: line"

cat >"$D/bgp.json" <<JSON
{"asn": 65001, "router_id": "198.18.3.2",
 "peers": [{"address": "198.18.3.1", "asn": 65000, "hold_time": 3}],
 "run_dir": "$D/bgp"}
JSON
MSLBD_IN_OVS_NS=1 mslbd_start "$D/mslb.json" --rest "$REST_PORT" \
    --bgp "$D/bgp.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_rest

vias() { route_vias "$R" "$1/32"; }
vias_are() {   # vias_are PREFIX "NEXT HOPS"
    local got
    got=$(vias "$1")
    echo "via: '$got' (want '$2')"
    [ "$got" = "$2" ]
}
BOTH="198.18.3.2 198.18.4.2"
check "the router reaches VIP through both muxes (ECMP)" \
    wait_for 20 vias_are "$VIP" "$BOTH"
check "mslbd logged the announcement" \
    grep -q "bgp: announcing $VIP/32" "$D/mslbd.log"
api GET /v1/bgp
echo "$API_BODY"
check "GET /v1/bgp lists it" sh -c "echo '$API_BODY' | grep -q '\"$VIP/32\"'"
BGPD_PID=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["bgpd_pid"])' <<<"$API_BODY")
check "bgpd ($BGPD_PID) runs as mslbd's child" \
    test "$(ps -o ppid= -p "$BGPD_PID" | tr -d ' ')" = "$(mslbd_pid)"
# socks PID: the socket inodes PID holds.
socks() { ls -l "/proc/$1/fd" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | sort -u; }
no_shared_sockets() {   # mslbd's children (bgpd, ovsdb-server) hold none of its sockets
    local c mine shared=0
    mine=$(socks "$(mslbd_pid)")
    for c in $(ps -o pid= --ppid "$(mslbd_pid)"); do
        echo "child $c ($(ps -o comm= -p "$c")): $(socks "$c" | wc -l) sockets"
        if [ -n "$(comm -12 <(echo "$mine") <(socks "$c"))" ]; then shared=1; fi
    done
    [ "$shared" = 0 ] && [ -n "$mine" ]
}
check "mslbd's children inherit none of its sockets (control, OpenFlow, REST)" \
    no_shared_sockets
check "a service with no usable backend is not announced" \
    wait_for 10 vias_are "$VIP2" ""
not_listed() { api GET /v1/bgp; ! grep -q "$VIP2" <<<"$API_BODY"; }
check "and GET /v1/bgp leaves it out" not_listed

# The backend goes down: the service is empty, mslbd withdraws.
t0=$(date +%s.%N)
api PATCH /v1/services/web/backends/s1 '{"state": "down"}'
check "backend set down (HTTP $API_STATUS)" test "$API_STATUS" = 200
check "the router keeps only the other mux" wait_for 10 vias_are "$VIP" 198.18.4.2
echo "withdrawn $("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))") s after the PATCH"
check "mslbd logged the withdrawal" \
    grep -q "bgp: withdrawing $VIP/32" "$D/mslbd.log"
api PATCH /v1/services/web/backends/s1 '{"state": "up"}'
check "backend up: both muxes again" wait_for 10 vias_are "$VIP" "$BOTH"

# The bridge goes away (its controller removed), and comes back.
vsctl del-controller br-lb
check "bridge gone: withdrawn" wait_for 15 vias_are "$VIP" 198.18.4.2
set_controller br-lb "$MSLBD_TARGET"
check "bridge back and programmed: announced" wait_for 15 vias_are "$VIP" "$BOTH"

# bgpd dies alone: mslbd starts it again and announces again.
kill -9 "$BGPD_PID"
check "bgpd killed: the router withdraws the path" \
    wait_for 10 vias_are "$VIP" 198.18.4.2
check "mslbd starts bgpd again, which announces again" \
    wait_for 15 vias_are "$VIP" "$BOTH"
api GET /v1/bgp
echo "$API_BODY"
check "GET /v1/bgp counts the restart" \
    test "$(json_get 'j["restarts"]')" = 1
BGPD_PID=$(json_get 'j["bgpd_pid"]')

# mslbd dies: its bgpd dies with it, the session drops, the path goes.
mslbd_kill9
t0=$(date +%s.%N)
check "mslbd killed: its bgpd is gone too" \
    wait_for 5 sh -c "! kill -0 $BGPD_PID 2>/dev/null"
check "the router withdraws its path" wait_for 10 vias_are "$VIP" 198.18.4.2
echo "withdrawn $("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))") s after the kill"
