#!/usr/bin/env python3
"""Concurrent REST writers against mslbd, and a check of what survived.

  rest_burst.py run URL --out FILE [--writers 20] [--writes 50]
                [--services a,b,c,d] [--tag T] [--seconds 60]
                [--stop-file F] [--timeout 30] [--backoff S]
  rest_burst.py verify URL FILE... [--strict-errors] [--summary FILE]
  rest_burst.py contend URL SERVICE BACKEND [--writers 20] [--writes 10]

run: WRITERS threads, each with its own HTTP/1.1 connection, do up to
WRITES writes one after another: add a backend named tT-wW-jJ (its own
address 198.19.(T*20+W).(J+1), port 9000+J, a MAC derived from the same
numbers) to service (W+J) mod n; then, as it goes, reweight (PATCH) or
delete backends it added itself and saw acknowledged.  Every write and its
outcome (HTTP status, or "unknown" when the connection failed or timed
out) goes to FILE as JSON.  Stops at --seconds, or when --stop-file
exists (then each writer finishes its current request).

verify: reads the model (GET /v1/services) and, per backend a writer
touched, the set of states its own sequence of writes allows: an
acknowledged (2xx) write fixes the state, an unknown outcome allows both
before and after, a refused write (4xx/5xx) leaves the state as it was
(with --strict-errors; without, it may also have been applied, and such
"applied anyway" writes are counted).  Fails (exit 1) on any backend
whose state is not allowed, on a present backend whose fields differ from
what was written (half-applied), on an acknowledged write whose answer
did not carry the object or a generation.  Prints a JSON summary
(acknowledged, refused, unknown, generations...).  Hard limits:
--seconds, per-request --timeout.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse


def be_fields(tag, w, j):
    return {
        "name": "t%d-w%d-j%d" % (tag, w, j),
        "ip": "198.19.%d.%d" % (tag * 20 + w, j + 1),
        "port": 9000 + j,
        "mac": "02:13:%02x:%02x:%02x:01" % (tag, w, j),
    }


class Client:
    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None):
        """(status, parsed body) or (None, error text) when unknown."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout)
            data = json.dumps(body).encode() if body is not None else None
            hdr = {"Content-Type": "application/json"} if data else {}
            self.conn.request(method, path, body=data, headers=hdr)
            r = self.conn.getresponse()
            raw = r.read()
            try:
                j = json.loads(raw) if raw else None
            except ValueError:
                j = {"raw": raw.decode(errors="replace")}
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, j
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, "%s: %s" % (type(e).__name__, e)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def writer(args, w, services, deadline, out, lock):
    rnd = random.Random(args.tag * 1000 + w)
    cl = Client(args.url, args.timeout)
    mine = []           # acknowledged, not deleted: (service, name)
    for j in range(args.writes):
        if time.monotonic() >= deadline or (
                args.stop_file and os.path.exists(args.stop_file)):
            break
        rec = {"w": w, "j": j, "t0": time.time()}
        if not mine or j % 3 == 0:
            svc = services[(w + j) % len(services)]
            body = be_fields(args.tag, w, j)
            rec.update(op="post", svc=svc, be=body["name"], body=body)
            st, resp = cl.request("POST", "/v1/services/%s/backends" % svc,
                                  body)
        elif j % 10 == 9:
            svc, name = mine.pop(rnd.randrange(len(mine)))
            rec.update(op="delete", svc=svc, be=name)
            st, resp = cl.request("DELETE", "/v1/services/%s/backends/%s"
                                  % (svc, name))
        else:
            svc, name = mine[rnd.randrange(len(mine))]
            weight = rnd.randint(1, 100)
            rec.update(op="patch", svc=svc, be=name, weight=weight)
            st, resp = cl.request("PATCH", "/v1/services/%s/backends/%s"
                                  % (svc, name), {"weight": weight})
        rec["t1"] = time.time()
        rec["status"] = st
        if st is None:
            rec["error"] = resp
        else:
            rec["resp"] = resp
        if st is not None and 200 <= st < 300:
            if rec["op"] == "post":
                mine.append((svc, rec["be"]))
        elif rec["op"] == "delete":
            pass        # Not ours to touch again either way.
        elif rec["op"] == "patch" and st is None:
            mine.remove((svc, name))    # Unknown: leave it alone.
        with lock:
            out.append(rec)
        if args.backoff and (st is None or st == 503):
            time.sleep(args.backoff)    # As a client would, before again.
    cl.close()


