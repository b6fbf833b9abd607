#!/usr/bin/env bash
# NAT mode end to end: TCP and UDP through the VIP reach the backends in
# proportion to their weights; per-protocol backend sets; ping and ARP for
# the VIP; replies come from VIP:port; unrelated IPv4, IPv6 and ARP cross
# the balancer unchanged.
#
# Then the selection checks of issue 9 (tests/e2e/sel_lib.sh) in mode
# nat, with a fourth server s4 198.18.1.14: 10,000 connections split 1:2:3
# over s1..s3; 1,000 connections held across one REST write that adds s4,
# drains s2 and removes s3; upcalls per new connection to a warm service.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/sel_lib.sh"

nat_topo_up
add_host s4 br-sv 198.18.1.14/24 - 02:00:00:00:01:14
host_route s4 default via 198.18.1.1
for i in 1 2 3 4; do
    sel_serve "s$i" "S$i" 7000 7001
done
# nb N [WEIGHT] [STATE]: backend sN of the selection services (its port
# is the service's: 7000 or 7001, both served).
nb() { nat_backend "$1" "$SEL_PORT" "${2:-1}" | sed "s/}\$/${3:+,\"state\":\"$3\"}}/"; }
SEL_PORT=7000 split="$(nb 1 1),$(nb 2 2),$(nb 3 3)"
SEL_PORT=7001 churn="$(nb 1),$(nb 2),$(nb 3)"
nat_config "$D/mslb.json" "" "
    {\"name\": \"split\", \"vip\": \"$VIP\", \"protocol\": \"tcp\", \"port\": 7000,
     \"bridges\": [\"br-lb\"], \"backends\": [$split]},
    {\"name\": \"churn\", \"vip\": \"$VIP\", \"protocol\": \"tcp\", \"port\": 7001,
     \"bridges\": [\"br-lb\"], \"backends\": [$churn]}"
mslbd_start "$D/mslb.json" --rest "$REST_PORT"
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


# ------------------------------------------- selection (issue 9), nat

SEL_PORT=7001
body=$(printf '{"name": "churn", "vip": "%s", "protocol": "tcp", "port": 7001, "bridges": ["br-lb"], "backends": [%s,%s,%s]}' \
    "$VIP" "$(nb 1)" "$(nb 2 1 drain)" "$(nb 4)")
sel_mode_checks nat "$body"
