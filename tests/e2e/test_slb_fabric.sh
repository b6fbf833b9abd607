#!/usr/bin/env bash
# Mode slb, the whole fabric (docs/slb.md): two muxes and three hosts,
# each its own ovs-vswitchd, two VMs per host, an FRR edge router with
# ECMP over the muxes' BGP sessions, a client behind the router; one
# model database, an mslbd on each mux host (the master programs every
# bridge, each mslbd's speaker announces for its own mux).
#  - TCP and UDP through the VIP reach the VMs in the weights' shares; a
#    2-tuple service sends all of a client's connections to one VM, over
#    both muxes; captures on both muxes: requests only, no reply;
#  - mux 1's ovs-vswitchd killed (-9) during 200 open connections: its
#    mslbd withdraws the VIP, ECMP moves the flows to mux 2, 0 broken;
#    started again: the router uses both again, 0 broken;
#  - the master mslbd (mux 1's) killed (-9) during 200 open connections:
#    mux 1's speaker dies with it, mslbd 2 becomes master (probes from the
#    hosts, no flow changed), 0 broken; mslbd 1 back as a standby: mux 1
#    announced again, 0 broken;
#  - a VM's server stops: the master's probe marks it down, both muxes
#    avoid it, both mslbd show it;
#  - outbound: VMs on two hosts connect to a server behind the router: it
#    sees the VIP with ports of each host's block, the answers come back
#    through both muxes to the right VM.
#
#   c1 198.18.9.10 -- router R (AS 65000, zebra + bgpd, multipath L4)
#     r1 198.18.10.1 -- arm1 [br-lb1] mux 1 (netns h5, 198.18.2.3), mslbd 1
#                       + bgpd (AS 65001) over m1 198.18.3.2 -- s1 .3.1
#     r2 198.18.11.1 -- arm2 [br-lb2] mux 2 (netns h6, 198.18.2.4), mslbd 2
#                       + bgpd (AS 65002) over m2 198.18.4.2 -- s2 .4.1
#     rh 198.18.5.1  -- br-vm (host 1: $OVS_NS, the VMs' network switch)
#   hosts (own ovs-vswitchd): 2 [br-host] vm1 .31 vm2 .32 (198.18.2.2),
#     3 [br-host3] vm3 .33 vm4 .34 (198.18.2.6), 4 [br-host4] vm5 .35
#     vm6 .36 (198.18.2.7); VMs in 198.18.5.0/24, gateway R
#   underlay: br-ul (host 1, a switch) to every br-ulN.  Every bridge
#   connects to both mslbd (mslbd.sock, mslbd2.sock in its host's
#   directory); the model database is one ovsdb-server ($D/model.sock).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/frr_lib.sh"
. "$(dirname "$0")/sel_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
R=$(ns_of r)
ADDR=([2]=198.18.2.2 [3]=198.18.2.6 [4]=198.18.2.7 [5]=198.18.2.3 [6]=198.18.2.4)

# ---- host 1: the underlay switch and the VMs' network
ovs_start
add_switch_bridge br-ul
add_switch_bridge br-vm
in_ovs ip addr add 198.18.2.1/24 dev br-ul
in_ovs ip link set br-ul up

# ---- the muxes (h5, h6) and the hosts (h2, h3, h4)
_mslb_host 5 "${ADDR[5]}" br-lb1 a
_mslb_host 6 "${ADDR[6]}" br-lb2 b
_mslb_host 2 "${ADDR[2]}" br-host 1
_mslb_host 3 "${ADDR[3]}" br-host3 3
_mslb_host 4 "${ADDR[4]}" br-host4 4
# mux_neighbours N: mux N's ovs-vswitchd knows the hosts' underlay MACs.
mux_neighbours() {
    local h mac
    for h in 2 3 4; do
        mac=$(ip -n "mslb-$RID-h$h" link show "br-ul$h" | awk '/link\/ether/ { print $2 }')
        ovs-appctl -t "$D/h$1/vswitchd.ctl" tnl/neigh/set "br-ul$1" \
            "${ADDR[$h]}" "$mac" >/dev/null
    done
}
mux_neighbours 5
mux_neighbours 6
# Every bridge connects to both mslbd.
for hb in 5:br-lb1 6:br-lb2 2:br-host 3:br-host3 4:br-host4; do
    h=${hb%%:*}
    vsctln "$h" set-controller "${hb#*:}" "unix:$D/h$h/mslbd.sock" \
        "unix:$D/h$h/mslbd2.sock"
    for u in $(vsctln "$h" --bare --columns=_uuid list controller); do
        vsctln "$h" set controller "$u" connection-mode=out-of-band max_backoff=1000
    done