def run(args):
    services = args.services.split(",")
    deadline = time.monotonic() + args.seconds
    out, lock = [], threading.Lock()
    threads = [threading.Thread(target=writer, daemon=True,
                                args=(args, w, services, deadline, out, lock))
               for w in range(args.writers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline + args.timeout + 5 - time.monotonic()))
    with lock:
        recs = list(out)
    with open(args.out, "w") as f:
        json.dump({"tag": args.tag, "records": recs}, f)
    n_ok = sum(1 for r in recs if r["status"] and 200 <= r["status"] < 300)
    print(json.dumps({"writes": len(recs), "acknowledged": n_ok,
                      "seconds": round(time.monotonic() - t0, 2),
                      "stuck_writers": sum(t.is_alive() for t in threads)}))
    return 0


def get_model(url, timeout):
    st, j = Client(url, timeout).request("GET", "/v1/services")
    if st != 200:
        sys.exit("GET /v1/services: %s %s" % (st, j))
    return j


def verify(args):
    model = get_model(args.url, args.timeout)
    have = {}
    for s in model["services"]:
        for b in s["backends"]:
            have[(s["name"], b["name"])] = b
    recs = []
    for fn in args.files:
        with open(fn) as f:
            doc = json.load(f)
        for r in doc["records"]:
            r["tag"] = doc["tag"]
            recs.append(r)
    recs.sort(key=lambda r: (r["tag"], r["w"], r["j"]))
    problems = []
    # Per backend: the set of allowed (exists, weight) states.
    allowed, written = {}, {}
    applied_anyway = 0
    stats = {"writes": len(recs), "acknowledged": 0, "refused": 0,
             "unknown": 0, "by_status": {}}
    gens = []
    for r in recs:
        key = (r["svc"], r["be"])
        st = r["status"]
        stats["by_status"][str(st)] = stats["by_status"].get(str(st), 0) + 1
        before = allowed.get(key, {(False, None)})
        if r["op"] == "post":
            written[key] = r["body"]
            after = {(True, 1)}
        elif r["op"] == "patch":
            after = {(True, r["weight"])}
        else:
            after = {(False, None)}
        ok = st is not None and 200 <= st < 300
        if ok:
            stats["acknowledged"] += 1
            resp = r.get("resp") or {}
            if not isinstance(resp.get("generation"), int):
                problems.append("acknowledged %s %s/%s: no generation in %s"
                                % (r["op"], r["svc"], r["be"], resp))
            else:
                gens.append(resp["generation"])
            if r["op"] != "delete" and (resp.get("backend") or {}).get(
                    "name") != r["be"]:
                problems.append("acknowledged %s %s/%s: the answer does not "
                                "carry the backend: %s"
                                % (r["op"], r["svc"], r["be"], resp))
            allowed[key] = after
        elif st is None:
            stats["unknown"] += 1
            allowed[key] = before | after
        else:
            stats["refused"] += 1
            allowed[key] = before if args.strict_errors else before | after
            r["_refused"] = True
    for key, states in sorted(allowed.items()):
        b = have.get(key)
        now = (True, b.get("weight", 1)) if b else (False, None)
        if now not in states:
            problems.append("%s/%s is %s, allowed: %s"
                            % (key[0], key[1], now, sorted(states, key=str)))
        if b:
            want = dict(written[key])
            got = {k: b.get(k) for k in want}
            if got != want:
                problems.append("%s/%s half-applied: %s, written %s"
                                % (key[0], key[1], b, want))
            if b.get("state", "up") != "up":
                problems.append("%s/%s state %s" % (key[0], key[1], b))
    # Each post names a new backend: present after a refused post means
    # the post was applied although it was answered with an error.
    for r in recs:
        if r.get("_refused") and r["op"] == "post" \
                and (r["svc"], r["be"]) in have:
            applied_anyway += 1
            if args.strict_errors:
                problems.append("refused post %s/%s (%s) was applied"
                                % (r["svc"], r["be"], r["status"]))
    gs = sorted(set(gens))
    stats.update(
        generation=model["generation"],
        acknowledged_generations=len(gs),
        min_generation=gs[0] if gs else None,
        max_generation=gs[-1] if gs else None,
        contiguous=bool(gs) and gs[-1] - gs[0] + 1 == len(gs),
        refused_but_present=applied_anyway,
        backends_checked=len(allowed),
        backends_present=sum(1 for k in allowed if k in have),
        problems=problems[:20], n_problems=len(problems))
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(stats, f)
    print(json.dumps(stats, indent=1))
    return 1 if problems else 0


