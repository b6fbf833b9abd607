# shellcheck shell=bash
# NAT-mode topology shared by the NAT end-to-end tests (source after lib.sh).
#
#   c1 198.18.0.10 ---+                        +--- s1 198.18.1.11 (gw .1)
#   c2 198.18.0.11 ---+-- br-cl ==front [br-lb] back== br-sv --+--- s2 198.18.1.12
#                                      mslbd                   +--- s3 198.18.1.13
#                                                              +--- o1 198.18.0.20
#
# br-lb is the load balancer (fail_mode=secure, controlled by mslbd);
# br-cl and br-sv are plain learning switches.  VIP 198.18.0.100 sits in
# the clients' network, the servers in another one; 198.18.1.1 is the
# servers' gateway, answered by br-lb.  o1 is an unrelated host on the far
# side, in the clients' network: traffic to it must cross br-lb unchanged.

VIP=198.18.0.100
LBMAC=0a:00:00:00:00:01

nat_topo_up() {
    ovs_start
    add_lb_bridge br-lb "$MSLBD_TARGET"
    add_switch_bridge br-cl
    add_switch_bridge br-sv
    link_bridges br-lb front br-cl cl-up
    link_bridges br-lb back br-sv sv-up
    add_host c1 br-cl 198.18.0.10/24 2001:db8::10/64
    add_host c2 br-cl 198.18.0.11/24 2001:db8::11/64
    add_host o1 br-sv 198.18.0.20/24 2001:db8::20/64
    local i
    for i in 1 2 3; do
        add_host "s$i" br-sv "198.18.1.1$i/24" - "02:00:00:00:01:1$i"
        host_route "s$i" default via 198.18.1.1
        start_server "s$i" "S$i" --tcp 8080 --tcp 8081 --udp 5353
    done
}

# nat_config FILE [WEB_BACKENDS [MORE_SERVICES]]: writes the NAT config.
# WEB_BACKENDS is the JSON list of the tcp/80 service's backends;
# MORE_SERVICES, more services (JSON objects, comma-separated).
nat_backend() {   # nat_backend N PORT [WEIGHT]
    printf '{"name":"s%s","ip":"198.18.1.1%s","port":%s,"mac":"02:00:00:00:01:1%s","weight":%s}' \
        "$1" "$1" "$2" "$1" "${3:-1}"
}

nat_config() {
    local file=$1
    local web=${2:-"$(nat_backend 1 8080 10),$(nat_backend 2 8080 5)"}
    local more=${3:-}
    cat >"$file" <<JSON
{
  "bridges": [
    {"name": "br-lb", "mac": "$LBMAC", "frontend_port": "front",
     "backend_port": "back", "gateways": ["198.18.1.1"]}
  ],
  "services": [
    {"name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80,
     "bridges": ["br-lb"], "backends": [$web]},
    {"name": "alt", "vip": "$VIP", "protocol": "tcp", "port": 81,
     "bridges": ["br-lb"], "backends": [$(nat_backend 3 8081)]},
    {"name": "dns", "vip": "$VIP", "protocol": "udp", "port": 53,
     "bridges": ["br-lb"],
     "backends": [$(nat_backend 1 5353),$(nat_backend 2 5353),$(nat_backend 3 5353)]}
    ${more:+,$more}
  ]
}
JSON
}

# wait_generation N: until br-lb reports generation N installed.
wait_generation() {
    wait_for 20 grep -q "bridge br-lb: generation $1 installed" "$D/mslbd.log"
}

# Our flows on br-lb, without counters: "cookie table priority match actions".
lb_flows() {
    ofctl dump-flows br-lb --no-stats | sort
}
