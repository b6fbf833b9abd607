#!/usr/bin/env bash
# Mode slb behind ECMP (docs/slb.md): two muxes, each a first-stage bridge
# programmed by its own mslbd from the same configuration, each announcing
# the VIP by BGP (its own bgpd, next hop: the mux's address on the
# router's link); an edge router (FRR zebra + bgpd) spreads the clients'
# flows over both (Linux multipath, L4 hash); the backends' host (its own
# ovs-vswitchd) translates and sends the replies to the router directly.
# Both muxes pick the same backend for a flow, so when one mux dies (its
# mslbd killed: its bgpd dies, the router withdraws the path) the flows
# it carried move to the other and keep their backend: 200 held
# connections, 0 broken; and again when it comes back.
#
#            c1 198.18.9.10
#               |
#   router R (AS 65000) r1 198.18.10.1 -- arm1 [br-lb1] (gw 198.18.10.2) mslbd 1
#     ECMP           r2 198.18.11.1 -- arm2 [br-lb2] (gw 198.18.11.2) mslbd 2
#                    s1 198.18.3.1 .. 198.18.3.2 bgpd 1 (AS 65001)   (host 1:
#                    s2 198.18.4.1 .. 198.18.4.2 bgpd 2 (AS 65002)    $OVS_NS)
#                    rh 198.18.5.1 -- rl2 [br-host] vx1 (host 2)
#                                          vm1 198.18.5.31, vm2 .32 (gw .1)
#   underlay: br-ul 198.18.2.1 (mux 1's tunnels), 198.18.2.3 (mux 2's)
#             == br-ul2 198.18.2.2 (host 2)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/frr_lib.sh"
. "$(dirname "$0")/sel_lib.sh"

VIP=198.18.0.100
R=$(ns_of r)
REST2=$((REST_PORT + 1))
# The mslbd (and their bgpd) run in $OVS_NS, where the muxes' session
# addresses are: so do their REST APIs' loopbacks.
curl() { ip netns exec "$OVS_NS" curl "$@"; }

# ---- host 1: the two muxes on one ovs-vswitchd
ovs_start
add_switch_bridge br-ul
in_ovs ip addr add 198.18.2.1/24 dev br-ul
in_ovs ip addr add 198.18.2.3/24 dev br-ul
in_ovs ip link set br-ul up
add_lb_bridge br-lb1 "$MSLBD_TARGET"
add_lb_bridge br-lb2 "unix:$D/mslbd2.sock"
# Two tunnel ports of one datapath need configurations of their own: each
# mux leaves from its own underlay address.
vsctl add-port br-lb1 vxa -- set interface vxa type=vxlan \
    options:remote_ip=flow options:key=flow options:local_ip=198.18.2.1 \
    -- add-port br-lb2 vxb -- set interface vxb type=vxlan \
    options:remote_ip=flow options:key=flow options:local_ip=198.18.2.3
mslb_host2
H2_NET=198.18.5
H2_VIPS=
H2_VIPS6=
for n in 1 2; do
    h2_server "$n" "02:00:00:00:00:3$n"
    ip -n "$(ns_of "s$n")" route add default via 198.18.5.1
    sel_serve "s$n" "S$n" 8080
done

# ---- the router, its clients and its links
frr_ns r
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 \
    net.ipv4.fib_multipath_hash_policy=1
_e2e_netns_add "$(ns_of c1)"
ip -n "$(ns_of c1)" link set lo up
frr_link "$(ns_of c1)" eth0 198.18.9.10/24 "$R" rc 198.18.9.1/24
ip -n "$(ns_of c1)" route add default via 198.18.9.1
for i in 1 2; do
    ip link add "arm$i" netns "$OVS_NS" type veth peer name "r$i" netns "$R"
    _e2e_ovs_side_if "arm$i"
    ip netns exec "$R" ethtool -K "r$i" tx off rx off >/dev/null
    in_ovs ip link set "arm$i" up
    vsctl add-port "br-lb$i" "arm$i"
    ip -n "$R" addr add "198.18.1$((i - 1)).1/24" dev "r$i"
    ip -n "$R" link set "r$i" up
    frr_link "$OVS_NS" "m$i" "198.18.$((i + 2)).2/24" "$R" "s$i" \
        "198.18.$((i + 2)).1/24"
done
ip link add rl2 netns "$NS2" type veth peer name rh netns "$R"
ip netns exec "$NS2" ethtool -K rl2 tx off rx off >/dev/null
ip netns exec "$R" ethtool -K rh tx off rx off >/dev/null
ip -n "$NS2" link set rl2 up
vsctl2 add-port br-host rl2
ip -n "$R" addr add 198.18.5.1/24 dev rh
ip -n "$R" link set rh up

frr_start r "frr defaults datacenter
hostname r
router bgp 65000
 bgp router-id 198.18.9.1
 no bgp ebgp-requires-policy
 bgp bestpath as-path multipath-relax
 neighbor 198.18.3.2 remote-as 65001
 neighbor 198.18.3.2 timers 1 3
 neighbor 198.18.4.2 remote-as 65002
 neighbor 198.18.4.2 timers 1 3
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family" 1

