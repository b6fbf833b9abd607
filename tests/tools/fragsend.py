#!/usr/bin/env python3
"""Fragmented datagrams to a VIP, and where their fragments went.

  fragsend.py send VIP --proto udp|tcp|icmp [--count N] [--size BYTES]
              [--fragsize BYTES] [--order in|reverse|shuffle]
              [--sport-base P] [--dport P] [--iface eth0]
  fragsend.py where PROTO CAP1.pcap NAME1 CAP2.pcap NAME2 ... --expect N

send: N datagrams of --size payload bytes (UDP, a TCP SYN carrying data,
or ICMP echo), each from its own source port (ICMP: its own id),
fragmented at --fragsize bytes of IP payload (IPv4: a multiple of 8;
IPv6: fragment header added), the fragments of each datagram sent in the
given order.  Needs scapy and root (raw sockets).

where: reads the servers' captures (IPv4 or IPv6 fragments only), groups
the fragments by datagram (source, fragment id) and checks that each
datagram's fragments were all seen at exactly one server, whole (the
fragments cover the datagram, last one included).  Prints one JSON line:
{"datagrams": n, "whole": w, "split": s, "per_server": {...}}; exit 1
unless n == --expect, every one is whole and none is split.
"""
import argparse
import json
import random
import struct
import sys


def send(args):
    from scapy.all import (IP, IPv6, UDP, TCP, ICMP, ICMPv6EchoRequest,
                           IPv6ExtHdrFragment, Raw, conf, fragment,
                           fragment6)
    import time
    conf.verb = 0
    v6 = ":" in args.vip
    rnd = random.Random(args.seed)
    sock = conf.L3socket6(iface=args.iface) if v6 else \
        conf.L3socket(iface=args.iface)
    sources = args.sources.split(",") if args.sources else [None]
    for i in range(args.count):
        src = sources[i % len(sources)]
        data = bytes((i + k) & 0xff for k in range(args.size))
        sport = args.sport_base + i
        if args.proto == "udp":
            l4 = UDP(sport=sport, dport=args.dport) / Raw(data)
        elif args.proto == "tcp":
            l4 = TCP(sport=sport, dport=args.dport, flags="S",
                     seq=1000 + i) / Raw(data)
        elif v6:
            l4 = ICMPv6EchoRequest(id=sport, seq=1, data=data)
        else:
            l4 = ICMP(id=sport, seq=1) / Raw(data)
        if v6:
            pkt = IPv6(src=src, dst=args.vip) / IPv6ExtHdrFragment(id=0x10000 + sport) / l4
            frags = fragment6(pkt, args.fragsize + 48)
        else:
            pkt = IP(src=src, dst=args.vip, id=sport & 0xffff) / l4
            frags = fragment(pkt, fragsize=args.fragsize)
        if args.order == "reverse":
            frags = list(reversed(frags))
        elif args.order == "shuffle":
            frags = list(frags)
            rnd.shuffle(frags)
        for f in frags:
            sock.send(f)
        time.sleep(args.gap)
    sock.close()
    print(json.dumps({"sent": args.count}))


def packets(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        yield frame[14:] if linktype == 1 else frame


def fragment_of(ip):
    """(key, start, end, last) of an IPv4/IPv6 fragment, or None."""
    if len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        fo = struct.unpack("!H", ip[6:8])[0]
        mf, off = fo & 0x2000, (fo & 0x1fff) * 8
        if not mf and not off:
            return None
        key = (ip[12:16], ip[4:6])
        return key, off, off + total - ihl, not mf
    if len(ip) >= 48 and ip[0] >> 4 == 6 and ip[6] == 44:
        plen = struct.unpack("!H", ip[4:6])[0]
        fo = struct.unpack("!H", ip[42:44])[0]
        off, mf = fo & 0xfff8, fo & 1
        key = (ip[8:24], ip[44:48])
        return key, off, off + plen - 8, not mf
    return None


def where(args):
    seen = {}           # key -> {server: [(start, end, last)]}
    pairs = args.captures
    for cap, name in zip(pairs[0::2], pairs[1::2]):
        for ip in packets(cap):
            f = fragment_of(ip)
            if f:
                seen.setdefault(f[0], {}).setdefault(name, []).append(f[1:])
    whole = split = 0
    per = {}
    for key, servers in seen.items():
        if len(servers) > 1:
            split += 1
            continue
        (name, frags), = servers.items()
        frags.sort()
        pos, done = 0, False
        for start, end, last in frags:
            if start > pos:
                break
            pos = max(pos, end)
            done = done or last
        if done and pos == max(e for _, e, _ in frags):
            whole += 1
            per[name] = per.get(name, 0) + 1
    out = {"datagrams": len(seen), "whole": whole, "split": split,
           "per_server": per}
    print(json.dumps(out))
    ok = (len(seen) == args.expect and whole == args.expect and not split
          and (args.min_servers <= len(per)))
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("vip")
    s.add_argument("--proto", choices=["udp", "tcp", "icmp"], default="udp")
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--size", type=int, default=3000)
    s.add_argument("--fragsize", type=int, default=1400)
    s.add_argument("--order", choices=["in", "reverse", "shuffle"],
                   default="in")
    s.add_argument("--sport-base", type=int, default=30000)
    s.add_argument("--dport", type=int, default=53)
    s.add_argument("--iface", default="eth0")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--sources", help="source addresses, comma-separated, "
                   "used in turn")
    s.add_argument("--gap", type=float, default=0.02,
                   help="seconds between datagrams")
    w = sub.add_parser("where")
    w.add_argument("captures", nargs="+", help="CAP NAME pairs")
    w.add_argument("--expect", type=int, required=True)
    w.add_argument("--min-servers", type=int, default=1)
    args = p.parse_args()
    if args.cmd == "send":
        if not 1 <= args.count <= 1000 or not 0 < args.size <= 60000:
            p.error("--count 1..1000, --size 1..60000")
        send(args)
    else:
        if len(args.captures) % 2:
            p.error("captures come in CAP NAME pairs")
        where(args)


if __name__ == "__main__":
    main()
