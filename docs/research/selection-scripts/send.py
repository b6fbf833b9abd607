# send.py SPEC IFACE: SPEC lines "src dst proto sport dport [flags] [payloadlen]"
import sys
from scapy.all import Ether, IP, TCP, UDP, Raw, sendp, conf
conf.verb = 0
pkts = []
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    src, dst, proto, sp, dp = f[0], f[1], int(f[2]), int(f[3]), int(f[4])
    flags = f[5] if len(f) > 5 else "S"
    plen = int(f[6]) if len(f) > 6 else 0
    seq = int(f[7]) if len(f) > 7 else 1000
    ack = int(f[8]) if len(f) > 8 else 0
    l3 = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:ff") / IP(src=src, dst=dst)
    if proto == 6:
        p = l3 / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack)
    else:
        p = l3 / UDP(sport=sp, dport=dp)
    if plen:
        p = p / Raw(b"x" * plen)
    pkts.append(p)
gap = float(sys.argv[3]) if len(sys.argv) > 3 else 0
sendp(pkts, iface=sys.argv[2], inter=gap)
print("sent", len(pkts))