# ---- the same service on both muxes
vm() {   # vm N
    printf '{"name":"s%s","ip":"198.18.5.3%s","port":8080,"mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' \
        "$1" "$1" "$1"
}
config() {   # config N: mux N's model
    cat <<JSON
{"bridges": [
  {"name": "br-lb$1", "mac": "0a:00:00:00:00:0$1", "frontend_port": "arm$1",
   "tunnel_ports": {"vxlan": "vx$([ "$1" = 1 ] && echo a || echo b)"},
   "gateways": ["198.18.1$(($1 - 1)).2"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"}}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb$1"], "backends": [$(vm 1),$(vm 2)]}]}
JSON
}
bgp() {   # bgp N: mux N's speaker
    cat <<JSON
{"asn": 6500$1, "router_id": "198.18.$(($1 + 2)).2",
 "peers": [{"address": "198.18.$(($1 + 2)).1", "asn": 65000, "hold_time": 3}],
 "next_hop": "198.18.1$(($1 - 1)).2", "run_dir": "$D/bgp$1"}
JSON
}
config 1 >"$D/mslb1.json"
config 2 >"$D/mslb2.json"
bgp 1 >"$D/bgp1.json"
bgp 2 >"$D/bgp2.json"

# mux 1's mslbd also programs the host's bridge (the host agent).
MSLBD_IN_OVS_NS=1 mslbd_start "$D/mslb1.json" --listen "punix:$D2/mslbd.sock" \
    --rest "$REST_PORT" --bgp "$D/bgp1.json"
mslbd2_start() {
    rm -f "$D/pids/mslbd2.pid"
    ip netns exec "$OVS_NS" "$MSLBD" --config "$D/mslb2.json" \
        --listen "punix:$D/mslbd2.sock" --pidfile "$D/pids/mslbd2.pid" \
        --log-file "$D/mslbd2.log" --rest "$REST2" --bgp "$D/bgp2.json" \
        >>"$D/mslbd2.out" 2>&1 </dev/null &
    wait_for 20 test -s "$D/pids/mslbd2.pid"
    _e2e_remember "$D/pids/mslbd2.pid"
}
mslbd2_start
wait_for 20 grep -q "bridge br-lb1: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-lb2: generation 1 installed" "$D/mslbd2.log"
wait_rest

vias() { route_vias "$R" "$VIP/32"; }
vias_are() {
    local got
    got=$(vias)
    echo "via: '$got' (want '$1')"
    [ "$got" = "$1" ]
}
BOTH="198.18.10.2 198.18.11.2"
check "the router reaches the VIP through both muxes" wait_for 20 vias_are "$BOTH"
arm_rx() { ip -n "$OVS_NS" -s -j link show "$1" | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
sel_client_prep
sel_wait_port 80
rx1=$(arm_rx arm1)
rx2=$(arm_rx arm2)
nsx c1 "$TCPBENCH" conn "$VIP" 80 300 4 30 30000 >"$D/conn.json"
cat "$D/conn.json"
check "300 connections through the VIP, none fails" \
    test "$(jget "$D/conn.json" "j['connections'] - j['errors']")" -eq 300
check "both VMs answer" \
    test "$(jget "$D/conn.json" "sorted(j['names'])")" = "['S1', 'S2']"
say "mux 1 received $(( $(arm_rx arm1) - rx1 )) packets, mux 2 $(( $(arm_rx arm2) - rx2 ))"
check "ECMP spreads them over both muxes" \
    test $(( $(arm_rx arm1) - rx1 )) -gt 100 -a $(( $(arm_rx arm2) - rx2 )) -gt 100

# 200 connections held open; mux 1 dies; every connection asks again.
rx1=$(arm_rx arm1)
sel_hold_begin hold1 80 200 40000 S1 S2
say "mux 1 received $(( $(arm_rx arm1) - rx1 )) packets of the 200 held connections"
check "mux 1 carries some of the held connections" \
    test $(( $(arm_rx arm1) - rx1 )) -gt 100
mslbd_kill9
check "mux 1 dead: the router keeps only mux 2" wait_for 10 vias_are 198.18.11.2
sel_hold_end hold1 S1 S2
check "every held connection answered by its own VM, none broken" \
    test "${SEL_SAME[S1]}" -eq "${SEL_BEFORE[S1]}" -a \
    "${SEL_SAME[S2]}" -eq "${SEL_BEFORE[S2]}" -a \
    "${SEL_BROKEN[S1]}" -eq 0 -a "${SEL_BROKEN[S2]}" -eq 0

# Mux 1 comes back (same configuration): flows move back, still 0 broken.
sel_hold_begin hold2 80 200 41000 S1 S2
MSLBD_IN_OVS_NS=1 mslbd_start "$D/mslb1.json" --listen "punix:$D2/mslbd.sock" \
    --rest "$REST_PORT" --bgp "$D/bgp1.json"
check "mux 1 back: the router uses both again" wait_for 20 vias_are "$BOTH"
sel_hold_end hold2 S1 S2
check "every held connection answered by its own VM, none broken" \
    test "${SEL_SAME[S1]}" -eq "${SEL_BEFORE[S1]}" -a \
    "${SEL_SAME[S2]}" -eq "${SEL_BEFORE[S2]}" -a \
    "${SEL_BROKEN[S1]}" -eq 0 -a "${SEL_BROKEN[S2]}" -eq 0
