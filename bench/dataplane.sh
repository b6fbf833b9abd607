#!/usr/bin/env bash
# Data-plane cost of each forwarding mode, as a ratio to LIMIT measured in
# the same run on the same topology:
#
#   bench/dataplane.sh [MODE...]     MODE: nat dr tun l3dsr mslb local
#                                    (default: all six, one after another)
#
# Each mode builds its e2e test's topology on a private ovs-vswitchd (one
# run of tests/e2e/lib.sh per mode), with mslbd holding two services on
# VIP 198.18.0.100: web (tcp/7000, servers s1 and s2, equal weights) and
# bulk (tcp/5201, s1 only: iperf3's control and data connections must
# reach the same server).  Session affinity is what the mode has by
# default (conntrack for nat, learn() with idle_timeout 300 for dr, tun,
# l3dsr and mslb, none for local).
#
# LIMIT is the same client, the same servers and the same bridges and
# links, with the balancer taken out of the decision:
#   nat    the client talks to a third server s3's own address
#          (198.18.1.13:7001/5202); br-lb switches it with its priority-0
#          NORMAL flow both ways (no conntrack, no group); NAT_LIMIT_CT=1:
#          both ways through ct(commit) in a zone of its own first (no NAT),
#          to tell conntrack's own cost from the rest of nat's (the two
#          share the switch's connection table, whose size slows both:
#          compare the ratios, not the absolute rates, with a plain run)
#   dr, tun, l3dsr, mslb
#          the client talks to VIP:7001/5202; one static flow in br-lb's
#          table 0 (cookie 0x1, priority 1000) loads web's service and s1's
#          backend registers and resubmits to DSR_FORWARD: the mode's own
#          rewrite or encapsulation (and, for l3dsr and mslb, the final
#          stage's restore) to s1, without group, affinity lookup or learn()
#   local  the client talks to the host's own address on br-lb
#          (198.18.0.1:7001/5202): NORMAL to LOCAL instead of the VIP flow
#
# Per mode, $ROUNDS (5) rounds of mode and LIMIT back to back (LIMIT
# first in odd rounds, the mode first in even ones):
#   throughput   iperf3, one TCP stream client -> server (the direction
#                that crosses the balancer in every mode), $IPERF_SECONDS
#                (2) s after a 1 s warm-up, received Gbit/s; to bulk (s1)
#   conn/s       build/bench/tcpbench conn: $CONNS (8,000) connections
#                (connect, 64-byte request, 64-byte answer, the server
#                closes, close), $CONC (16) at a time, at most $CONN_SECONDS
#                s, each round from its own source ports so that no 5-tuple
#                repeats; to web (s1 and s2)
#   latency      build/bench/tcpbench rr: $RR (5,000) round trips of 64
#                bytes on one connection, p50/p99 (a ratio above 1: slower
#                than LIMIT)
#   upcalls/conn "miss with success upcall" of `ovs-appctl
#                dpif-netdev/pmd-stats-show`, summed over the switch's
#                threads (both switches in mslb), over the conn/s runs,
#                divided by the connections made (with the failed upcalls
#                and the sessions learned in DSR_AFFINITY at the end)
#   load         the 1/5/15-minute load average after the mode's rounds
# Figures are the medians over the rounds; each ratio is the median of the
# rounds' mode/LIMIT ratios (each pair ran under about the same load).
# The rounds' figures are logged to stderr.  A summary table ends the run.
# Nothing is compared with a target; the bench fails only when a mode (or
# its LIMIT) carries no traffic at all.  Needs root, iperf3 and a build
# (scripts/build.sh: build/mslbd, build/bench/tcpbench).  About 60-90 s
# per mode on 2 shared cores.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ALL_MODES="nat dr tun l3dsr mslb local"
export CONNS=${CONNS:-8000} CONC=${CONC:-16} CONN_SECONDS=${CONN_SECONDS:-20}
export RR=${RR:-5000} IPERF_SECONDS=${IPERF_SECONDS:-2} ROUNDS=${ROUNDS:-5}

# ------------------------------------------------------------ the driver

