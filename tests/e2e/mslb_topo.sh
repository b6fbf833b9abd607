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

vsctl2() { ovs-vsctl --db="unix:$D2/db.sock" --timeout=20 "$@"; }

# cross_link NAME1 BRIDGE1(host 1) NAME2 BRIDGE2(host 2)
cross_link() {
    ip link add "$1" netns "$OVS_NS" type veth peer name "$3" netns "$NS2"
    ip netns exec "$OVS_NS" ethtool -K "$1" tx off rx off >/dev/null
    ip netns exec "$NS2" ethtool -K "$3" tx off rx off >/dev/null
    ip -n "$OVS_NS" link set "$1" up
    ip -n "$NS2" link set "$3" up
    vsctl add-port "$2" "$1"
    vsctl2 add-port "$4" "$3"
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
    local ul2mac

    D2=$D/h2
    NS2=mslb-$RID-h2
    mkdir -p "$D2"
    _e2e_netns_add "$NS2"
    ip -n "$NS2" link set lo up
    ovsdb-tool create "$D2/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    OVS_RUNDIR=$D2 OVS_LOGDIR=$D2 OVS_DBDIR=$D2 ovsdb-server "$D2/conf.db" \
        --remote="punix:$D2/db.sock" --unixctl="$D2/ovsdb.ctl" \
        --pidfile="$D/pids/h2-ovsdb.pid" --log-file="$D2/ovsdb.log" \
        -vconsole:off --detach --no-chdir
    vsctl2 --no-wait init
    OVS_RUNDIR=$D2 OVS_LOGDIR=$D2 OVS_DBDIR=$D2 ip netns exec "$NS2" \
        ovs-vswitchd "unix:$D2/db.sock" --unixctl="$D2/vswitchd.ctl" \
        --pidfile="$D/pids/h2-vswitchd.pid" --log-file="$D2/vswitchd.log" \
        -vconsole:off --detach --no-chdir
    wait_for 10 ovs-appctl -t "$D2/vswitchd.ctl" version
    vsctl2 add-br br-ul2 -- set bridge br-ul2 datapath_type=netdev \
        fail_mode=standalone
    vsctl2 add-br br-host -- set bridge br-host datapath_type=netdev \
        protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
        other-config:disable-in-band=true
    # OVS takes unix controller sockets only from its own run directory.
    vsctl2 set-controller br-host "unix:$D2/mslbd.sock" \
        -- set controller br-host connection-mode=out-of-band \
        max_backoff=1000
    mslb_tunnels vsctl2 br-host 1
    ip -n "$NS2" addr add 198.18.2.2/24 dev br-ul2
    ip -n "$NS2" link set br-ul2 up
    ip -n "$NS2" link set br-host up

    # The underlay between the hosts.
    cross_link ul1 br-ul ul2 br-ul2

    # Host 1 routes tunnels itself: it needs host 2's underlay MAC.
    ul2mac=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
    appctl tnl/neigh/set br-ul 198.18.2.2 "$ul2mac" >/dev/null
}

