#!/bin/bash
# exp2 MODE BITS OUT: megaflows and upcalls per new connection.
# MODE dphash: 2^BITS slots matched on dp_hash after a one-bucket select group.
# MODE learn : learn() 5-tuple affinity (today's DSR shape).
set -euo pipefail
export PYTHON=/usr/bin/python3
. /work/main/tests/e2e/lib.sh
MODE=$1 BITS=$2 OUT=$3
ovs_start
add_lb_bridge br0
add_host c1 br0 198.18.0.10/24
add_host s1 br0 198.18.0.20/24
S1=$(ofport s1)
{
if [ "$MODE" = dphash ]; then
  echo "table=0,priority=100,tcp,nw_dst=198.18.0.100,tp_dst=80,actions=load:1->NXM_NX_REG0[],group:1"
  /usr/bin/python3 -c "
m=(1<<$BITS)-1
for i in range(1<<$BITS):
    print('table=30,priority=10,reg0=1,reg2=%#x/%#x,actions=load:%d->NXM_NX_REG1[],resubmit(,40)' % (i, m, i%4+1))"
else
  echo "table=0,priority=100,tcp,nw_dst=198.18.0.100,tp_dst=80,actions=load:1->NXM_NX_REG0[],load:0->NXM_NX_REG1[],resubmit(,20),resubmit(,40)"
  echo "table=20,priority=0,reg0=1,reg1=0,actions=group:1"
  echo "table=21,priority=10,tcp,reg0=1,actions=learn(table=20,idle_timeout=60,priority=100,NXM_NX_REG0[],eth_type=0x800,nw_proto=6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[],load:NXM_NX_REG1[]->NXM_NX_REG1[]),resubmit(,40)"
fi
for b in 1 2 3 4; do echo "table=40,priority=10,reg1=$b,actions=mod_dl_dst:02:00:00:00:01:0$b,output:$S1"; done
echo "table=40,priority=0,actions=drop"
echo "table=0,priority=0,actions=drop"
} > $D/flows
if [ "$MODE" = dphash ]; then
  ofctl -O OpenFlow15 add-group br0 "group_id=1,type=select,bucket=bucket_id:0,actions=move:NXM_NX_DP_HASH[0..$((BITS-1))]->NXM_NX_REG2[0..$((BITS-1))],resubmit(,30)"
else
  ofctl -O OpenFlow15 add-group br0 'group_id=1,type=select,bucket=bucket_id:0,actions=load:1->NXM_NX_REG1[],resubmit(,21),bucket=bucket_id:1,actions=load:2->NXM_NX_REG1[],resubmit(,21),bucket=bucket_id:2,actions=load:3->NXM_NX_REG1[],resubmit(,21),bucket=bucket_id:3,actions=load:4->NXM_NX_REG1[],resubmit(,21)'
fi
t0=$(date +%s.%N); ofctl --bundle add-flows br0 $D/flows; t1=$(date +%s.%N)
echo "flows: $(wc -l < $D/flows) installed in $(echo "$t1 - $t0" | bc) s" | tee $OUT
stats() {
  echo "--- $1"
  appctl dpif-netdev/pmd-stats-show | grep -E "packets received|megaflow hits|emc hits|smc hits|miss with|passes per" | sed 's/^ *//'
  appctl upcall/show | grep -E "flows|dump" | sed 's/^ *//'
  local n; n=$(appctl dpctl/dump-flows | wc -l)
  echo "datapath flows: $n (with dp_hash: $(appctl dpctl/dump-flows | grep -c dp_hash || true))"
  appctl coverage/show | grep -E "upcall_flow_limit|dpif_flow_put_error" || true
}
sleep 1
appctl dpif-netdev/pmd-stats-clear
for batch in specA specB; do
  t0=$(date +%s.%N)
  nsx c1 /usr/bin/python3 /tmp/issue9/send.py /tmp/issue9/$batch.txt eth0 ${GAP:-0}
  t1=$(date +%s.%N)
  sleep 1
  { echo "batch $batch sent in $(echo "$t1 - $t0" | bc) s"; stats "after $batch"; } | tee -a $OUT
done
appctl dpctl/dump-flows | grep dp_hash | head -2 >> $OUT || true
ofctl dump-flows br0 table=40 | sed 's/^ *//' | cut -d, -f4,7- >> $OUT
