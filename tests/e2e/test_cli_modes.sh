#!/usr/bin/env bash
# Every mode's services created through mslbctl only (flags, --set,
# backend specs with host/host_bridge/state; bridges with `bridge put`),
# on a real switch: the switch then holds exactly what mslb-compile makes
# of the golden models those commands describe (tests/golden/dsr_first:
# dr with mss, l3dsr with dscp, mslb with persistence, local, tun over gre
# with idle_timeout and a draining backend, tun over ipgre without MACs;
# tests/golden/slb_mux: slb with outbound SNAT, floating_ip, protocol
# any).  Nat is test_cli.sh's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"
MSLBCTL=${MSLBCTL:-$(dirname "$MSLBD")/mslbctl}
GOLDEN=$E2E_DIR/../golden
export MSLB_URL=$REST_URL

# The switch as mslb-compile numbers it: arm 1, tunnels 100 (vxlan), 101
# (gre), 103 (ipgre), the LOCAL port's MAC 0a:00:00:00:00:fe.
ovs_start
add_lb_bridge br-lb "$MSLBD_TARGET"
vsctl set bridge br-lb other-config:hwaddr=0a:00:00:00:00:fe \
    -- add-port br-lb arm -- set interface arm type=internal ofport_request=1 \
    -- add-port br-lb vx0 -- set interface vx0 type=vxlan ofport_request=100 \
        options:remote_ip=flow options:key=flow \
    -- add-port br-lb gre0 -- set interface gre0 type=gre ofport_request=101 \
        options:remote_ip=flow options:key=flow \
    -- add-port br-lb ipgre0 -- set interface ipgre0 type=gre ofport_request=103 \
        options:remote_ip=flow options:key=flow options:packet_type=legacy_l3
# The hosts' tunnels differ by UDP port: OVS takes one tunnel port of a
# given configuration per datapath.
for h in br-host br-host2; do
    add_lb_bridge "$h" "$MSLBD_TARGET"
    vsctl set bridge "$h" other-config:hwaddr=0a:00:00:00:00:fe
done
vsctl add-port br-host vx1 -- set interface vx1 type=vxlan ofport_request=100 \
        options:remote_ip=flow options:key=flow options:dst_port=4790 \
    -- add-port br-host2 vx2 -- set interface vx2 type=vxlan ofport_request=100 \
        options:remote_ip=flow options:key=flow options:dst_port=4791

# Only the bridges in the config file.
"$PYTHON" -c "import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps({'bridges': m['bridges']}))" \
    "$GOLDEN/dsr_first.json" >"$D/seed.json"
mslbd_start "$D/seed.json" --rest "$REST_PORT"
wait_rest
wait_for 20 grep -q "bridge br-lb: generation 1 installed" "$D/mslbd.log"

ctl() { "$MSLBCTL" "$@"; }
created() {   # created NAME ARGS...: mslbctl create NAME ARGS, installed
    local name=$1 out
    shift
    out=$(ctl create "$name" "$@")
    echo "$out"
    grep -q "^service $name created (generation [0-9]*, installed)$" <<<"$out"
}
check "dr (mss)" created dr --vip 198.18.0.100 --protocol tcp --port 80 \
    --mode dr --bridge br-lb --set mss=1400 \
    --backend name=s1,ip=198.18.0.21,mac=02:00:00:00:00:21 \
    --backend name=s2,ip=198.18.0.22,mac=02:00:00:00:00:22,weight=2
check "l3dsr (dscp, host_bridge)" created l3 --vip 198.18.0.101 \
    --protocol any --mode l3dsr --bridge br-lb --set dscp=10 \
    --backend name=s1,ip=198.18.1.21,mac=02:00:00:00:01:21,host_bridge=br-host
check "mslb (persistence, host)" created ms --vip 198.18.0.102 \
    --protocol udp --mode mslb --bridge br-lb --set persistence=600 \
    --backend name=s1,ip=198.18.1.21,mac=02:00:00:00:01:21,host=198.18.2.2,host_bridge=br-host
check "local" created loc --vip 198.18.0.103 --protocol tcp --port 22 \
    --mode local --bridge br-lb