if [ "${1:-}" != --one ]; then
    modes=${*:-$ALL_MODES}
    for m in $modes; do
        case " $ALL_MODES " in
            *" $m "*) ;;
            *) echo "dataplane.sh: unknown mode $m (one of: $ALL_MODES)" >&2; exit 2 ;;
        esac
    done
    for f in "$top/build/mslbd" "$top/build/bench/tcpbench"; do
        [ -x "$f" ] || { echo "dataplane.sh: $f missing: run scripts/build.sh" >&2; exit 2; }
    done
    command -v iperf3 >/dev/null || { echo "dataplane.sh: iperf3 missing (scripts/setup.sh)" >&2; exit 2; }
    results=$(mktemp "${TMPDIR:-/tmp}/mslb-dataplane.XXXXXX")
    trap 'rm -f "$results"' EXIT
    failed=0
    t0=$SECONDS
    for m in $modes; do
        ts=$SECONDS
        if ! bash "$0" --one "$m" "$results"; then
            echo "$m: FAILED" >&2
            printf '%s\tFAILED\n' "$m" >>"$results"
            failed=1
        fi
        echo "# $m took $((SECONDS - ts)) s"
    done
    echo
    echo "Summary: median of $ROUNDS rounds; ratio = the median of the rounds' mode/LIMIT"
    echo "(same topology, same run; $CONNS new connections per round, $CONC at a time)"
    printf '%-6s %-24s %-24s %-26s %-18s %s\n' mode "throughput Gbit/s" \
        "new conn/s" "latency p50/p99 us" "upcalls/conn" "load"
    while IFS=$'\t' read -r m tm tl rt cm cl rc p50m p50l r50 p99m p99l r99 um ul load; do
        if [ "$tm" = FAILED ]; then
            printf '%-6s FAILED\n' "$m"
            continue
        fi
        printf '%-6s %-24s %-24s %-26s %-18s %s\n' "$m" \
            "$tm (${rt}x of $tl)" "$cm (${rc}x of $cl)" \
            "$p50m/$p99m (${r50}x/${r99}x)" "$um (LIMIT $ul)" "$load"
    done <"$results"
    echo "# total $((SECONDS - t0)) s"
    exit "$failed"
fi

# ------------------------------------------------------- one mode's run

MODE=$2
RESULTS=$3
export MSLBD=${MSLBD:-$top/build/mslbd}
TCPBENCH=$top/build/bench/tcpbench
. "$top/tests/e2e/lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
APPCTLS=("$D/ovs-vswitchd.ctl")

gen_installed() {   # gen_installed BRIDGE
    wait_for 30 grep -q "bridge $1: generation 1 installed" "$D/mslbd.log"
}

# tcpbench servers on s1 and s2 (7000: the VIP, 7001: LIMIT) and iperf3 on
# s1 (5201, 5202); HOSTS overrides the hosts, IPERF_HOST the iperf3 one.
start_load_servers() {
    local h
    for h in ${HOSTS:-s1 s2}; do
        spawn_in "$h" "tcpb-$h" "$TCPBENCH" serve 7000 7001
        wait_for 10 grep -q listening "$D/logs/tcpb-$h.log"
    done
    h=${IPERF_HOST:-s1}
    spawn_in "$h" iperf-m iperf3 -s -p 5201
    spawn_in "$h" iperf-l iperf3 -s -p 5202
}

services() {   # services MODE EXTRA BACKEND_WEB... -- BACKEND_BULK
    local mode=$1 extra=$2 web=() bulk
    shift 2
    while [ "$1" != -- ]; do web+=("$1"); shift; done
    bulk=$2
    local IFS=,
    cat <<JSON
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 7000, "mode": "$mode",
   $extra "bridges": ["br-lb"], "backends": [${web[*]}]},
  {"name": "bulk", "vip": "$VIP", "protocol": "tcp", "port": 5201, "mode": "$mode",
   $extra "bridges": ["br-lb"], "backends": [$bulk]}
JSON
}

