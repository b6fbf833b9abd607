#!/usr/bin/env bash
# Install everything mslb needs on Debian 12 and build libopenvswitch
# (static) from Debian's openvswitch-source, matching the installed switch.
# Idempotent: an earlier build of the same OVS version is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

PKGS=(build-essential cmake pkg-config libuv1-dev libjansson-dev
      libmicrohttpd-dev libcmocka-dev libjemalloc-dev openvswitch-switch openvswitch-common
      openvswitch-source iproute2 ethtool python3 tcpdump netcat-openbsd
      iputils-ping procps curl bc libcurl4-gnutls-dev libgnutls28-dev
      clang libclang-rt-14-dev python3-jsonschema python3-scapy iperf3
      frr util-linux man-db groff-base systemd mininet libssl-dev
      debhelper fakeroot)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}" </dev/null
fi

# The OVS packages start a system switch; mslb never uses it (tests run
# private instances), so leave it as the package left it.

ver=$(dpkg-query -W -f='${Version}' openvswitch-source)
ver=${ver%%-*}
cache=${MSLB_OVS_CACHE:-/var/cache/mslb}
build=$cache/openvswitch-$ver
stamp=$build/.mslb-built

if [ -f "$stamp" ]; then
    echo "setup: libopenvswitch $ver already built in $build"
else
    echo "setup: building libopenvswitch $ver in $build (a few minutes)"
    rm -rf "$build"
    "$here/build-ovs.sh" "$build"
    touch "$stamp"
fi
ln -sfn "$build" "$cache/openvswitch"
echo "setup: done (OVS_BUILD=$cache/openvswitch)"
