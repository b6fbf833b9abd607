#!/usr/bin/env python3
"""One long-lived TCP connection through a VIP, echoing chunks.

  lbstream.py VIP PORT --seconds T [--chunk BYTES] [--interval S]
              [--max-stall S] [--name-file PATH] [--src-port P]

Sends "STREAM\\n" and reads the backend's name (lbserver.py answers it and
then echoes raw bytes), writes that name to --name-file at once (so a test
can act on it while the stream runs), then for T seconds sends a chunk and
waits for its exact echo. Prints one JSON object:
  {"backend", "bytes", "round_trips", "max_stall", "broken", "error",
   "seconds"}
max_stall is the longest time one round trip took (s). Exit 1 when the
connection broke (reset, closed, timeout, wrong echo) or max_stall exceeds
--max-stall (default 3). Hard limit: T + --io-timeout + 10 s.
"""

import argparse
import json
import os
import signal
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("vip")
    p.add_argument("port", type=int)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--interval", type=float, default=0.01,
                   help="pause between round trips (default 0.01 s)")
    p.add_argument("--max-stall", type=float, default=3.0)
    p.add_argument("--io-timeout", type=float, default=10.0,
                   help="a round trip waiting longer counts as broken")
    p.add_argument("--connect-timeout", type=float, default=3.0)
    p.add_argument("--name-file")
    p.add_argument("--src-port", type=int, default=0)
    p.add_argument("--source")
    args = p.parse_args()
    if not 0 < args.seconds <= 3600:
        p.error("--seconds must be in (0, 3600]")
    if not 0 < args.chunk <= 1 << 20:
        p.error("--chunk must be 1..1048576")

    hard = args.seconds + args.io_timeout + args.connect_timeout + 10
    res = {"backend": None, "bytes": 0, "round_trips": 0, "max_stall": 0.0,
           "broken": False, "error": None, "seconds": 0.0}

    def emit_and_exit(rc):
        print(json.dumps(res))
        sys.stdout.flush()
        os._exit(rc)

    def on_alarm(signum, frame):
        res["broken"] = True
        res["error"] = "hard time limit %.0fs" % hard
        emit_and_exit(1)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, hard)

    fam = socket.AF_INET6 if ":" in args.vip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    t_start = time.monotonic()
    try:
        if args.src_port or args.source:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((args.source or "", args.src_port))
        s.settimeout(args.connect_timeout)
        s.connect((args.vip, args.port))
        s.settimeout(args.io_timeout)
        s.sendall(b"STREAM\n")
        buf = b""
        while b"\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise ConnectionError("closed before name")
            buf += d
        name, rest = buf.split(b"\n", 1)
        res["backend"] = name.decode()
        sys.stderr.write("lbstream: connected to %s from port %d\n"
                         % (res["backend"], s.getsockname()[1]))
        sys.stderr.flush()
        if args.name_file:
            tmp = args.name_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(res["backend"] + "\n")
            os.rename(tmp, args.name_file)
        if rest:
            raise ConnectionError("unexpected data after name")

        seq = 0
        end = t_start + args.seconds
        while time.monotonic() < end:
            seq += 1
            chunk = (b"%08d" % seq) * (args.chunk // 8 + 1)
            chunk = chunk[:args.chunk]
            t0 = time.monotonic()
            s.sendall(chunk)
            got = bytearray()
            while len(got) < len(chunk):
                d = s.recv(len(chunk) - len(got))
                if not d:
                    raise ConnectionError("closed by peer")
                got += d
            dt = time.monotonic() - t0
            if bytes(got) != chunk:
                raise ValueError("echo mismatch at round trip %d" % seq)
            res["round_trips"] += 1
            res["bytes"] += len(chunk)
            res["max_stall"] = max(res["max_stall"], round(dt, 4))
            if args.interval > 0:
                time.sleep(args.interval)
    except (OSError, ConnectionError, ValueError) as e:
        res["broken"] = True
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    signal.setitimer(signal.ITIMER_REAL, 0)
    res["seconds"] = round(time.monotonic() - t_start, 3)
    rc = 0
    if res["broken"] or res["max_stall"] > args.max_stall:
        rc = 1
    print(json.dumps(res))
    return rc


if __name__ == "__main__":
    sys.exit(main())
