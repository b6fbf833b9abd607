# Regenerates the packet lists used by exp1 (spec1), exp2 (specA/B), exp4 (specC)
# into /tmp/issue9/. Addresses: 198.18.0.0/15 only.
import random
def w(name, lines):
    open("/tmp/issue9/%s.txt" % name, "w").write("\n".join(lines) + "\n")
l = []
l += ["198.18.0.10 198.18.0.100 6 %d 80" % sp for sp in range(20000, 20200)]
l += ["198.18.0.%d 198.18.0.100 6 33333 80" % i for i in range(11, 31)]
l += ["198.18.0.10 198.18.0.100 17 %d 53" % sp for sp in range(20000, 20050)]
l += ["198.18.0.10 198.18.0.101 6 %d 80" % sp for sp in range(20000, 20100)]
l += ["198.18.0.10 198.18.0.101 17 %d 53" % sp for sp in range(20000, 20050)]
l += ["198.18.0.10 198.18.0.102 6 %d 80" % sp for sp in range(20000, 20050)]
l += ["198.18.0.10 198.18.0.100 6 20000 80 A 100", "198.18.0.10 198.18.0.100 6 20000 80 PA 500"]
w("spec1", l)
for name, seed in (("specA", 1), ("specB", 2)):
    r = random.Random(seed); seen = set(); l = []
    while len(l) < 3000:
        src = "198.18.%d.%d" % (r.randint(1, 250), r.randint(1, 250)); sp = r.randint(1024, 65000)
        if (src, sp) in seen: continue
        seen.add((src, sp)); l.append("%s 198.18.0.100 6 %d 80" % (src, sp))
    w(name, l)
r = random.Random(4); l = []
for i in range(20000):
    s = r.randint(1, 10000)
    l.append("198.18.%d.%d 198.19.%d.%d 6 %d 80" % (r.randint(1, 250), r.randint(1, 250), s // 250, s % 250 + 1, r.randint(1024, 65000)))
w("specC", l)