# limit_flows MAC: the DSR LIMIT flows on br-lb (see the header): the
# registers of a DSR_FORWARD flow that forwards to MAC.
limit_flows() {
    local line reg0 reg1
    line=$(ofctl dump-flows br-lb table=22 | grep "set_field:$1->eth_dst" \
        | grep -v 'reg2=0/' | head -n 1)
    reg0=$(sed -n 's/.*reg0=\(0x[0-9a-f]*\).*/\1/p' <<<"$line")
    reg1=$(sed -n 's/.*reg1=\(0x[0-9a-f]*\).*/\1/p' <<<"$line")
    [ -n "$reg0" ] && [ -n "$reg1" ] || die "no DSR_FORWARD flow to $1"
    local p
    for p in 7001 5202; do
        ofctl add-flow br-lb "cookie=0x1,table=0,priority=1000,tcp,in_port=arm,nw_dst=$VIP,tp_dst=$p,actions=load:$reg0->NXM_NX_REG0[],load:$reg1->NXM_NX_REG1[],load:0->NXM_NX_REG2[],resubmit(,22)"
    done
}

# ---------------------------------------------------------- topologies

topo_nat() {   # tests/e2e/nat_topo.sh; LIMIT: c1 <-> s3's own address
    . "$top/tests/e2e/nat_topo.sh"
    nat_topo_up
    host_route c1 198.18.1.0/24 dev eth0
    host_route s3 198.18.0.0/24 dev eth0
    HOSTS="s1 s2 s3" start_load_servers
    spawn_in s3 iperf-l3 iperf3 -s -p 5202
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["198.18.1.1"]}],
 "services": [
$(services nat "" "$(nat_backend 1 7000)" "$(nat_backend 2 7000)" -- "$(nat_backend 1 5201)")
 ]}
JSON
    mslbd_start "$D/mslb.json"
    gen_installed br-lb
    LIMIT_ADDR=198.18.1.13
    if [ "${NAT_LIMIT_CT:-0}" = 1 ]; then
        # LIMIT through conntrack too (a zone of its own, no NAT): what
        # connection tracking alone costs against nat.
        ofctl add-flow br-lb "cookie=0x1,table=0,priority=500,tcp,ip,nw_dst=$LIMIT_ADDR,actions=ct(commit,zone=9,table=40)"
        ofctl add-flow br-lb "cookie=0x1,table=0,priority=500,tcp,ip,nw_src=$LIMIT_ADDR,actions=ct(commit,zone=9,table=40)"
        ofctl add-flow br-lb "cookie=0x1,table=40,priority=500,actions=NORMAL"
    fi
}

topo_dr() {   # tests/e2e/dsr_topo.sh
    . "$top/tests/e2e/dsr_topo.sh"
    dsr_topo_up
    start_load_servers
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"}],
 "services": [
$(services dr "" "$(dsr_backend 1)" "$(dsr_backend 2)" -- "$(dsr_backend 1)")
 ]}
JSON
    mslbd_start "$D/mslb.json"
    gen_installed br-lb
    limit_flows 02:00:00:00:00:21
    LIMIT_ADDR=$VIP
}

topo_tun() {   # test_dsr_tun.sh's: VXLAN to servers that terminate it
    local i
    ovs_start
    add_switch_bridge br-sw
    add_switch_bridge br-ul
    add_lb_bridge br-lb "$MSLBD_TARGET"
    link_bridges br-lb arm br-sw sw-lb veth
    link_bridges br-ul ul-sw br-sw sw-ul veth
    vsctl add-port br-lb vx0 -- set interface vx0 type=vxlan \
        options:remote_ip=flow options:key=flow
    in_ovs ip addr add 198.18.2.1/24 dev br-ul
    in_ovs ip link set br-ul up
    add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
    host_route c1 198.18.2.0/24 dev eth0
    for i in 1 2; do
        add_host "s$i" br-ul "198.18.2.2$i/24" - "02:00:00:00:02:2$i"
        host_route "s$i" 198.18.0.0/24 dev eth0
        nsx "s$i" ip link add vxlan0 address "02:00:00:00:03:2$i" type vxlan \
            external dstport 4789
        nsx "s$i" ip link set vxlan0 up
        nsx "s$i" ip addr add "$VIP/32" dev lo
        nsx "s$i" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
            net.ipv4.conf.vxlan0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
            net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
            net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.vxlan0.arp_ignore=1
        appctl tnl/neigh/set br-ul "198.18.2.2$i" "02:00:00:00:02:2$i" >/dev/null
    done
    start_load_servers
    tb() { printf '{"name":"s%s","ip":"198.18.2.2%s","mac":"02:00:00:00:03:2%s"}' "$1" "$1" "$1"; }
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}}],
 "services": [
$(services tun '"tunnel": "vxlan",' "$(tb 1)" "$(tb 2)" -- "$(tb 1)")
 ]}
