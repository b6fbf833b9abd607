#!/bin/bash
# exp1: what dp_hash does the userspace datapath compute? (two runs = two vswitchd)
set -euo pipefail
export PYTHON=/usr/bin/python3
. /work/main/tests/e2e/lib.sh
OUT=$1
ovs_start
add_lb_bridge br0
if [ "${SWAP:-0}" = 1 ]; then
  add_host s1 br0 198.18.0.20/24; add_host c1 br0 198.18.0.10/24
else
  add_host c1 br0 198.18.0.10/24; add_host s1 br0 198.18.0.20/24
fi
S1=$(ofport s1)
ofctl -O OpenFlow15 add-group br0 'group_id=1,type=select,bucket=bucket_id:0,actions=resubmit(,30)'
ofctl -O OpenFlow15 add-group br0 'group_id=2,type=select,selection_method=dp_hash,selection_method_param=0,bucket=bucket_id:0,actions=resubmit(,30)'
ofctl -O OpenFlow15 add-group br0 'group_id=3,type=select,selection_method=dp_hash,selection_method_param=0x100001234,bucket=bucket_id:0,actions=resubmit(,30)'
cat > $D/flows <<F
table=0,priority=100,tcp,nw_dst=198.18.0.100,tp_dst=80,actions=group:1
table=0,priority=100,udp,nw_dst=198.18.0.100,tp_dst=53,actions=group:1
table=0,priority=100,tcp,nw_dst=198.18.0.101,tp_dst=80,actions=group:2
table=0,priority=100,udp,nw_dst=198.18.0.101,tp_dst=53,actions=group:2
table=0,priority=100,tcp,nw_dst=198.18.0.102,tp_dst=80,actions=group:3
table=0,priority=0,actions=drop
table=30,priority=1,actions=move:NXM_NX_DP_HASH[]->NXM_OF_ETH_SRC[0..31],output:$S1
F
ofctl add-flows br0 $D/flows
ofctl -O OpenFlow15 dump-groups br0
spawn_in s1 cap tcpdump -i eth0 -nn -U -w $D/cap.pcap 'ip and (tcp or udp)'
sleep 1.5
nsx c1 /usr/bin/python3 /tmp/issue9/send.py /tmp/issue9/spec1.txt eth0
sleep 1.5
spawn_stop cap
/usr/bin/python3 /tmp/issue9/readpcap.py $D/cap.pcap > $OUT
appctl dpctl/dump-flows > $OUT.dpflows
grep -i "dp_hash algorithm" $D/ovs-vswitchd.log || true
wc -l $OUT
