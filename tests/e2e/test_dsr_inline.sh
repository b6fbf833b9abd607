#!/usr/bin/env bash
# Mode dr on an inline (two-armed) bridge: requests enter by the frontend
# port and leave by the backend port with only the MACs changed; the
# servers' replies cross the bridge unchanged (switched, not translated).
#
#   c1 198.18.0.10 -- br-cl == front [br-lb] back == br-sv -- s1, s2 (VIP on lo)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
add_switch_bridge br-cl
add_switch_bridge br-sv
link_bridges br-lb front br-cl cl-up
link_bridges br-lb back br-sv sv-up
add_host c1 br-cl 198.18.0.10/24 - 0a:00:00:00:00:10
for i in 1 2; do
    add_host "s$i" br-sv "198.18.0.2$i/24" - "02:00:00:00:00:2$i"
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
        net.ipv4.conf.eth0.arp_announce=2
    nsx "s$i" ip addr add "$VIP/32" dev lo
    start_server "s$i" "S$i" --tcp 80
done
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
              "backend_port": "back"}],
 "services": [{"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
   "mode": "dr", "bridges": ["br-lb"], "backends": [
     {"name": "s1", "ip": "198.18.0.21", "mac": "02:00:00:00:00:21", "weight": 3},
     {"name": "s2", "ip": "198.18.0.22", "mac": "02:00:00:00:00:22", "weight": 1}]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

check "ping the VIP" nsx c1 ping -c 2 -i 0.2 -W 2 "$VIP"
check "400 TCP connections split 3:1 through the inline bridge" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 400 \
    --concurrency 8 --expect S1:3,S2:1 --tolerance 0.08
replies_switched() {
    # The servers' replies went through the default NORMAL flow, untouched
    # by the balancer's tables.
    ofctl dump-flows br-lb table=0 | grep 'priority=0 actions=NORMAL' \
        | grep -vq 'n_packets=0,'
    ! ofctl dump-flows br-lb table=22 | grep 'ip,reg0' | grep -q 'n_packets=0,'
}
check "replies switched unchanged; requests forwarded by DSR_FORWARD" replies_switched
