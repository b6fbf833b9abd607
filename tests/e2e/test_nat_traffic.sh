#!/usr/bin/env bash
# NAT mode end to end: TCP and UDP through the VIP reach the backends in
# proportion to their weights; per-protocol backend sets; ping and ARP for
# the VIP; replies come from VIP:port; unrelated IPv4, IPv6 and ARP cross
# the balancer unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"

nat_topo_up
nat_config "$D/mslb.json"
mslbd_start "$D/mslb.json"
wait_generation 1

check "ping the VIP" nsx c1 ping -c 3 -i 0.2 -W 2 "$VIP"
check "ARP for the VIP answers the balancer's MAC" \
    sh -c "ip netns exec $(ns_of c1) ip neigh show $VIP | grep -q $LBMAC"
check "ping the servers' gateway" nsx s1 ping -c 2 -i 0.2 -W 2 198.18.1.1

# 1,000 TCP connections: weights 10:5 -> 2/3 and 1/3 (within 10%).
check "1000 TCP connections split 2:1 by weight" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 80 --count 1000 \
    --concurrency 8 --expect S1:2,S2:1 --tolerance 0.0667

# Servers see the client's own address and port (no source NAT); the
# client's TCP stack accepted the replies, so they came from VIP:80.
check "servers see the client's address; replies come from VIP:80" \
    sh -c "ip netns exec $(ns_of c2) \
    $PYTHON $TOOLS/lbclient.py tcp $VIP 80 --count 3 --info >$D/info.json
    grep -q '\"peer\": \[\"198.18.0.11\", ' $D/info.json"

check "per-protocol backends: tcp/81 only S3" \
    nsx c2 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 81 --count 50 \
    --expect S3:1.0 --tolerance 0
check "1200 UDP sessions spread over three equal backends" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP" 53 --count 1200 \
    --concurrency 4 --expect S1:1,S2:1,S3:1 --tolerance 0.1

check_fails "no answer on a port with no service" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP" 82 --count 1 --timeout 1

# Everything else is switched unchanged.
check "IPv4 to a non-VIP host crosses br-lb" nsx c1 ping -c 2 -i 0.2 -W 2 198.18.0.20
check "IPv6 crosses br-lb" nsx c1 ping -6 -c 2 -i 0.2 -W 2 2001:db8::20
check "ARP for another host gets that host's MAC" \
    sh -c "ip netns exec $(ns_of c1) ip neigh show 198.18.0.20 | grep -q $(host_mac o1)"
check "TCP to a non-VIP host is not translated" sh -c "
    ip netns exec $(ns_of o1) $PYTHON $TOOLS/lbserver.py --name O1 --tcp 8080 --max-seconds 20 --quiet &
    srv=\$!; sleep 1
    out=\$(ip netns exec $(ns_of c1) $PYTHON $TOOLS/lbclient.py tcp 198.18.0.20 8080 --count 5)
    kill \$srv; echo \"\$out\" | grep -q '\"O1\": 5'"

