#!/usr/bin/env python3
"""Writes a NAT model of N services x M backends on bridge br-lb.

    gen_config.py N M > config.json
"""
import json
import sys

n, m = int(sys.argv[1]), int(sys.argv[2])
services = []
for i in range(n):
    backends = []
    for k in range(m):
        host = i * m + k
        addr = host % 64000          # one MAC per address
        backends.append({
            "name": "b%d" % k,
            "ip": "198.19.%d.%d" % (addr // 250, 1 + addr % 250),
            "port": 8000 + host // 64000,
            "mac": "02:00:00:%02x:%02x:%02x" % (
                (addr >> 16) & 255, (addr >> 8) & 255, addr & 255),
            "weight": 1 + k % 4,
        })
    services.append({
        "name": "svc%d" % i,
        "vip": "198.18.%d.%d" % (i // 250 % 256, 1 + i % 250),
        "protocol": "tcp" if i % 2 == 0 else "udp",
        "port": 1 + i // 64000 + (i % 1000),
        "bridges": ["br-lb"],
        "backends": backends,
    })
json.dump({
    "bridges": [{"name": "br-lb", "mac": "0a:00:00:00:00:01",
                 "frontend_port": "front", "backend_port": "back"}],
    "services": services,
}, sys.stdout)
