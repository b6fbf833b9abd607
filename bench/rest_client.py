#!/usr/bin/env python3
"""REST write client for the benchmarks (bench/rest_latency.sh).

    rest_client.py latency URL N K OUT
        K rounds of four writes, one of each kind, each to a different
        service of the N-service model of gen_config.py: add a backend
        (POST), reweight one (PATCH weight), drain one (PATCH state),
        remove the backend added (DELETE).  One write at a time; each
        answer must say installed: true.  Writes one JSON line per write
        to OUT: kind, ms (request sent to answer read), generation.

    rest_client.py concurrent URL N WRITERS WRITES [DEADLINE_S]
        WRITERS threads, each adding WRITES backends (one connection per
        thread, keep-alive), spread over the N services so that writers
        collide on services (the daemon retries such writes).  Then reads
        every service back and counts the acknowledged backends missing
        ("lost").  Prints writes/s, latency percentiles, errors, lost.

    rest_client.py report OUT LOG
        Summarizes a latency run: p50/p99 per kind and overall, and the
        OpenFlow operations of each write's generation from mslbd's LOG
        ("generation G installed (flows +a ~b -c, groups +d ~e -f").

    rest_client.py churn URL PATH COUNT PID [DEADLINE_S]
        COUNT PATCHes of PATH (a backend) setting its weight to 50 and 1 in
        turn, one at a time; prints the VmRSS of process PID before and
        at each quarter, and the write latencies.

Every request has a 30 s timeout; the concurrent run stops starting new
writes after DEADLINE_S (default 120) seconds.
"""
import calendar
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse

# Backend addresses: 198.18.200.0-198.18.255.255 (gen_config.py's VIPs use
# 198.18.0-199.x for up to 50,000 services, its backends 198.19.x.x).
BASE = 200 * 256


