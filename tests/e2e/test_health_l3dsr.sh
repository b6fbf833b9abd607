#!/usr/bin/env bash
# Health monitors in mode l3dsr (docs/health.md): the probe, a SYN from
# the first stage's gateway address to VIP:80, takes DSR_FORWARD's flow of
# the backend (destination the real IP, DSCP the service's), the final
# stage restores VIP and DSCP 0, and the server answers from the VIP
# straight to the gateway.  A stopped server is down within fall x
# interval and gets no new connections, the others are unaffected; a
# server whose final-stage restore is gone is down although its real
# address answers on the port (the server's SYN-ACK comes from its real
# IP, which mslbd does not take); each comes back up after 'rise'.
#
#   c1 198.18.0.10 --+-- br-sw ==veth== arm [br-lb] (first stage,
#                    |                     gateway 198.18.0.254)
#                    +==veth== hostup [br-host] -- s1 198.18.1.21 (VIP on lo)
#                              (final stage)        s2 .22, s3 .23
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/health_lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
GW=198.18.0.254
DSCP=10
INTERVAL=0.5
TIMEOUT=0.4
FALL=3
RISE=2
HSERVERS=3
LIMIT=$("$PYTHON" -c "print($FALL * $INTERVAL + $TIMEOUT + 1.0)")

ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb "$MSLBD_TARGET"
add_lb_bridge br-host "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
link_bridges br-host hostup br-sw sw-host veth
add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
host_route c1 198.18.1.0/24 dev eth0           # the servers' real IPs
for i in 1 2 3; do
    add_host "s$i" br-host "198.18.1.2$i/24" - "02:00:00:00:01:2$i"
    nsx "s$i" ip addr add "$VIP/32" dev lo
    # The client and the gateway, directly through the final stage.
    host_route "s$i" 198.18.0.0/24 dev eth0
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    start_server "s$i" "S$i" --tcp 80
done
lb() {
    printf '{"name":"s%s","ip":"198.18.1.2%s","mac":"02:00:00:00:01:2%s","host_bridge":"br-host"}' \
        "$1" "$1" "$1"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
              "gateways": ["$GW"]},
             {"name": "br-host", "role": "final"}],
 "services": [
  {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "l3dsr",
   "dscp": $DSCP, "bridges": ["br-lb"],
   "monitor": {"type": "tcp", "interval": $INTERVAL, "timeout": $TIMEOUT,
               "rise": $RISE, "fall": $FALL},
   "backends": [$(lb 1),$(lb 2),$(lb 3)]}]}
JSON
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
wait_rest

for b in s1 s2 s3; do
    check "$b is probed and up" wait_for 10 health_is "$b" up
done
check "s1 gets the probe restored: SYN from the gateway to VIP:80, DSCP 0" \
    nsx s1 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host $GW and dst host $VIP and tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0 and ip[1] & 0xfc == 0"
check "300 connections over three servers" conns 300 S1:1,S2:1,S3:1

# ---- A stopped server: its kernel answers RST, down within fall x interval.
t0=$(date +%s.%N)
spawn_stop srv-S3
check "s3 is down after its server stopped, within $LIMIT s" down_within s3 "$t0" "$LIMIT"
check "the reason is the refused probe" \
    grep -q "service web: backend s3 (198.18.1.23) is down: $FALL failed probes in a row, the last: connection refused" "$D/mslbd.log"
check "new connections avoid s3, none fails" conns_avoid 300 S3
check "s1 and s2 stay up, never down" stayed_up s1 s2
check "the service has 2 usable backends" \
    test "$(service_field 's["status"]["usable_backends"]')" = 2
start_server s3 S3 --tcp 80
check "s3 is up again after $RISE successes" wait_for 10 health_is s3 up
check "the recovery is logged" \
    grep -q "service web: backend s3 (198.18.1.23) is up: $RISE successful probes in a row" "$D/mslbd.log"
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1

# ---- s2's final-stage restore removed: the probe reaches s2 addressed to
# its real IP with DSCP 10; s2 answers it, from its real IP, which is not
# the probe's peer: down, although its real address answers on port 80.
restore=$(ofctl dump-flows br-host --no-stats "ip,nw_dst=198.18.1.22" \
    | grep "set_field:$VIP->ip_dst" | sed 's/^ *//')
echo "# s2's restore flow: $restore"
check "br-host holds s2's restore flow" test -n "$restore"
ofctl del-flows --strict br-host "$(sed 's/ *actions=.*//; s/cookie=[^,]*, *//' <<<"$restore")"
check "s2's restore flow is gone" sh -c "! ovs-ofctl -O OpenFlow13 dump-flows unix:$D/br-host.mgmt 'ip,nw_dst=198.18.1.22' | grep -q ip_dst"
strays=$(stray_count)
check "s2 is down without its final-stage restore" wait_for 10 health_is s2 down
check "the reason is the unanswered probe" \
    grep -q "service web: backend s2 (198.18.1.22) is down: $FALL failed probes in a row, the last: no answer within the timeout" "$D/mslbd.log"
# Probes go on while it is down: watch the next one.
check "s2 gets the probe unrestored (to its real IP, DSCP $DSCP)" \
    nsx s2 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host $GW and dst host 198.18.1.22 and tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0 and ip[1] & 0xfc == $((DSCP << 2))"
check "s2 answers it from its real IP (SYN-ACK 198.18.1.22:80 -> gateway)" \
    nsx s2 timeout 5 tcpdump -nn -p -c 1 -i eth0 \
    "src host 198.18.1.22 and src port 80 and dst host $GW and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"
check "mslbd took those answers as strays, not successes ($strays -> $(stray_count))" \
    test "$(stray_count)" -gt "${strays:-0}"
check "s2's real address answers on port 80" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp 198.18.1.22 80 --count 3 --timeout 2 --expect S2:1 --tolerance 0
check "new connections avoid s2, none fails" conns_avoid 300 S2
check "s1 and s3 stay up" health_all_up s1 s3
ofctl add-flow br-host "$restore"
check "s2 is up with its restore back" wait_for 10 health_is s2 up
check "connections reach all three again" conns 300 S1:1,S2:1,S3:1
check "every transition was s2's or s3's, each once (4)" transitions_are 4
