#!/usr/bin/env python3
"""Writes docs/api.md, the REST API reference, from schemas/*.schema.json.

The table ENDPOINTS below is the contract: every method and path, its
request body and its responses.  The field tables come from the schemas'
"description"s and constraints, so the reference cannot drift from what
the contract says; tests/api_doc_check.sh fails when docs/api.md is not what
this script writes, and tests/unit/test_schema_contract.py checks mslbd's own
validator (the model's rules) against the schemas.  Every JSON example is
preceded by a line <!-- example: NAME.schema.json --> naming its schema.

    scripts/gen-api-doc.py [--output FILE|-]     (default: docs/api.md)

Python 3 standard library only.
"""

import argparse
import copy
import json
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.path.join(TOP, "schemas")

# method, path, request body schema (or None), responses, summary.
# A response is (status, body schema or None, when); error statuses carry
# the error body.  Statuses every endpoint may answer (401, 405, 413, 415,
# 400, 500, 503) are in COMMON_ERRORS, not repeated here.
ENDPOINTS = [
    ("GET", "/v1/health", None,
     [(200, "health", "always, while mslbd answers")],
     "Whether mslbd's bridges are connected and in step.  The status code "
     "is 200 even when `status` is `degraded`: mslbd itself is up."),
    ("GET", "/v1/services", None,
     [(200, "service-list", "")],
     "Every service, sorted by name, with the generation they belong to."),
    ("POST", "/v1/services", "service",
     [(201, "write-result", "created; `service` is the service as stored"),
      (409, "error", "a service of that name, or of that `(vip, protocol, "
       "port)`, exists"),
      (422, "error", "the body breaks the schema or a rule of the model "
       "(e.g. a bridge that does not exist, an IPv6 VIP)")],
     "Adds a service."),
    ("GET", "/v1/services/{name}", None,
     [(200, "service", ""),
      (404, "error", "no such service")],
     "One service."),
    ("PUT", "/v1/services/{name}", "service",
     [(200, "write-result", "replaced; `service` is the service as stored"),
      (201, "write-result", "created; `service` is the service as stored"),
      (409, "error", "another service has that `(vip, protocol, port)`"),
      (422, "error", "the body breaks the schema or a rule of the model, or "
       "its `name` is not `{name}`")],
     "Creates the service or replaces it whole (backends included)."),
    ("DELETE", "/v1/services/{name}", None,
     [(200, "write-result", "removed"),
      (404, "error", "no such service")],
     "Removes a service and its flows."),
    ("POST", "/v1/services/{name}/backends", "backend",
     [(201, "write-result", "added; `backend` is the backend as stored"),
      (404, "error", "no such service"),
      (409, "error", "the service has a backend of that name, or of that "
       "address and port"),
      (422, "error", "the body breaks the schema or a rule of the model "
       "(e.g. an address of the other family than the VIP's, 1025 "
       "backends)")],
     "Adds a backend to a service."),
    ("GET", "/v1/services/{name}/backends/{backend}", None,
     [(200, "backend", ""),
      (404, "error", "no such service or backend")],
     "One backend."),
    ("PATCH", "/v1/services/{name}/backends/{backend}", "backend-patch",
     [(200, "write-result", "changed; `backend` is the backend as stored"),
      (404, "error", "no such service or backend"),
      (422, "error", "the body breaks the schema")],
     "Changes a backend's weight or state in place: `drain` it before "
     "maintenance, `up` after."),
    ("DELETE", "/v1/services/{name}/backends/{backend}", None,
     [(200, "write-result", "removed"),
      (404, "error", "no such service or backend")],
     "Removes a backend from its service.  To let its sessions finish "
     "first, set its state to `drain` and wait."),
    ("GET", "/v1/bridges", None,
     [(200, "bridge-list", "")],
     "The status of every configured bridge, and of connected switches that "
     "the model does not name."),
    ("GET", "/v1/bridges/{name}", None,
     [(200, "bridge-status", ""),
      (404, "error", "neither configured nor connected")],
     "One bridge's status."),
    ("PUT", "/v1/bridges/{name}", "bridge",
     [(200, "write-result", "replaced; `bridge` is the bridge as stored"),
      (201, "write-result", "created; `bridge` is the bridge as stored"),
      (409, "error", "another bridge has that `datapath_id`"),
      (422, "error", "the body breaks the schema, or its `name` is not "
       "`{name}`")],
     "Creates a bridge's configuration or replaces it whole."),
    ("DELETE", "/v1/bridges/{name}", None,
     [(200, "write-result", "removed: mslb deletes its flows from the "
       "switch"),
      (404, "error", "no such bridge"),
      (409, "error", "services still use it")],
     "Removes a bridge from the model."),
    ("GET", "/v1/bgp", None,
     [(200, "bgp", "mslbd runs a BGP speaker (`--bgp FILE`)"),
      (404, "error", "it does not")],
     "The VIPs announced by BGP and the speaker's sessions "
     "(docs/bgp.md)."),
    ("GET", "/v1/snat", None,
     [(200, "snat", "")],
     "Outbound SNAT of mode slb: each host's port blocks and how often "
     "they ran out (docs/slb.md)."),
    ("GET", "/v1/stats", None,
     [(200, "stats", "")],
     "Traffic counters per service and backend: packets and bytes each "
     "way, new and open sessions, rates; totals that only grow (see "
     "[Statistics](#statistics-semantics) below)."),
    ("GET", "/metrics", None,
     [(200, None, "Prometheus text exposition format, `Content-Type: "
       "text/plain; version=0.0.4`")],
     "Counters of `/v1/stats` and the bridges' state, for Prometheus."),
]

