#!/usr/bin/env bash
# Install benchmark: N services x M backends compiled and installed by mslbd,
# against `ovs-ofctl --bundle` adding the same flows and groups to the same
# switch, in the same run.  Prints both times and their ratio.
#   bench/install.sh [N] [M]        (default 1000 32; the target is 10000 32)
set -euo pipefail
N=${1:-1000}
M=${2:-32}
top=$(cd "$(dirname "$0")/.." && pwd)
export MSLBD=${MSLBD:-$top/build/mslbd}
COMPILE=${MSLB_COMPILE:-$top/build/mslb-compile}
. "$top/tests/e2e/lib.sh"

ovs_start
add_lb_bridge br-lb
vsctl add-port br-lb front -- set interface front type=internal \
    -- add-port br-lb back -- set interface back type=internal
front=$(ofport front)
back=$(ofport back)
"$PYTHON" "$top/bench/gen_config.py" "$N" "$M" >"$D/model.json"

# The limit: ovs-ofctl --bundle of exactly what mslbd would install.
"$COMPILE" --of15 "$D/model.json" br-lb "$front" "$back" >"$D/all.txt"
grep '^group_id=' "$D/all.txt" >"$D/groups.txt" || true
grep -v '^group_id=' "$D/all.txt" >"$D/flows.txt"
n_flows=$(wc -l <"$D/flows.txt")
n_groups=$(wc -l <"$D/groups.txt")
t0=$(date +%s.%N)
ofctl -O OpenFlow15 --bundle add-groups br-lb "$D/groups.txt"
ofctl -O OpenFlow15 --bundle add-flows br-lb "$D/flows.txt"
ofctl -O OpenFlow15 dump-flows br-lb table=99 >/dev/null   # a round trip
t1=$(date +%s.%N)
ofctl_s=$(echo "$t1 - $t0" | bc -l)
check "ovs-ofctl installed all $n_flows flows" \
    test "$(ofctl dump-aggregate br-lb | grep -o 'flow_count=[0-9]*' | cut -d= -f2)" -eq "$n_flows"
ofctl -O OpenFlow15 del-flows br-lb
ofctl -O OpenFlow15 del-groups br-lb

# mslbd: from start to the barrier that confirms the whole bundle.
t0=$(date +%s.%N)
mslbd_start "$D/model.json" --verbose
set_controller br-lb "$MSLBD_TARGET"
wait_for 3600 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"
t1=$(date +%s.%N)
mslbd_s=$(echo "$t1 - $t0" | bc -l)
check "mslbd installed all $n_flows flows" \
    test "$(ofctl dump-aggregate br-lb | grep -o 'flow_count=[0-9]*' | cut -d= -f2)" -eq "$n_flows"
grep -E "compiled|operations to send|installed" "$D/mslbd.log" | sed 's/^/# mslbd: /'

ratio=$(echo "$mslbd_s / $ofctl_s" | bc -l)
printf '\ninstall %s services x %s backends: %s flows, %s groups (%.1f flows and %.1f groups per service)\n' \
    "$N" "$M" "$n_flows" "$n_groups" "$(echo "$n_flows / $N" | bc -l)" \
    "$(echo "$n_groups / $N" | bc -l)"
printf '  ovs-ofctl --bundle (limit): %8.3f s\n' "$ofctl_s"
printf '  mslbd start to barrier:     %8.3f s\n' "$mslbd_s"
printf '  ratio mslbd / limit:        %8.2f   (target <= 1.25)\n' "$ratio"
