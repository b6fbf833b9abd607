#!/usr/bin/env python3
"""Runs mininet/topos.py's MslbNat with mslbd as its remote controller and
sends real traffic through the VIP (tests/e2e/test_mininet.sh).

  mininet_nat.py PREFIX CONTROLLER_PORT TOOLS_DIR OUT.json

Needs OVS_RUNDIR pointing at a running private Open vSwitch (the
userspace datapath) and mslbd listening on 127.0.0.1:CONTROLLER_PORT with
mslb_config(prefix=PREFIX).  Starts lbserver.py on each server, waits for
mslbd's flows on the load balancer, then 60 TCP connections from c1 and
a ping of the VIP; writes what it saw to OUT.json; stops the network.
Never calls Mininet's cleanup (it kills processes by name).
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "mininet"))
import topos                                             # noqa: E402
from mininet.net import Mininet                          # noqa: E402
from mininet.node import OVSSwitch, RemoteController     # noqa: E402
from functools import partial                            # noqa: E402


def main():
    prefix, port, tools, out_file = sys.argv[1:5]
    switch = partial(OVSSwitch, datapath="user",
                     protocols="OpenFlow13,OpenFlow15")
    net = Mininet(topo=topos.MslbNat(prefix=prefix), switch=switch,
                  controller=None, autoSetMacs=False, waitConnected=False,
                  build=False)
    net.addController(RemoteController("c0", ip="127.0.0.1", port=int(port)))
    result = {"servers": [], "flows": 0}
    net.build()
    net.start()
    topos.no_offload(net)
    try:
        servers = [h for h in net.hosts if h.name.startswith("s")]
        procs = [h.popen([sys.executable, os.path.join(tools, "lbserver.py"),
                          "--name", h.name.upper(), "--tcp", "8080",
                          "--max-seconds", "120"])
                 for h in servers]
        lb = prefix + "lb"
        deadline = time.time() + 30
        while time.time() < deadline:
            flows = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13",
                                    "dump-flows", lb],
                                   capture_output=True, text=True).stdout
            result["flows"] = flows.count("cookie=0x4d53")
            if result["flows"] > 10:
                break
            time.sleep(0.2)
        time.sleep(1)
        c1 = net.get("c1")
        result["ping"] = c1.cmd("ping -c 2 -i 0.2 -W 2 %s" % topos.VIP)
        result["ping_ok"] = " 0% packet loss" in result["ping"]
        client = c1.popen([sys.executable, os.path.join(tools, "lbclient.py"),
                           "tcp", topos.VIP, "80", "--count", "60",
                           "--concurrency", "4", "--timeout", "3",
                           "--deadline", "60"],
                          stdout=subprocess.PIPE, text=True)
        answer, _ = client.communicate(timeout=90)
        result["client"] = json.loads(answer)
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
    finally:
        net.stop()
    with open(out_file, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
