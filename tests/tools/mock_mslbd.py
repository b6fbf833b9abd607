#!/usr/bin/env python3
"""A stand-in for mslbd's REST API, for testing clients (stdlib only).

Implements the /v1 contract of docs/cli.md and schemas/ over an in-memory
model: services and their backends, validated after docs/config.md
(unknown keys, ranges, duplicates) and stored with their defaults filled
in, listed by name; a generation that every write moves; two bridges
(br-lb connected, br-lb2 not); health and made-up stats.  Errors are
{"error": {"code", "message", "path"}}, the message naming the field as
mslbd's does ("backends[1].weight: must be ..."), with these statuses:
400 malformed_json, 401 unauthorized, 404 not_found, 405
method_not_allowed, 409 conflict, 415 unsupported_media_type, 422 invalid.

?wait=0 on a write answers at once with "installed": false (the switches
have not confirmed yet); any other wait answers "installed": true.

With --token, every /v1 request needs "Authorization: Bearer TOKEN".

Test hooks under /_mock/ (no token, not recorded):
  GET  /_mock/requests  every /v1 request so far: method, path (decoded),
                        raw_path, query, authorization, content_type,
                        body (JSON, raw text if not JSON, null if none)
  POST /_mock/next      {"status": N, "body": TEXT, "delay": SECONDS}
                        shapes the answer to the next /v1 request (each key
                        optional; "delay" alone just slows it down)

Listens on 127.0.0.1, on a free port that it writes to --port-file (written
whole, by rename, once the socket listens: its existence means "ready").
Exits by itself after --max-seconds.
"""

import argparse
import ipaddress
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,63}$")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
# The rest of the model's fields are passed through as given (mslbd
# checks them; this mock checks the ones its tests exercise).
SERVICE_EXTRA = ("idle_timeout", "persistence", "tunnel", "dscp", "mss",
                 "distribution", "floating_ip", "monitor", "outbound")
SERVICE_KEYS = ("name", "vip", "protocol", "port", "mode", "bridges",
                "backends") + SERVICE_EXTRA
BACKEND_EXTRA = ("host", "host_bridge", "monitor")
BACKEND_KEYS = ("name", "ip", "port", "mac", "weight", "state") \
    + BACKEND_EXTRA
STATES = ("up", "drain", "down")


