#!/usr/bin/env bash
# Fragmented datagrams through the balancer (docs/mtu.md "Fragments"):
# UDP datagrams of 3,000 bytes, which the client's kernel sends as three
# fragments each on a 1500-byte link, from one client to two dr servers,
# paced at rising rates (2 s each), over three paths of the same topology:
#   LIMIT  straight to a server's own address (the switch forwards, no
#          balancer on the path);
#   any    to an `any` service's VIP (flows only: IPv4 fragments carry the
#          protocol);
#   port   to a `udp:53` service's VIP: every fragment crosses mslbd, which
#          keeps each datagram together (fragments.c).
# Prints, per path and rate, the share of datagrams that arrived whole, and
# per path the highest rate with less than 1% lost, as a ratio to LIMIT's.
#   bench/fragments.sh [RATE...]   (datagrams/s; default 1000 2000 5000
#                                   10000 20000)
set -euo pipefail
RATES=${*:-1000 2000 5000 10000 20000}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
. "$top/tests/e2e/lib.sh"

VIP=198.18.0.100      # any
VIPP=198.18.0.101     # udp:53
ovs_start
add_switch_bridge br-sw
add_lb_bridge br-lb "$MSLBD_TARGET"
link_bridges br-lb arm br-sw sw-lb veth
add_host c1 br-sw 198.18.0.10/24 - 0a:00:00:00:00:10
for i in 1 2; do
    add_host "s$i" br-sw "198.18.0.2$i/24" - "02:00:00:00:00:2$i"
    nsx "s$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    for a in $VIP $VIPP; do nsx "s$i" ip addr add "$a/32" dev lo; done
done
be() { printf '{"name":"s%s","ip":"198.18.0.2%s","mac":"02:00:00:00:00:2%s"}' "$1" "$1" "$1"; }
cat >"$D/mslb.json" <<JSON
{"bridges": [{"name": "br-lb", "mac": "0a:00:00:00:00:01", "frontend_port": "arm"}],
 "services": [
  {"name": "any4", "vip": "$VIP", "protocol": "any", "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1),$(be 2)]},
  {"name": "dns4", "vip": "$VIPP", "protocol": "udp", "port": 53, "mode": "dr",
   "bridges": ["br-lb"], "backends": [$(be 1),$(be 2)]}]}
JSON
mslbd_start "$D/mslb.json"
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
nsx c1 ping -c 1 -W 2 198.18.0.21 >/dev/null
nsx c1 ping -c 1 -W 2 "$VIP" >/dev/null || true
nsx c1 ping -c 1 -W 2 "$VIPP" >/dev/null || true

# The receivers: every 3,000-byte datagram to port 53, counted until the
# sender is done (file argv[2]) and the line has been quiet for a second.
RECV='
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
s.bind(("0.0.0.0", 53))
s.settimeout(1.0)
open(sys.argv[1] + ".ready", "w").close()
n = 0
deadline = time.time() + 120
while time.time() < deadline:
    try:
        d = s.recv(4096)
    except socket.timeout:
        if os.path.exists(sys.argv[2]):
            break
        continue
    n += len(d) == 3000
open(sys.argv[1], "w").write("%d\n" % n)
'
SEND='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)      # IP_MTU_DISCOVER: DONT (fragment)
data = bytes(3000)
rate, k = float(sys.argv[2]), int(sys.argv[3])
t0, sent = time.time(), 0
while sent < k and time.time() - t0 < 30:
    due = min(k, int((time.time() - t0) * rate) + 1)
    while sent < due:
        try:
            s.sendto(data, (sys.argv[1], 53))
        except OSError:
            break
        sent += 1
    time.sleep(0.001)
print("%d %.3f" % (sent, time.time() - t0))
'
run() {   # run LABEL DST RATE: loss at RATE datagrams/s for 2 s
    local label=$1 dst=$2 rate=$3 out sent secs got=0 i
    for i in 1 2; do
        rm -f "$D/recv$i" "$D/recv$i.ready" "$D/sent"
        spawn_in "s$i" "recv-$label-$rate-$i" timeout 150 "$PYTHON" -c "$RECV" \
            "$D/recv$i" "$D/sent"
    done
    wait_for 10 test -e "$D/recv1.ready" -a -e "$D/recv2.ready"
    out=$(nsx c1 timeout 60 "$PYTHON" -c "$SEND" "$dst" "$rate" $((rate * 2)))
    sent=${out% *} secs=${out#* }
    touch "$D/sent"
    wait_for 60 test -s "$D/recv1" -a -s "$D/recv2"
    got=$(( $(cat "$D/recv1") + $(cat "$D/recv2") ))
    awk -v l="$label" -v r="$rate" -v s="$sent" -v t="$secs" -v g="$got" 'BEGIN {
        printf "%-6s %6d/s: sent %d in %.2f s, whole at a server %d, lost %.1f%%\n",
               l, r, s, t, g, 100 * (s - g) / s }'
    echo "$label $rate $sent $got" >>"$D/rates"
}
for rate in $RATES; do
    run LIMIT 198.18.0.21 "$rate"
    run any "$VIP" "$rate"
    run port "$VIPP" "$rate"
done
# The highest rate each path carried with less than 1% lost.
awk '{ if (($3 - $4) / $3 < 0.01 && $2 > best[$1]) best[$1] = $2 }
     END { for (k in best) printf "%-6s carries %d datagrams/s (< 1%% lost)%s\n",
             k, best[k], k == "LIMIT" ? "" : sprintf(": %.2fx LIMIT", best[k] / best["LIMIT"]) }' \
    "$D/rates" | sort
