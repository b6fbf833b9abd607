# shellcheck shell=bash
# tests/e2e/mslb_topo.sh: mode mslb's two-host topology (test_mslb.sh's
# picture), for the tests that need it.  Source after lib.sh.
#
#   mslb_two_hosts          host 1: br-lb (one arm "arm" on br-sw with c1
#                           198.18.0.10, 2001:db8::10), br-ul 198.18.2.1 and
#                           tunnel ports vx0/gre0/gnv0; host 2 (netns $NS2,
#                           run dir $D2, `vsctl2`): br-ul2 198.18.2.2 and the
#                           final stage br-host with vx1/gre1/gnv1 and its
#                           controller at unix:$D2/mslbd.sock; the underlay
#                           link ul1-ul2 and the reply link rl1-rl2.
#   mslb_host2              host 2 alone, for topologies of their own
#   mslb_host3              a third host like host 2 (netns $NS3, $D3,
#                           `vsctl3`, br-ul3 198.18.2.6, br-host3 vx3...)
#   h3_server N MAC         as h2_server, behind host 3's br-host3
#   h2_server N MAC [BR]    a server sN ($H2_NET.3N, default 198.18.0.3N;
#                           2001:db8::3N) behind
#                           BR (default br-host) with the VIPs $H2_VIPS and $H2_VIPS6 on
#                           its loopback (no ARP for them); start its
#                           traffic tools yourself.

mslb_tunnels() {   # mslb_tunnels VSCTL BRIDGE SUFFIX
    "$1" add-port "$2" "vx$3" -- set interface "vx$3" type=vxlan \
        options:remote_ip=flow options:key=flow \
        -- add-port "$2" "gre$3" -- set interface "gre$3" type=gre \
        options:remote_ip=flow options:key=flow \
        -- add-port "$2" "gnv$3" -- set interface "gnv$3" type=geneve \
        options:remote_ip=flow options:key=flow
}

# vsctln N ARGS...: ovs-vsctl against host N's own database.
vsctln() {
    local n=$1
    shift
    ovs-vsctl --db="unix:$D/h$n/db.sock" --timeout=20 "$@"
}
vsctl2() { vsctln 2 "$@"; }

vsctl3() { vsctln 3 "$@"; }
vsctl4() { vsctln 4 "$@"; }
vsctl5() { vsctln 5 "$@"; }
vsctl6() { vsctln 6 "$@"; }

# cross_link NAME1 BRIDGE1(host 1) NAME2 BRIDGE2(host N) [N]: a veth
# between a bridge of host 1 and one of host N (default 2).
cross_link() {
    local n=${5:-2} ns
    ns=mslb-$RID-h$n
    ip link add "$1" netns "$OVS_NS" type veth peer name "$3" netns "$ns"
    ip netns exec "$OVS_NS" ethtool -K "$1" tx off rx off >/dev/null
    ip netns exec "$ns" ethtool -K "$3" tx off rx off >/dev/null
    ip -n "$OVS_NS" link set "$1" up
    ip -n "$ns" link set "$3" up
    vsctl add-port "$2" "$1"
    vsctln "$n" add-port "$4" "$3"
}

mslb_two_hosts() {
    # ---- host 1
    ovs_start
    add_switch_bridge br-sw
    add_switch_bridge br-ul
    add_lb_bridge br-lb "$MSLBD_TARGET"
    link_bridges br-lb arm br-sw sw-lb veth
    add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
    in_ovs ip addr add 198.18.2.1/24 dev br-ul
    in_ovs ip link set br-ul up
    mslb_tunnels vsctl br-lb 0

    mslb_host2
    # The servers' reply path.
    cross_link rl1 br-sw rl2 br-host
}

# mslb_host2: host 2 alone (after ovs_start, with br-ul 198.18.2.1 on host
# 1): its ovs-vswitchd in netns $NS2 (run dir $D2), br-ul2 198.18.2.2 and
# the final stage br-host (vx1/gre1/gnv1, controller unix:$D2/mslbd.sock),
# the underlay link ul1-ul2.
mslb_host2() {
    _mslb_host 2 198.18.2.2 br-host 1
}

