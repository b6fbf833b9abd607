# shellcheck shell=bash
# A segment for direct server return (source after lib.sh):
#
#   c1 198.18.0.10 --+
#   s1 198.18.0.21 --+-- br-sw (learning switch) ==veth== arm [br-lb]
#   s2 198.18.0.22 --+                                     one-armed, mslbd
#   s3 198.18.0.23 --+
#
# The servers hold the VIP on lo and do not answer ARP for it; they answer
# the client directly through br-sw.  br-lb sees requests only.
# dsr_topo_up N makes servers s1..sN (198.18.0.2N, N from 1 to 9; 3 by
# default).

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01

dsr_topo_up() {   # dsr_topo_up [NSERVERS]
    local n=${1:-3}
    ovs_start
    add_switch_bridge br-sw
    add_lb_bridge br-lb "$MSLBD_TARGET"
    link_bridges br-lb arm br-sw sw-lb veth
    add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
    local i
    for ((i = 1; i <= n; i++)); do
        add_host "s$i" br-sw "198.18.0.2$i/24" - "02:00:00:00:00:2$i"
        nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
            net.ipv4.conf.all.arp_announce=2 \
            net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
        nsx "s$i" ip addr add "$VIP/32" dev lo
        start_server "s$i" "S$i" --tcp 80 --tcp 8080 --udp 53
    done
}

dsr_backend() {   # dsr_backend N [WEIGHT]
    printf '{"name":"s%s","ip":"198.18.0.2%s","mac":"02:00:00:00:00:2%s","weight":%s}' \
        "$1" "$1" "$1" "${2:-1}"
}

wait_generation() {
    wait_for 20 grep -q "bridge br-lb: generation $1 installed" "$D/mslbd.log"
}

# capture_start SECONDS: records, on br-lb's own port, every IPv4 packet
# that reaches br-lb, in the background.
capture_start() {
    spawn capture ip netns exec "$OVS_NS" timeout "$1" tcpdump -nn -p -U -i arm \
        -w "$D/arm.pcap" ip
    capture_ready capture
}
# capture_count FILTER: packets of the capture (stopped first) that match
# FILTER.
capture_count() {
    if [ -e "$D/pids/capture.pid" ]; then
        capture_stop capture
    fi
    tcpdump -nn -r "$D/arm.pcap" "$1" 2>/dev/null | wc -l
}
FROM_SERVERS="src host 198.18.0.21 or src host 198.18.0.22 or src host 198.18.0.23"
