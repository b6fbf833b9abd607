# one-sided TCP client->VIP: SYN, ACK, data; never a SYN-ACK through the switch
import sys, time
from scapy.all import Ether, IP, TCP, Raw, sendp, conf
conf.verb = 0
iface = sys.argv[1]; sport = int(sys.argv[2]); ndata = int(sys.argv[3])
l3 = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:ff") / IP(src="198.18.0.10", dst="198.18.0.100")
isn = 100000; sisn = 3000000000
opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
def tcp(flags, seq, ack, plen=0):
    p = l3 / TCP(sport=sport, dport=80, flags=flags, seq=seq, ack=ack, window=502)
    if plen:
        p = p / Raw(b"d" * plen)
    return p
pk = [l3 / TCP(sport=sport, dport=80, flags="S", seq=isn, window=64240, options=opts)]
pk.append(tcp("A", isn + 1, sisn + 1))
seq = isn + 1
for i in range(ndata):
    pk.append(tcp("PA", seq, sisn + 1, 1000)); seq += 1000
for p in pk:
    sendp(p, iface=iface); time.sleep(0.01)
print("t=0 sent", len(pk), "packets; next seq", seq, flush=True)
for t in (20, 40):
    time.sleep(20)
    sendp(tcp("PA", seq, sisn + 1, 100), iface=iface); seq += 100
    print("t=%d sent 1 data packet" % t, flush=True)
time.sleep(1)
sendp(tcp("FA", seq, sisn + 1), iface=iface)
sendp(tcp("S", isn + 5000000, 0), iface=iface)
print("sent FIN and a new SYN on the same tuple", flush=True)