# Text after a group's endpoints.
GROUP_NOTES = {
    "Statistics": """\
<a id="statistics-semantics"></a>
### What the counters count

mslbd reads the counters of the flows that are each backend's own
(docs/pipeline.md), so a change of the slot table (backends added or
removed, weights, drains) never moves counts between backends. A
service's `packets` and `bytes` are its CLASSIFY flows' on its
first-stage bridges (the clients' packets, counted once):

| mode | `packets`, `bytes` | `sessions` | `reply_*` | `active_sessions` |
|---|---|---|---|---|
| nat | NAT_OUT flows of the backend's endpoint (address, protocol, port; shared by services that share it) | its NAT_OUT flow for a session's first packet (`ct_state=+new`) | its CLASSIFY flow for replies | conntrack of the switch beside mslbd (`OVS_RUNDIR`), read through ovs-vswitchd's control socket, when it has every bridge of the service: entries to VIP:port translated to the backend, TCP not in TIME_WAIT or CLOSED; else TCP: estimated as in the DSR modes (NAT_OUT's priority-102 copies for the clients' FINs and RSTs), UDP: null |
| dr, tun, l3dsr, mslb, slb | DSR_FORWARD flows of the service with the backend in reg1 (a tunnel's first pass; health probes included) | TCP SYNs (DSR_FORWARD's priority-101 copies) | a backend behind a final stage (`host_bridge`: mslb, slb, l3dsr): its answers on that bridge (from VIP:port with its MAC, priority 160; on an slb host after conntrack); else null: the answers do not pass the balancer | TCP: estimated, see below; UDP: null |

Totals only grow: a flow the switch replaced (a new MAC, a restarted
ovs-vswitchd: its counters start from zero) adds what it had counted when
last read (counts between that read and the replacement are lost; read
more often to lose less). Counts lag the switch by up to a second (its
datapath flows' statistics, which it credits to the rules a flow takes at
its next pass: packets of the last second before a change of the slot
table may be counted to the backend the change gives their flow). `rates`
are per second since the reference read, the last read at least a second
older (null on the first read).
Open nat sessions are counted from conntrack only for services whose
bridges are all on the switch mslbd runs beside (`conntrack.error` says
why it could not be read).

The DSR modes keep no state per session (that is their connection rate)
and see only the clients' packets, so a TCP backend's open sessions are an
estimate from its own counters (in mode nat too, where the switch's
conntrack cannot be read): the sessions it was given (the clients'
SYNs) less those the clients closed (their FINs and RSTs, DSR_FORWARD's
priority-102 copies) and those mslbd reset for a failed backend
(`"sessions": "reset"`). mslbd carries the estimate from one read to the
next and never lets it fall below 0, so a close counted twice (a FIN and
then an RST, a FIN sent again) takes nothing from later sessions; and it
is 0 once the backend's packet count, as mslbd's reads see it, stood
still for the service's `idle_timeout` (the time after which the balancer
forgets a session's affinity too), since a session the client abandons or
the server resets is never seen to close; a Prometheus scrape reads often
enough for that. A SYN sent again counts twice until the session closes.

""".splitlines(),
}