done
H2_NET=198.18.5
H2_VIPS=
H2_VIPS6=
n=0
for h in 2 3 4; do
    br=br-host$h
    [ "$h" = 2 ] && br=br-host
    cross_link "vm$h" br-vm "hv$h" "$br" "$h"
    for k in 1 2; do
        n=$((n + 1))
        HOST_N=$h h2_server "$n" "02:00:00:00:00:3$n" "$br"
        ip -n "$(ns_of "s$n")" route add default via 198.18.5.1
        sel_serve "s$n" "S$n" 8080
        start_server "s$n" "U$n" --udp 5353
    done
done

# ---- the router, its client and its links
frr_ns r
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 \
    net.ipv4.fib_multipath_hash_policy=1
_e2e_netns_add "$(ns_of c1)"
ip -n "$(ns_of c1)" link set lo up
frr_link "$(ns_of c1)" eth0 198.18.9.10/24 "$R" rc 198.18.9.1/24
ip -n "$(ns_of c1)" route add default via 198.18.9.1
for i in 1 2; do
    h=$((i + 4))
    ip link add "arm$i" netns "mslb-$RID-h$h" type veth peer name "r$i" netns "$R"
    ip netns exec "mslb-$RID-h$h" ethtool -K "arm$i" tx off rx off >/dev/null
    ip netns exec "$R" ethtool -K "r$i" tx off rx off >/dev/null
    ip -n "mslb-$RID-h$h" link set "arm$i" up
    vsctln "$h" add-port "br-lb$i" "arm$i"
    ip -n "$R" addr add "198.18.1$((i - 1)).1/24" dev "r$i"
    ip -n "$R" link set "r$i" up
    frr_link "mslb-$RID-h$h" "m$i" "198.18.$((i + 2)).2/24" "$R" "s$i" \
        "198.18.$((i + 2)).1/24"
done
ip link add rh netns "$R" type veth peer name vmr netns "$OVS_NS"
ip netns exec "$R" ethtool -K rh tx off rx off >/dev/null
_e2e_ovs_side_if vmr
vsctl add-port br-vm vmr
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

# ---- the same services on both muxes
vm() {   # vm N PORT [WEIGHT]
    local h=$(( ($1 + 1) / 2 + 1 )) br
    br=br-host$h
    [ "$h" = 2 ] && br=br-host
    printf '{"name":"vm%s","ip":"198.18.5.3%s","port":%s,"mac":"02:00:00:00:00:3%s","host":"%s","host_bridge":"%s","weight":%s}' \
        "$1" "$1" "$2" "$1" "${ADDR[$h]}" "$br" "${3:-1}"
}
vms() {   # vms PORT W1 ... W6
    local port=$1 out="" i
    shift
    for i in 1 2 3 4 5 6; do
        out+="${out:+,}$(vm "$i" "$port" "$1")"
        shift
    done
    printf '%s' "$out"
}
# The model: both muxes serve every service.
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb1", "mac": "0a:00:00:00:00:01", "frontend_port": "arm1",
   "tunnel_ports": {"vxlan": "vxa"}, "gateways": ["198.18.10.2"]},
  {"name": "br-lb2", "mac": "0a:00:00:00:00:02", "frontend_port": "arm2",
   "tunnel_ports": {"vxlan": "vxb"}, "gateways": ["198.18.11.2"]},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"},
   "gateways": ["198.18.5.252"]},
  {"name": "br-host3", "role": "final", "tunnel_ports": {"vxlan": "vx3"},
   "gateways": ["198.18.5.253"]},
  {"name": "br-host4", "role": "final", "tunnel_ports": {"vxlan": "vx4"},
   "gateways": ["198.18.5.254"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb1", "br-lb2"], "outbound": {},
   "monitor": {"type": "tcp", "interval": 1, "timeout": 0.9, "rise": 2, "fall": 3},
   "backends": [$(vms 8080 1 1 2 2 1 1)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53, "mode": "slb",
   "bridges": ["br-lb1", "br-lb2"], "backends": [$(vms 5353 1 1 1 1 1 1)]},
  {"name": "pin", "vip": "$VIP2", "protocol": "tcp", "port": 80, "mode": "slb",
   "distribution": "2-tuple", "bridges": ["br-lb1", "br-lb2"],
   "backends": [$(vms 8080 1 1 1 1 1 1)]}]}
