#!/usr/bin/env python3
"""Helpers of bench/health.sh (health-probe rate bench).

    health_stats.py config N M INTERVAL TIMEOUT FLAP_N PORT FLAP_PORT > cfg
    health_stats.py addrs N M > ip-batch       (ip -batch: the backends)
    health_stats.py snap METRICS GET_SECONDS MSLBD_PID OVS_PID > snap.json
    health_stats.py counter METRICS NAME        (NAME: sent, timeout, ...)
    health_stats.py down LOG                    (backends down, from the log)
    health_stats.py step A.json B.json INTERVAL EXPECTED >> steps.jsonl
    health_stats.py table steps.jsonl           (the sweep's table)
    health_stats.py flap LOG FROM_LINE          (flap-to-switch latency)

METRICS: a file holding mslbd's answer to GET /metrics (bench/health.sh
fetches it with curl); GET_SECONDS: how long that GET took.

Backend k (0-based, service k // M) has address 198.18.(16 + k // 250).
(1 + k % 250): 198.18.16.1 to 198.18.31.250 hold up to 4,000 backends.
"""
import json
import os
import re
import sys
import time
from datetime import datetime

GW = "198.18.1.1"
MAC_LB = "0a:00:00:00:00:01"
MAC_SRV = "02:00:00:00:01:11"
TICK = os.sysconf("SC_CLK_TCK")


