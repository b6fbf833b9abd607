#!/usr/bin/env python3
"""Fragments through NAT and local VIPs (tests/e2e/test_fragments_nat.sh).

  fragnat.py translated CAP ADDR PORT [CAP ADDR PORT ...]
      every fragment in CAP is addressed to ADDR, and every first fragment
      (offset 0) carries destination port PORT: the backend's, as NAT
      translated it.  Exit 1 otherwise, or when a capture has none.
  fragnat.py sessions CAP NAME [CAP NAME ...] --expect N
      UDP sessions (source, source port) seen at the servers both as an
      unfragmented datagram and as a fragmented one (first fragment): each
      of N sessions has both, at one and the same server.
  fragnat.py small ADDR PORT --source S --sport-base B --count N
      N small UDP datagrams (unfragmented, no fragment header), the i-th
      from S:B+i, through the stack (so their answers are not refused).
  fragnat.py bigecho --port P --size N [--ready FILE] [--max-seconds T]
      UDP server (dual-stack): answers each datagram with N bytes, "NAME:"
      plus the request, repeated (bigger than the MTU: the stack sends it
      in fragments).
  fragnat.py bigclient ADDR PORT --count N --size S [--timeout T]
      N requests, each from its own socket (source port): each answer must
      come from ADDR:PORT and be the server's, byte for byte.
  fragnat.py sink ADDR PORT --count N --size S [--ready FILE] [--timeout T]
      receives N datagrams sent by `fragsend.py send` (datagram i is bytes
      (i + k) & 0xff): each must be whole and exact.

Every command prints one JSON line and is bounded in time.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True    # No __pycache__ in the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragsend import fragment_of, packets  # noqa: E402


def addr_bytes(addr):
    if ":" in addr:
        return socket.inet_pton(socket.AF_INET6, addr)
    return socket.inet_pton(socket.AF_INET, addr)


def l4_of(ip):
    """(src, dst, proto, l4 offset, fragment offset, is_fragment)."""
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        fo = struct.unpack("!H", ip[6:8])[0]
        frag = bool(fo & 0x3fff)
        return ip[12:16], ip[16:20], ip[9], ihl, (fo & 0x1fff) * 8, frag
    if ip[6] == 44:
        fo = struct.unpack("!H", ip[42:44])[0]
        return ip[8:24], ip[24:40], ip[40], 48, fo & 0xfff8, True
    return ip[8:24], ip[24:40], ip[6], 40, 0, False


def translated(args):
    specs = args.specs
    if len(specs) % 3:
        sys.exit("translated: CAP ADDR PORT triples")
    out, ok = {}, True
    for cap, addr, port in zip(specs[0::3], specs[1::3], specs[2::3]):
        want, port = addr_bytes(addr), int(port)
        n = first = bad_addr = bad_port = 0
        for ip in packets(cap):
            if len(ip) < 28 or not fragment_of(ip):
                continue
            _, dst, proto, l4, off, _ = l4_of(ip)
            n += 1
            if dst != want:
                bad_addr += 1
            if off == 0:
                first += 1
                if struct.unpack("!H", ip[l4 + 2:l4 + 4])[0] != port:
                    bad_port += 1
        out[cap.rsplit("/", 1)[-1]] = {"fragments": n, "first": first,
                                       "bad_addr": bad_addr,
                                       "bad_port": bad_port}
        ok = ok and n > 0 and first > 0 and not bad_addr and not bad_port
    print(json.dumps(out))
    sys.exit(0 if ok else 1)


def sessions(args):
    small, big = {}, {}
    pairs = args.captures
    for cap, name in zip(pairs[0::2], pairs[1::2]):
        for ip in packets(cap):
            if len(ip) < 28:
                continue
            try:
                src, _, proto, l4, off, frag = l4_of(ip)
            except (IndexError, struct.error):
                continue
            if proto != 17 or off != 0 or len(ip) < l4 + 8:
                continue
            key = (src, struct.unpack("!H", ip[l4:l4 + 2])[0])
            (big if frag else small).setdefault(key, set()).add(name)
    same = moved = 0
    for key in set(small) | set(big):
        s, b = small.get(key, set()), big.get(key, set())
        if len(s) == 1 and s == b:
            same += 1
        else:
            moved += 1
    per = {}
    for key, s in small.items():
        for name in s:
            per[name] = per.get(name, 0) + 1
    print(json.dumps({"sessions": len(set(small) | set(big)), "same": same,
                      "not_same": moved, "per_server": per}))
    sys.exit(0 if same == args.expect and not moved else 1)


def small(args):
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    for i in range(args.count):
        with socket.socket(fam, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((args.source, args.sport_base + i))
            sock.settimeout(1)
            sock.sendto(b"small-%d" % i, (args.addr, args.port))
            try:
                sock.recvfrom(65535)    # The server's answer, if any.
            except socket.timeout:
                pass
    print(json.dumps({"sent": args.count}))


def bigecho(args):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", args.port))
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    end = time.monotonic() + args.max_seconds
    n = 0
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            req, peer = sock.recvfrom(65535)
        except socket.timeout:
            break
        unit = args.name.encode() + b":" + req
        sock.sendto((unit * (args.size // len(unit) + 1))[:args.size], peer)
        n += 1
        print("%.3f answered %s" % (time.time(), peer[0]), flush=True)
    print(json.dumps({"answered": n}))


def bigclient(args):
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    good, per, errors = 0, {}, []
    for i in range(args.count):
        req = b"req-%d-%d" % (os.getpid(), i)
        with socket.socket(fam, socket.SOCK_DGRAM) as sock:
            sock.settimeout(args.timeout)
            data = peer = None
            for _ in range(args.retries + 1):
                sock.sendto(req, (args.addr, args.port))
                try:
                    data, peer = sock.recvfrom(65535)
                    break
                except socket.timeout:
                    continue
            if data is None:
                errors.append("%d: no answer" % i)
                continue
            name = data.split(b":", 1)[0]
            unit = name + b":" + req
            want = (unit * (args.size // len(unit) + 1))[:args.size]
            if (peer[0], peer[1]) != (args.addr, args.port):
                errors.append("%d: from %s" % (i, peer[:2]))
            elif data != want:
                errors.append("%d: %d bytes, not the answer" % (i, len(data)))
            else:
                good += 1
                per[name.decode()] = per.get(name.decode(), 0) + 1
    print(json.dumps({"good": good, "per_server": per,
                      "errors": errors[:5]}))
    sys.exit(0 if good == args.count and len(per) >= args.min_servers
             else 1)


def sink(args):
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    sock.bind((args.addr, args.port))
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    end = time.monotonic() + args.timeout
    got, exact, sizes = 0, 0, []
    while got < args.count and time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            break
        got += 1
        sizes.append(len(data))
        i = data[0] if data else 0
        if data == bytes((i + k) & 0xff for k in range(args.size)):
            exact += 1
    print(json.dumps({"received": got, "exact": exact, "sizes": sizes}))
    sys.exit(0 if got == args.count and exact == args.count else 1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("translated")
    t.add_argument("specs", nargs="+")
    s = sub.add_parser("sessions")
    s.add_argument("captures", nargs="+")
    s.add_argument("--expect", type=int, required=True)
    m = sub.add_parser("small")
    m.add_argument("addr")
    m.add_argument("port", type=int)
    m.add_argument("--source", required=True)
    m.add_argument("--sport-base", type=int, required=True)
    m.add_argument("--count", type=int, default=16)
    e = sub.add_parser("bigecho")
    e.add_argument("--name", default="S")
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--size", type=int, default=3000)
    e.add_argument("--ready")
    e.add_argument("--max-seconds", type=float, default=120)
    c = sub.add_parser("bigclient")
    c.add_argument("addr")
    c.add_argument("port", type=int)
    c.add_argument("--count", type=int, default=8)
    c.add_argument("--size", type=int, default=3000)
    c.add_argument("--timeout", type=float, default=2)
    c.add_argument("--retries", type=int, default=1)
    c.add_argument("--min-servers", type=int, default=1)
    k = sub.add_parser("sink")
    k.add_argument("addr")
    k.add_argument("port", type=int)
    k.add_argument("--count", type=int, default=8)
    k.add_argument("--size", type=int, default=3000)
    k.add_argument("--ready")
    k.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    if args.cmd == "sessions" and len(args.captures) % 2:
        p.error("captures come in CAP NAME pairs")
    {"translated": translated, "sessions": sessions, "small": small,
     "bigecho": bigecho,
     "bigclient": bigclient, "sink": sink}[args.cmd](args)


if __name__ == "__main__":
    main()