JSON
bgp() {   # bgp N: mux N's speaker, for mux N's bridge only
    cat <<JSON
{"asn": 6500$1, "router_id": "198.18.$(($1 + 2)).2", "bridges": ["br-lb$1"],
 "peers": [{"address": "198.18.$(($1 + 2)).1", "asn": 65000, "hold_time": 3}],
 "next_hop": "198.18.1$(($1 - 1)).2", "run_dir": "$D/bgp$1"}
JSON
}
for i in 1 2; do
    bgp "$i" >"$D/bgp$i.json"
done
# The model's database, shared by both mslbd.
ovsdb-tool create "$D/model.db" "$E2E_DIR/../../schemas/mslb.ovsschema"
spawn modeldb ovsdb-server "$D/model.db" --remote="punix:$D/model.sock" \
    --unixctl="$D/model.ctl" --log-file="$D/model-db.log" -vconsole:off
wait_for 10 test -S "$D/model.sock"
# mux_mslbd N ARGS...: mslbd N ("muxN") in its mux's namespace (its BGP
# session's address is there), on the shared database, OpenFlow on
# mslbd.sock (N = 1) or mslbd2.sock of every host, REST on
# $REST_PORT + N - 1 of that namespace.
mux_mslbd() {
    local i=$1 sock=mslbd.sock h listen=()
    shift
    [ "$i" = 2 ] && sock=mslbd2.sock
    for h in 5 6 2 3 4; do listen+=(--listen "punix:$D/h$h/$sock"); done
    mkdir -p "$D/mux$i"
    rm -f "$D/mux$i/mslbd.pid"
    ip netns exec "mslb-$RID-h$((i + 4))" "$MSLBD" --db-remote "unix:$D/model.sock" \
        --name "mux$i" "${listen[@]}" --pidfile "$D/mux$i/mslbd.pid" \
        --log-file "$D/mslbd$i.log" --rest "$((REST_PORT + i - 1))" \
        --bgp "$D/bgp$i.json" "$@" >>"$D/mslbd$i.out" 2>&1 </dev/null &
    wait_for 20 test -s "$D/mux$i/mslbd.pid"
    _e2e_remember "$D/mux$i/mslbd.pid"
}
# use_rest N: the REST helpers (api, health_is...) talk to mslbd N.
use_rest() {
    REST_NS=mslb-$RID-h$(($1 + 4))
    REST_URL=http://127.0.0.1:$((REST_PORT + $1 - 1))
}
curl() { ip netns exec "$REST_NS" curl "$@"; }
# mslbd 1 loads the model and becomes master; mslbd 2 stands by.
mux_mslbd 1 --config "$D/mslb.json"
for b in br-lb1 br-lb2 br-host br-host3 br-host4; do
    wait_for 20 grep -q "bridge $b: generation [0-9]* installed" "$D/mslbd1.log"
