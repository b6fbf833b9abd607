"""Mininet topologies for mslb (mininet/README.md).

    mn --custom mininet/topos.py --topo mslbnat \
       --switch ovs,datapath=user,protocols=OpenFlow13,OpenFlow15 \
       --controller remote,ip=127.0.0.1,port=6653

mslbnat: the load balancer `lb` (an OVS bridge, fail_mode=secure, that
mslbd programs) between a clients' segment and a servers' segment, each a
plain learning switch of its own (StandaloneOVS: no controller):

    c1 198.18.0.10 -- cl == front [lb] back == sv -- s1 198.18.1.11
    c2 198.18.0.11 --/                             \\- s2 198.18.1.12
                                                    \\- s3 198.18.1.13

The VIP 198.18.0.100 sits in the clients' segment, the servers in
another behind the gateway 198.18.1.1 that `lb` answers.  The servers
have fixed MACs (02:00:00:00:01:1N).  `mslb_config()` gives the mslbd
configuration for it (the `lb-eth1`/`lb-eth2` ports are Mininet's names
for `lb`'s links to `cl` and `sv`).
"""

import json

from mininet.node import OVSSwitch
from mininet.topo import Topo

VIP = "198.18.0.100"
LBMAC = "0a:00:00:00:00:01"
GATEWAY = "198.18.1.1"


class StandaloneOVS(OVSSwitch):
    """An OVS learning switch that no controller programs (on the userspace
    datapath unless 'datapath' says otherwise: `--switch` of `mn` does not
    reach switches of a class of their own)."""

    def __init__(self, name, **params):
        params["failMode"] = "standalone"
        params.setdefault("datapath", "user")
        OVSSwitch.__init__(self, name, **params)

    def start(self, controllers):
        OVSSwitch.start(self, [])


class MslbNat(Topo):
    """Clients, the load balancer `lb`, servers (see the module's text).
    'prefix' goes before the switches' names (and so their ports'), so
    that two topologies on one machine do not clash."""

    def build(self, servers=3, prefix=""):
        lb = self.addSwitch(prefix + "lb", dpid="0000000000000101")
        cl = self.addSwitch(prefix + "cl", cls=StandaloneOVS,
                            dpid="0000000000000102")
        sv = self.addSwitch(prefix + "sv", cls=StandaloneOVS,
                            dpid="0000000000000103")
        self.addLink(lb, cl)            # lb-eth1: the clients' side.
        self.addLink(lb, sv)            # lb-eth2: the servers' side.
        for i in (1, 2):
            host = self.addHost("c%d" % i, ip="198.18.0.%d/24" % (9 + i))
            self.addLink(host, cl)
        for i in range(1, servers + 1):
            host = self.addHost("s%d" % i, ip="198.18.1.1%d/24" % i,
                                mac="02:00:00:00:01:1%d" % i,
                                defaultRoute="via " + GATEWAY)
            self.addLink(host, sv)


def mslb_config(servers=3, port=8080, prefix=""):
    """mslbd's configuration (JSON text) for MslbNat: service web, tcp/80
    on the VIP over the servers' port 'port'."""
    lb = prefix + "lb"
    return json.dumps({
        "bridges": [{"name": lb, "mac": LBMAC, "frontend_port": lb + "-eth1",
                     "backend_port": lb + "-eth2", "gateways": [GATEWAY]}],
        "services": [{
            "name": "web", "vip": VIP, "protocol": "tcp", "port": 80,
            "bridges": [lb],
            "backends": [{"name": "s%d" % i, "ip": "198.18.1.1%d" % i,
                          "port": port, "mac": "02:00:00:00:01:1%d" % i}
                         for i in range(1, servers + 1)]}]}, indent=1)


def no_offload(net):
    """The userspace datapath forwards what the kernel hands it: packets of
    veths with checksum offload would leave with bad checksums.  Turns it
    off on both ends of every link (as tests/e2e/lib.sh does)."""
    for link in net.links:
        for intf in (link.intf1, link.intf2):
            intf.node.cmd("ethtool -K %s tx off rx off >/dev/null 2>&1"
                          % intf.name)


topos = {"mslbnat": MslbNat}
