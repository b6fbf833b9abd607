#!/usr/bin/env python3
"""Raw HTTP against mslbd's REST API, for requests curl will not send.

  rawhttp.py send HOST PORT REQUEST [--src ADDR] [--token T]
      REQUEST is Python-escaped text ('\\r\\n', '\\x00'); "{auth}" in it
      becomes an Authorization header line (with --token).  Prints
      "STATUS CODE SECONDS" and fails unless the answer is an API error
      body (application/json, {"error": {code, message, path}}) or 2xx.
  rawhttp.py flood HOST PORT --token T [--count N] [--other ADDR]
      Holds N idle connections from 127.0.0.1 (bounded, all closed at the
      end) and checks that the API still answers, printing the figures.
"""
import argparse
import codecs
import json
import select
import socket
import sys
import time


def exchange(host, port, data, src=None, timeout=15.0, slow=None):
    """Sends 'data' (bytes), returns (status, headers, body, seconds)."""
    start = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(src, 0) if src else None)
    try:
        if slow:
            # One byte at a time until the server answers (bounded by
            # the length of 'data').
            for b in data:
                if select.select([s], [], [], slow)[0]:
                    break
                s.sendall(bytes([b]))
        else:
            s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
            if parse(b"".join(chunks), complete_only=True):
                break
    finally:
        s.close()
    return parse(b"".join(chunks)) + (time.monotonic() - start,)


def parse(raw, complete_only=False):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None if complete_only else (0, {}, b"")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", len(body)))
    if complete_only and len(body) < n:
        return None
    return status, headers, body[:n]


def error_code(status, headers, body):
    """The error code of an API error answer; raises if it is not one."""
    if 200 <= status < 300:
        return "-"
    ctype = headers.get("content-type", "")
    if ctype != "application/json":
        raise ValueError("Content-Type %r, body %r" % (ctype, body[:200]))
    j = json.loads(body)
    e = j["error"]
    if set(j) != {"error"} or set(e) != {"code", "message", "path"}:
        raise ValueError("not an error body: %r" % body)
    return e["code"]


def cmd_send(a):
    req = codecs.decode(a.request, "unicode_escape").encode("latin-1")
    auth = ("Authorization: Bearer %s\r\n" % a.token).encode() \
        if a.token else b""
    req = req.replace(b"{auth}", auth)
    status, headers, body, secs = exchange(a.host, a.port, req, a.src,
                                           slow=a.slow)
    code = error_code(status, headers, body)
    print("%d %s %.2f" % (status, code, secs))
    if a.path is not None:
        print("path", json.loads(body)["error"]["path"])


def get(host, port, token, src=None, path="/v1/health"):
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % (path, token)).encode()
    status, headers, body, secs = exchange(host, port, req, src, timeout=10)
    return status, error_code(status, headers, body), secs


def cmd_flood(a):
    held, refused = [], 0
    start = time.monotonic()
    fail = []
    try:
        for _ in range(a.count):
            if time.monotonic() - start > 20:
                break
            s = socket.create_connection((a.host, a.port), timeout=5,
                                         source_address=("127.0.0.1", 0))
            held.append(s)
        opened = time.monotonic() - start
        time.sleep(0.5)
        # Which of them the server refused (503, then closed).
        for s in held:
            s.setblocking(False)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            if data.startswith(b"HTTP/1.1 503"):
                refused += 1
        print("idle connections opened from 127.0.0.1: %d in %.2f s; "
              "refused at once with 503: %d; held open: %d"
              % (len(held), opened, refused, len(held) - refused))
        if len(held) - refused > a.per_ip:
            fail.append("more than %d held" % a.per_ip)

        st, code, secs = get(a.host, a.port, a.token, a.other)
        print("GET /v1/health from %s while held: %d in %.3f s"
              % (a.other, st, secs))
        if st != 200 or secs > 2:
            fail.append("other address not served quickly")
        st, code, secs = get(a.host, a.port, a.token, "127.0.0.1")
        print("GET /v1/health from 127.0.0.1 while held: %d %s in %.3f s"
              % (st, code, secs))
        if st != 503 or code != "unavailable" or secs > 2:
            fail.append("same address not refused with 503 unavailable")

        # The held ones get 408 at the head deadline, then room is back.
        t0 = time.monotonic()
        timeouts = 0
        for s in held:
            s.setblocking(True)
            s.settimeout(max(0.1, a.deadline + 5 - (time.monotonic() - t0)))
            try:
                data = s.recv(4096)
            except (socket.timeout, OSError):
                continue
            if data.startswith(b"HTTP/1.1 408"):
                timeouts += 1
        print("held connections answered 408 at the head deadline: %d "
              "(after %.1f s)" % (timeouts, time.monotonic() - t0 + 0.5))
        if timeouts != len(held) - refused:
            fail.append("not every held connection timed out")
        st, code, secs = get(a.host, a.port, a.token, "127.0.0.1")
        print("GET /v1/health from 127.0.0.1 after the deadline: %d in "
              "%.3f s" % (st, secs))
        if st != 200 or secs > 2:
            fail.append("same address not served after the deadline")
    finally:
        for s in held:
            s.close()
    if fail:
        sys.exit("FAIL: " + "; ".join(fail))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("request")
    s.add_argument("--src")
    s.add_argument("--token")
    s.add_argument("--slow", type=float, help="seconds between bytes")
    s.add_argument("--path", action="store_true", default=None)
    f = sub.add_parser("flood")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("--token", required=True)
    f.add_argument("--count", type=int, default=300)
    f.add_argument("--other", default="127.0.0.2")
    f.add_argument("--per-ip", type=int, default=32)
    f.add_argument("--deadline", type=float, default=10)
    a = p.parse_args()
    cmd_send(a) if a.cmd == "send" else cmd_flood(a)


if __name__ == "__main__":
    main()