done
mux_mslbd 2
# role_is N ROLE: mslbd N says it is ROLE (master, standby); back on 1.
role_is() {
    local got ns=$REST_NS url=$REST_URL
    use_rest "$1"
    api GET /v1/health
    got=$(json_get 'j["controller"]["role"]' 2>/dev/null || true)
    REST_NS=$ns
    REST_URL=$url
    echo "mslbd $1: '$got'"
    [ "$got" = "$2" ]
}
use_rest 2
wait_rest
use_rest 1
wait_rest
check "mslbd 1 is master" role_is 1 master
check "mslbd 2 stands by" role_is 2 standby
for b in vm1 vm2 vm3 vm4 vm5 vm6; do
    check "$b is up" wait_for 10 health_is "$b" up
done
# The master probes each VM from its host's bridge (gateway .252-.254).
check "mslbd 1 probes vm1 from host 2's bridge, vm5 from host 4's" \
    test "$(health_field vm1 'h.get("probed_from")') $(health_field vm5 'h.get("probed_from")')" = "br-host br-host4"

vias() { route_vias "$R" "$VIP/32"; }
vias_are() {
    local got
    got=$(vias)
    echo "via: '$got' (want '$1')"
    [ "$got" = "$1" ]
}
BOTH="198.18.10.2 198.18.11.2"
check "the router reaches the VIP through both muxes" wait_for 20 vias_are "$BOTH"
vias2_both() { [ "$(route_vias "$R" "$VIP2/32")" = "$BOTH" ]; }
check "and the 2-tuple VIP too" wait_for 20 vias2_both

# (Without the probes to the mux's gateway, which would keep the files
# growing: capture_stop waits for quiet files.)
for i in 1 2; do
    spawn "cap$i" ip netns exec "mslb-$RID-h$((i + 4))" timeout 300 tcpdump -nn \
        -p -U -i "arm$i" -w "$D/arm$i.pcap" "ip and not host 198.18.1$((i - 1)).2"
    capture_ready "cap$i"
done
arm_rx() { ip -n "mslb-$RID-h$(($1 + 4))" -s -j link show "arm$1" | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }

# mux_flows N TABLE: mux N's flows of TABLE, without counters or cookies.
mux_flows() {
    ovs-ofctl -O OpenFlow15 dump-flows --no-stats \
        "unix:$D/h$(($1 + 4))/br-lb$1.mgmt" "table=$2" \
        | sed 's/cookie=[^ ]* //; s/ *reset_counts//' | sort
}
mux_flows 1 5 >"$D/slots1.txt"
mux_flows 2 5 >"$D/slots2.txt"
check "both muxes have the same slot tables ($(wc -l <"$D/slots1.txt") flows)" \
    cmp "$D/slots1.txt" "$D/slots2.txt"

sel_client_prep
sel_wait_port 80
rx1=$(arm_rx 1)
rx2=$(arm_rx 2)
sel_split split 80 800 30000 1:1:2:2:1:1 "TCP, weights 1:1:2:2:1:1: "
say "mux 1 received $(( $(arm_rx 1) - rx1 )) packets, mux 2 $(( $(arm_rx 2) - rx2 ))"
check "ECMP spread them over both muxes" \
    test $(( $(arm_rx 1) - rx1 )) -gt 200 -a $(( $(arm_rx 2) - rx2 )) -gt 200
check "UDP through the VIP over the six VMs" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 300 \
    --concurrency 4 --timeout 2 --retries 2 \
    --expect U1:1,U2:1,U3:1,U4:1,U5:1,U6:1 --tolerance 0.1
rx1=$(arm_rx 1)
rx2=$(arm_rx 2)
SEL_VIP=$VIP2 conn pin 80 200 32000
check "2-tuple: all of c1's connections go to one VM" \
    test "$(jget "$D/pin.json" "len(j['names']) == 1 and j['errors'] == 0 and j['connections'] == 200")" = True
check "though both muxes carried them" \
    test $(( $(arm_rx 1) - rx1 )) -gt 50 -a $(( $(arm_rx 2) - rx2 )) -gt 50

