import sys
from scapy.all import rdpcap, IP, TCP, UDP
for p in rdpcap(sys.argv[1]):
    if IP not in p:
        continue
    l4 = p[TCP] if TCP in p else p[UDP] if UDP in p else None
    if l4 is None:
        continue
    mac = p.src.split(":")
    h = int("".join(mac[2:]), 16)
    print(p[IP].src, p[IP].dst, p[IP].proto, l4.sport, l4.dport, "0x%08x" % h)
