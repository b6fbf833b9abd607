#!/usr/bin/env python3
"""Many short connections to a VIP; counts which backend answered.

  lbclient.py tcp|udp VIP PORT --count N [--timeout S] [--src-port-base P]
              [--concurrency C] [--max-errors E] [--expect S1:43,S2:21
              [--tolerance 0.05]] [--info]

Each of the N requests uses a new socket (so a new source port): TCP
connects, sends one line, reads the backend's name and closes; UDP sends
one datagram and reads the reply (resent up to --retries times on the same
socket). Prints one JSON object on stdout:
    {"S1": n1, "S2": n2, "errors": e}
With --info each request asks "INFO" instead and the output is
    {"replies": [{"name", "peer", "local"}, ...], "errors": e}
--detail FILE writes one JSON line per request ({"i", "sport", "name"}), to
compare which backend the same 5-tuple reached across runs.
Exit status 1 when errors > --max-errors (default 0) or when --expect is
given and a backend's share differs from its expected share by more than
--tolerance (a fraction of the answered requests; backends not named in
--expect are expected at 0). Hard time limit: --deadline seconds.
"""

import argparse
import json
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def one_tcp(args, i, sport):
    s = socket.socket(family_of(args.vip), socket.SOCK_STREAM)
    try:
        s.settimeout(args.timeout)
        if args.linger0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if args.src_port_base or args.source:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = args.src_port_base + i if args.src_port_base else 0
            s.bind((args.source or "", port))
        s.connect((args.vip, args.port))
        sport[0] = s.getsockname()[1]
        s.sendall(b"INFO\n" if args.info else b"HELLO\n")
        buf = b""
        while b"\n" not in buf:
            data = s.recv(4096)
            if not data:
                raise ConnectionError("closed before reply")
            buf += data
        return buf.split(b"\n", 1)[0].decode()
    finally:
        s.close()


def one_udp(args, i, sport):
    s = socket.socket(family_of(args.vip), socket.SOCK_DGRAM)
    try:
        s.settimeout(args.timeout)
        if args.src_port_base or args.source:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = args.src_port_base + i if args.src_port_base else 0
            s.bind((args.source or "", port))
        s.connect((args.vip, args.port))
        sport[0] = s.getsockname()[1]
        last = None
        for _ in range(args.retries + 1):
            s.send(b"INFO" if args.info else b"HELLO")
            try:
                return s.recv(65536).decode()
            except socket.timeout as e:
                last = e
        raise last
    finally:
        s.close()


def check_expect(args, counts):
    """Returns a list of violation messages (empty when shares match)."""
    want = {}
    for item in args.expect.split(","):
        name, _, w = item.partition(":")
        want[name.strip()] = float(w) if w else 1.0
    total_w = sum(want.values())
    answered = sum(counts.values())
    if answered == 0:
        return ["no answers"]
    bad = []
    for name in sorted(set(want) | set(counts)):
        exp = want.get(name, 0.0) / total_w
        got = counts.get(name, 0) / answered
        if abs(got - exp) > args.tolerance:
            bad.append("%s: share %.3f, expected %.3f (+-%.3f)"
                       % (name, got, exp, args.tolerance))
    return bad


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("proto", choices=["tcp", "udp"])
    p.add_argument("vip")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--timeout", type=float, default=2.0, help="per request (s)")
    p.add_argument("--retries", type=int, default=2, help="UDP resends")
    p.add_argument("--src-port-base", type=int, default=0,
                   help="request i binds source port BASE+i")
    p.add_argument("--source", help="source address to bind")
    p.add_argument("--concurrency", type=int, default=1, help="1..64")
    p.add_argument("--max-errors", type=int, default=0)
    p.add_argument("--expect", help="NAME:WEIGHT,... expected shares")
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--linger0", action="store_true",
                   help="close TCP with RST (no TIME_WAIT)")
    p.add_argument("--info", action="store_true", help="ask INFO, print replies")
    p.add_argument("--detail", metavar="FILE",
                   help="write one JSON line per request: i, sport, name[, error]")
    p.add_argument("--deadline", type=float, default=0,
                   help="hard limit for the whole run (default count*timeout*(retries+1)+10, max 600)")
    args = p.parse_args()
    if not 1 <= args.concurrency <= 64:
        p.error("--concurrency must be 1..64")
    if args.count < 1 or args.count > 100000:
        p.error("--count must be 1..100000")
    if args.src_port_base and args.src_port_base + args.count > 65536:
        p.error("--src-port-base + --count exceeds 65535")

    deadline = args.deadline or min(600.0, args.count * args.timeout
                                     * (args.retries + 1) / args.concurrency + 10)

    def on_alarm(signum, frame):
        sys.stderr.write("lbclient: hard deadline %.0fs reached\n" % deadline)
        sys.stdout.write(json.dumps({"errors": args.count, "deadline": True}) + "\n")
        sys.stdout.flush()
        import os
        os._exit(1)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, deadline)

    fn = one_tcp if args.proto == "tcp" else one_udp
    counts = {}
    replies = []
    errors = 0
    errmsgs = {}
    details = []
    lock = threading.Lock()

    def run(i):
        nonlocal errors
        sport = [None]
        try:
            r = fn(args, i, sport)
        except (OSError, ConnectionError, ValueError) as e:
            with lock:
                errors += 1
                key = type(e).__name__ + ": " + str(e)
                errmsgs[key] = errmsgs.get(key, 0) + 1
                details.append({"i": i, "sport": sport[0], "name": None,
                                "error": key})
            return
        with lock:
            details.append({"i": i, "sport": sport[0],
                            "name": None if args.info else r})
            if args.info:
                try:
                    replies.append(json.loads(r))
                except ValueError:
                    replies.append({"raw": r})
            else:
                counts[r] = counts.get(r, 0) + 1

    t0 = time.monotonic()
    if args.concurrency == 1:
        for i in range(args.count):
            run(i)
    else:
        with ThreadPoolExecutor(max_workers=args.concurrency) as ex:
            list(ex.map(run, range(args.count)))
    signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = time.monotonic() - t0

    if args.info:
        out = {"replies": replies, "errors": errors}
    else:
        out = dict(sorted(counts.items()))
        out["errors"] = errors
    print(json.dumps(out))
    if args.detail:
        with open(args.detail, "w") as f:
            for d in sorted(details, key=lambda d: d["i"]):
                f.write(json.dumps(d) + "\n")
    for k, v in errmsgs.items():
        sys.stderr.write("lbclient: %d x %s\n" % (v, k))
    sys.stderr.write("lbclient: %d requests in %.2fs\n" % (args.count, elapsed))

    rc = 0
    if errors > args.max_errors:
        sys.stderr.write("lbclient: %d errors > max %d\n" % (errors, args.max_errors))
        rc = 1
    if args.expect and not args.info:
        for msg in check_expect(args, counts):
            sys.stderr.write("lbclient: expect: %s\n" % msg)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
