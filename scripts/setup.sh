#!/usr/bin/env bash
# Install everything mslb needs on Debian 12 and build libopenvswitch
# (static) from Debian's openvswitch-source, matching the installed switch.
# Idempotent: an earlier build of the same OVS version is reused.
set -euo pipefail

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
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    tar -xzf /usr/src/openvswitch/openvswitch.tar.gz -C "$tmp"
    src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
    mv "$src" "$build"
    rmdir "$tmp"
    cd "$build"
    [ -x configure ] || ./boot.sh
    ./configure --disable-ssl --enable-shared=no --disable-libcapng \
        >configure.log 2>&1 || { tail -30 configure.log; exit 1; }
    # Generated headers (BUILT_SOURCES) first, then only the library.
    printf 'mslb-print-bs:\n\t@echo $(BUILT_SOURCES)\n' >mslb-bs.mk
    bs=$(make -s -f Makefile -f mslb-bs.mk mslb-print-bs)
    { make -j"$(nproc)" $bs && make -j"$(nproc)" lib/libopenvswitch.la; } \
        >make.log 2>&1 || { tail -30 make.log; exit 1; }
    touch "$stamp"
fi
ln -sfn "$build" "$cache/openvswitch"
echo "setup: done (OVS_BUILD=$cache/openvswitch)"
