#!/bin/bash
# exp3 SEQCHK(on|off) OUT: userspace conntrack with one-sided TCP
set -euo pipefail
export PYTHON=/usr/bin/python3
. /work/main/tests/e2e/lib.sh
SEQ=$1 OUT=$2
ovs_start
add_lb_bridge br0
add_host c1 br0 198.18.0.10/24
add_host s1 br0 198.18.0.20/24
S1=$(ofport s1)
[ "$SEQ" = off ] && appctl dpctl/ct-disable-tcp-seq-chk
appctl dpctl/ct-get-tcp-seq-chk
cat > $D/flows <<F
table=0,priority=100,tcp,nw_dst=198.18.0.100,tp_dst=80,ct_state=-trk,actions=ct(zone=5,table=1)
table=0,priority=0,actions=drop
table=1,priority=20,ct_state=+new+trk,tcp,actions=ct(commit,zone=5,exec(set_field:0x1234->ct_mark)),resubmit(,2)
table=1,priority=10,ct_state=+trk,tcp,actions=resubmit(,2)
table=2,actions=move:NXM_NX_CT_MARK[]->NXM_OF_ETH_SRC[0..31],move:NXM_NX_CT_STATE[0..7]->NXM_OF_ETH_SRC[32..39],output:$S1
F
ofctl add-flows br0 $D/flows
spawn_in s1 cap tcpdump -i eth0 -nn -U -w $D/cap.pcap tcp
sleep 1.5
nsx c1 /usr/bin/python3 /tmp/issue9/onesided.py eth0 40000 100
sleep 1
appctl dpctl/dump-conntrack -m zone=5 || true
spawn_stop cap
{ echo "seq check: $SEQ"; /usr/bin/python3 /tmp/issue9/readct.py $D/cap.pcap; appctl coverage/show | grep -i conntrack || true; } > $OUT