# mslb_host3: a third host (after mslb_host2), as host 2: its own
# ovs-vswitchd in netns $NS3 (run dir $D3, `vsctl3`), br-ul3 198.18.2.6,
# the final stage br-host3 (vx3/gre3/gnv3, controller
# unix:$D3/mslbd.sock), the underlay link ul5-ul6 and its own link
# rl5-rl6 to host 1's br-sw; hosts 2 and 3 know each other's underlay
# MACs.
mslb_host3() {
    local mac2 mac3
    _mslb_host 3 198.18.2.6 br-host3 3
    cross_link rl5 br-sw rl6 br-host3 3
    mac2=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
    mac3=$(ip -n "$NS3" link show br-ul3 | awk '/link\/ether/ { print $2 }')
    ovs-appctl -t "$D2/vswitchd.ctl" tnl/neigh/set br-ul2 198.18.2.6 "$mac3" >/dev/null
    ovs-appctl -t "$D3/vswitchd.ctl" tnl/neigh/set br-ul3 198.18.2.2 "$mac2" >/dev/null
}

# _mslb_host N ADDR BRIDGE SUFFIX: host N's own ovs-vswitchd (netns
# mslb-$RID-hN, run dir $D/hN), its underlay bridge br-ulN with ADDR,
# linked to host 1's br-ul (which learns its MAC for its tunnels), and
# the final stage BRIDGE with tunnel ports of SUFFIX and its controller at
# unix:$D/hN/mslbd.sock.
_mslb_host() {
    local n=$1 addr=$2 br=$3 sfx=$4 d ns mac
    d=$D/h$n
    ns=mslb-$RID-h$n
    printf -v "D$n" '%s' "$d"           # D2, NS2 ... for the callers.
    printf -v "NS$n" '%s' "$ns"
    mkdir -p "$d"
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d ovsdb-server "$d/conf.db" \
        --remote="punix:$d/db.sock" --unixctl="$d/ovsdb.ctl" \
        --pidfile="$D/pids/h$n-ovsdb.pid" --log-file="$d/ovsdb.log" \
        -vconsole:off --detach --no-chdir
    vsctln "$n" --no-wait init
    host_vswitchd_start "$n"
    vsctln "$n" add-br "br-ul$n" -- set bridge "br-ul$n" datapath_type=netdev \
        fail_mode=standalone
    vsctln "$n" add-br "$br" -- set bridge "$br" datapath_type=netdev \
        protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
        other-config:disable-in-band=true
    # OVS takes unix controller sockets only from its own run directory.
    vsctln "$n" set-controller "$br" "unix:$d/mslbd.sock" \
        -- set controller "$br" connection-mode=out-of-band \
        max_backoff=1000
    mslb_tunnels "vsctl$n" "$br" "$sfx"
    ip -n "$ns" addr add "$addr/24" dev "br-ul$n"
    ip -n "$ns" link set "br-ul$n" up
    ip -n "$ns" link set "$br" up

    # The underlay between the hosts.
    cross_link "ul$((2 * n - 3))" br-ul "ul$((2 * n - 2))" "br-ul$n" "$n"

    # Host 1 routes tunnels itself: it needs host N's underlay MAC.
    mac=$(ip -n "$ns" link show "br-ul$n" | awk '/link\/ether/ { print $2 }')
    appctl tnl/neigh/set br-ul "$addr" "$mac" >/dev/null
}

# host_vswitchd_start N: (re)starts host N's ovs-vswitchd on its database.
host_vswitchd_start() {
    local n=$1 d=$D/h$1
    OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d ip netns exec "mslb-$RID-h$n" \
        ovs-vswitchd "unix:$d/db.sock" --unixctl="$d/vswitchd.ctl" \
        --pidfile="$D/pids/h$n-vswitchd.pid" --log-file="$d/vswitchd.log" \
        -vconsole:off --detach --no-chdir
    wait_for 10 ovs-appctl -t "$d/vswitchd.ctl" version
}

# h3_server N MAC: as h2_server, behind host 3's br-host3.
h3_server() { HOST_N=3 h2_server "$1" "$2" br-host3; }

h2_server() {   # h2_server N MAC [BRIDGE]
    local ns v br=${3:-br-host} n=${HOST_N:-2} hns
    hns=mslb-$RID-h$n
    ns=$(ns_of "s$1")
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "s$1" netns "$hns"
    ip -n "$ns" link set eth0 address "$2"
    ip netns exec "$ns" ethtool -K eth0 tx off rx off >/dev/null
    ip netns exec "$hns" ethtool -K "s$1" tx off rx off >/dev/null
    ip -n "$hns" link set "s$1" up
    vsctln "$n" add-port "$br" "s$1"
    ip -n "$ns" addr add "${H2_NET:-198.18.0}.3$1/24" dev eth0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
    ip -n "$ns" -6 addr add "2001:db8::3$1/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    for v in $H2_VIPS; do ip -n "$ns" addr add "$v/32" dev lo; done
    for v in $H2_VIPS6; do ip -n "$ns" -6 addr add "$v/128" dev lo nodad; done
    nsx "s$1" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2
}