JSON
    mslbd_start "$D/mslb.json"
    gen_installed br-lb
    limit_flows 02:00:00:00:03:21
    LIMIT_ADDR=$VIP
}

topo_l3dsr() {   # test_dsr_l3dsr.sh's: final stage br-host restores
    local i
    ovs_start
    add_switch_bridge br-sw
    add_lb_bridge br-lb "$MSLBD_TARGET"
    add_lb_bridge br-host "$MSLBD_TARGET"
    link_bridges br-lb arm br-sw sw-lb veth
    link_bridges br-host hostup br-sw sw-host veth
    add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
    for i in 1 2; do
        add_host "s$i" br-host "198.18.1.2$i/24" - "02:00:00:00:01:2$i"
        nsx "s$i" ip addr add "$VIP/32" dev lo
        host_route "s$i" 198.18.0.0/24 dev eth0
        nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
            net.ipv4.conf.all.arp_announce=2
    done
    start_load_servers
    lb() { printf '{"name":"s%s","ip":"198.18.1.2%s","mac":"02:00:00:00:01:2%s","host_bridge":"br-host"}' "$1" "$1" "$1"; }
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm"},
             {"name": "br-host", "role": "final"}],
 "services": [
$(services l3dsr '"dscp": 10,' "$(lb 1)" "$(lb 2)" -- "$(lb 1)")
 ]}
JSON
    mslbd_start "$D/mslb.json"
    gen_installed br-lb
    gen_installed br-host
    limit_flows 02:00:00:00:01:21
    LIMIT_ADDR=$VIP
}

topo_mslb() {   # tests/e2e/mslb_topo.sh: two ovs-vswitchd
    . "$top/tests/e2e/mslb_topo.sh"
    mslb_two_hosts
    H2_VIPS=$VIP
    H2_VIPS6=
    h2_server 1 02:00:00:00:00:31
    h2_server 2 02:00:00:00:00:32
    APPCTLS+=("$D2/vswitchd.ctl")
    start_load_servers
    mb() { printf '{"name":"s%s","ip":"198.18.0.3%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' "$1" "$1" "$1"; }
    cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0", "gre": "gre0", "geneve": "gnv0"}},
  {"name": "br-host", "role": "final",
   "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gnv1"}}],
 "services": [
$(services mslb '"tunnel": "vxlan",' "$(mb 1)" "$(mb 2)" -- "$(mb 1)")
 ]}
JSON
    mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock"
    gen_installed br-lb
    gen_installed br-host
    wait_for 20 grep -q "bridge br-host: announcing" "$D/mslbd.log"
    limit_flows 02:00:00:00:00:31
    LIMIT_ADDR=$VIP
}

topo_local() {   # test_local.sh's: the VIP on the bridge's own host
    ovs_start
    add_lb_bridge br-lb "$MSLBD_TARGET"
    add_host c1 br-lb 198.18.0.10/24 - 0a:00:00:00:00:10
    # ovs-vswitchd reads the port "c1" with a packet socket: the switch's
    # namespace sees the client's frames too.  Without arp_ignore it
    # answers the client's ARP for its own addresses with that veth's MAC,
    # and the client's packets then reach its stack without crossing
    # br-lb at all.
    in_ovs sysctl -qw net.ipv4.conf.all.arp_ignore=1
    in_ovs ip addr add "$VIP/32" dev br-lb
    in_ovs ip addr add 198.18.0.1/24 dev br-lb
    spawn local-tcpb ip netns exec "$OVS_NS" "$TCPBENCH" serve 7000 7001
    wait_for 10 grep -q listening "$D/logs/local-tcpb.log"
    spawn iperf-m ip netns exec "$OVS_NS" iperf3 -s -p 5201
    spawn iperf-l ip netns exec "$OVS_NS" iperf3 -s -p 5202
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "c1"}],
 "services": [
$(services local "" -- "")
 ]}
JSON
    mslbd_start "$D/mslb.json"
    gen_installed br-lb
    LIMIT_ADDR=198.18.0.1
}

# ---------------------------------------------------------- measurements

upcalls() {
    local c
    for c in "${APPCTLS[@]}"; do
        ovs-appctl -t "$c" --timeout=20 dpif-netdev/pmd-stats-show
    done | awk '/miss with success upcall:/ { s += $NF }
                /miss with failed upcall:/ { f += $NF } END { print s + 0, f + 0 }'
}

