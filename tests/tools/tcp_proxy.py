#!/usr/bin/env python3
"""A plain TCP forwarder on loopback, to cut a link without closing it.

  tcp_proxy.py LISTEN_PORT:TARGET_PORT...

Each LISTEN_PORT on 127.0.0.1 forwards every connection to TARGET_PORT on
127.0.0.1, both ways.  A test partitions the link by stopping the proxy
(SIGSTOP): connections stay open but nothing passes, as when a network
drops packets; SIGCONT heals it.  Runs until killed.
"""

import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listen_port, target_port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    while True:
        client, _ = ls.accept()
        try:
            server = socket.create_connection(("127.0.0.1", target_port), 5)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    threads = []
    for arg in sys.argv[1:]:
        lp, tp = (int(x) for x in arg.split(":"))
        t = threading.Thread(target=serve, args=(lp, tp), daemon=True)
        t.start()
        threads.append(t)
    print("ready", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