check "tun (gre, idle_timeout, a draining backend)" created tn \
    --vip 198.18.0.104 --protocol tcp --port 443 --mode tun --bridge br-lb \
    --set tunnel=gre --set idle_timeout=60 \
    --backend name=s1,ip=198.18.2.21,mac=02:00:00:00:03:21 \
    --backend name=s2,ip=198.18.2.22,mac=02:00:00:00:03:22,state=drain
check "tun over ipgre (backends without mac)" created tunl3 \
    --vip 198.18.0.105 --protocol tcp --port 80 --mode tun --bridge br-lb \
    --set tunnel=ipgre --backend name=s1,ip=198.18.2.31 \
    --backend name=s2,ip=198.18.2.32,host=198.18.2.2

# match GOLDEN BRIDGE: the bridge holds what mslb-compile makes of GOLDEN.
match() {
    "$MSLB_COMPILE" --of15 "$1" "$2" 1 | sort >"$D/want.$2"
    _canon_bridge "$2" >"$D/got.$2"
    test -s "$D/want.$2"
    diff "$D/want.$2" "$D/got.$2"
}
_canon_bridge() {
    { ofctl -O OpenFlow15 dump-flows "$1" --no-stats
      ofctl -O OpenFlow15 dump-groups "$1"; } \
        | grep -v '^OFPST_.* reply\|^$' | sed 's/^ *//' \
        | sed -E 's/, /,/g; s/ actions=/,actions=/; s/bucket_id:[0-9]+,//g; s/bucket=actions=/bucket=weight:1,actions=/g' \
        | sed -E '/^cookie=[^,]*,priority=/s/^(cookie=[^,]*),/\1,table=0,/' | sort
}
check "br-lb holds exactly the compile of golden/dsr_first.json" \
    wait_for 10 match "$GOLDEN/dsr_first.json" br-lb
check "br-host holds exactly its compile" \
    wait_for 10 match "$GOLDEN/dsr_first.json" br-host
check "mslbctl list shows every mode" sh -c \
    "ctl() { '$MSLBCTL' \"\$@\"; }; out=\$(ctl list);
     for m in dr l3dsr mslb local tun; do echo \"\$out\" | grep -Eq \" \$m +\" || exit 1; done"

# slb: its bridges put from files, its services from flags.
for s in dr l3 ms loc tn tunl3; do ctl delete "$s" >/dev/null; done
"$PYTHON" - "$GOLDEN/slb_mux.json" "$D" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for b in m["bridges"]:
    json.dump(b, open("%s/br.%s.json" % (sys.argv[2], b["name"]), "w"))
PY
check "bridge put of slb_mux's bridges" sh -c \
    "for b in br-lb br-host br-host2; do '$MSLBCTL' bridge put --file '$D/br.'\$b.json | grep -q \"^bridge \$b \" || exit 1; done"
check "slb (outbound)" created web --vip 198.18.0.100 --protocol tcp \
    --port 80 --mode slb --bridge br-lb \
    --set 'outbound={"ports": "40000-40063", "block": 8, "exclude": ["198.18.5.0/24"]}' \
    --backend name=vm1,ip=198.18.5.11,port=8080,mac=02:00:00:00:05:11,host=198.18.2.2,host_bridge=br-host \
    --backend name=vm2,ip=198.18.5.12,mac=02:00:00:00:05:12,host=198.18.2.2,host_bridge=br-host \
    --backend name=vm3,ip=198.18.6.13,port=8080,mac=02:00:00:00:06:13,host=198.18.2.4,host_bridge=br-host2
check "slb (floating_ip)" created float --vip 198.18.0.102 --protocol tcp \
    --port 80 --mode slb --bridge br-lb --set floating_ip=true \
    --backend name=vm2,ip=198.18.5.12,mac=02:00:00:00:05:12,host=198.18.2.2,host_bridge=br-host
check "slb (protocol any)" created ha --vip 198.18.0.101 --protocol any \
    --mode slb --bridge br-lb \
    --backend name=vm1,ip=198.18.5.11,mac=02:00:00:00:05:11,host=198.18.2.2,host_bridge=br-host
check "br-lb holds exactly the compile of golden/slb_mux.json" \
    wait_for 10 match "$GOLDEN/slb_mux.json" br-lb
check "br-host holds exactly its compile" \
    wait_for 10 match "$GOLDEN/slb_mux.json" br-host
