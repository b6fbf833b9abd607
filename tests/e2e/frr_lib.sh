# shellcheck shell=bash
# tests/e2e/frr_lib.sh: FRR routers for the BGP tests (source after
# lib.sh).  Each runs in a namespace of this run, with its configuration,
# pid files, logs and vty sockets in $D/frr-NAME (FRR's daemons run as
# user frr there); cleanup kills them with the namespace.
#
#   frr_ns NAME                  a namespace mslb-$RID-NAME, lo up
#   frr_link NS1 IF1 ADDR1 NS2 IF2 ADDR2   a veth between two namespaces
#                                (full names, e.g. "$OVS_NS"), addressed,
#                                checksum offload off
#   frr_start NAME CONF [ZEBRA]  bgpd (and zebra, to install routes in the
#                                namespace's kernel, when ZEBRA is 1) with
#                                configuration text CONF
#   frr_vtysh NAME CMD...        vtysh -c CMD... against NAME's daemons
#   route_vias NS PREFIX         the next hops of PREFIX in namespace NS,
#                                sorted, space-separated ("" if none)

FRR_DIR=/usr/lib/frr

frr_ns() {
    _e2e_netns_add "$(ns_of "$1")"
    ip -n "$(ns_of "$1")" link set lo up
}

frr_link() {
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    # Checksums in full: the userspace datapath's conntrack checks them.
    ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null
    ip netns exec "$4" ethtool -K "$5" tx off rx off >/dev/null
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

frr_start() {
    local name=$1 conf=$2 zebra=${3:-0} dir=$D/frr-$1 ns
    ns=$(ns_of "$name")
    # FRR's daemons drop to user frr: the run's directory must let it in.
    chmod 755 "$D"
    mkdir -p "$dir"
    printf '%s\n' "$conf" >"$dir/bgpd.conf"
    : >"$dir/zebra.conf"
    chown -R frr:frr "$dir"
    if [ "$zebra" = 1 ]; then
        ip netns exec "$ns" "$FRR_DIR/zebra" -d -u frr -g frr -P 0 \
            -f "$dir/zebra.conf" -i "$dir/zebra.pid" -z "$dir/zserv.api" \
            --vty_socket "$dir" --log "file:$dir/zebra.log" \
            || die "zebra $name did not start"
        wait_for 10 test -S "$dir/zserv.api" || die "zebra $name: no socket"
        _e2e_remember "$dir/zebra.pid"
        ip netns exec "$ns" "$FRR_DIR/bgpd" -d -u frr -g frr -P 0 \
            -f "$dir/bgpd.conf" -i "$dir/bgpd.pid" -z "$dir/zserv.api" \
            --vty_socket "$dir" --log "file:$dir/bgpd.log" \
            || die "bgpd $name did not start"
    else
        ip netns exec "$ns" "$FRR_DIR/bgpd" -d -u frr -g frr -P 0 -Z \
            -f "$dir/bgpd.conf" -i "$dir/bgpd.pid" \
            --vty_socket "$dir" --log "file:$dir/bgpd.log" \
            || die "bgpd $name did not start"
    fi
    wait_for 10 test -s "$dir/bgpd.pid" || die "bgpd $name: no pid file"
    _e2e_remember "$dir/bgpd.pid"
}

frr_vtysh() {
    local name=$1 args=() c
    shift
    for c in "$@"; do
        args+=(-c "$c")
    done
    vtysh --vty_socket "$D/frr-$name" "${args[@]}"
}

route_vias() {
    ip -n "$1" -4 route show "$2" 2>/dev/null \
        | grep -o 'via [0-9a-f.:]*' | awk '{print $2}' | sort | xargs
}