# 200 connections held open; mux 1's ovs-vswitchd dies.
rx1=$(arm_rx 1)
sel_hold_begin hold1 80 200 40000 S1 S2 S3 S4 S5 S6
say "mux 1 received $(( $(arm_rx 1) - rx1 )) packets of the 200 held connections"
check "mux 1 carries some of the held connections" test $(( $(arm_rx 1) - rx1 )) -gt 100
kill -KILL "$(cat "$D/pids/h5-vswitchd.pid")"
t0=$(date +%s%N)
check "mux 1's switch dead: the router keeps only mux 2" \
    wait_for 10 vias_are 198.18.11.2
say "withdrawn $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
check "mslbd 1 saw its bridge go" grep -q "bridge br-lb1: disconnected" "$D/mslbd1.log"
check "its host agents still probe: vm3 up, probed just now" \
    test "$(health_field vm3 'h["state"] + " " + str("not_probed" in h)')" = "up False"
sel_hold_end hold1 S1 S2 S3 S4 S5 S6
held_ok() {
    local s
    for s in S1 S2 S3 S4 S5 S6; do
        [ "${SEL_SAME[$s]}" -eq "${SEL_BEFORE[$s]}" ] && [ "${SEL_BROKEN[$s]}" -eq 0 ] \
            || return 1
    done
}
check "every held connection answered by its own VM, none broken" held_ok

# Mux 1's switch comes back (its bridges from its database).
sel_hold_begin hold2 80 200 41000 S1 S2 S3 S4 S5 S6
host_vswitchd_start 5
# Its internal ports are new devices: the underlay address again.
ip -n "mslb-$RID-h5" addr replace "${ADDR[5]}/24" dev br-ul5
ip -n "mslb-$RID-h5" link set br-ul5 up
ip -n "mslb-$RID-h5" link set br-lb1 up
mux_neighbours 5
check "mux 1 back: the router uses both again" wait_for 30 vias_are "$BOTH"
sel_hold_end hold2 S1 S2 S3 S4 S5 S6
check "every held connection answered by its own VM, none broken" held_ok

# The master mslbd dies with 200 connections open: mux 1's speaker dies
# with it (the router keeps mux 2 only, although mux 1's bridge still
# forwards), mslbd 2 becomes master of every bridge and takes over the
# probes from the master's results, without changing a flow.
mux_flows 1 5 >"$D/slots-before.txt"
sel_hold_begin hold3 80 200 44000 S1 S2 S3 S4 S5 S6
kill -KILL "$(cat "$D/mux1/mslbd.pid")"
t0=$(date +%s%N)
check "mslbd 1 killed: the router keeps only mux 2" wait_for 10 vias_are 198.18.11.2
say "withdrawn $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
check "mslbd 2 is master now" wait_for 10 role_is 2 master
use_rest 2
probed_from_hosts() {
    test "$(health_field vm1 'h.get("probed_from")') $(health_field vm5 'h.get("probed_from")')" = "br-host br-host4"
}
check "mslbd 2 probes vm1 from host 2's bridge, vm5 from host 4's" \
    wait_for 10 probed_from_hosts
sel_hold_end hold3 S1 S2 S3 S4 S5 S6
check "every held connection answered by its own VM, none broken" held_ok
mux_flows 1 5 >"$D/slots-after.txt"
check "mux 1's slot tables unchanged by the new master" \
    cmp "$D/slots-before.txt" "$D/slots-after.txt"

# mslbd 1 comes back as a standby: its speaker announces mux 1 again as
# soon as the master reports the bridge programmed.
sel_hold_begin hold4 80 200 45000 S1 S2 S3 S4 S5 S6
mux_mslbd 1
t0=$(date +%s%N)
check "mslbd 1 back, a standby" wait_for 20 role_is 1 standby
check "mux 1 announced again by its standby mslbd" wait_for 30 vias_are "$BOTH"
say "announced $(( ($(date +%s%N) - t0) / 1000000 )) ms after mslbd 1's start"
bgp1_bridges() {
    use_rest 1
    api GET /v1/bgp
    use_rest 2
    test "$(json_get 'j["bridges"]')" = "['br-lb1']"
}
check "GET /v1/bgp on mslbd 1: it speaks for br-lb1" bgp1_bridges
sel_hold_end hold4 S1 S2 S3 S4 S5 S6
check "every held connection answered by its own VM, none broken" held_ok

