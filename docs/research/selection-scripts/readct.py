import sys
from scapy.all import rdpcap, IP, TCP
names = [(0x01,"new"),(0x02,"est"),(0x04,"rel"),(0x08,"rpl"),(0x10,"inv"),(0x20,"trk")]
t0 = None; prev = None; n = 0
for p in rdpcap(sys.argv[1]):
    if TCP not in p: continue
    b = bytes.fromhex(p.src.replace(":", ""))
    st = b[1]; mark = int.from_bytes(b[2:6], "big")
    s = "+".join(n for bit, n in names if st & bit)
    t0 = t0 or float(p.time)
    key = (s, mark)
    line = "%6.1fs %-3s seq=%d len=%d  ct_state=%s ct_mark=%#x" % (float(p.time)-t0, p[TCP].flags, p[TCP].seq, len(p[TCP].payload), s, mark)
    n += 1
    if key != prev or len(p[TCP].payload) != 1000:
        print("#%d %s" % (n, line))
    prev = key