h2_server() {   # h2_server N MAC [BRIDGE]
    local ns v br=${3:-br-host}
    ns=$(ns_of "s$1")
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "s$1" netns "$NS2"
    ip -n "$ns" link set eth0 address "$2"
    ip netns exec "$ns" ethtool -K eth0 tx off rx off >/dev/null
    ip netns exec "$NS2" ethtool -K "s$1" tx off rx off >/dev/null
    ip -n "$NS2" link set "s$1" up
    vsctl2 add-port "$br" "s$1"
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

# mslb_host3: a third host (after mslb_host2), as host 2: its own
# ovs-vswitchd in netns $NS3 (run dir $D3, `vsctl3`), br-ul3 198.18.2.6
# on the same underlay (a link to host 1's br-ul), the final stage
# br-host3 (vx3/gre3/gnv3, controller unix:$D3/mslbd.sock) and its own
# link rl5-rl6 to host 1's br-sw; hosts 1 to 3 know each other's
# underlay MACs.  h3_server N MAC: a server sN behind br-host3, as
# h2_server.
vsctl3() { ovs-vsctl --db="unix:$D3/db.sock" --timeout=20 "$@"; }
mslb_host3() {
    local mac2 mac3
    D3=$D/h3
    NS3=mslb-$RID-h3
    mkdir -p "$D3"
    _e2e_netns_add "$NS3"
    ip -n "$NS3" link set lo up
    ovsdb-tool create "$D3/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    OVS_RUNDIR=$D3 OVS_LOGDIR=$D3 OVS_DBDIR=$D3 ovsdb-server "$D3/conf.db" \
        --remote="punix:$D3/db.sock" --unixctl="$D3/ovsdb.ctl" \
        --pidfile="$D/pids/h3-ovsdb.pid" --log-file="$D3/ovsdb.log" \
        -vconsole:off --detach --no-chdir
    vsctl3 --no-wait init
    OVS_RUNDIR=$D3 OVS_LOGDIR=$D3 OVS_DBDIR=$D3 ip netns exec "$NS3" \
        ovs-vswitchd "unix:$D3/db.sock" --unixctl="$D3/vswitchd.ctl" \
        --pidfile="$D/pids/h3-vswitchd.pid" --log-file="$D3/vswitchd.log" \
        -vconsole:off --detach --no-chdir
    wait_for 10 ovs-appctl -t "$D3/vswitchd.ctl" version
    vsctl3 add-br br-ul3 -- set bridge br-ul3 datapath_type=netdev \
        fail_mode=standalone
    vsctl3 add-br br-host3 -- set bridge br-host3 datapath_type=netdev \
        protocols=OpenFlow13,OpenFlow15 fail_mode=secure \
        other-config:disable-in-band=true
    vsctl3 set-controller br-host3 "unix:$D3/mslbd.sock" \
        -- set controller br-host3 connection-mode=out-of-band \
        max_backoff=1000
    mslb_tunnels vsctl3 br-host3 3
    ip -n "$NS3" addr add 198.18.2.6/24 dev br-ul3
    ip -n "$NS3" link set br-ul3 up
    ip -n "$NS3" link set br-host3 up
    _link3 ul5 br-ul ul6 br-ul3
    _link3 rl5 br-sw rl6 br-host3
    mac2=$(ip -n "$NS2" link show br-ul2 | awk '/link\/ether/ { print $2 }')
    mac3=$(ip -n "$NS3" link show br-ul3 | awk '/link\/ether/ { print $2 }')
    appctl tnl/neigh/set br-ul 198.18.2.6 "$mac3" >/dev/null
    ovs-appctl -t "$D2/vswitchd.ctl" tnl/neigh/set br-ul2 198.18.2.6 "$mac3" >/dev/null
    ovs-appctl -t "$D3/vswitchd.ctl" tnl/neigh/set br-ul3 198.18.2.2 "$mac2" >/dev/null
}

_link3() {   # _link3 NAME1 BRIDGE1(host 1) NAME3 BRIDGE3(host 3)
    ip link add "$1" netns "$OVS_NS" type veth peer name "$3" netns "$NS3"
    ip netns exec "$OVS_NS" ethtool -K "$1" tx off rx off >/dev/null
    ip netns exec "$NS3" ethtool -K "$3" tx off rx off >/dev/null
    ip -n "$OVS_NS" link set "$1" up
    ip -n "$NS3" link set "$3" up
    vsctl add-port "$2" "$1"
    vsctl3 add-port "$4" "$3"
}

h3_server() {   # h3_server N MAC
    local ns
    ns=$(ns_of "s$1")
    _e2e_netns_add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "s$1" netns "$NS3"
    ip -n "$ns" link set eth0 address "$2"
    ip netns exec "$ns" ethtool -K eth0 tx off rx off >/dev/null
    ip netns exec "$NS3" ethtool -K "s$1" tx off rx off >/dev/null
    ip -n "$NS3" link set "s$1" up
    vsctl3 add-port br-host3 "s$1"
    ip -n "$ns" addr add "${H2_NET:-198.18.0}.3$1/24" dev eth0
    ip -n "$ns" link set eth0 up
}