def contend(args):
    """All writers PATCH the same backend with distinct weights: the
    weight left is the one of the acknowledged write with the highest
    generation, and no two acknowledged writes share a generation."""
    path = "/v1/services/%s/backends/%s" % (args.service, args.backend)
    deadline = time.monotonic() + args.seconds
    out, lock = [], threading.Lock()

    def one(w):
        cl = Client(args.url, args.timeout)
        for j in range(args.writes):
            if time.monotonic() >= deadline:
                break
            weight = 1 + w * args.writes + j
            st, resp = cl.request("PATCH", path, {"weight": weight})
            with lock:
                out.append((st, weight, resp))
        cl.close()

    threads = [threading.Thread(target=one, args=(w,), daemon=True)
               for w in range(args.writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline + args.timeout + 5 - time.monotonic()))
    acked = [(r["generation"], wt) for st, wt, r in out
             if st and 200 <= st < 300]
    st, now = Client(args.url, args.timeout).request("GET", path)
    gens = [g for g, _ in acked]
    res = {"writes": len(out), "acknowledged": len(acked),
           "statuses": sorted({str(st) for st, _, _ in out}),
           "distinct_generations": len(set(gens)) == len(gens),
           "last_acknowledged": max(acked)[1] if acked else None,
           "final": (now or {}).get("weight")}
    print(json.dumps(res))
    return 0 if (acked and res["distinct_generations"]
                 and res["final"] == res["last_acknowledged"]) else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("url")
    p.add_argument("--out", required=True)
    p.add_argument("--writers", type=int, default=20)
    p.add_argument("--writes", type=int, default=50)
    p.add_argument("--services", default="svc0,svc1,svc2,svc3")
    p.add_argument("--tag", type=int, default=0)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--stop-file")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--backoff", type=float, default=0,
                   help="seconds to wait after a 503 or an unknown outcome")
    v = sub.add_parser("verify")
    v.add_argument("url")
    v.add_argument("files", nargs="+")
    v.add_argument("--strict-errors", action="store_true")
    v.add_argument("--summary")
    v.add_argument("--timeout", type=float, default=30)
    c = sub.add_parser("contend")
    c.add_argument("url")
    c.add_argument("service")
    c.add_argument("backend")
    c.add_argument("--writers", type=int, default=20)
    c.add_argument("--writes", type=int, default=10)
    c.add_argument("--seconds", type=float, default=60)
    c.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    if args.cmd == "run" and (args.writers > 20 or args.tag > 11):
        sys.exit("at most 20 writers and tag 11 (addresses 198.19.0-239.x)")
    return {"run": run, "verify": verify, "contend": contend}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
