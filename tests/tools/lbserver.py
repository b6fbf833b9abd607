#!/usr/bin/env python3
"""Test backend for mslb end-to-end tests (stdlib only).

TCP (threaded), per connection, line protocol:
  any line          -> "NAME\n"   (tells the client which backend answered)
  "INFO"            -> one JSON line {"name", "peer": [ip, port], "local": [ip, port]}
                       (the addresses the server's socket sees: client source,
                       and the destination the packet arrived with)
  "STREAM"          -> "NAME\n", then the connection becomes a raw echo
                       (every byte received is sent back) until EOF.
UDP: any datagram -> "NAME" ("INFO" -> the JSON above).

Binds the wildcard address (dual-stack "::") unless --bind is given, so it
also answers for a VIP configured on the namespace's loopback (DSR modes);
UDP replies are sent from the datagram's destination address (IP_PKTINFO),
as a DSR server must.
Writes --pidfile only after every socket is bound: its existence means
"ready". Exits by itself after --max-seconds (a hard limit).
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

LINE_MAX = 4096


def norm_addr(addr):
    ip, port = addr[0], addr[1]
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[7:]
    return [ip, port]


class Server:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.lock = threading.Lock()
        self.active = 0
        self.stats = {"tcp_conns": 0, "tcp_rejected": 0, "udp_dgrams": 0}
        self.stop = threading.Event()

    def log(self, msg):
        if self.args.quiet:
            return
        sys.stdout.write("%.3f %s %s\n" % (time.time(), self.name, msg))
        sys.stdout.flush()

    def info(self, sock_local, peer):
        return json.dumps({"name": self.name, "peer": norm_addr(peer),
                           "local": norm_addr(sock_local)})

    # --- TCP -------------------------------------------------------------
    def tcp_conn(self, conn, peer):
        try:
            conn.settimeout(self.args.idle_timeout)
            local = conn.getsockname()
            buf = b""
            while not self.stop.is_set():
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > LINE_MAX:
                        return
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    continue
                line, buf = buf[:nl].strip(), buf[nl + 1:]
                if line == b"INFO":
                    conn.sendall(self.info(local, peer).encode() + b"\n")
                elif line == b"STREAM":
                    conn.sendall(self.name.encode() + b"\n")
                    self.log("tcp stream from %s:%d" % tuple(norm_addr(peer)))
                    if buf:
                        conn.sendall(buf)
                    while not self.stop.is_set():
                        data = conn.recv(65536)
                        if not data:
                            return
                        conn.sendall(data)
                    return
                else:
                    conn.sendall(self.name.encode() + b"\n")
        except OSError as e:
            self.log("tcp %s:%d error %s" % (norm_addr(peer)[0], peer[1], e))
        finally:
            conn.close()
            with self.lock:
                self.active -= 1

    def tcp_accept(self, lsock):
        lsock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, peer = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.stop.is_set():
                    return
                raise
            with self.lock:
                if self.active >= self.args.max_conns:
                    self.stats["tcp_rejected"] += 1
                    conn.close()
                    continue
                self.active += 1
                self.stats["tcp_conns"] += 1
            self.log("tcp conn from %s:%d to %s:%d" %
                     tuple(norm_addr(peer) + norm_addr(conn.getsockname())))
            t = threading.Thread(target=self.tcp_conn, args=(conn, peer),
                                 daemon=True)
            t.start()

    # --- UDP -------------------------------------------------------------
    def udp_loop(self, usock):
        usock.settimeout(0.5)
        port = usock.getsockname()[1]
        while not self.stop.is_set():
            try:
                data, anc, _flags, peer = usock.recvmsg(65536, 256)
            except socket.timeout:
                continue
            except OSError:
                if self.stop.is_set():
                    return
                raise
            with self.lock:
                self.stats["udp_dgrams"] += 1
            # Reply from the address the datagram was sent to (a VIP on lo
            # in DSR modes), not from whatever the route would pick.
            dst, cmsg = pktinfo_reply(anc)
            local = (dst or usock.getsockname()[0], port)
            if data.strip() == b"INFO":
                reply = self.info(local, peer).encode()
            else:
                reply = self.name.encode()
            self.log("udp from %s:%d to %s" % tuple(norm_addr(peer) + norm_addr(local)[:1]))
            try:
                usock.sendmsg([reply], cmsg, 0, peer)
            except OSError as e:
                self.log("udp reply error %s" % e)


IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


def pktinfo_reply(anc):
    """(destination address of the datagram, cmsg list to reply from it)."""
    for level, ctype, cdata in anc:
        if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= 12:
            _ifindex, _spec, addr = struct.unpack("i4s4s", cdata[:12])
            return (socket.inet_ntop(socket.AF_INET, addr),
                    [(socket.IPPROTO_IP, IP_PKTINFO,
                      struct.pack("i4s4s", 0, addr, b"\0" * 4))])
        if level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO and len(cdata) >= 20:
            addr, _ifindex = struct.unpack("16si", cdata[:20])
            return (socket.inet_ntop(socket.AF_INET6, addr),
                    [(socket.IPPROTO_IPV6, IPV6_PKTINFO,
                      struct.pack("16si", addr, 0))])
    return None, []


def make_socket(bind, port, kind):
    family = socket.AF_INET6 if (bind is None or ":" in bind) else socket.AF_INET
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and bind is None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if bind is not None and bind not in ("0.0.0.0", "::"):
        # Allow binding an address not (yet) on an interface.
        try:
            s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
        except OSError:
            pass
    if kind == socket.SOCK_DGRAM:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        if family == socket.AF_INET or bind is None:
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.bind(("::" if bind is None else bind, port))
    if kind == socket.SOCK_STREAM:
        s.listen(128)
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--tcp", type=int, action="append", default=[],
                   help="TCP port (repeatable)")
    p.add_argument("--udp", type=int, action="append", default=[],
                   help="UDP port (repeatable)")
    p.add_argument("--bind", default=None, help="address (default: dual-stack any)")
    p.add_argument("--pidfile")
    p.add_argument("--max-seconds", type=float, default=900,
                   help="hard lifetime limit (default 900)")
    p.add_argument("--idle-timeout", type=float, default=120,
                   help="close a TCP connection idle this long (default 120)")
    p.add_argument("--max-conns", type=int, default=256)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    if not args.tcp and not args.udp:
        p.error("need --tcp and/or --udp")

    srv = Server(args)
    socks = []
    threads = []
    for port in args.tcp:
        s = make_socket(args.bind, port, socket.SOCK_STREAM)
        socks.append(s)
        threads.append(threading.Thread(target=srv.tcp_accept, args=(s,), daemon=True))
    for port in args.udp:
        s = make_socket(args.bind, port, socket.SOCK_DGRAM)
        socks.append(s)
        threads.append(threading.Thread(target=srv.udp_loop, args=(s,), daemon=True))

    def finish(signum=None, frame=None):
        srv.stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    signal.signal(signal.SIGHUP, finish)

    for t in threads:
        t.start()
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, args.pidfile)
    srv.log("listening tcp=%s udp=%s bind=%s" % (args.tcp, args.udp, args.bind or "any"))

    deadline = time.monotonic() + args.max_seconds
    while not srv.stop.is_set() and time.monotonic() < deadline:
        srv.stop.wait(0.5)
    srv.stop.set()
    for s in socks:
        s.close()
    srv.log("exit stats %s" % json.dumps(srv.stats))
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
