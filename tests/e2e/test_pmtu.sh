#!/usr/bin/env bash
# Path MTU through mode tun (VXLAN terminated by Linux), IPv4 and IPv6 over
# an IPv4 underlay of 1500 bytes: a client with a 1500-byte MTU uploads
# through the VIP; the balancer answers the too-big segments with ICMP
# "fragmentation needed" / ICMPv6 "packet too big" carrying 1450 (1500
# minus VXLAN's 50), so the upload completes, within 2x (+0.5 s) of the
# same upload straight to the server.  A UDP datagram without DF is fragmented.
# Topology: test_dsr_tun.sh's, one server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP=198.18.0.100
VIP6=2001:db8::100
LBMAC=0a:00:00:00:00:01
BYTES=$((24 * 1024 * 1024))
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
add_host c1 br-sw 198.18.0.10/24 2001:db8::10/64 0a:00:00:00:00:10
host_route c1 198.18.2.0/24 dev eth0
host_route c1 2001:db8:2::/64 dev eth0
add_host s1 br-ul 198.18.2.21/24 2001:db8:2::21/64 02:00:00:00:02:21
host_route s1 198.18.0.0/24 dev eth0
host_route s1 2001:db8::/64 dev eth0
nsx s1 ip link add vxlan0 address 02:00:00:00:03:21 type vxlan external \
    dstport 4789
nsx s1 ip link set vxlan0 up
nsx s1 ip addr add "$VIP/32" dev lo
nsx s1 ip -6 addr add "$VIP6/128" dev lo nodad
nsx s1 sysctl -qw net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.vxlan0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
    net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
    net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.vxlan0.arp_ignore=1
appctl tnl/neigh/set br-ul 198.18.2.21 02:00:00:00:02:21 >/dev/null
spawn_in s1 sink "$PYTHON" "$TOOLS/upload.py" sink 9000 \
    --pidfile "$D/pids/sink.ready"
wait_for 10 test -s "$D/pids/sink.ready"
start_server s1 S1 --udp 53

be='{"name":"s1","ip":"198.18.2.21","mac":"02:00:00:00:03:21"}'
be6='{"name":"s1","ip":"2001:db8:2::21","host":"198.18.2.21","mac":"02:00:00:00:03:21"}'
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "tunnel_ports": {"vxlan": "vx0"}, "tunnel_mtu": 1500}],
 "services": [
  {"name": "up", "vip": "$VIP", "protocol": "tcp", "port": 9000,
   "mode": "tun", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
   "mode": "tun", "bridges": ["br-lb"], "backends": [$be]},
  {"name": "up6", "vip": "$VIP6", "protocol": "tcp", "port": 9000,
   "mode": "tun", "bridges": ["br-lb"], "backends": [$be6]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
check "client MTU is 1500" sh -c \
    "ip netns exec $(ns_of c1) cat /sys/class/net/eth0/mtu | grep -qx 1500"

spawn capture ip netns exec "$(ns_of c1)" timeout 120 tcpdump -nn -p -U \
    -i eth0 -w "$D/c1.pcap" "icmp or icmp6"
capture_ready capture

# upload LABEL HOST: uploads of $BYTES, each after the client forgot what
# it learned of path MTUs; the faster of two in $D/time-LABEL.
upload() {
    local out i best=
    for i in 1 2; do
        nsx c1 ip route flush cache
        nsx c1 ip -6 route flush cache
        out=$(nsx c1 "$PYTHON" "$TOOLS/upload.py" send "$2" 9000 "$BYTES" \
            --timeout 30) || { log "upload $1: $out"; return 1; }
        echo "upload $1 to $2: $out" >>"$D/uploads.txt"
        if [ -z "$best" ] || awk -v a="${out%% *}" -v b="$best" \
            'BEGIN { exit !(a < b) }'; then
            best=${out%% *}
        fi
    done
    echo "$best" >"$D/time-$1"
}
# within2x A B: time A at most twice time B, plus 0.5 s: the first
# window's packets that were too big are lost before the first ICMP
# answer reaches the client, and TCP may resend them only after its
# retransmission timeout (200 ms or more), a large share of a 0.3 s
# upload; a path without the answers would stall for seconds.
within2x() {
    echo "$1: $(cat "$D/time-$1") s, $2: $(cat "$D/time-$2") s" | tee -a "$D/uploads.txt" >&2
    awk -v a="$(cat "$D/time-$1")" -v b="$(cat "$D/time-$2")" \
        'BEGIN { exit !(a <= 2 * b + 0.5) }'
}
check "24 MiB straight to the server (IPv4)" upload direct4 198.18.2.21
check "24 MiB through the VIP, mode tun (IPv4)" upload vip4 "$VIP"
check "24 MiB straight to the server (IPv6)" upload direct6 2001:db8:2::21
check "24 MiB through the VIP, mode tun (IPv6 over IPv4)" upload vip6 "$VIP6"
check "IPv4 upload through the VIP within 2x of direct (+0.5 s)" within2x vip4 direct4
check "IPv6 upload through the VIP within 2x of direct (+0.5 s)" within2x vip6 direct6

# A UDP datagram without DF, bigger than the tunnel carries: fragmented by
# mslbd, reassembled by the server.
spawn scap ip netns exec "$(ns_of s1)" timeout 60 tcpdump -nn -p -U \
    -i vxlan0 -w "$D/s1.pcap" "udp port 53 or (ip[6:2] & 0x1fff != 0)"
capture_ready scap
cat >"$D/nodf.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)   # IP_MTU_DISCOVER = PMTUDISC_DONT
s.settimeout(2)
for _ in range(3):
    s.sendto(b"q" * 1472, (sys.argv[1], 53))
    try:
        if s.recv(65536):
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
PY
check "a 1472-byte UDP datagram without DF reaches the server" \
    nsx c1 "$PYTHON" "$D/nodf.py" "$VIP"
capture_stop scap
capture_stop capture
tcpdump -nn -r "$D/s1.pcap" >&2 || true
cat "$D/uploads.txt" >&2
frags=$(tcpdump -nn -r "$D/s1.pcap" 'ip[6:2] & 0x3fff != 0' 2>/dev/null | wc -l)
check "the server got it in fragments ($frags)" test "$frags" -ge 2
tcpdump -nn -v -r "$D/c1.pcap" 2>/dev/null >"$D/c1.txt" || true
n4=$(grep -c "need to frag (mtu 1450)" "$D/c1.txt" || true)
n6=$(grep -c "packet too big, mtu 1450" "$D/c1.txt" || true)
check "client got ICMP fragmentation needed, mtu 1450 ($n4)" test "$n4" -ge 1
check "client got ICMPv6 packet too big, mtu 1450 ($n6)" test "$n6" -ge 1
bad=$(grep -E "need to frag|packet too big" "$D/c1.txt" | grep -vc "mtu 1450" || true)
check "no ICMP error with another MTU ($bad)" test "$bad" -eq 0
cat "$D/mslbd.log" | grep -i pmtu >&2 || true