jget() {   # jget FILE EXPR: a value of the JSON object in FILE
    "$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

throughput() {   # throughput TAG ADDR PORT: Gbit/s received
    local out=$D/iperf-$1.json
    nsx c1 timeout $((IPERF_SECONDS + 20)) iperf3 -c "$2" -p "$3" \
        -t "$IPERF_SECONDS" -O 1 --connect-timeout 3000 -J >"$out" 2>&1 || true
    jget "$out" '"%.3f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9)' 2>/dev/null \
        || { log "iperf3 $1 failed: $(head -c 300 "$out")"; echo 0; }
}

# conn_run TAG ADDR PORT SPORT: sets CPS (conn/s), NCONN (connections made),
# UPS and UPF (successful and failed upcalls during the run).
conn_run() {
    local out=$D/conn-$1.json s0 f0 s1 f1
    read -r s0 f0 <<<"$(upcalls)"
    nsx c1 "$TCPBENCH" conn "$2" "$3" "$CONNS" "$CONC" "$CONN_SECONDS" "$4" >"$out" || true
    read -r s1 f1 <<<"$(upcalls)"
    CPS=$(jget "$out" '"%.0f" % j["per_second"]' 2>/dev/null || echo 0)
    NCONN=$(jget "$out" 'j["connections"]' 2>/dev/null || echo 0)
    UPS=$((s1 - s0))
    UPF=$((f1 - f0))
    log "$1 conn: $(cat "$out"); upcalls $UPS (failed $UPF); learned $(learned)"
}

# learned: session entries in br-lb's DSR_AFFINITY (cookie 0x4c45...).
learned() { ofctl dump-flows br-lb table=20 2>/dev/null | grep -c 'cookie=0x4c45' || true; }

# pratio "M1 M2..." "L1 L2...": the median of M_i / L_i, two decimals.
pratio() {
    awk -v m="$1" -v l="$2" 'BEGIN {
        n = split(m, a, " "); split(l, b, " ")
        for (i = 1; i <= n; i++) { print (b[i] > 0 ? a[i] / b[i] : 0) } }' \
        | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f\n", NR ? a[int((NR + 1) / 2)] : 0 }'
}

# prange "M1 M2..." "L1 L2...": the lowest and highest M_i / L_i, "a-b".
prange() {
    awk -v m="$1" -v l="$2" 'BEGIN {
        n = split(m, a, " "); split(l, b, " "); lo = 1e9; hi = 0
        for (i = 1; i <= n; i++) { r = b[i] > 0 ? a[i] / b[i] : 0
            if (r < lo) lo = r; if (r > hi) hi = r }
        printf "%.2f-%.2f\n", lo, hi }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : 0 }'; }

rr() {   # rr TAG ADDR PORT: "p50 p99" in microseconds
    local out=$D/rr-$1.json
    nsx c1 "$TCPBENCH" rr "$2" "$3" "$RR" 20 >"$out" || true
    jget "$out" '"%.0f %.0f" % (j["p50_us"], j["p99_us"])' 2>/dev/null || echo "0 0"
}

"topo_$MODE"
# Each round's connections come from their own source ports (2000 + ...),
# so that no 5-tuple repeats: it would find its learned session (and its
# datapath flow) and cost no upcall.  The kernel's own choices (iperf3,
# the warm-up, rr) are moved above them.
((2000 + ROUNDS * CONNS <= 60000)) || die "ROUNDS x CONNS must be <= 58000"
nsx c1 sysctl -qw net.ipv4.ip_local_port_range="60001 65000"
# Warm up both paths (neighbours, first connections, iperf3's servers).
for a in "$VIP:7000" "$LIMIT_ADDR:7001"; do
    wait_for 15 nsx c1 "$TCPBENCH" conn "${a%:*}" "${a#*:}" 20 4 3 \
        || die "$MODE: no connection to $a"
done

# ROUNDS rounds, LIMIT and the mode alternating who goes first; the
# figures are the medians over the rounds, each ratio the median of the
# rounds' ratios, upcalls the total over the rounds.
declare -A ADDR=([limit]=$LIMIT_ADDR [mode]=$VIP) RRPORT=([limit]=7001 [mode]=7000) \
    IPPORT=([limit]=5202 [mode]=5201) T C P50 P99 US UF N