class ApiError(Exception):
    def __init__(self, status, code, message, path=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path


def invalid(reason, path):
    """As mslbd says it: the message names the field, "path: reason"."""
    return ApiError(422, "invalid",
                    "%s: %s" % (path or "(top level)", reason), path)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_keys(obj, allowed, prefix):
    if not isinstance(obj, dict):
        raise invalid("must be an object", prefix.rstrip(".") or None)
    for key in obj:
        if key not in allowed:
            raise invalid("unknown key", prefix + key)


def check_backend(b, service_port, vip, prefix):
    """Returns backend 'b' validated and with its defaults filled."""
    check_keys(b, BACKEND_KEYS, prefix)
    for key in ("name", "ip"):
        if key not in b:
            raise invalid("is required", prefix + key)
    if not isinstance(b["name"], str) or not b["name"]:
        raise invalid("must be a non-empty string", prefix + "name")
    try:
        ip = ipaddress.IPv4Address(b["ip"])
    except (ValueError, TypeError):
        raise invalid("must be an IPv4 address", prefix + "ip")
    if vip is not None and ip == vip:
        raise invalid("must differ from the VIP", prefix + "ip")
    if "mac" in b and (not isinstance(b["mac"], str)
                       or not MAC_RE.match(b["mac"])):
        raise invalid("must be a MAC address", prefix + "mac")
    port = b.get("port", service_port)
    if not is_int(port) or not 1 <= port <= 65535:
        raise invalid("must be an integer from 1 to 65535", prefix + "port")
    weight = b.get("weight", 1)
    if not is_int(weight) or not 1 <= weight <= 10000:
        raise invalid("must be an integer from 1 to 10000", prefix + "weight")
    state = b.get("state", "up")
    if state not in STATES:
        raise invalid('must be "up", "drain" or "down"', prefix + "state")
    out = {"name": b["name"], "ip": str(ip), "port": port,
           "weight": weight, "state": state}
    if "mac" in b:
        out["mac"] = b["mac"].lower()
    out.update((k, b[k]) for k in BACKEND_EXTRA if k in b)
    return out


class Model:
    def __init__(self, token):
        self.lock = threading.Lock()
        self.token = token
        self.generation = 1
        self.installed = {"br-lb": 1}
        self.services = {}           # name -> SERVICE; listed by name
        self.requests = []
        self.next = None
        self.started = time.time()

    def check_service(self, s, path_name=None):
        check_keys(s, SERVICE_KEYS, "")
        if path_name is not None and "name" not in s:
            s = dict(s, name=path_name)
        for key in ("name", "vip", "protocol", "port", "bridges",
                    "backends"):
            if key not in s:
                raise invalid("is required", key)
        if not isinstance(s["name"], str) or not NAME_RE.match(s["name"]):
            raise invalid("must be 1 to 63 of A-Za-z0-9._-", "name")
        if path_name is not None and s["name"] != path_name:
            raise invalid("does not match the URL", "name")
        try:
            vip = ipaddress.IPv4Address(s["vip"])
        except (ValueError, TypeError):
            raise invalid("must be an IPv4 address", "vip")
        if s["protocol"] not in ("tcp", "udp"):
            raise invalid('must be "tcp" or "udp"', "protocol")
        if not is_int(s["port"]) or not 1 <= s["port"] <= 65535:
            raise invalid("must be an integer from 1 to 65535", "port")
        mode = s.get("mode", "nat")
        if mode not in ("nat", "dr", "tun", "l3dsr", "mslb", "local", "slb"):
            raise invalid("must be one of nat, dr, tun, l3dsr, mslb, local, "
                          "slb", "mode")
        bridges = s["bridges"]
        if not isinstance(bridges, list) or not bridges:
            raise invalid("must be a list of 1 or more bridge names",
                          "bridges")
        for i, br in enumerate(bridges):
            if br not in ("br-lb", "br-lb2"):
                raise invalid("no such bridge", "bridges[%d]" % i)
        if not isinstance(s["backends"], list):
            raise invalid("must be a list", "backends")
        if len(s["backends"]) > 1024:
            raise invalid("at most 1024 backends", "backends")
        backends, names = [], set()
        for i, b in enumerate(s["backends"]):
            b = check_backend(b, s["port"], vip, "backends[%d]." % i)
            if b["name"] in names:
                raise invalid("duplicate backend name",
                              "backends[%d].name" % i)
            names.add(b["name"])
            backends.append(b)
        out = {"name": s["name"], "vip": str(vip),
               "protocol": s["protocol"], "port": s["port"], "mode": mode,
               "bridges": list(bridges), "backends": backends}
        out.update((k, s[k]) for k in SERVICE_EXTRA if k in s)
        return out

    def check_unique(self, service):
        key = (service["vip"], service["protocol"], service["port"])
        for other in self.services.values():
            other_key = (other["vip"], other["protocol"], other["port"])
            if other["name"] != service["name"] and other_key == key:
                raise ApiError(409, "conflict",
                               "duplicate virtual service (same vip, "
                               'protocol and port as service "%s")'
                               % other["name"], None)

    def sorted_services(self):
        return [self.services[n] for n in sorted(self.services)]

    def service(self, name):
        if name not in self.services:
            raise ApiError(404, "not_found", 'no service named "%s"' % name)
        return self.services[name]

    def backend(self, service, name):
        for b in service["backends"]:
            if b["name"] == name:
                return b
        raise ApiError(404, "not_found", 'no backend named "%s"' % name)

    def commit(self, wait):
        """A write happened: a new generation, installed unless wait=0."""
        self.generation += 1
        installed = wait != 0
        if installed:
            self.installed["br-lb"] = self.generation
        return {"generation": self.generation, "installed": installed}

    def bridges(self):
        gen = self.generation
        n = sum(1 for s in self.services.values() if "br-lb" in s["bridges"])
        return [
            {"name": "br-lb", "configured": True, "connected": True,
             "datapath_id": "00000a0000000001",
             "openflow_version": "OpenFlow15", "role": "first",
             "openflow_role": "master", "master": "lb1",
             "ports": [{"name": "front", "number": 1},
                       {"name": "back", "number": 2}],
             "desired_generation": gen,
             "installed_generation": self.installed["br-lb"],
             "flows": 6 + 4 * n, "groups": n},
            {"name": "br-lb2", "configured": True, "connected": False,
             "datapath_id": None, "openflow_version": None, "role": "first",
             "openflow_role": None, "master": "lb1",
             "ports": [], "desired_generation": gen,
             "installed_generation": None, "flows": None, "groups": None},
        ]

    def health(self):
        bridges = self.bridges()
        connected = sum(1 for b in bridges if b["connected"])
        in_step = sum(1 for b in bridges if b["connected"]
                      and b["installed_generation"] == b["desired_generation"])
        return {"status": "ok" if in_step == len(bridges) else "degraded",
                "generation": self.generation,
                "uptime_seconds": round(time.time() - self.started, 3),
                "bridges": {"configured": len(bridges),
                            "connected": connected, "in_step": in_step},
                "controller": {"name": "lb1", "role": "master",
                               "master": "lb1", "role_generation": 3}}

    def stats(self):
        """Made-up but stable counters: backend i of a service has been
        sent 100*(i+1) packets of 64 bytes, answered 80*(i+1), had i+1
        sessions and holds i open."""
        out = []
        for s in self.sorted_services():
            backends = []
            for i, b in enumerate(s["backends"]):
                packets = 100 * (i + 1)
                backends.append({"name": b["name"], "packets": packets,
                                 "bytes": 64 * packets, "sessions": i + 1,
                                 "reply_packets": 80 * (i + 1),
                                 "active_sessions": i})
            out.append({"name": s["name"],
                        "packets": sum(b["packets"] for b in backends),
                        "bytes": sum(b["bytes"] for b in backends),
                        "active_sessions": sum(b["active_sessions"]
                                               for b in backends),
                        "backends": backends})
        return {"generation": self.generation, "services": out}

    def handle(self, method, parts, query, body):
        """Returns (status, answer) or raises ApiError."""
        wait = 5
        if "wait" in query:
            try:
                wait = int(query["wait"][-1])
                if not 0 <= wait <= 300:
                    raise ValueError
            except ValueError:
                raise invalid("must be an integer from 0 to 300", "wait")
        if parts == ["health"]:
            allow(method, "GET")
            return 200, self.health()
        if parts == ["bridges"]:
            allow(method, "GET")
            return 200, {"bridges": self.bridges()}
        if parts == ["stats"]:
            allow(method, "GET")
            return 200, self.stats()
        if parts == ["services"]:
            allow(method, "GET", "POST")
            if method == "GET":
                return 200, {"generation": self.generation,
                             "services": self.sorted_services()}
            service = self.check_service(body)
            if service["name"] in self.services:
                raise ApiError(409, "conflict",
                               'name: a service named "%s" already exists'
                               % service["name"], "name")
            self.check_unique(service)
            self.services[service["name"]] = service
            return 201, dict(self.commit(wait), service=service)
        if len(parts) == 2 and parts[0] == "services":
            allow(method, "GET", "PUT", "DELETE")
            name = parts[1]
            if method == "GET":
                return 200, self.service(name)
            if method == "PUT":
                service = self.check_service(body, name)
                self.check_unique(service)
                status = 200 if name in self.services else 201
                self.services[name] = service
                return status, dict(self.commit(wait), service=service)
            self.service(name)
            del self.services[name]
            return 200, self.commit(wait)
        backends = len(parts) >= 3 and parts[0] == "services" \
            and parts[2] == "backends"
        if len(parts) == 3 and backends:
            allow(method, "POST")
            service = self.service(parts[1])
            b = check_backend(body, service["port"],
                              ipaddress.IPv4Address(service["vip"]), "")
            if any(x["name"] == b["name"] for x in service["backends"]):
                raise ApiError(409, "conflict",
                               'name: service "%s" already has a backend '
                               'named "%s"' % (service["name"], b["name"]),
                               "name")
            service["backends"].append(b)
            return 201, dict(self.commit(wait), backend=b)
        if len(parts) == 4 and backends:
            allow(method, "GET", "PATCH", "DELETE")
            service = self.service(parts[1])
            b = self.backend(service, parts[3])
            if method == "GET":
                return 200, b
            if method == "DELETE":
                service["backends"].remove(b)
                return 200, self.commit(wait)
            check_keys(body, ("weight", "state"), "")
            if not body:
                raise ApiError(422, "invalid", "must set weight or state")
            if "weight" in body and (not is_int(body["weight"])
                                     or not 1 <= body["weight"] <= 10000):
                raise invalid("must be an integer from 1 to 10000", "weight")
            if "state" in body and body["state"] not in STATES:
                raise invalid('must be "up", "drain" or "down"', "state")
            b.update(body)
            return 200, dict(self.commit(wait), backend=b)
        raise ApiError(404, "not_found", "no such resource")


def allow(method, *methods):
    if method not in methods:
        raise ApiError(405, "method_not_allowed",
                       "%s is not allowed here" % method)


class Handler(BaseHTTPRequestHandler):
    server_version = "mock_mslbd"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        self.send_text(status, json.dumps(obj))

    def send_text(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else None

    def dispatch(self):
        model = self.server.model
        url = urllib.parse.urlsplit(self.path)
        raw = self.read_body()

        if url.path.startswith("/_mock/"):
            with model.lock:
                if url.path == "/_mock/requests":
                    return self.send_json(200, model.requests)
                if url.path == "/_mock/next" and self.command == "POST":
                    model.next = json.loads(raw or "{}")
                    return self.send_json(200, {})
            return self.send_json(404, {})

        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            body = json.loads(raw) if raw is not None else None
        except ValueError:
            body = raw
        with model.lock:
            model.requests.append({
                "method": self.command, "path": "/" + "/".join(parts),
                "raw_path": url.path,
                "query": {k: v[-1] for k, v in query.items()},
                "authorization": self.headers.get("Authorization"),
                "content_type": self.headers.get("Content-Type"),
                "body": body})
            shape, model.next = model.next, None
        if shape:
            time.sleep(shape.get("delay", 0))
            if "status" in shape:
                return self.send_text(shape["status"], shape.get("body", ""))

        try:
            if model.token is not None and self.headers.get(
                    "Authorization") != "Bearer " + model.token:
                raise ApiError(401, "unauthorized",
                               "missing or wrong bearer token")
            if not parts or parts[0] != "v1":
                raise ApiError(404, "not_found", "no such resource")
            if self.command in ("POST", "PUT", "PATCH"):
                if raw is None or not (self.headers.get("Content-Type", "")
                                       .startswith("application/json")):
                    raise ApiError(415, "unsupported_media_type",
                                   "expected a JSON body")
                if isinstance(body, str):
                    raise ApiError(400, "malformed_json",
                                   "the body is not JSON")
            with model.lock:
                status, answer = model.handle(self.command, parts[1:], query,
                                              body)
            self.send_json(status, answer)
        except ApiError as e:
            self.send_json(e.status, {"error": {
                "code": e.code, "message": e.message, "path": e.path}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.model = Model(args.token)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)

    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
