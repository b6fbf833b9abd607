#!/usr/bin/env bash
# OpenFlow over TLS (issue 13, item 3): the OVS PKI (ovs-pki) makes a
# controller and a switch certificate; mslbd listens on pssl: with its
# certificate and the switches' CA, the bridge connects with ssl: and the
# controllers' CA: mslbd installs its flows, traffic passes; a switch whose
# certificate another CA signed is refused (mslbd names the reason) and
# gets no flows; back to the right certificate, it is served again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/db_lib.sh"

PORT=$((20000 + 0x${RID:2:4} % 12000))
pki() {   # pki DIR ARGS...: ovs-pki on the PKI in DIR, quietly
    local dir=$1
    shift
    (cd "$D" && ovs-pki --dir="$dir" --log="$D/pki.log" --force "$@") >/dev/null
}
check "a PKI (controllers' and switches' CAs)" pki "$D/pki" init
check "a controller certificate" pki "$D/pki" req+sign ctl controller
check "a switch certificate" pki "$D/pki" req+sign sw switch
check "another PKI, with its own switch certificate" sh -c \
    "cd $D && ovs-pki --dir=$D/pki2 --log=$D/pki.log --force init >/dev/null &&
     ovs-pki --dir=$D/pki2 --log=$D/pki.log --force req+sign sw2 switch >/dev/null"

nat_topo_up
nat_config "$D/mslb.json"
vsctl set-ssl "$D/sw-privkey.pem" "$D/sw-cert.pem" "$D/pki/controllerca/cacert.pem"
MSLBD_IN_OVS_NS=1 mslbd_start "$D/mslb.json" --listen "pssl:$PORT:127.0.0.1" \
    --private-key "$D/ctl-privkey.pem" --certificate "$D/ctl-cert.pem" \
    --ca-cert "$D/pki/switchca/cacert.pem"
set_controller br-lb "ssl:127.0.0.1:$PORT"
check "the bridge connects over TLS and is installed" wait_generation 1
check "mslbd names the switch's certificate" \
    grep -Eq "tcp:127.0.0.1:[0-9]+: TLS with .*CN=sw" "$D/mslbd.log"
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "traffic through the VIP" vip_works

# The wrong certificate: signed by another PKI's switch CA.
vsctl set-ssl "$D/sw2-privkey.pem" "$D/sw2-cert.pem" "$D/pki/controllerca/cacert.pem"
vsctl del-controller br-lb
set_controller br-lb "ssl:127.0.0.1:$PORT"
check "a switch certificate of another CA is refused, with the reason" \
    wait_for 20 grep -q "TLS: the peer's certificate is refused" "$D/mslbd.log"
not_connected() {
    [ "$(vsctl --bare --columns=is_connected list controller)" = false ]
}
check "the switch stays unconnected" wait_for 5 not_connected
check "mslbd has no session with it" sh -c \
    "sleep 2; ! tail -n 5 '$D/mslbd.log' | grep -q 'br-lb.*connected with'"

# Back to the right certificate: served again.
vsctl set-ssl "$D/sw-privkey.pem" "$D/sw-cert.pem" "$D/pki/controllerca/cacert.pem"
vsctl del-controller br-lb
set_controller br-lb "ssl:127.0.0.1:$PORT"
connected() {
    [ "$(vsctl --bare --columns=is_connected list controller)" = true ]
}
check "with the right certificate again, the switch connects" wait_for 20 connected
check "traffic through the VIP" vip_works
no_tls_options() {
    local rc=0
    mkdir -p "$D/bare"
    timeout 30 "$MSLBD" --config "$D/mslb.json" --pidfile "$D/bare/mslbd.pid" \
        --listen "pssl:$((PORT + 1)):127.0.0.1" >"$D/bare/out" 2>&1 || rc=$?
    cat "$D/bare/out"
    [ "$rc" = 1 ] && grep -q "pssl:$((PORT + 1)):127.0.0.1: needs --private-key, --certificate and --ca-cert" "$D/bare/out"
}
check "pssl: without the certificate options: mslbd says so and exits 1" \
    no_tls_options
