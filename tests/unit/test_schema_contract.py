#!/usr/bin/env python3
"""The REST contract against the daemon's one validator.

schemas/ document the REST bodies; mslbd validates bodies with the model's
own rules (flows/model.c), not with the schemas.  This test keeps the two
in step:
  - every schema is a valid JSON Schema (draft 2020-12) and its examples
    pass it;
  - the examples pass the daemon's validator too (mslbd --check);
  - bodies derived from the examples by breaking one thing (a wrong type, a
    missing required member, an unknown member, an out-of-range number, an
    empty or overlong string) that the schema refuses, the daemon refuses
    too.  (The daemon may refuse more: rules across fields live only in the
    model.)

    test_schema_contract.py SCHEMA_DIR MSLBD
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

SCHEMA_DIR, MSLBD = sys.argv[1], sys.argv[2]

BRIDGES = [
    {"name": "br-lb", "mac": "0a:00:00:00:00:01", "frontend_port": "front",
     "tunnel_ports": {"vxlan": "vx", "gre": "gre0", "geneve": "gen0"},
     "gateways": ["198.18.0.1", "2001:db8::1"]},
    {"name": "br-host", "role": "final",
     "tunnel_ports": {"vxlan": "vx1", "gre": "gre1", "geneve": "gen1"}},
]


def load_schemas():
    schemas = {}
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if name.endswith(".schema.json"):
            with open(os.path.join(SCHEMA_DIR, name)) as f:
                schemas[name] = json.load(f)
    return schemas


def validator(schemas, name):
    cls = jsonschema.Draft202012Validator
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
        registry = Registry().with_resources(
            (n, Resource.from_contents(s, default_specification=DRAFT202012))
            for n, s in schemas.items())
        return cls(schemas[name], registry=registry)
    except ImportError:
        resolver = jsonschema.RefResolver("", schemas[name], store=schemas)
        return cls(schemas[name], resolver=resolver)


def daemon_accepts(model):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(model, f)
        path = f.name
    try:
        r = subprocess.run([MSLBD, "--check", "--config", path],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        return r.returncode == 0, r.stderr.strip()
    finally:
        os.unlink(path)


def as_model(kind, body):
    """The body in a whole model, the way the REST server sees it."""
    if kind == "service":
        return {"bridges": BRIDGES, "services": [body]}
    if kind == "bridge":
        return {"bridges": [body], "services": []}
    if kind == "backend":
        svc = {"name": "web", "vip": "198.18.0.100", "protocol": "tcp",
               "port": 80, "mode": "nat", "bridges": ["br-lb"],
               "backends": [body]}
        return {"bridges": BRIDGES, "services": [svc]}
    raise ValueError(kind)


def breakages(body):
    """(what, broken body) pairs, each breaking one thing."""
    out = [("unknown member", dict(body, bogus=1))]
    for key, value in body.items():
        b = copy.deepcopy(body)
        del b[key]
        out.append(("without " + key, b))
        wrong = 12345 if isinstance(value, str) else "x"
        out.append((key + " of the wrong type", dict(body, **{key: wrong})))
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out.append((key + " = -1", dict(body, **{key: -1})))
            out.append((key + " = 10**9", dict(body, **{key: 10 ** 9})))
        if isinstance(value, str):
            out.append((key + " empty", dict(body, **{key: ""})))
            out.append((key + " too long", dict(body, **{key: "x" * 300})))
    return out


def main():
    schemas = load_schemas()
    failures = []
    checked = refused = 0
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        v = validator(schemas, name)
        for ex in schema.get("examples", []):
            errors = list(v.iter_errors(ex))
            if errors:
                failures.append("%s: example fails its schema: %s"
                                % (name, errors[0].message))
    for kind in ("service", "backend", "bridge"):
        name = kind + ".schema.json"
        v = validator(schemas, name)
        for ex in schemas[name].get("examples", []):
            ok, err = daemon_accepts(as_model(kind, ex))
            if not ok:
                failures.append("%s example refused by mslbd: %s"
                                % (kind, err))
            cases = breakages(ex)
            if kind == "service":
                for i, be in enumerate(ex.get("backends", [])[:1]):
                    for what, broken in breakages(be):
                        b = copy.deepcopy(ex)
                        b["backends"][i] = broken
                        cases.append(("backends[0]: " + what, b))
            for what, body in cases:
                if v.is_valid(body):
                    continue        # Not a contract breach to test here.
                checked += 1
                ok, _ = daemon_accepts(as_model(kind, body))
                if ok:
                    failures.append("%s %s: the schema refuses it, mslbd "
                                    "accepts it" % (kind, what))
                else:
                    refused += 1
    print("schemas: %d; bodies the schemas refuse: %d, refused by mslbd: %d"
          % (len(schemas), checked, refused))
    for f in failures:
        print("FAIL:", f)
    if checked < 50:
        print("FAIL: too few cases (%d): the examples went missing?" % checked)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
