#!/usr/bin/env bash
# Announcements: mslbd keeps the balancer's MAC known on the segments it
# serves with gratuitous ARP and unsolicited neighbour advertisements for
# its VIPs (frontend) and gateways (frontend and backend), every
# --announce-interval seconds (2 here), and stops for a removed service.
#
#   c1, c2 --- br-cl ==front [br-lb] back== br-sv --- s1
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP=198.18.0.100
VIP2=198.18.0.101
VIP3=198.18.0.102
VIP6=2001:db8::100
GW=198.18.1.1
LBMAC=0a:00:00:00:00:01
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
add_switch_bridge br-cl
add_switch_bridge br-sv
link_bridges br-lb front br-cl cl-up
link_bridges br-lb back br-sv sv-up
add_host c1 br-cl 198.18.0.10/24 2001:db8::10/64
add_host c2 br-cl 198.18.0.11/24 2001:db8::11/64
add_host s1 br-sv 198.18.1.11/24 - 02:00:00:00:01:11

be() { printf '{"name":"s1","ip":"198.18.1.11","port":8080,"mac":"02:00:00:00:01:11"}'; }
config() {   # config EXTRA_VIP: one more service, on EXTRA_VIP
    local extra=", {\"name\": \"extra\", \"vip\": \"$1\", \"protocol\": \"tcp\",
                  \"port\": 80, \"bridges\": [\"br-lb\"], \"backends\": [$(be)]}"
    cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back", "gateways": ["$GW"]}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "bridges": ["br-lb"], "backends": [$(be)]},
  {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
   "bridges": ["br-lb"], "backends": [$(be)]},
  {"name": "web6", "vip": "$VIP6", "protocol": "tcp", "port": 80,
   "bridges": ["br-lb"],
   "backends": [{"name":"s1","ip":"2001:db8:1::11","port":8080,
                 "mac":"02:00:00:00:01:11"}]}$extra]}
JSON
}

# capture HOST SECONDS: every ARP and ICMPv6 packet HOST sees, for SECONDS.
capture() {
    spawn "cap-$1" ip netns exec "$(ns_of "$1")" timeout "$2" \
        tcpdump -nn -e -p -U -i eth0 -w "$D/$1.pcap" arp or icmp6
    capture_ready "cap-$1"
}
# seen HOST PATTERN: lines of HOST's capture (stopped) matching PATTERN.
seen() {
    if [ -e "$D/pids/cap-$1.pid" ]; then
        spawn_wait "cap-$1" 20 || true      # until its time is up
    fi
    tcpdump -nn -e -v -r "$D/$1.pcap" 2>/dev/null | tr '\n' ' ' \
        | sed 's/\([0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.\)/\n\1/g' \
        | grep -c -- "$2" || true
}
at_least() { [ "$1" -ge "$2" ]; }

# The client accepts gratuitous ARP into an empty table (arp_accept), and
# holds a wrong, stale entry for the IPv6 VIP that only an advertisement
# with the override flag replaces.  It sends nothing itself.
nsx c1 sysctl -qw net.ipv4.conf.eth0.arp_accept=1
nsx c1 ip neigh flush dev eth0
nsx c1 ip -6 neigh replace "$VIP6" lladdr 02:00:00:00:99:99 dev eth0 nud stale

config "$VIP2"
capture c2 10
capture s1 10
mslbd_start "$D/mslb.json" --announce-interval "${ANNOUNCE_INTERVAL:-2}"
check "installed" wait_for 20 \
    grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
check "mslbd says what it announces" \
    grep -q "bridge br-lb: announcing 4 addresses every 2 s" "$D/mslbd.log"

# The client learns the VIPs' MAC from the announcements alone.
check "c1 learns $VIP from gratuitous ARP" wait_for 6 \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP dev eth0 | grep -q $LBMAC"
check "c1 learns $VIP2 from gratuitous ARP" wait_for 6 \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP2 dev eth0 | grep -q $LBMAC"
check "c1's stale entry for $VIP6 is overridden by an unsolicited NA" \
    wait_for 6 sh -c \
    "ip netns exec $(ns_of c1) ip -6 neigh show $VIP6 dev eth0 | grep -q $LBMAC"
check "c1 sent no ARP request or solicitation of its own" test "$(
    seen c2 "$(host_mac c1) >.*\(who-has\|neighbor solicitation\)")" = 0

# What a second host on the clients' segment saw in 10 s (5 intervals).
check "gratuitous ARP for $VIP from the balancer's MAC, repeated" at_least "$(
    seen c2 "$LBMAC > ff:ff:ff:ff:ff:ff.*Request who-has $VIP tell $VIP,")" 3
check "unsolicited NA for $VIP6 to ff02::1, override, with the MAC" at_least "$(
    seen c2 "$LBMAC > 33:33:00:00:00:01.*> ff02::1: .*neighbor advertisement.*tgt is $VIP6, Flags \[override\].*link-address option.*: $LBMAC")" 3
check "the gateway is announced on the clients' side too" at_least "$(
    seen c2 "Request who-has $GW tell $GW,")" 3
check "the gateway is announced on the servers' segment" at_least "$(
    seen s1 "$LBMAC > ff:ff:ff:ff:ff:ff.*Request who-has $GW tell $GW,")" 3
check "VIPs are not announced on the servers' segment" test "$(
    seen s1 "who-has $VIP")" = 0

# A removed service's VIP is no longer announced, a new one is; the others
# still are.
config "$VIP3"
kill -HUP "$(mslbd_pid)"
check "reloaded" wait_for 20 \
    grep -q "bridge br-lb: generation 2 installed" "$D/mslbd.log"
# The capture's clock starts before tcpdump is ready (up to a second or
# more under load): 8 s give at least 3 rounds of 2 s, 2 are asked for.
sleep 1
capture c2 8
check "$VIP still announced after the reload" at_least "$(
    seen c2 "Request who-has $VIP tell $VIP,")" 2
check "$VIP3 (added) is announced" at_least "$(
    seen c2 "$LBMAC > ff:ff:ff:ff:ff:ff.*Request who-has $VIP3 tell $VIP3,")" 2
check "$VIP2 (removed) is not announced any more" test "$(
    seen c2 "who-has $VIP2 ")" = 0