def backend(h, name):
    a = BASE + h
    return {"name": name,
            "ip": "198.18.%d.%d" % (a // 256, a % 256),
            "port": 9000,
            "mac": "02:00:00:c8:%02x:%02x" % ((h >> 8) & 255, h & 255)}


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def request(self, method, path, body=None):
        """Returns (status, parsed body or text, seconds)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=30)
                self.conn.connect()
            t0 = time.perf_counter()
            self.started = time.time()      # wall clock, as mslbd's log
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                # A kept-alive connection the server closed: once more.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            dt = time.perf_counter() - t0
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                return r.status, json.loads(raw or b"null"), dt
            except ValueError:
                return r.status, raw.decode(errors="replace"), dt
        raise RuntimeError("unreachable")


def pct(sorted_ms, p):
    if not sorted_ms:
        return float("nan")
    i = int(round(p / 100.0 * (len(sorted_ms) - 1)))
    return sorted_ms[min(len(sorted_ms) - 1, i)]


def latency(url, n, k, out):
    c = Client(url)
    c.request("GET", "/v1/health")          # connect outside the timing
    with open(out, "w") as f:
        for i in range(k):
            # Four different services per round, spread over the model.
            s = [(i * 4 + j) * 7919 % n for j in range(4)]
            name = "extra%d" % i
            writes = [
                ("add", "POST", "/v1/services/svc%d/backends" % s[0],
                 backend(i, name)),
                ("reweight", "PATCH", "/v1/services/svc%d/backends/b0" % s[1],
                 {"weight": 100 + i}),
                ("drain", "PATCH", "/v1/services/svc%d/backends/b1" % s[2],
                 {"state": "drain"}),
                ("remove", "DELETE",
                 "/v1/services/svc%d/backends/%s" % (s[0], name), None),
            ]
            for kind, method, path, body in writes:
                status, ans, dt = c.request(method, path, body)
                if status not in (200, 201) or not isinstance(ans, dict) \
                        or ans.get("installed") is not True:
                    sys.exit("%s %s -> %d %s" % (method, path, status, ans))
                f.write(json.dumps({"kind": kind, "ms": dt * 1000,
                                    "generation": ans["generation"],
                                    "start": c.started}) + "\n")


def concurrent(url, n, writers, writes, deadline_s):
    acked = []              # (service, backend name) answered 201
    lat = []
    errors = []
    not_installed = [0]
    lock = threading.Lock()
    start = threading.Barrier(writers + 1)
    stop_at = [time.monotonic() + deadline_s + 30]   # reset at the start

    def writer(t):
        c = Client(url)
        c.request("GET", "/v1/health")
        start.wait()
        for j in range(writes):
            if time.monotonic() > stop_at[0]:
                break
            h = t * writes + j
            svc = "svc%d" % (h % n)
            name = "cw%d_%d" % (t, j)
            try:
                status, ans, dt = c.request(
                    "POST", "/v1/services/%s/backends" % svc,
                    backend(h, name))
            except Exception as e:              # noqa: BLE001
                with lock:
                    errors.append("%s/%s: %s" % (svc, name, e))
                continue
            with lock:
                if status == 201:
                    acked.append((svc, name, backend(h, name)["ip"]))
                    lat.append(dt * 1000)
                    if not ans.get("installed"):
                        not_installed[0] += 1
                else:
                    errors.append("%s/%s: %d %s" % (svc, name, status, ans))

    threads = [threading.Thread(target=writer, args=(t,), daemon=True)
               for t in range(writers)]
    for th in threads:
        th.start()
    stop_at[0] = time.monotonic() + deadline_s
    start.wait()
    t0 = time.monotonic()
    for th in threads:
        th.join(deadline_s + 60)
    elapsed = time.monotonic() - t0

    # Read back: every acknowledged backend must be there.
    c = Client(url)
    have = {}
    for svc in sorted({a[0] for a in acked}):
        status, ans, _ = c.request("GET", "/v1/services/%s" % svc)
        if status != 200:
            errors.append("GET %s: %d" % (svc, status))
            continue
        have[svc] = {(b["name"], b["ip"]) for b in ans.get("backends", [])}
    lost = [a for a in acked if (a[1], a[2]) not in have.get(a[0], ())]
    lat.sort()
    print("concurrent writes: %d writers x %d writes on %d services"
          % (writers, writes, n))
    print("  acknowledged %d in %.2f s: %.0f writes/s   (target >= 1,000/s)"
          % (len(acked), elapsed, len(acked) / elapsed if elapsed else 0))
    print("  latency p50 %.1f ms   p99 %.1f ms   max %.1f ms"
          % (pct(lat, 50), pct(lat, 99), lat[-1] if lat else float("nan")))
    print("  errors: %d   answered installed: false: %d"
          % (len(errors), not_installed[0]))
    for e in errors[:5]:
        print("    " + e)
    print("lost: %d" % len(lost))
    for a in lost[:5]:
        print("    lost %s/%s" % (a[0], a[1]))
    return 1 if lost or errors else 0


INSTALLED = re.compile(
    r"generation (\d+) installed \(flows \+(\d+) ~(\d+) -(\d+), "
    r"groups \+(\d+) ~(\d+) -(\d+)")


CHANGED = re.compile(r"model changed: generation (\d+),")


def log_time(line):
    """Seconds since the epoch of an mslbd log line (UTC, ms)."""
    stamp = line.split("|", 1)[0]
    try:
        return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) \
            + float(stamp[19:23])
    except ValueError:
        return None


def report(out, log):
    ops = {}
    changed_at = {}
    installed_at = {}
    with open(log, errors="replace") as f:
        for line in f:
            m = INSTALLED.search(line)
            if m:
                ops[int(m.group(1))] = [int(x) for x in m.groups()[1:]]
                installed_at.setdefault(int(m.group(1)), log_time(line))
            m = CHANGED.search(line)
            if m:
                changed_at.setdefault(int(m.group(1)), log_time(line))
    rows = [json.loads(line) for line in open(out)]
    kinds = ["add", "reweight", "drain", "remove"]
    print("  %-9s %5s %8s %8s %8s   %s" % ("kind", "n", "p50 ms", "p99 ms",
                                          "max ms", "OpenFlow ops per change"))
    for kind in kinds + ["all"]:
        sel = [r for r in rows if kind in ("all", r["kind"])]
        if not sel:
            continue
        t = sorted(r["ms"] for r in sel)
        n_ops = [sum(ops[r["generation"]]) for r in sel
                 if r["generation"] in ops]
        detail = ""
        if kind != "all":
            shapes = sorted({"flows +%d ~%d -%d, groups +%d ~%d -%d"
                             % tuple(ops[r["generation"]]) for r in sel
                             if r["generation"] in ops})
            detail = "  (" + "; ".join(shapes[:3]) + ")"
        print("  %-9s %5d %8.2f %8.2f %8.2f   %s%s"
              % (kind, len(t), pct(t, 50), pct(t, 99), t[-1],
                 ("%d-%d" % (min(n_ops), max(n_ops))) if n_ops else "?",
                 detail))
    slow = sorted(range(len(rows)), key=lambda i: -rows[i]["ms"])[:3]
    print("  slowest: " + ", ".join("write #%d (%s) %.1f ms" % (
        i + 1, rows[i]["kind"], rows[i]["ms"]) for i in slow))

    # Where a write's time goes, from mslbd's log (ms resolution): request
    # -> "model changed" (REST, database round trip, engine), -> "installed"
    # (bundle and barrier on the switch), -> the answer.
    def phases(r):
        g = r["generation"]
        if "start" not in r or g not in changed_at or g not in installed_at \
                or None in (changed_at[g], installed_at[g]):
            return None
        end = r["start"] + r["ms"] / 1000
        return ((changed_at[g] - r["start"]) * 1000,
                (installed_at[g] - changed_at[g]) * 1000,
                (end - installed_at[g]) * 1000)
    ph = [p for p in (phases(r) for r in rows) if p]
    if ph:
        med = [pct(sorted(p[k] for p in ph), 50) for k in range(3)]
        print("  phases, median ms (log stamps in whole ms): request -> "
              "engine done %.1f, -> switch installed %.1f, -> answer %.1f"
              % tuple(med))
        for i in slow:
            p = phases(rows[i])
            if p:
                print("    write #%d: %.0f / %.0f / %.0f ms" % ((i + 1,) + p))
    missing = sum(1 for r in rows if r["generation"] not in ops)
    if missing:
        print("  (%d writes had no install line of their own: batched)"
              % missing)


def vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def churn(url, path, count, pid, deadline_s):
    c = Client(url)
    c.request("GET", "/v1/health")
    rss = [(0, vmrss_kb(pid))]
    lat = []
    failed = 0
    t0 = time.monotonic()
    for i in range(count):
        if time.monotonic() - t0 > deadline_s:
            break
        status, ans, dt = c.request("PATCH", path, {"weight": 1 if i % 2 else 50})
        if status != 200 or not ans.get("installed"):
            failed += 1
        lat.append(dt * 1000)
        if (i + 1) % (count // 4 or 1) == 0:
            rss.append((i + 1, vmrss_kb(pid)))
    elapsed = time.monotonic() - t0
    lat.sort()
    print("churn: %d PATCHes of %s in %.1f s (%.0f/s), %d not installed"
          % (len(lat), path, elapsed, len(lat) / elapsed, failed))
    print("  latency p50 %.1f ms   p99 %.1f ms   max %.1f ms"
          % (pct(lat, 50), pct(lat, 99), lat[-1] if lat else float("nan")))
    print("  mslbd VmRSS: " + ", ".join("%d MB after %d" % (kb // 1024, n)
                                        for n, kb in rss))
    return 1 if failed or len(lat) < count else 0


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "latency":
        latency(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "concurrent":
        deadline = float(sys.argv[6]) if len(sys.argv) > 6 else 120.0
        return concurrent(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                          int(sys.argv[5]), deadline)
    if len(sys.argv) >= 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "churn":
        deadline = float(sys.argv[6]) if len(sys.argv) > 6 else 600.0
        return churn(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                     int(sys.argv[5]), deadline)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