# One master probes, the others read its results: no backend may have
# been found down so far (the VMs all serve).
check "no backend was found down by either mslbd so far" \
    sh -c "! grep -h 'is down' '$D/mslbd1.log' '$D/mslbd2.log'"

# A VM stops serving: the master's probes find it down, both muxes avoid
# it, both mslbd show it.
spawn_stop tcpb-s6
check "vm6 is down (mslbd 2, the master: its host's probe)" wait_for 15 health_is vm6 down
usable_is() {   # usable_is N COUNT: mslbd N counts COUNT usable backends of web
    local ns=$REST_NS url=$REST_URL got
    use_rest "$1"
    api GET /v1/services/web
    got=$(json_get 'j["status"]["usable_backends"]' 2>/dev/null || true)
    REST_NS=$ns
    REST_URL=$url
    [ "$got" = "$2" ]
}
check "and mslbd 1, the standby, from the master's results" wait_for 15 usable_is 1 5
conn avoid 80 300 43000
check "300 new connections over both muxes, none to vm6, none failed" \
    test "$(jget "$D/avoid.json" "j['errors'] == 0 and j['connections'] == 300 and 'S6' not in j['names'] and len(j['names']) == 5")" = True

# Outbound: the hosts' blocks are in the one database (br-host 1024-1279,
# br-host3 1280-1535), both muxes send the answers by them.
start_server c1 OUT --tcp 9000
out() {   # out VM COUNT: the source ports the outside server saw
    nsx "$1" "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.9.10 9000 \
        --count "$2" --concurrency 4 --timeout 5 --info >"$D/out.json"
    "$PYTHON" - "$D/out.json" "$VIP" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors"] == 0, r
peers = [x["peer"] for x in r["replies"]]
assert all(p[0] == sys.argv[2] for p in peers), peers
assert len(set(p[1] for p in peers)) == len(peers), peers
print(min(p[1] for p in peers), max(p[1] for p in peers))
PY
}
rx1=$(arm_rx 1)
rx2=$(arm_rx 2)
o1=$(out s1 60 || true)
check "vm1 (host 2) reaches the outside from the VIP, ports $o1 in 1024-1279" \
    "$PYTHON" -c 'import sys; lo, hi = map(int, sys.argv[1:]); assert 1024 <= lo <= hi <= 1279' $o1
o3=$(out s3 60 || true)
check "vm3 (host 3) too, ports $o3 in 1280-1535" \
    "$PYTHON" -c 'import sys; lo, hi = map(int, sys.argv[1:]); assert 1280 <= lo <= hi <= 1535' $o3
say "the answers: mux 1 received $(( $(arm_rx 1) - rx1 )) packets, mux 2 $(( $(arm_rx 2) - rx2 ))"
check "the answers came back through both muxes" \
    test $(( $(arm_rx 1) - rx1 )) -gt 20 -a $(( $(arm_rx 2) - rx2 )) -gt 20

for i in 1 2; do capture_stop "cap$i"; done
for i in 1 2; do
    reqs=$(tcpdump -nn -r "$D/arm$i.pcap" "dst host $VIP or dst host $VIP2" 2>/dev/null | wc -l)
    reps=$(tcpdump -nn -r "$D/arm$i.pcap" \
        "(src host $VIP or src host $VIP2) and not dst host 198.18.1$((i - 1)).2" 2>/dev/null | wc -l)
    check "mux $i saw requests ($reqs packets) and no reply ($reps)" \
        test "$reqs" -gt 500 -a "$reps" -eq 0
done