for s in limit mode; do US[$s]=0; UF[$s]=0; N[$s]=0; done
for ((r = 1; r <= ROUNDS; r++)); do
    order="limit mode"
    ((r % 2)) || order="mode limit"
    for s in $order; do
        T[$s]+=" $(throughput "$s$r" "${ADDR[$s]}" "${IPPORT[$s]}")"
    done
    for s in $order; do
        conn_run "$s$r" "${ADDR[$s]}" "${RRPORT[$s]}" $((2000 + (r - 1) * CONNS))
        C[$s]+=" $CPS"
        US[$s]=$((US[$s] + UPS))
        UF[$s]=$((UF[$s] + UPF))
        N[$s]=$((N[$s] + NCONN))
    done
    for s in $order; do
        read -r a b <<<"$(rr "$s$r" "${ADDR[$s]}" "${RRPORT[$s]}")"
        P50[$s]+=" $a"
        P99[$s]+=" $b"
    done
    log "round $r: throughput limit${T[limit]} mode${T[mode]};" \
        "conn/s limit${C[limit]} mode${C[mode]}"
done
tl=$(median <<<"${T[limit]}") tm=$(median <<<"${T[mode]}")
cl=$(median <<<"${C[limit]}") cm=$(median <<<"${C[mode]}")
p50l=$(median <<<"${P50[limit]}") p50m=$(median <<<"${P50[mode]}")
p99l=$(median <<<"${P99[limit]}") p99m=$(median <<<"${P99[mode]}")
# The ratios: medians of each round's mode/LIMIT (the two ran back to
# back, under about the same load from the machine's other jobs).
rt=$(pratio "${T[mode]}" "${T[limit]}") rc=$(pratio "${C[mode]}" "${C[limit]}")
r50=$(pratio "${P50[mode]}" "${P50[limit]}") r99=$(pratio "${P99[mode]}" "${P99[limit]}")
rtr=$(prange "${T[mode]}" "${T[limit]}") rcr=$(prange "${C[mode]}" "${C[limit]}")
nm=${N[mode]}
um=$(awk -v u="${US[mode]}" -v n="$nm" 'BEGIN { printf "%.2f", n ? u / n : 0 }')
ul=$(awk -v u="${US[limit]}" -v n="${N[limit]}" 'BEGIN { printf "%.2f", n ? u / n : 0 }')
load=$(cut -d' ' -f1-3 /proc/loadavg)

printf '%s: throughput %.2f Gbit/s (%sx, rounds %s; LIMIT %.2f) | conn/s %d (%sx, rounds %s; LIMIT %d) | latency p50 %d us (%sx LIMIT %d) p99 %d us (%sx LIMIT %d) | upcalls/conn %s (LIMIT %s; %d upcalls, %d failed, %d connections, %d sessions learned) | load %s\n' \
    "$MODE" "$tm" "$rt" "$rtr" "$tl" "$cm" "$rc" "$rcr" "$cl" "$p50m" "$r50" "$p50l" \
    "$p99m" "$r99" "$p99l" "$um" "$ul" "${US[mode]}" "${UF[mode]}" "$nm" \
    "$(learned)" "$load"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$MODE" "$tm" "$tl" "$rt" "$cm" "$cl" "$rc" "$p50m" "$p50l" "$r50" \
    "$p99m" "$p99l" "$r99" "$um" "$ul" "$load" >>"$RESULTS"

# The DSR LIMIT really crossed br-lb's static flows.
if [ "$LIMIT_ADDR" = "$VIP" ]; then
    lp=$(ofctl dump-flows br-lb cookie=0x1/-1 | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' \
        | awk '{ s += $1 } END { print s + 0 }')
    log "LIMIT flows on br-lb: $lp packets"
    [ "$lp" -gt 0 ] || die "$MODE: LIMIT did not cross br-lb's LIMIT flows"
fi
# A mode (or its LIMIT) that carried nothing is broken, not slow.
for v in "$tm" "$tl" "$cm" "$cl" "$p50m" "$p50l"; do
    awk -v v="$v" 'BEGIN { exit !(v > 0) }' || die "$MODE: a measurement carried no traffic"
done
