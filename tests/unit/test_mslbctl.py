#!/usr/bin/env python3
"""mslbctl against tests/tools/mock_mslbd.py: every command, as tables and
as --json, its exit codes, and the requests the mock received.

    test_mslbctl.py PATH/TO/mslbctl

Every wait is bounded; the mock is killed by pid on the way out (and
exits by itself after a while regardless)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "..", "tools", "mock_mslbd.py")
TOKEN = "s3cret"
RUN_TIMEOUT = 30            # Seconds for one mslbctl run.

failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append(what)
        print("FAIL: %s%s" % (what, ("\n" + detail) if detail else ""))


def check_eq(actual, expected, what):
    check(actual == expected, what,
          "expected:\n%s\nactual:\n%s" % (expected, actual))


class Mock:
    def __init__(self, tmpdir):
        port_file = os.path.join(tmpdir, "port")
        self.proc = subprocess.Popen(
            [sys.executable, MOCK, "--port-file", port_file,
             "--token", TOKEN, "--max-seconds", "240"])
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("mock_mslbd did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def _open(self, path, data=None):
        req = urllib.request.Request(self.url + path, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def requests(self):
        return self._open("/_mock/requests")

    def next(self, **shape):
        self._open("/_mock/next", json.dumps(shape).encode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def free_port():
    """A port where nothing listens (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Ctl:
    def __init__(self, binary, url):
        self.binary = binary
        self.env = {k: v for k, v in os.environ.items()
                    if k.lower() not in ("http_proxy", "https_proxy",
                                         "all_proxy", "no_proxy")}
        self.env.update(MSLB_URL=url, MSLB_TOKEN=TOKEN)

    def run(self, *args, stdin=None, env=None):
        e = dict(self.env)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        p = subprocess.run([self.binary] + list(args), input=stdin,
                           capture_output=True, text=True, env=e,
                           timeout=RUN_TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    def expect(self, args, rc, stdout=None, stderr=None, **kw):
        """Runs mslbctl; checks the exit code and, when given, the exact
        stdout and stderr.  Returns stdout."""
        code, out, err = self.run(*args, **kw)
        what = "mslbctl " + " ".join(args)
        check(code == rc, "%s: exit %d, expected %d" % (what, code, rc),
              "stdout:\n%sstderr:\n%s" % (out, err))
        if stdout is not None:
            check_eq(out, stdout, what + ": stdout")
        if stderr is not None:
            check_eq(err, stderr, what + ": stderr")
        return out


def lines(*ls):
    return "".join(l + "\n" for l in ls)


S1 = "name=s1,ip=198.18.1.11,port=8080,mac=02:00:00:00:01:11,weight=10"
S2 = "name=s2,ip=198.18.1.12,port=8080,mac=02:00:00:00:01:12,weight=5"
WEB = {"name": "web", "vip": "198.18.0.100", "protocol": "tcp", "port": 80,
       "bridges": ["br-lb"],
       "backends": [
           {"name": "s1", "ip": "198.18.1.11", "port": 8080,
            "mac": "02:00:00:00:01:11", "weight": 10},
           {"name": "s2", "ip": "198.18.1.12", "port": 8080,
            "mac": "02:00:00:00:01:12", "weight": 5}]}
DNS = {"name": "dns", "vip": "198.18.0.53", "protocol": "udp", "port": 53,
       "mode": "nat", "bridges": ["br-lb", "br-lb2"],
       "backends": [{"name": "d1", "ip": "198.18.1.21",
                     "mac": "02:00:00:00:01:21"}]}


def test_usage(ctl, mock, tmpdir):
    """Exit 2, and not one request reaches the server."""
    before = len(mock.requests())
    bad_json = os.path.join(tmpdir, "bad.json")
    with open(bad_json, "w") as f:
        f.write('{"name": "x",\n  "vip": }\n')
    nameless = os.path.join(tmpdir, "nameless.json")
    with open(nameless, "w") as f:
        json.dump({"vip": "198.18.0.1"}, f)
    array = os.path.join(tmpdir, "array.json")
    with open(array, "w") as f:
        f.write("[]")
    cases = [
        [],
        ["frobnicate"],
        ["backend"],
        ["backend", "explode", "web", "s1"],
        ["show"],
        ["show", "a", "b"],
        ["list", "extra"],
        ["list", "--vip", "198.18.0.1"],
        ["--bogus", "list"],
        ["list", "--url"],
        ["delete"],
        ["create"],
        ["create", "web"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80"],
        ["create", "web", "--vip", "198.18.0.100", "--port", "80",
         "--bridge", "br-lb"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "eighty", "--bridge", "br-lb"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--backend", "name=s1"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--set", "=1"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--set", "dscp"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--backend",
         S1 + ",colour=red"],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--backend",
         S1.replace("weight=10", "weight=ten")],
        ["create", "web", "--vip", "198.18.0.100", "--protocol", "tcp",
         "--port", "80", "--bridge", "br-lb", "--backend", S1 + ",name=x"],
        ["create", "--file", os.path.join(tmpdir, "missing.json")],
        ["create", "--file", bad_json],
        ["create", "--file", array],
        ["create", "web", "--file", bad_json],
        ["create", "--file", bad_json, "--vip", "198.18.0.1"],
        ["replace"],
        ["replace", "--file", nameless],
        ["replace", "--file", os.path.join(tmpdir, "missing.json")],
        ["backend", "add", "web", "--name", "s3"],
        ["backend", "add", "web", "--name", "s3", "--ip", "198.18.1.13",
         "--mac", "02:00:00:00:01:13", "--weight", "heavy"],
        ["backend", "add", "web", "--name", "s3", "--ip", "198.18.1.13",
         "--mac", "02:00:00:00:01:13", "--vip", "198.18.0.1"],
        ["backend", "remove", "web"],
        ["backend", "drain", "web"],
        ["backend", "weight", "web", "s1"],
        ["backend", "weight", "web", "s1", "ten"],
        ["backend", "weight", "web", "s1", "1.5"],
        ["stats", "a", "b"],
        ["--wait", "soon", "delete", "web"],
        ["--timeout", "0", "list"],
        ["--timeout", "-1", "list"],
        ["--url", "ftp://127.0.0.1/", "list"],
        ["--url", "127.0.0.1:8080", "list"],
        ["--token", "a\nb", "list"],
    ]
    for args in cases:
        code, out, err = ctl.run(*args)
        what = "usage: mslbctl " + " ".join(args)
        check(code == 2, "%s: exit %d, expected 2" % (what, code), err)
        check(err.startswith("mslbctl: "), what + ": message on stderr", err)
        check(out == "", what + ": nothing on stdout", out)
    check_eq(len(mock.requests()), before, "usage errors sent no request")

    # Help: stdout, exit 0, and it documents the exit codes.
    for args in (["-h"], ["--help"], ["help"], ["list", "--help"]):
        out = ctl.expect(args, 0, stderr="")
        check("Exit codes:" in out and "5  unauthorized" in out,
              "mslbctl %s: help lists the exit codes" % " ".join(args), out)
    check_eq(len(mock.requests()), before, "help sent no request")


def test_unreachable(ctl, mock):
    url = "http://127.0.0.1:%d" % free_port()
    code, out, err = ctl.run("--url", url, "list")
    check_eq(code, 3, "nothing listening: exit code")
    check(err.startswith("mslbctl: GET %s/v1/services: " % url),
          "nothing listening: message names the request", err)
    ctl.expect(["status"], 3, env={"MSLB_URL": url})

    # 5xx, with and without an API error body.
    mock.next(status=500, body=json.dumps({"error": {
        "code": "internal", "message": "it broke", "path": None}}))
    ctl.expect(["list"], 3, stdout="", stderr="mslbctl: it broke\n")
    mock.next(status=503, body="<html>busy</html>")
    ctl.expect(["show", "web"], 3, stdout="",
               stderr="mslbctl: GET %s/v1/services/web: HTTP 503\n"
               % mock.url)
    # Something answers 200, but not the API.
    mock.next(status=200, body="<html>hello</html>")
    code, out, err = ctl.run("list")
    check_eq(code, 3, "not JSON: exit code")
    check("not a JSON object" in err, "not JSON: message", err)
    # Time out: the server takes 3 s, mslbctl gives it 0.5 s.
    mock.next(delay=3)
    start = time.monotonic()
    code, out, err = ctl.run("--timeout", "0.5", "list")
    check_eq(code, 3, "timeout: exit code")
    check(time.monotonic() - start < 2.5, "timeout: gave up in time")
    check("timed out" in err.lower(), "timeout: message", err)


def test_auth(ctl, mock):
    ctl.expect(["--token", "wrong", "list"], 5, stdout="",
               stderr="mslbctl: missing or wrong bearer token\n")
    ctl.expect(["list"], 5, env={"MSLB_TOKEN": None})
    ctl.expect(["status"], 5, env={"MSLB_TOKEN": "nope"})
    ctl.expect(["delete", "web"], 5, env={"MSLB_TOKEN": ""})
    # --token wins over the environment.
    ctl.expect(["--token", TOKEN, "list"], 0, env={"MSLB_TOKEN": "nope"})
    last = mock.requests()[-1]
    check_eq(last["authorization"], "Bearer " + TOKEN,
             "--token is sent as a bearer token")


def test_create(ctl, mock, tmpdir):
    # Empty list first: just the header.
    ctl.expect(["list"], 0,
               stdout=lines("NAME  VIP  PROTO  PORT  MODE  BACKENDS"),
               stderr="")
    check_eq(json.loads(ctl.expect(["list", "--json"], 0)),
             {"generation": 1, "services": []}, "list --json, empty")

    # Flag form; global options after the command, too.
    n = len(mock.requests())
    ctl.expect(["create", "web", "--vip", "198.18.0.100", "--protocol",
                "tcp", "--port", "80", "--bridge", "br-lb",
                "--backend", S1, "--backend", S2],
               0, stdout="service web created (generation 2, installed)\n",
               stderr="")
    reqs = mock.requests()[n:]
    check_eq(len(reqs), 1, "create: one request")
    r = reqs[0]
    check_eq((r["method"], r["path"], r["query"]),
             ("POST", "/v1/services", {}), "create: method, path, no wait")
    check_eq(r["body"], WEB, "create: body from the flags")
    check_eq(r["content_type"], "application/json", "create: content type")
    check_eq(r["authorization"], "Bearer " + TOKEN, "create: token")

    # Same again: a conflict is a refusal.
    ctl.expect(["create", "web", "--vip", "198.18.0.100", "--protocol",
                "tcp", "--port", "80", "--bridge", "br-lb"],
               1, stdout="", stderr='mslbctl: name: a service named "web" '
               "already exists\n")
    # Same VIP, protocol and port: a conflict that names no field.
    ctl.expect(["create", "web2", "--vip", "198.18.0.100", "--protocol",
                "tcp", "--port", "80", "--bridge", "br-lb"],
               1, stdout="", stderr="mslbctl: duplicate virtual service (same "
               'vip, protocol and port as service "web")\n')
    # 422 with the path of the offending field, the flag form's order.
    ctl.expect(["create", "bad", "--vip", "198.18.0.101", "--protocol",
                "tcp", "--port", "80", "--bridge", "br-lb", "--backend", S1,
                "--backend", S2.replace("weight=5", "weight=0")],
               1, stdout="", stderr="mslbctl: backends[1].weight: must be an "
               "integer from 1 to 10000\n")
    ctl.expect(["create", "bad", "--vip", "198.18.0.101", "--protocol",
                "sctp", "--port", "80", "--bridge", "br-lb"],
               1, stderr='mslbctl: protocol: must be "tcp" or "udp"\n')
    # "(path)" is added when the message does not name the field already;
    # a message that names it in the whole model's terms is left alone.
    for message, path, line in [
            ("too heavy", "backends[0].weight",
             "too heavy (backends[0].weight)"),
            ("services[3].backends[0].weight: too heavy",
             "backends[0].weight",
             "services[3].backends[0].weight: too heavy"),
            ("weight: too heavy", "backends[0].weight",
             "weight: too heavy (backends[0].weight)"),
            ("no", None, "no")]:
        mock.next(status=422, body=json.dumps({"error": {
            "code": "invalid", "message": message, "path": path}}))
        ctl.expect(["backend", "weight", "web", "s1", "99999"], 1,
                   stdout="", stderr="mslbctl: %s\n" % line)
    # Values are the server's to judge, --wait's too.
    ctl.expect(["--wait", "301", "delete", "nosuch"], 1, stderr=
               "mslbctl: wait: must be an integer from 0 to 300\n")
    # In --json mode the error body goes to stdout as well.
    code, out, err = ctl.run("--json", "create", "bad", "--vip",
                             "198.18.0.101", "--protocol", "tcp", "--port",
                             "70000", "--bridge", "br-lb")
    check_eq(code, 1, "create --json, 422: exit code")
    check_eq(json.loads(out), {"error": {
        "code": "invalid",
        "message": "port: must be an integer from 1 to 65535",
        "path": "port"}}, "create --json, 422: error body on stdout")
    check_eq(err, "mslbctl: port: must be an integer from 1 to 65535\n",
             "create --json, 422: stderr")

    # --file, with --wait 0: answered before the switches confirm.
    dns = os.path.join(tmpdir, "dns.json")
    with open(dns, "w") as f:
        json.dump(DNS, f)
    n = len(mock.requests())
    ctl.expect(["--wait", "0", "create", "--file", dns], 0,
               stdout="service dns created (generation 3, not yet "
               "installed)\n")
    r = mock.requests()[n]
    check_eq((r["method"], r["path"], r["query"], r["body"]),
             ("POST", "/v1/services", {"wait": "0"}, DNS),
             "create --file: request")

    # --file - reads stdin; --json prints the server's answer.
    svc = {"name": "api", "vip": "198.18.0.100", "protocol": "tcp",
           "port": 443, "bridges": ["br-lb"], "backends": []}
    out = ctl.expect(["create", "--file", "-", "--json", "--wait", "2"], 0,
                     stdin=json.dumps(svc), stderr="")
    answer = json.loads(out)
    check_eq((answer["generation"], answer["installed"],
              answer["service"]["name"], answer["service"]["mode"]),
             (4, True, "api", "nat"), "create --file - --json: answer")
    check(out.startswith('{\n  "generation": 4,\n'),
          "--json: indented, in the server's key order", out)
    r = mock.requests()[-1]
    check_eq((r["query"], r["body"]), ({"wait": "2"}, svc),
             "create --file -: request")


def test_read(ctl, mock):
    ctl.expect(["list"], 0, stderr="", stdout=lines(
        "NAME  VIP           PROTO  PORT  MODE  BACKENDS",
        "api   198.18.0.100  tcp    443   nat   0/0",
        "dns   198.18.0.53   udp    53    nat   1/1",
        "web   198.18.0.100  tcp    80    nat   2/2"))
    listed = json.loads(ctl.expect(["--json", "list"], 0))
    check_eq([s["name"] for s in listed["services"]], ["api", "dns", "web"],
             "list --json: services")
    check_eq(listed["generation"], 4, "list --json: generation")

    ctl.expect(["show", "web"], 0, stderr="", stdout=lines(
        "name:      web",
        "vip:       198.18.0.100",
        "protocol:  tcp",
        "port:      80",
        "mode:      nat",
        "bridges:   br-lb",
        "backends:  2 (2 up)",
        "",
        "NAME  IP           PORT  MAC                WEIGHT  STATE",
        "s1    198.18.1.11  8080  02:00:00:00:01:11  10      up",
        "s2    198.18.1.12  8080  02:00:00:00:01:12  5       up"))
    ctl.expect(["show", "dns"], 0, stdout=lines(
        "name:      dns",
        "vip:       198.18.0.53",
        "protocol:  udp",
        "port:      53",
        "mode:      nat",
        "bridges:   br-lb, br-lb2",
        "backends:  1 (1 up)",
        "",
        "NAME  IP           PORT  MAC                WEIGHT  STATE",
        "d1    198.18.1.21  53    02:00:00:00:01:21  1       up"))
    shown = json.loads(ctl.expect(["show", "web", "--json"], 0))
    check_eq(shown, dict(WEB, mode="nat",
                         backends=[dict(b, state="up")
                                   for b in WEB["backends"]]),
             "show --json")
    # What the server leaves out: a backend's defaults, "-" elsewhere;
    # fields a newer server adds are shown too.
    mock.next(status=200, body=json.dumps({
        "name": "old", "vip": "198.18.0.9", "protocol": "tcp", "port": 81,
        "bridges": [], "owner": "team-a",
        "backends": [{"name": "b1", "ip": "198.18.1.9",
                      "mac": "02:00:00:00:01:09"},
                     {"name": "b2\x1b[31m", "ip": "198.18.1.10",
                      "mac": "02:00:00:00:01:10", "state": "down"}]}))
    ctl.expect(["show", "old"], 0, stdout=lines(
        "name:      old",
        "vip:       198.18.0.9",
        "protocol:  tcp",
        "port:      81",
        "mode:      -",
        "bridges:   -",
        "owner:     team-a",
        "backends:  2 (1 up)",
        "",
        "NAME     IP           PORT  MAC                WEIGHT  STATE",
        "b1       198.18.1.9   81    02:00:00:00:01:09  1       up",
        "b2?[31m  198.18.1.10  81    02:00:00:00:01:10  1       down"))
    # Health: a HEALTH column when a monitor probes some backend (down
    # with its reason, not counted up), resolved and unresolved MACs;
    # "status" is not repeated above the table.
    mock.next(status=200, body=json.dumps({
        "name": "mon", "vip": "198.18.0.9", "protocol": "tcp", "port": 80,
        "mode": "nat", "bridges": ["br-lb"],
        "status": {"usable_backends": 1, "empty": False},
        "backends": [
            {"name": "h1", "ip": "198.18.1.1", "weight": 1, "state": "up",
             "resolved_mac": {"mac": "02:00:00:00:01:01", "age_s": 3.2},
             "health": {"state": "up", "last": "success"}},
            {"name": "h2", "ip": "198.18.1.2", "weight": 1, "state": "up",
             "resolved_mac": None,
             "health": {"state": "down", "last": "timeout",
                        "reason": "3 failed probes in a row"}},
            {"name": "h3", "ip": "198.18.1.3", "weight": 1, "state": "up",
             "mac": "02:00:00:00:01:03"}]}))
    ctl.expect(["show", "mon"], 0, stdout=lines(
        "name:      mon",
        "vip:       198.18.0.9",
        "protocol:  tcp",
        "port:      80",
        "mode:      nat",
        "bridges:   br-lb",
        "backends:  3 (2 up)",
        "",
        "NAME  IP          PORT  MAC                           WEIGHT  STATE"
        "  HEALTH",
        "h1    198.18.1.1  80    02:00:00:00:01:01 (resolved)  1       up"
        "     up",
        "h2    198.18.1.2  80    unresolved                    1       up"
        "     down: 3 failed probes in a row",
        "h3    198.18.1.3  80    02:00:00:00:01:03             1       up"
        "     -"))
    ctl.expect(["show", "nosuch"], 4, stdout="",
               stderr='mslbctl: no service named "nosuch"\n')
    # The trailing slash of a URL does not double the one of the path.
    ctl.expect(["--url", mock.url + "/", "show", "web"], 0)
    check_eq(mock.requests()[-1]["path"], "/v1/services/web",
             "URL with a trailing slash")
    # Names are escaped as one path segment.
    ctl.expect(["show", "a/b c"], 4)
    check_eq(mock.requests()[-1]["raw_path"], "/v1/services/a%2Fb%20c",
             "a name is escaped as one path segment")
    ctl.expect(["show", ".."], 4)
    check_eq(mock.requests()[-1]["raw_path"], "/v1/services/%2E%2E",
             "a name of dots is not a relative path")


def test_backends(ctl, mock):
    def one_request(args, rc, stdout, method, path, body, query=None,
                    stderr=""):
        n = len(mock.requests())
        ctl.expect(args, rc, stdout=stdout, stderr=stderr)
        reqs = mock.requests()[n:]
        check_eq([(r["method"], r["path"], r["query"], r["body"])
                  for r in reqs],
                 [(method, path, query or {}, body)],
                 "mslbctl %s: request" % " ".join(args))

    one_request(["backend", "add", "web", "--name", "s3", "--ip",
                 "198.18.1.13", "--mac", "02:00:00:00:01:13", "--port",
                 "8081", "--weight", "7", "--state", "drain"], 0,
                "backend s3 added to service web (generation 5, "
                "installed)\n",
                "POST", "/v1/services/web/backends",
                {"name": "s3", "ip": "198.18.1.13", "port": 8081,
                 "mac": "02:00:00:00:01:13", "weight": 7, "state": "drain"})
    one_request(["backend", "add", "web", "--name", "s4", "--ip",
                 "198.18.1.14", "--mac", "02:00:00:00:01:14", "--wait",
                 "0"], 0,
                "backend s4 added to service web (generation 6, not yet "
                "installed)\n",
                "POST", "/v1/services/web/backends",
                {"name": "s4", "ip": "198.18.1.14",
                 "mac": "02:00:00:00:01:14"}, {"wait": "0"})
    one_request(["backend", "drain", "web", "s1"], 0,
                "backend s1 of service web set to drain (generation 7, "
                "installed)\n",
                "PATCH", "/v1/services/web/backends/s1", {"state": "drain"})
    one_request(["backend", "down", "web", "s2"], 0,
                "backend s2 of service web set to down (generation 8, "
                "installed)\n",
                "PATCH", "/v1/services/web/backends/s2", {"state": "down"})
    one_request(["backend", "up", "web", "s3"], 0,
                "backend s3 of service web set to up (generation 9, "
                "installed)\n",
                "PATCH", "/v1/services/web/backends/s3", {"state": "up"})
    one_request(["backend", "weight", "web", "s3", "20"], 0,
                "backend s3 of service web set to weight 20 (generation 10, "
                "installed)\n",
                "PATCH", "/v1/services/web/backends/s3", {"weight": 20})
    one_request(["backend", "remove", "web", "s4"], 0,
                "backend s4 removed from service web (generation 11, "
                "installed)\n",
                "DELETE", "/v1/services/web/backends/s4", None)

    ctl.expect(["show", "web"], 0, stdout=lines(
        "name:      web",
        "vip:       198.18.0.100",
        "protocol:  tcp",
        "port:      80",
        "mode:      nat",
        "bridges:   br-lb",
        "backends:  3 (1 up)",
        "",
        "NAME  IP           PORT  MAC                WEIGHT  STATE",
        "s1    198.18.1.11  8080  02:00:00:00:01:11  10      drain",
        "s2    198.18.1.12  8080  02:00:00:00:01:12  5       down",
        "s3    198.18.1.13  8081  02:00:00:00:01:13  20      up"))

    # Refusals and unknowns.
    one_request(["backend", "weight", "web", "s1", "0"], 1, "",
                "PATCH", "/v1/services/web/backends/s1", {"weight": 0},
                stderr="mslbctl: weight: must be an integer from 1 to "
                "10000\n")
    one_request(["backend", "add", "web", "--name", "s1", "--ip",
                 "198.18.1.15", "--mac", "02:00:00:00:01:15"], 1, "",
                "POST", "/v1/services/web/backends",
                {"name": "s1", "ip": "198.18.1.15",
                 "mac": "02:00:00:00:01:15"},
                stderr='mslbctl: name: service "web" already has a '
                'backend named "s1"\n')
    one_request(["backend", "remove", "web", "nosuch"], 4, "",
                "DELETE", "/v1/services/web/backends/nosuch", None,
                stderr='mslbctl: no backend named "nosuch"\n')
    ctl.expect(["backend", "drain", "nosuch", "s1"], 4,
               stderr='mslbctl: no service named "nosuch"\n')

    # --json on a write: the server's answer.
    answer = json.loads(ctl.expect(["--json", "backend", "weight", "web",
                                    "s1", "3"], 0, stderr=""))
    check_eq((answer["generation"], answer["installed"],
              answer["backend"]["weight"]), (12, True, 3),
             "backend weight --json")


def test_replace_delete(ctl, mock, tmpdir):
    web2 = dict(WEB, backends=[WEB["backends"][0],
                               dict(WEB["backends"][1], weight=6)])
    f = os.path.join(tmpdir, "web2.json")
    with open(f, "w") as fh:
        json.dump(web2, fh)
    n = len(mock.requests())
    ctl.expect(["replace", "--file", f], 0, stderr="",
               stdout="service web replaced (generation 13, installed)\n")
    r = mock.requests()[n]
    check_eq((r["method"], r["path"], r["body"]),
             ("PUT", "/v1/services/web", web2), "replace: request")

    new = dict(WEB, name="web8080", port=8080, backends=[])
    f = os.path.join(tmpdir, "new.json")
    with open(f, "w") as fh:
        json.dump(new, fh)
    ctl.expect(["replace", "--file", f], 0,
               stdout="service web8080 created (generation 14, installed)\n")
    out = ctl.expect(["--json", "replace", "--file", f], 0)
    check_eq(json.loads(out)["generation"], 15, "replace --json")
    bad = dict(new, port=0)
    ctl.expect(["replace", "--file", "-"], 1, stdin=json.dumps(bad),
               stderr="mslbctl: port: must be an integer from 1 to 65535\n")

    n = len(mock.requests())
    ctl.expect(["delete", "web8080"], 0, stderr="",
               stdout="service web8080 deleted (generation 16, installed)\n")
    r = mock.requests()[n]
    check_eq((r["method"], r["path"], r["body"]),
             ("DELETE", "/v1/services/web8080", None), "delete: request")
    ctl.expect(["delete", "web8080"], 4,
               stderr='mslbctl: no service named "web8080"\n')
    ctl.expect(["--wait", "0", "--json", "delete", "api"], 0)
    check_eq(mock.requests()[-1]["query"], {"wait": "0"},
             "delete --wait 0: query")


def test_status_stats(ctl, mock):
    # The last write (--wait 0) is not installed: br-lb lags by one.
    out = ctl.expect(["status"], 0, stderr="")
    first, rest = out.split("\n", 1)
    check(first.startswith("mslbd degraded: generation 17, up ")
          and first.endswith(", bridges: 2 configured, 1 connected, "
                             "0 in step"), "status: health line", first)
    check_eq(rest, lines(
        "controller lb1: master (master lb1, role generation 3)",
        "",
        "NAME    CONNECTED  ROLE    DPID              OPENFLOW    DESIRED  "
        "INSTALLED  FLOWS  GROUPS",
        "br-lb   yes        master  00000a0000000001  OpenFlow15  17       "
        "16         14     2",
        "br-lb2  no         -       -                 -           17       "
        "-          -      -"), "status: bridges table")
    both = json.loads(ctl.expect(["status", "--json"], 0))
    check_eq((both["health"]["status"], both["health"]["generation"],
              [b["name"] for b in both["bridges"]],
              both["bridges"][0]["ports"][0]),
             ("degraded", 17, ["br-lb", "br-lb2"],
              {"name": "front", "number": 1}), "status --json")
    check_eq([(r["method"], r["path"]) for r in mock.requests()[-2:]],
             [("GET", "/v1/health"), ("GET", "/v1/bridges")],
             "status: requests")

    ctl.expect(["stats"], 0, stderr="", stdout=lines(
        "SERVICE  BACKEND  PACKETS  BYTES  REPLIES  SESSIONS  ACTIVE",
        "dns      (all)    100      6400   80       1         0",
        "dns      d1       100      6400   80       1         0",
        "web      (all)    300      19200  240      3         1",
        "web      s1       100      6400   80       1         0",
        "web      s2       200      12800  160      2         1"))
    ctl.expect(["stats", "dns"], 0, stdout=lines(
        "SERVICE  BACKEND  PACKETS  BYTES  REPLIES  SESSIONS  ACTIVE",
        "dns      (all)    100      6400   80       1         0",
        "dns      d1       100      6400   80       1         0"))
    check_eq(json.loads(ctl.expect(["--json", "stats"], 0))["generation"],
             17, "stats --json")
    check_eq(json.loads(ctl.expect(["--json", "stats", "dns"], 0)),
             {"name": "dns", "packets": 100, "bytes": 6400,
              "active_sessions": 0,
              "backends": [{"name": "d1", "packets": 100, "bytes": 6400,
                            "sessions": 1, "reply_packets": 80,
                            "active_sessions": 0}]}, "stats SVC --json")
    ctl.expect(["stats", "nosuch"], 4, stdout="",
               stderr='mslbctl: no service named "nosuch"\n')


def test_set(ctl, mock):
    # --set: any field of the body, JSON when it is JSON, else text; a
    # backend spec may leave "mac" to mslbd and name its host.
    n = len(mock.requests())
    ctl.expect(["create", "dsr", "--vip", "198.18.0.101", "--protocol",
                "tcp", "--port", "80", "--bridge", "br-lb", "--mode", "l3dsr",
                "--set", "dscp=12", "--set", "mss=1400",
                "--set", "distribution=3-tuple", "--set", "floating_ip=true",
                "--set", 'monitor={"type": "tcp", "interval": 1}',
                "--backend", "name=h1,ip=198.18.1.21,host=198.18.2.2,"
                "host_bridge=br-host"], 0, stderr="")
    body = mock.requests()[n]["body"]
    check_eq((body["mode"], body["dscp"], body["mss"], body["distribution"],
              body["floating_ip"], body["monitor"], body["backends"]),
             ("l3dsr", 12, 1400, "3-tuple", True,
              {"type": "tcp", "interval": 1},
              [{"name": "h1", "ip": "198.18.1.21", "host": "198.18.2.2",
                "host_bridge": "br-host"}]), "create --set: body")
    ctl.expect(["--json", "delete", "dsr"], 0)
    n = len(mock.requests())
    ctl.expect(["backend", "add", "web", "--name", "s9", "--ip",
                "198.18.1.19", "--set", "host=198.18.2.9",
                "--set", 'monitor={"port": 9090}'], 0, stderr="")
    body = mock.requests()[n]["body"]
    check_eq((body["host"], body["monitor"], "mac" in body),
             ("198.18.2.9", {"port": 9090}, False), "backend add --set: body")
    ctl.expect(["backend", "remove", "web", "s9"], 0)
    ctl.expect(["create", "x", "--vip", "198.18.0.102", "--protocol", "tcp",
                "--port", "80", "--bridge", "br-lb", "--set", "dscp"], 2,
               stdout="")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: test_mslbctl.py MSLBCTL")
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="test_mslbctl.") as tmpdir:
        mock = Mock(tmpdir)
        try:
            ctl = Ctl(binary, mock.url)
            test_usage(ctl, mock, tmpdir)
            test_unreachable(ctl, mock)
            test_auth(ctl, mock)
            test_create(ctl, mock, tmpdir)
            test_read(ctl, mock)
            test_backends(ctl, mock)
            test_replace_delete(ctl, mock, tmpdir)
            test_status_stats(ctl, mock)
            test_set(ctl, mock)
        finally:
            mock.stop()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