def backend_ip(k):
    if k >= 4000:
        sys.exit("at most 4,000 backends (198.18.16.0/20)")
    return "198.18.%d.%d" % (16 + k // 250, 1 + k % 250)


def cmd_config(n, m, interval, timeout, flap_n, port, flap_port):
    n, m, flap_n = int(n), int(m), int(flap_n)
    mon = {"type": "tcp", "interval": float(interval),
           "timeout": float(timeout), "rise": 2, "fall": 2}
    services = []
    for i in range(n):
        backends = []
        for j in range(m):
            k = i * m + j
            backends.append({
                "name": "b%d" % j, "ip": backend_ip(k),
                # The flapping backends: b0 of the first FLAP_N services.
                "port": int(flap_port) if (j == 0 and i < flap_n)
                else int(port),
                "mac": MAC_SRV})
        services.append({
            "name": "svc%d" % i,
            "vip": "198.18.0.%d" % (100 + i // 10000),
            "protocol": "tcp", "port": 1000 + i % 10000,
            "monitor": mon, "bridges": ["br-lb"], "backends": backends})
    json.dump({"bridges": [{"name": "br-lb", "mac": MAC_LB,
                            "frontend_port": "front", "backend_port": "back",
                            "gateways": [GW]}],
               "services": services}, sys.stdout)


def cmd_addrs(n, m):
    for k in range(int(n) * int(m)):
        print("address add %s/32 dev eth0" % backend_ip(k))


def proc_ticks(path):
    with open(path) as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    fields = s[s.rindex(")") + 2:].split()
    return comm, int(fields[11]) + int(fields[12])    # utime + stime


def threads(pid):
    out = {}
    try:
        for tid in os.listdir("/proc/%s/task" % pid):
            try:
                comm, t = proc_ticks("/proc/%s/task/%s/stat" % (pid, tid))
            except OSError:
                continue
            out["%s/%s" % (comm, tid)] = t
    except OSError:
        pass
    return out


RESULTS = ("success", "bad", "refused", "timeout", "stray", "not_sent")
METRIC = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def counters(path):
    """mslbd's health counters from its answer to GET /metrics
    (docs/health.md, 'Where to see it'): probes sent, results, delay after
    due (sum and max since start), late probes; transitions and backends
    down summed over mslb_backend_transitions_total / mslb_backend_up."""
    c = dict.fromkeys(("sent", "late", "transitions", "down", "backends")
                      + RESULTS, 0)
    c.update(delay_sum=0.0, delay_max=0.0)
    seen = False
    with open(path, errors="replace") as f:
        for line in f:
            mt = METRIC.match(line.rstrip("\n"))
            if not mt:
                continue
            name, labels, v = mt.group(1), mt.group(2) or "", mt.group(3)
            if name == "mslb_health_probes_total":
                c["sent"] = int(float(v))
                seen = True
            elif name == "mslb_health_results_total":
                r = re.search(r'result="([a-z_]+)"', labels)
                if r and r.group(1) in RESULTS:
                    c[r.group(1)] = int(float(v))
            elif name == "mslb_health_probes_late_total":
                c["late"] = int(float(v))
            elif name == "mslb_health_probe_delay_seconds_sum":
                c["delay_sum"] = float(v)
            elif name == "mslb_health_probe_delay_seconds_max":
                c["delay_max"] = float(v)
            elif name == "mslb_backend_up":
                c["backends"] += 1
                c["down"] += float(v) == 0
            elif name == "mslb_backend_transitions_total":
                c["transitions"] += int(float(v))
    if not seen:
        sys.exit("%s: no mslb_health_probes_total (GET /metrics failed, or "
                 "an mslbd without the health counters)" % path)
    return c


def log_down(log):
    """Backends down now: 'is down' minus 'is up' lines of mslbd's log."""
    down = up = 0
    with open(log, errors="replace") as f:
        for line in f:
            if "|health|" in line:
                if ") is down: " in line:
                    down += 1
                elif ") is up: " in line:
                    up += 1
    return down - up


def cmd_counter(path, name):
    print(int(counters(path)[name]))


def cmd_down(log):
    print(log_down(log))


def cmd_snap(path, get_s, mslbd_pid, ovs_pid):
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    snap = {"t": time.time(),
            "mslbd": threads(mslbd_pid), "ovs": threads(ovs_pid),
            "cpu_total": sum(cpu[:8]), "cpu_idle": cpu[3] + cpu[4],
            "load": open("/proc/loadavg").read().split()[0],
            "get_s": float(get_s)}
    snap["m"] = counters(path)
    json.dump(snap, sys.stdout)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def thread_pct(a, b, dt):
    """Per thread name (digits of pools kept), % of one core."""
    out = {}
    for k, t in b.items():
        d = t - a.get(k, t)
        out[k] = 100.0 * d / TICK / dt
    return out


def cmd_step(fa, fb, interval, expected):
    a, b = json.load(open(fa)), json.load(open(fb))
    ma, mb = a["m"], b["m"]
    dt = b["t"] - a["t"]
    d = {k: mb.get(k, 0) - ma.get(k, 0)
         for k in ("sent", "success", "bad", "refused", "timeout", "stray",
                   "not_sent", "late", "delay_sum", "transitions")}
    mt = thread_pct(a["mslbd"], b["mslbd"], dt)
    ot = thread_pct(a["ovs"], b["ovs"], dt)
    tot = b["cpu_total"] - a["cpu_total"]
    idle = 100.0 * (b["cpu_idle"] - a["cpu_idle"]) / tot if tot else 0
    mslbd_cpu = sum(mt.values())
    ovs_cpu = sum(ot.values())
    top_m = max(mt.items(), key=lambda kv: kv[1]) if mt else ("-", 0)
    top_o = max(ot.items(), key=lambda kv: kv[1]) if ot else ("-", 0)
    sent = d["sent"]
    attempts = sent + d["not_sent"]
    rec = {
        "interval": float(interval), "expected": float(expected),
        "window": dt, "rate": sent / dt,
        "success": d["success"], "bad": d["bad"], "refused": d["refused"],
        "timeout": d["timeout"], "stray": d["stray"],
        "not_sent": d["not_sent"], "late": d["late"],
        "delay_mean_ms": 1000.0 * d["delay_sum"] / attempts if attempts
        else 0.0,
        "delay_max_ms": 1000.0 * mb.get("delay_max", 0),
        "delay_max_grew": mb.get("delay_max", 0) > ma.get("delay_max", 0),
        "down": mb["down"],
        "transitions": d["transitions"],
        "mslbd_cpu": mslbd_cpu, "ovs_cpu": ovs_cpu,
        "mslbd_top": top_m, "ovs_top": top_o,
        "mslbd_us": 1e6 * mslbd_cpu / 100 * dt / sent if sent else 0,
        "ovs_us": 1e6 * ovs_cpu / 100 * dt / sent if sent else 0,
        "idle": idle, "load": b["load"],
        # The GET /metrics that opened and closed the window (ms).
        "get_ms": [round(1000 * a.get("get_s", 0)),
                   round(1000 * b.get("get_s", 0))],
        "ovs_threads": {k: round(v, 1) for k, v in
                        sorted(ot.items(), key=lambda kv: -kv[1])
                        if v >= 0.5},
        "mslbd_threads": {k: round(v, 1) for k, v in
                          sorted(mt.items(), key=lambda kv: -kv[1])
                          if v >= 0.5},
    }
    why = []
    if rec["late"]:
        why.append("%d late" % rec["late"])
    if rec["timeout"]:
        why.append("%d timeouts" % rec["timeout"])
    if rec["transitions"] or rec["down"]:
        why.append("%d transitions, %d down" % (rec["transitions"],
                                                 rec["down"]))
    if rec["rate"] < 0.95 * rec["expected"]:
        why.append("sent %.0f/s < 95%% of %.0f/s" % (rec["rate"],
                                                      rec["expected"]))
    rec["ok"] = not why
    rec["why"] = ", ".join(why) or "ok"
    print(json.dumps(rec))


def row(r):
    return ("%-8g %8.0f %8.0f %8d %6d %6d %5d %6d %7.2f %8s %5d  %5.0f%% "
            "%6.1f  %5.0f%% %6.1f  %-22s %4.0f%% %6d  %s" % (
                r["interval"], r["expected"], r["rate"], r["success"],
                r["refused"], r["timeout"], r["stray"], r["late"],
                r["delay_mean_ms"],
                ("%.0f" if r["delay_max_grew"] else "<=%.0f")
                % r["delay_max_ms"], r["down"],
                r["mslbd_cpu"], r["mslbd_us"], r["ovs_cpu"], r["ovs_us"],
                "%s %.0f%%" % (r["ovs_top"][0].split("/")[0],
                               r["ovs_top"][1]),
                r["idle"], max(r.get("get_ms", [0])), r["why"]))


HEADER = ("%-8s %8s %8s %8s %6s %6s %5s %6s %7s %8s %5s  %6s %6s  %6s %6s  "
          "%-22s %5s %6s  %s" % (
              "interval", "expect/s", "sent/s", "success", "refusd",
              "timeout", "stray", "late", "dly_ms", "dmax_ms", "down",
              "mslbd", "us/pr", "ovs", "us/pr", "ovs busiest thread",
              "idle", "get_ms", "verdict"))


def cmd_table(f):
    recs = [json.loads(l) for l in open(f) if l.strip()]
    print(HEADER)
    for r in recs:
        print(row(r))
    good = [r for r in recs if r["ok"]]
    bad = [r for r in recs if not r["ok"]]
    print()
    print("(per window: results, late and stray are counts; dly_ms the mean "
          "delay of a probe after its due time; dmax_ms the max since mslbd "
          "started, '<=' when it did not grow in this window; down at the "
          "window's end; mslbd/ovs: % of one core, us/pr: CPU us per probe "
          "sent; idle: the machine's idle %; get_ms: the longer of the two "
          "GET /metrics that opened and closed the window)")
    ceiling = max(good, key=lambda r: r["rate"]) if good else None
    first_bad = bad[0] if bad else None
    if ceiling:
        print("ceiling: %.0f probes/s (interval %g s: no late probe, no "
              "timeout, no false down)" % (ceiling["rate"],
                                           ceiling["interval"]))
    else:
        print("ceiling: none of the rates passed")
    for tag, r in (("at the ceiling", ceiling),
                   ("at the first failing rate", first_bad)):
        if not r:
            continue
        print("%s (interval %g s, %.0f/s): mslbd threads %s; "
              "ovs-vswitchd threads %s" % (
                  tag, r["interval"], r["rate"],
                  json.dumps(r["mslbd_threads"]),
                  json.dumps(r["ovs_threads"])))
    # The idle cost (the switch's polling, mslbd's timers) is in us/pr at
    # low rates: the marginal cost between two windows leaves it out.
    lo = min(recs, key=lambda r: r["rate"])
    hi = max(recs, key=lambda r: r["rate"])
    dr = hi["rate"] - lo["rate"]
    if dr > 0:
        print("marginal CPU per probe (%.0f/s -> %.0f/s): mslbd %.1f us, "
              "ovs-vswitchd %.1f us (negative: the fixed cost varied more "
              "than the probes' own)" % (
                  lo["rate"], hi["rate"],
                  1e4 * (hi["mslbd_cpu"] - lo["mslbd_cpu"]) / dr,
                  1e4 * (hi["ovs_cpu"] - lo["ovs_cpu"]) / dr))
    judge = first_bad or ceiling
    if judge:
        m, o = judge["mslbd_top"][1], judge["ovs_top"][1]
        if not first_bad:
            verdict = ("not reached: every rate passed (top of the ladder; "
                       "interval >= 0.1 s)")
        elif m >= 85 and m >= o:
            verdict = "mslbd (%s at %.0f%% of a core)" % (
                judge["mslbd_top"][0], m)
        elif o >= 85:
            verdict = "the switch (ovs-vswitchd %s at %.0f%% of a core)" % (
                judge["ovs_top"][0], o)
        elif judge["idle"] < 10:
            verdict = ("the machine's cores (idle %.0f%%; mslbd %.0f%%, "
                       "ovs-vswitchd %.0f%%, neither thread at a full core)"
                       % (judge["idle"], judge["mslbd_cpu"],
                          judge["ovs_cpu"]))
        else:
            verdict = ("not CPU: no thread near a full core (mslbd top %.0f%%,"
                       " ovs-vswitchd top %.0f%%, machine idle %.0f%%): "
                       "answers are lost (%d timeouts, %d stray answers in "
                       "the failing window)" % (
                           m, o, judge["idle"], judge["timeout"],
                           judge["stray"]))
        print("limited by: %s" % verdict)
    out = {"ceiling": ceiling["rate"] if ceiling else 0}
    json.dump(out, open(f + ".summary", "w"))


TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\|")


def ts(line):
    mt = TS.match(line)
    if not mt:
        return None
    return datetime.strptime(mt.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def cmd_flap(log, from_line):
    lines = open(log, errors="replace").read().splitlines()[int(from_line):]
    pending = []                  # transitions waiting for an install
    lat = {"down": [], "up": []}
    bundle_ms = []
    installs = 0
    for line in lines:
        if "|health|" in line and re.search(r" is (down|up): ", line):
            kind = re.search(r" is (down|up): ", line).group(1)
            pending.append((kind, ts(line)))
        elif "|reconciler|bridge br-lb: generation" in line \
                and " installed (flows" in line and pending:
            # A transition is in the first bundle sent after it (the
            # install line says how long its bundle took): one decided
            # while a bundle was on its way waits for the next.
            t = ts(line)
            installs += 1
            mt = re.search(r" in (\d+) ms$", line)
            took = int(mt.group(1)) if mt else 0
            bundle_ms.append(took)
            sent = t - took / 1000.0
            left = []
            for kind, t0 in pending:
                if t0 <= sent + 0.001:   # both in ms
                    lat[kind].append(1000 * (t - t0))
                else:
                    left.append((kind, t0))
            pending = left
    alll = lat["down"] + lat["up"]
    if not alll:
        print("flap-to-switch: no transition followed by an install found")
        return
    print("flap-to-switch latency (log: 'is down/up' decision -> the barrier "
          "reply, 'generation G installed', of the first bundle sent after "
          "it; ms resolution):")
    for kind in ("down", "up", "all"):
        xs = alll if kind == "all" else lat[kind]
        if xs:
            print("  %-4s n=%-4d p50 %.0f ms  p99 %.0f ms  max %.0f ms" % (
                kind, len(xs), pct(xs, 50), pct(xs, 99), max(xs)))
    print("  %d installs for %d transitions (several decided in one loop "
          "turn share a bundle); bundle-to-barrier p50 %.0f ms, max %d ms; "
          "%d transitions left without an install" % (
              installs, len(alll), pct(bundle_ms, 50),
              max(bundle_ms or [0]), len(pending)))


if __name__ == "__main__":
    cmds = {"config": cmd_config, "addrs": cmd_addrs, "snap": cmd_snap,
            "step": cmd_step, "counter": cmd_counter, "down": cmd_down, "table": cmd_table, "flap": cmd_flap}
    cmds[sys.argv[1]](*sys.argv[2:])