GROUPS = [
    ("Health", ["/v1/health"]),
    ("Services", ["/v1/services", "/v1/services/{name}"]),
    ("Backends", ["/v1/services/{name}/backends",
                  "/v1/services/{name}/backends/{backend}"]),
    ("Bridges", ["/v1/bridges", "/v1/bridges/{name}"]),
    ("BGP", ["/v1/bgp"]),
    ("Outbound SNAT", ["/v1/snat"]),
    ("Statistics", ["/v1/stats", "/metrics"]),
]

# code, status, when.
ERROR_CODES = [
    ("malformed_json", 400, "the body is not JSON (or not UTF-8)"),
    ("bad_request", 400, "malformed HTTP: a bad request line or header "
     "line, a line not ended by CRLF, a target that is not a path, a bad "
     "or repeated `Content-Length`, no `Host` (or two) in HTTP/1.1"),
    ("timeout", 408, "the request head was not complete 10 seconds after "
     "connecting"),
    ("length_required", 411, "a body sent with `Transfer-Encoding` instead "
     "of a `Content-Length`"),
    ("uri_too_long", 414, "a request line over 2048 bytes"),
    ("headers_too_large", 431, "a request head over 8192 bytes"),
    ("http_version_not_supported", 505, "an HTTP version other than 1.0 "
     "and 1.1"),
    ("unauthorized", 401, "mslbd has a token and the request does not carry "
     "it as `Authorization: Bearer TOKEN`; the answer has "
     "`WWW-Authenticate: Bearer`"),
    ("not_found", 404, "no such resource, or no such path"),
    ("method_not_allowed", 405, "the path exists but not with this method; "
     "the `Allow` header lists those that do"),
    ("conflict", 409, "the change clashes with what exists: a duplicate "
     "name or key, or a bridge that services still use; also a change "
     "whose object kept changing under concurrent writers (retried a few "
     "times first), or one the database refused (an index or a reference); "
     "nothing changed"),
    ("payload_too_large", 413, "the body is over 1 MiB (1048576 bytes), "
     "as sent or as announced by `Content-Length` (then refused before it "
     "is read)"),
    ("unsupported_media_type", 415, "a body whose `Content-Type` is not "
     "the media type `application/json`"),
    ("invalid", 422, "the body breaks its schema or a rule of the model; "
     "`path` names the field (or the query parameter)"),
    ("internal", 500, "mslbd failed; nothing changed"),
    ("unavailable", 503, "mslbd cannot serve the request now: too many "
     "open connections (from this address), or the model's database is "
     "not reachable (a write then changes nothing); retry later"),
]

COMMON_ERRORS = [400, 401, 405, 408, 414, 422, 431, 500, 503, 505]
BODY_ERRORS = [411, 413, 415]

