#!/bin/bash
# exp4 OUT: 10,000 services x 16 slots + one service with 1,024 backends x 32 slots
set -euo pipefail
export PYTHON=/usr/bin/python3
. /work/main/tests/e2e/lib.sh
OUT=$1
ovs_start
add_lb_bridge br0
add_host c1 br0 198.18.0.10/24
add_host s1 br0 198.18.0.20/24
S1=$(ofport s1)
ofctl -O OpenFlow15 add-group br0 "group_id=1,type=select,bucket=bucket_id:0,actions=move:NXM_NX_DP_HASH[0..14]->NXM_NX_REG2[0..14],resubmit(,30)"
/usr/bin/python3 - > $D/flows <<P
for s in range(1, 10001):
    vip = "198.19.%d.%d" % (s // 250, s % 250 + 1)
    print("table=0,priority=100,tcp,nw_dst=%s,tp_dst=80,actions=load:%d->NXM_NX_REG0[],group:1" % (vip, s))
    for i in range(16):
        print("table=30,priority=10,reg0=%d,reg2=%#x/0xf,actions=load:%d->NXM_NX_REG1[],resubmit(,40)" % (s, i, i % 4 + 1))
print("table=0,priority=100,tcp,nw_dst=198.18.0.100,tp_dst=80,actions=load:20000->NXM_NX_REG0[],group:1")
for i in range(32768):
    print("table=30,priority=10,reg0=20000,reg2=%#x/0x7fff,actions=load:%d->NXM_NX_REG1[],resubmit(,40)" % (i, i % 1024 + 1))
for b in range(1, 1025):
    print("table=40,priority=10,reg1=%d,actions=mod_dl_dst:02:00:00:00:%02x:%02x,output:$S1" % (b, b >> 8, b & 255))
print("table=0,priority=0,actions=drop")
P
PID=$(cat $D/ovs-vswitchd.pid)
rss() { grep VmRSS /proc/$PID/status | awk '{print $2/1024 " MiB"}'; }
echo "flows to install: $(wc -l < $D/flows); vswitchd RSS before: $(rss)" | tee $OUT
t0=$(date +%s.%N); ofctl --bundle add-flows br0 $D/flows; t1=$(date +%s.%N)
echo "installed in $(echo "$t1 - $t0" | bc) s; RSS after: $(rss)" | tee -a $OUT
appctl dpif-netdev/pmd-stats-clear
t0=$(date +%s.%N)
nsx c1 /usr/bin/python3 /tmp/issue9/send.py /tmp/issue9/specC.txt eth0
t1=$(date +%s.%N); sleep 1
{ echo "20,000 SYNs to random services of 10,000 sent in $(echo "$t1 - $t0" | bc) s"
  appctl dpif-netdev/pmd-stats-show | grep -E "packets received|megaflow hits|miss with|passes per" | sed 's/^ *//'
  appctl upcall/show | grep -E "flows|dump" | sed 's/^ *//'
  echo "datapath flows: $(appctl dpctl/dump-flows | wc -l), with dp_hash: $(appctl dpctl/dump-flows | grep -c dp_hash)"
  appctl coverage/show | grep -E "upcall_flow_limit|flow_put_error" || echo "no flow-limit hits"
  echo "RSS: $(rss)"; } | tee -a $OUT
