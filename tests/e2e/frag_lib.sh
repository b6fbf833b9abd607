# shellcheck shell=bash
# Fragment checks shared by test_fragments_*.sh (sourced after lib.sh).
# frag_round TAG VIP PROTO SOURCES SERVER:IFACE[=MAC]...: captures the
# client's fragments to VIP and those at each server's IFACE (only frames
# to MAC if given: a switch flooding a frame to an unknown MAC shows it to
# every server, whose stack drops it), then sends PROTO
# datagrams of 3,000 bytes in fragments of 1,400 bytes of IP payload from
# SOURCES (comma-separated), FRAG_COUNT of them in order, reversed and
# shuffled, to destination port FRAG_DPORT (default 53: set it for one
# round with `FRAG_DPORT=80 frag_round ...`); captures in
# $D/TAG-client.pcap, $D/TAG-SERVER.pcap.
FRAG_COUNT=${FRAG_COUNT:-8}   # one datagram per source (8) per order
FRAG_N=0
frag_filter() {   # frag_filter VIP: the fragments to VIP
    if [[ $1 == *:* ]]; then
        echo "ip6 and dst host $1 and ip6[6] == 44"
    else
        echo "ip and dst host $1 and (ip[6:2] & 0x3fff != 0)"
    fi
}
frag_round() {
    local tag=$1 vip=$2 proto=$3 src=$4 spec order tags=()
    shift 4
    spawn_in c1 "cap-$tag-c1" timeout 60 tcpdump -nn -p -U -i eth0 \
        -w "$D/$tag-client.pcap" "$(frag_filter "$vip")"
    tags+=("cap-$tag-c1")
    local host ifc mac
    for spec in "$@"; do
        host=${spec%%:*} ifc=${spec#*:} mac=""
        [[ $ifc == *=* ]] && mac="ether dst ${ifc#*=} and " ifc=${ifc%%=*}
        spawn_in "$host" "cap-$tag-$host" timeout 60 tcpdump -nn \
            -p -U -i "$ifc" -w "$D/$tag-$host.pcap" \
            "$mac$(frag_filter "$vip")"
        tags+=("cap-$tag-$host")
    done
    capture_ready "${tags[@]}"
    for order in in reverse shuffle; do
        FRAG_N=$((FRAG_N + 1))
        nsx c1 timeout 60 /usr/bin/python3 "$TOOLS/fragsend.py" send "$vip" \
            --proto "$proto" --order "$order" --count "$FRAG_COUNT" \
            --sources "$src" --sport-base $((20000 + FRAG_N * 100)) \
            --size 3000 --fragsize 1400 --dport "${FRAG_DPORT:-53}" \
            >/dev/null
    done
    sleep 1
    capture_stop "${tags[@]}"
}
# frag_where TAG MIN_SERVERS SERVER...: every datagram of round TAG whole
# at one server, over at least MIN_SERVERS of them.
frag_where() {
    local tag=$1 min=$2 s args=()
    shift 2
    for s in "$@"; do args+=("$D/$tag-$s.pcap" "$s"); done
    "$PYTHON" "$TOOLS/fragsend.py" where "${args[@]}" \
        --expect $((FRAG_COUNT * 3)) --min-servers "$min"
}
# frag_same TAG VIP SERVER...: every fragment the client sent of round
# TAG reached a server byte for byte (IP header and payload).
frag_same() {
    local tag=$1 vip=$2 s proto args=()
    shift 2
    proto=$(grep -q tcp <<<"$tag" && echo 6 || echo 17)
    [[ $vip == *:* ]] && proto=44
    for s in "$@"; do args+=("$D/$tag-$s.pcap"); done
    "$PYTHON" "$TOOLS/pcap_same.py" "$D/$tag-client.pcap" "${args[0]}" \
        "$proto" "${args[@]:1}"
}
# frag_via_mslbd BRIDGE VIP MIN [MAX]: BRIDGE's flows that send fragments
# to VIP to mslbd (CLASSIFY, priority 320) counted MIN to MAX packets (no
# MAX: no limit; no such flow counts 0).
frag_via_mslbd() {
    local n
    n=$(ofctl dump-flows "$1" | awk -v vip="$2" '
        /priority=320,/ && ($0 ~ "(nw_dst|ipv6_dst)=" vip "[, ]") {
            sub(/.*n_packets=/, ""); s += $0 + 0 }
        END { print s + 0 }')
    echo "$1: fragments to $2 sent to mslbd: $n"
    [ "$n" -ge "$3" ] && [ "$n" -le "${4:-$n}" ]
}
# frag_ping VIP SIZE SERVER:IFACE[=MAC]...: `ping -s SIZE` from c1 to VIP
# (an `any` service's: the servers answer ping, docs/mtu.md) gets at least
# 2 of 3 answers (over a tunnel the first 3,000-byte IPv6 echo may get
# "packet too big" instead: IPv6 is not fragmented on the way, and the
# client then sends smaller fragments), and the echo requests reached the
# servers.
frag_ping() {
    local vip=$1 size=$2 spec six="" tags=() n=0 host ifc tag k=0
    shift 2
    [[ $vip == *:* ]] && six=-6
    for spec in "$@"; do
        host=${spec%%:*} ifc=${spec#*:} ifc=${ifc%%=*} k=$((k + 1))
        tag=ping-$size-$k-$RANDOM
        spawn_in "$host" "$tag" timeout 30 tcpdump -nn -p -U -i "$ifc" \
            -w "$D/$tag.pcap" "dst host $vip and (icmp or icmp6 or (ip and ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44))"
        tags+=("$tag")
    done
    capture_ready "${tags[@]}"
    nsx c1 timeout 20 ping $six -c 3 -i 0.3 -W 2 -s "$size" "$vip" \
        | tee "$D/ping.out" || true
    sleep 0.5
    capture_stop "${tags[@]}"
    grep -Eq " [23] received" "$D/ping.out"
    for tag in "${tags[@]}"; do
        n=$((n + $(tcpdump -nn -r "$D/$tag.pcap" 2>/dev/null | wc -l)))
    done
    echo "frames of the echo requests at the servers: $n"
    [ "$n" -ge 2 ]
}