REASONS = {
    200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    409: "Conflict", 411: "Length Required", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# name, type, labels, meaning: what restapi/rest.c serves.
METRICS = [
    ("mslb_build_info", "gauge", "version",
     "always 1; `version` is mslb's (`mslbd --version`)"),
    ("mslb_controller_master", "gauge", "name",
     "1 while this mslbd (`name`, `--name`) is master of the bridges, "
     "else 0 (docs/deployment.md)"),
    ("mslb_generation", "gauge", "", "the current model's generation"),
    ("mslb_services", "gauge", "", "virtual services in the model"),
    ("mslb_bridge_connected", "gauge", "bridge",
     "1 while the bridge is connected over OpenFlow, else 0"),
    ("mslb_bridge_installed_generation", "gauge", "bridge",
     "the last generation the bridge confirmed (0: none yet), as this "
     "mslbd knows it: from the switch as its master, from the master's "
     "Bridge_Status as a standby"),
    ("mslb_pmtu_answers_total", "counter", "kind",
     "oversized packets of modes tun and mslb: `icmp4`, `icmp6` (answered), "
     "`fragmented`, `limited` (over the rate limit), `ignored` "
     "(see docs/mtu.md)"),
    ("mslb_mss_syns_total", "counter", "result",
     "SYNs of services with `mss`: `clamped` (MSS option lowered) or "
     "`unchanged` (already small enough, or no option)"),
    ("mslb_fragments_total", "counter", "",
     "fragments to VIPs that the controller kept together (docs/mtu.md)"),
    ("mslb_fragmented_datagrams_total", "counter", "result",
     "datagrams in fragments to VIPs: `forwarded` (to a service), "
     "`switched` (no service: unchanged), `answered` (echo requests), "
     "`dropped` (malformed, no backend, over a limit), `expired` (not whole "
     "in time)"),
    ("mslb_service_packets_total", "counter", "service",
     "packets clients sent to the service"),
    ("mslb_service_bytes_total", "counter", "service",
     "bytes clients sent to the service"),
    ("mslb_backend_packets_total", "counter", "service, backend, direction",
     "packets to the backend (`direction=\"request\"`) and, in mode nat, "
     "from it (`\"reply\"`)"),
    ("mslb_backend_bytes_total", "counter", "service, backend, direction",
     "bytes to the backend and, in mode nat, from it"),
    ("mslb_backend_sessions_total", "counter", "service, backend",
     "new sessions given to the backend (DSR modes: TCP connections)"),
    ("mslb_backend_active_sessions", "gauge", "service, backend",
     "sessions open with the backend: mode nat, from the local switch's "
     "conntrack (absent where unknown)"),
]


def fail(msg):
    sys.exit("gen-api-doc.py: " + msg)


def load_schemas():
    schemas = {}
    for fn in sorted(os.listdir(SCHEMA_DIR)):
        if fn.endswith(".schema.json"):
            with open(os.path.join(SCHEMA_DIR, fn)) as f:
                schemas[fn[:-len(".schema.json")]] = json.load(f)
    return schemas


class Doc:
    def __init__(self, schemas, examples):
        self.schemas = schemas
        self.examples = examples
        self.out = []

    def w(self, text=""):
        self.out.append(text)

    # Schemas.

    def resolve(self, ref, base):
        """Returns (schema name or None if a shared definition, schema)."""
        fn, _, frag = ref.partition("#")
        name = fn[:-len(".schema.json")] if fn else base
        node = self.schemas[name]
        for tok in frag.split("/")[1:]:
            node = node[tok.replace("~1", "/").replace("~0", "~")]
        return (name if not frag else None), name, node

    def expand(self, node, base):
        """Merges shared definitions ($ref with a pointer) into 'node';
        leaves whole-file refs, which are bodies of their own."""
        while "$ref" in node:
            body, base2, target = self.resolve(node["$ref"], base)
            if body:
                return node, base
            merged = dict(target)
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            node, base = merged, base2
        return node, base

    def body_link(self, name):
        return "[%s](#body-%s)" % (name, name)

    def type_of(self, node, base):
        node, base = self.expand(node, base)
        if "$ref" in node:
            return self.body_link(self.resolve(node["$ref"], base)[1])
        t = node.get("type")
        if t is None and "enum" in node:
            t = sorted({type_name(v) for v in node["enum"]})
        types = t if isinstance(t, list) else [t] if t else ["any"]
        words = []
        for x in types:
            if x == "array" and "items" in node:
                words.append("array of " + self.type_of(node["items"], base))
            else:
                words.append(x)
        return " or ".join(words)

    def constraints(self, node, base):
        node, base = self.expand(node, base)
        c = []
        if "enum" in node:
            c.append(or_list(["`%s`" % json.dumps(v) for v in node["enum"]]))
        if "const" in node:
            c.append("`%s`" % json.dumps(node["const"]))
        if "format" in node:
            c.append(FORMATS[node["format"]])
        lo, hi = node.get("minLength"), node.get("maxLength")
        if lo is not None and hi is not None:
            c.append("%d-%d characters" % (lo, hi))
        elif lo is not None:
            c.append("at least %d characters" % lo)
        elif hi is not None:
            c.append("at most %d characters" % hi)
        if "pattern" in node and "format" not in node:
            c.append("pattern `%s`" % node["pattern"])
        lo, hi = node.get("minimum"), node.get("maximum")
        if lo is not None and hi is not None:
            c.append("%s-%s" % (lo, hi))
        elif lo is not None:
            c.append(">= %s" % lo)
        elif hi is not None:
            c.append("<= %s" % hi)
        lo, hi = node.get("minItems"), node.get("maxItems")
        if lo is not None:
            c.append("at least %d item%s" % (lo, "" if lo == 1 else "s"))
        if hi is not None:
            c.append("at most %d item%s" % (hi, "" if hi == 1 else "s"))
        if node.get("uniqueItems"):
            c.append("no duplicates")
        if "items" in node:
            items, _ = self.expand(node["items"], base)
            if "$ref" not in items and items.get("type") != "object":
                sub = self.constraints(items, base)
                if sub:
                    c.append("each: " + sub)
        return "; ".join(c)

    def rows(self, node, base, prefix, rows):
        node, base = self.expand(node, base)
        required = node.get("required", [])
        for key, prop in node.get("properties", {}).items():
            name = prefix + key
            if "description" not in prop:
                fail("%s.schema.json: %s has no description" % (base, name))
            full, _ = self.expand(prop, base)
            rows.append((name, self.type_of(prop, base),
                         "yes" if key in required else "no",
                         self.constraints(prop, base), prop["description"]))
            if full.get("type") == "object" and "properties" in full:
                self.rows(full, base, name + ".", rows)
            items = full.get("items")
            if items is not None:
                items, _ = self.expand(items, base)
                if "$ref" not in items and "properties" in items:
                    self.rows(items, base, name + "[].", rows)
        return rows

    def field_table(self, name):
        schema = self.schemas[name]
        self.w("| field | type | required | constraints | description |")
        self.w("|---|---|---|---|---|")
        for row in self.rows(schema, name, "", []):
            self.w("| `%s` | %s | %s | %s | %s |" % tuple(
                cell(x) for x in row))
        notes = []
        if "minProperties" in schema:
            notes.append("At least %d of these members."
                         % schema["minProperties"])
        if notes:
            self.w()
            self.w(" ".join(notes))

    def example(self, schema_name, value):
        self.w("<!-- example: %s.schema.json -->" % schema_name)
        self.w("```json")
        self.w(pretty(value))
        self.w("```")

    # Sections.

    def header(self):
        self.w("# REST API")
        self.w()
        self.w("<!-- Generated by scripts/gen-api-doc.py from schemas/; do "
               "not edit. -->")
        self.w()
        self.w("mslbd serves a JSON API over HTTP to read and change the "
               "model (the same bridges, services and backends as the "
               "configuration file, see [config.md](config.md)) and to see "
               "whether the switches have it.  Every body has a JSON Schema "
               "in `schemas/` (draft 2020-12), the contract this page is "
               "generated from; mslbd checks requests with the model's own "
               "rules, the same for the configuration file and for rows "
               "written to the database directly, and a test keeps the two "
               "in step (every body a schema refuses, mslbd refuses).  "
               "The model lives in an OVSDB database "
               "([database.md](database.md)): a write is one database "
               "transaction.")
        self.w()

    def summary(self):
        self.w("## Endpoints")
        self.w()
        self.w("| method | path | request body | answers |")
        self.w("|---|---|---|---|")
        for method, path, body, responses, _ in ENDPOINTS:
            self.w("| %s | [`%s`](#%s) | %s | %s |" % (
                method, path, anchor(method, path),
                self.body_link(body) if body else "",
                ", ".join(str(s) for s, _, _ in responses)))
        self.w()

    def conventions(self):
        allow = {}
        for method, path, _, _, _ in ENDPOINTS:
            allow.setdefault(path, []).append(method)
        self.w("## Conventions")
        self.w()
        self.w("**Requests.** A request with a body must say "
               "`Content-Type: application/json`, matched as a media type: "
               "type and subtype in any case, optional parameters (a "
               "`charset` must be `utf-8`); `application/jsonx`, "
               "`text/json` and the like get 415.  The body must have a "
               "`Content-Length` of at most 1 MiB (else 413, answered "
               "before the body is read; `Transfer-Encoding`: 411).  Bodies "
               "are validated whole before "
               "anything changes: a request is applied entirely or not at "
               "all.  Unknown keys are errors, as in the configuration file.")
        self.w()
        self.w("**Paths** are matched on their raw segments, as sent: "
               "mslbd decodes nothing.  Path parameters are names as in the "
               "bodies (`A-Z a-z 0-9 . _ -`, at most 63 characters, not `.` "
               "or `..`); a segment with anything else, a percent-encoding "
               "included (`web%00x`, `%2F`, `%77eb`), an empty segment (`//`, "
               "a trailing `/`) or `.`/`..` names no resource: 404 "
               "`not_found`, never another resource.")
        self.w()
        self.w("**Query.** The only query parameter is `wait` (see "
               "Writes), given at most once; any other parameter, on any "
               "method, is a 422 `invalid` error whose `path` is its name "
               "as sent.  The query is not decoded either.")
        self.w()
        self.w("**Authentication.** When mslbd is given a token, every "
               "request must carry it: `Authorization: Bearer TOKEN` "
               "(else 401 `unauthorized`).")
        self.w()
        self.w("**Writes** (POST, PUT, PATCH, DELETE) commit a new model "
               "generation (one database transaction; writes that arrive "
               "together may share one, and a write that another changed "
               "first is computed again from the new model), then wait for the switches to confirm it (an "
               "OpenFlow barrier after the flow changes) for up to `?wait="
               "SECONDS`: 5 by default, `wait=0` answers at once.  The "
               "answer, a [write-result](#body-write-result), says "
               "`installed: true` if every bridge concerned confirmed in "
               "time, `installed: false` otherwise; either way the change is "
               "committed and will be installed, and its `generation` is "
               "the one to poll for: `GET /v1/bridges` shows each bridge's "
               "`installed_generation`.  `wait` is 1 to 3 decimal digits "
               "with a value from 0 to 300 (reads accept and ignore it); "
               "anything else (`wait=`, `wait`, `wait=+1`, `wait=01x`, "
               "`wait=%31`, or `wait` twice) is a 422 `invalid` error whose "
               "`path` is `wait`.")
        self.w()
        self.w("**The HTTP edge.** Every error, malformed HTTP included, is "
               "answered with the [error](#body-error) body below.  Each "
               "connection carries one request (answers say `Connection: "
               "close`).  A client address may hold 32 connections at once "
               "and all clients together 512; beyond that a new connection "
               "is answered 503 `unavailable` at once and closed, so idle "
               "connections from one address cannot lock others out.  The "
               "request head (request line and headers) must be complete "
               "within 10 seconds of connecting, however slowly it "
               "trickles in (else 408 `timeout`), be at most 8192 bytes "
               "(else 431), with a request line of at most 2048 bytes "
               "(else 414); HTTP/1.0 and 1.1 only (else 505).  A body "
               "upload that stalls for 30 seconds is dropped.  Methods are "
               "case-sensitive: any other method gets 405 on a path that "
               "exists.  Over HTTPS, mslbd cannot look at a request head "
               "before libmicrohttpd does: the limits, `Content-Length` "
               "(413) and `Transfer-Encoding` (411) checks hold, but a "
               "malformed request line or header may get libmicrohttpd's "
               "own answer.")
        self.w()
        self.w("**Errors** have a status code and an [error](#body-error) "
               "body whose `code` is one of:")
        self.w()
        self.w("| status | `code` | when |")
        self.w("|---|---|---|")
        for code, status, when in sorted(ERROR_CODES, key=lambda e: e[1]):
            self.w("| %d %s | `%s` | %s |" % (status, REASONS[status], code,
                                               cell(when)))
        self.w()
        self.w("Besides the answers listed for each endpoint, any request "
               "may get %s, and a request with a body %s."
               % (or_list(COMMON_ERRORS), or_list(BODY_ERRORS)))
        self.w()
        self.w("For example, `PATCH /v1/services/web/backends/s1` with "
               "`{\"weight\": 0}`:")
        self.w()
        self.w("`422 Unprocessable Content`")
        self.w()
        self.example("error", {"error": {
            "code": "invalid",
            "message": "weight: must be an integer from 1 to 10000",
            "path": "weight"}})
        self.w()
        self.w("and `DELETE /v1/services` (a path that only reads and "
               "creates):")
        self.w()
        self.w("```http")
        self.w("HTTP/1.1 405 Method Not Allowed")
        self.w("Allow: %s" % ", ".join(allow["/v1/services"]))
        self.w("```")
        self.w()
        self.example("error", {"error": {
            "code": "method_not_allowed",
            "message": "method not allowed on this resource",
            "path": None}})
        self.w()

    def endpoint(self, method, path, body, responses, summary):
        self.w('### %s `%s` <a id="%s"></a>' % (method, path,
                                                 anchor(method, path)))
        self.w()
        self.w(summary)
        self.w()
        if body:
            self.w("Request body: %s" % self.body_link(body))
            self.w()
            self.field_table(body)
            self.w()
        self.w("| status | body | when |")
        self.w("|---|---|---|")
        for status, rbody, when in responses:
            self.w("| %d %s | %s | %s |" % (
                status, REASONS[status],
                self.body_link(rbody) if rbody else "text", cell(when)))
        self.w()
        ex = self.examples.get((method, path))
        if not ex:
            fail("no example for %s %s" % (method, path))
        self.w("Example:")
        self.w()
        self.w("```http")
        self.w("%s %s HTTP/1.1" % (method, ex["url"]))
        if body:
            self.w("Content-Type: application/json")
        self.w("```")
        if body:
            self.w()
            self.example(body, ex["request"])
        self.w()
        answers = [(ex["status"], ex["response"])] + ex.get("more", [])
        for i, (status, response) in enumerate(answers):
            if i:
                self.w("or, " + ex["more_when"] + ":")
                self.w()
            self.w("`%d %s`" % (status, REASONS[status]))
            self.w()
            rbody = [b for s, b, _ in responses if s == status][0]
            if rbody:
                self.example(rbody, response)
            else:
                self.w("```text")
                self.w(response.rstrip("\n"))
                self.w("```")
            self.w()
        if path == "/metrics":
            self.w("| metric | type | labels | meaning |")
            self.w("|---|---|---|---|")
            for name, kind, labels, meaning in METRICS:
                self.w("| `%s` | %s | %s | %s |" % (name, kind, labels,
                                                     meaning))
            self.w()

    def bodies(self):
        self.w("## Bodies")
        self.w()
        self.w("Each body is a JSON object; a member that is not required "
               "may be left out.  `schemas/defs.schema.json` holds the value "
               "types they share.")
        self.w()
        for name, schema in sorted(self.schemas.items()):
            if name == "defs":
                continue
            for key in ("title", "description"):
                if key not in schema:
                    fail("%s.schema.json has no %s" % (name, key))
            self.w('### %s <a id="body-%s"></a>' % (schema["title"], name))
            self.w()
            self.w("`schemas/%s.schema.json`: %s" % (name,
                                                      schema["description"]))
            self.w()
            self.field_table(name)
            self.w()

    def render(self):
        for _, _, body, responses, _ in ENDPOINTS:
            for b in [body] + [r[1] for r in responses]:
                if b and b not in self.schemas:
                    fail("no schema %s.schema.json" % b)
        self.header()
        self.summary()
        self.conventions()
        for title, paths in GROUPS:
            self.w("## " + title)
            self.w()
            for e in ENDPOINTS:
                if e[1] in paths:
                    self.endpoint(*e)
            for line in GROUP_NOTES.get(title, []):
                self.w(line)
        self.bodies()
        while self.out and not self.out[-1]:
            self.out.pop()
        return "\n".join(self.out) + "\n"


FORMATS = {
    "ip": "IPv4 or IPv6 address",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "mac": "MAC address `xx:xx:xx:xx:xx:xx`",
}


def type_name(v):
    return ("null" if v is None else "boolean" if isinstance(v, bool)
            else "integer" if isinstance(v, int) else "number"
            if isinstance(v, float) else "string" if isinstance(v, str)
            else "array" if isinstance(v, list) else "object")


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def anchor(method, path):
    return (method + path).lower().replace("/", "-").replace(
        "{", "").replace("}", "")


def or_list(words):
    words = [str(w) for w in words]
    return (", ".join(words[:-1]) + " or " if len(words) > 1 else "") \
        + words[-1]


def pretty(v, indent=0, used=0, width=76):
    """JSON that keeps what fits on a line on one line.  'used': columns
    already taken on the value's first line."""
    flat = json.dumps(v, separators=(", ", ": "))
    if used + len(flat) <= width or not isinstance(v, (dict, list)) \
            or not v:
        return flat
    pad = " " * (indent + 2)
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            head = "%s%s: " % (pad, json.dumps(k))
            items.append(head + pretty(x, indent + 2, len(head), width))
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + pretty(x, indent + 2, len(pad), width) for x in v]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def build_examples(schemas):
    def ex(name, i=0):
        return copy.deepcopy(schemas[name]["examples"][i])

    web = ex("service")
    s1, s2 = web["backends"]
    s3 = ex("backend")
    s2_drained = dict(s2, state="drain")
    web_replaced = copy.deepcopy(web)
    web_replaced["backends"][1]["weight"] = 10
    bridge = ex("bridge")
    return {
        ("GET", "/v1/health"): dict(
            url="/v1/health", status=200, response=ex("health")),
        ("GET", "/v1/bgp"): dict(
            url="/v1/bgp", status=200, response=ex("bgp")),
        ("GET", "/v1/snat"): dict(
            url="/v1/snat", status=200, response=ex("snat")),
        ("GET", "/v1/services"): dict(
            url="/v1/services", status=200, response=ex("service-list")),
        ("POST", "/v1/services"): dict(
            url="/v1/services", request=web, status=201,
            response={"generation": 7, "installed": True, "service": web}),
        ("GET", "/v1/services/{name}"): dict(
            url="/v1/services/web", status=200, response=web),
        ("PUT", "/v1/services/{name}"): dict(
            url="/v1/services/web?wait=10", request=web_replaced, status=200,
            response={"generation": 8, "installed": True,
                      "service": web_replaced}),
        ("DELETE", "/v1/services/{name}"): dict(
            url="/v1/services/web?wait=0", status=200,
            response={"generation": 12, "installed": False}),
        ("POST", "/v1/services/{name}/backends"): dict(
            url="/v1/services/web/backends", request=s3, status=201,
            response={"generation": 9, "installed": True, "backend": s3}),
        ("GET", "/v1/services/{name}/backends/{backend}"): dict(
            url="/v1/services/web/backends/s1", status=200, response=s1),
        ("PATCH", "/v1/services/{name}/backends/{backend}"): dict(
            url="/v1/services/web/backends/s2", request={"state": "drain"},
            status=200, response={"generation": 10, "installed": True,
                                  "backend": s2_drained}),
        ("DELETE", "/v1/services/{name}/backends/{backend}"): dict(
            url="/v1/services/web/backends/s2", status=200,
            response={"generation": 11, "installed": True}),
        ("GET", "/v1/bridges"): dict(
            url="/v1/bridges", status=200, response=ex("bridge-list")),
        ("GET", "/v1/bridges/{name}"): dict(
            url="/v1/bridges/br-lb", status=200,
            response=ex("bridge-status")),
        ("PUT", "/v1/bridges/{name}"): dict(
            url="/v1/bridges/br-lb", request=bridge, status=201,
            response={"generation": 1, "installed": False,
                      "bridge": bridge}),
        ("DELETE", "/v1/bridges/{name}"): dict(
            url="/v1/bridges/br-lb", status=200,
            response={"generation": 14, "installed": True},
            more_when="while services still name the bridge",
            more=[(409, {"error": {
                "code": "conflict",
                "message": "bridge \"br-lb\" is used by service \"dns\"",
                "path": None}})]),
        ("GET", "/v1/stats"): dict(
            url="/v1/stats", status=200, response=ex("stats")),
        ("GET", "/metrics"): dict(
            url="/metrics", status=200, response=METRICS_EXAMPLE),
    }


METRICS_EXAMPLE = """\
# HELP mslb_generation Current model generation.
# TYPE mslb_generation gauge
mslb_generation 8
# HELP mslb_bridge_connected 1 if the bridge is connected.
# TYPE mslb_bridge_connected gauge
mslb_bridge_connected{bridge="br-lb"} 1
# HELP mslb_backend_packets_total Packets to the backend (direction="request") and, in mode nat, from it ("reply").
# TYPE mslb_backend_packets_total counter
mslb_backend_packets_total{service="web",backend="s1",direction="request"} 80611
mslb_backend_packets_total{service="web",backend="s1",direction="reply"} 70122
mslb_backend_packets_total{service="web",backend="s2",direction="request"} 40323
mslb_backend_packets_total{service="web",backend="s2",direction="reply"} 35090
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", "-o",
                        default=os.path.join(TOP, "docs", "api.md"),
                        help="file to write, - for standard output")
    args = parser.parse_args()
    schemas = load_schemas()
    text = Doc(schemas, build_examples(schemas)).render()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
