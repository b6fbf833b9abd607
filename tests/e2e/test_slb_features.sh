#!/usr/bin/env bash
# Mode slb's options (docs/slb.md), test_slb.sh's two hosts:
#   HA ports: a service of every protocol and port ("protocol": "any"):
#             the host translates the address only, TCP and UDP to any
#             port reach the backend on that port;
#   floating IP ("floating_ip": true): the host translates nothing, the
#             backend holds the VIP on its loopback and gets the client's
#             packet as sent, to VIP:port;
#   MAC discovery: a backend given without "mac" (and no other service
#             gives its address one) is asked for from its host's bridge;
#             its connections work once the answer is in.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mslb_topo.sh"
. "$(dirname "$0")/rest_lib.sh"

VIP2=198.18.0.101
VIP3=198.18.0.102
VIP4=198.18.0.103
LBMAC=0a:00:00:00:00:01

mslb_two_hosts
H2_VIPS=$VIP3           # For the floating IP: only vm2 is its backend.
H2_VIPS6=
for n in 1 2 3; do
    h2_server "$n" "02:00:00:00:00:3$n"
    start_server "s$n" "S$n" --tcp 80 --tcp 8080 --tcp 9000 --udp 5353
done
vm() {   # vm N: a backend without a port
    printf '{"name":"s%s","ip":"198.18.0.3%s","mac":"02:00:00:00:00:3%s","host":"198.18.2.2","host_bridge":"br-host"}' \
        "$1" "$1" "$1"
}
cat >"$D/mslb.json" <<JSON
{"bridges": [
  {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "arm",
   "tunnel_ports": {"vxlan": "vx0"}},
  {"name": "br-host", "role": "final", "tunnel_ports": {"vxlan": "vx1"}}],
 "services": [
  {"name": "ha", "vip": "$VIP2", "protocol": "any", "mode": "slb",
   "bridges": ["br-lb"], "backends": [$(vm 1)]},
  {"name": "float", "vip": "$VIP3", "protocol": "tcp", "port": 80, "mode": "slb",
   "floating_ip": true, "bridges": ["br-lb"], "backends": [$(vm 2)]},
  {"name": "nomac", "vip": "$VIP4", "protocol": "tcp", "port": 80, "mode": "slb",
   "bridges": ["br-lb"], "backends": [
     {"name": "s3", "ip": "198.18.0.33", "port": 8080, "host": "198.18.2.2",
      "host_bridge": "br-host"}]}]}
JSON
mslbd_start "$D/mslb.json" --listen "punix:$D2/mslbd.sock" --rest "$REST_PORT"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
wait_for 20 grep -q "bridge br-host: generation 1 installed" "$D/mslbd.log"
wait_rest

check "MAC discovery: s3's MAC asked from its host's bridge" \
    wait_for 10 grep -q "backend address 198.18.0.33 is at MAC 02:00:00:00:00:33" \
    "$D/mslbd.log"
check "and TCP to VIP4:80 reaches s3 on 8080" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP4" 80 --count 50 \
    --concurrency 4 --timeout 3 --expect S3:1 --tolerance 0

api GET /v1/services/float
check "GET shows floating_ip" test "$(json_get 'j.get("floating_ip")')" = True

for port in 8080 9000; do
    check "HA ports: TCP to VIP2:$port reaches vm1" \
        nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP2" "$port" --count 50 \
        --concurrency 4 --timeout 3 --expect S1:1 --tolerance 0
done
check "HA ports: UDP to VIP2:5353 reaches vm1" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" udp "$VIP2" 5353 --count 50 \
    --concurrency 4 --timeout 2 --expect S1:1 --tolerance 0
check "vm1 got them on its own address, the ports unchanged" \
    grep -q "S1 tcp conn from 198.18.0.10:[0-9]* to 198.18.0.31:9000" \
    "$D/logs/srv-S1.log"

check "floating IP: TCP to VIP3:80 reaches vm2" \
    nsx c1 "$PYTHON" "$TOOLS/lbclient.py" tcp "$VIP3" 80 --count 50 \
    --concurrency 4 --timeout 3 --expect S2:1 --tolerance 0
check "vm2 got the client's packet untranslated: to VIP3:80" \
    grep -q "S2 tcp conn from 198.18.0.10:[0-9]* to $VIP3:80" \
    "$D/logs/srv-S2.log"
check "a floating IP with another backend port is refused, naming the field" \
    sh -c "curl -s -X PUT -H 'Content-Type: application/json' \
        -d '{\"name\": \"float\", \"vip\": \"$VIP3\", \"protocol\": \"tcp\", \"port\": 80, \"mode\": \"slb\", \"floating_ip\": true, \"bridges\": [\"br-lb\"], \"backends\": [{\"name\": \"s2\", \"ip\": \"198.18.0.32\", \"port\": 8080, \"mac\": \"02:00:00:00:00:32\", \"host\": \"198.18.2.2\", \"host_bridge\": \"br-host\"}]}' \
        $REST_URL/v1/services/float | grep -q 'backends\[0\].port: must equal'"
