#!/usr/bin/env python3
"""A TCP upload and its sink, for path-MTU tests.

    upload.py sink PORT [--pidfile F]     accept forever; read each
        connection to EOF, answer the byte count, close
    upload.py send HOST PORT BYTES [--timeout S]
        send BYTES, read the count back; print "SECONDS BYTES"; exit 1 if
        the count differs or the time runs out
"""
import argparse
import socket
import sys
import threading
import time


def sink(args):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", args.port))
    ls.listen(16)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("ready\n")

    def serve(c):
        c.settimeout(60)
        n = 0
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            c.sendall(b"%d\n" % n)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def send(args):
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    chunk = b"x" * 65536
    t0 = time.monotonic()
    try:
        s.connect((args.host, args.port))
        left = args.bytes
        while left > 0:
            n = s.send(chunk[:min(left, len(chunk))])
            left -= n
            if time.monotonic() - t0 > args.timeout:
                raise TimeoutError("upload timed out")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(64)
            if not b:
                break
            got += b
    except OSError as e:
        print("upload failed after %.3f s: %s" % (time.monotonic() - t0, e))
        return 1
    dt = time.monotonic() - t0
    print("%.4f %s" % (dt, got.decode().strip()))
    return 0 if got.strip() == str(args.bytes).encode() else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("sink")
    a.add_argument("port", type=int)
    a.add_argument("--pidfile")
    a = sub.add_parser("send")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("bytes", type=int)
    a.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    return sink(args) if args.cmd == "sink" else send(args)


if __name__ == "__main__":
    sys.exit(main())
