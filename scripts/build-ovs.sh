#!/usr/bin/env bash
# build-ovs.sh DIR: builds libopenvswitch (static, no SSL: mslb's TLS is
# its own, ofapp/oftls.c) from Debian's openvswitch-source
# (/usr/src/openvswitch/openvswitch.tar.gz) in DIR, which must not exist;
# only the library and the headers it generates.  scripts/setup.sh keeps
# one build per OVS version; the Debian package's build makes its own when
# it is given none (scripts/debian/rules), so a clean build root needs only
# the package's Build-Depends.
set -euo pipefail

build=${1:?usage: build-ovs.sh DIR}
tarball=/usr/src/openvswitch/openvswitch.tar.gz
[ -f "$tarball" ] || { echo "build-ovs: $tarball missing (openvswitch-source)" >&2; exit 1; }
[ ! -e "$build" ] || { echo "build-ovs: $build exists" >&2; exit 1; }

parent=$(dirname "$build")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/unpack.XXXXXX")
tar -xzf "$tarball" -C "$tmp"
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
mv "$src" "$build"
rmdir "$tmp"
cd "$build"
[ -x configure ] || ./boot.sh
./configure --disable-ssl --enable-shared=no --disable-libcapng \
    >configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
# Generated headers (BUILT_SOURCES) first, then only the library.
printf 'mslb-print-bs:\n\t@echo $(BUILT_SOURCES)\n' >mslb-bs.mk
bs=$(make -s --no-print-directory -f Makefile -f mslb-bs.mk mslb-print-bs)
jobs=$(nproc 2>/dev/null || echo 2)
{ make -j"$jobs" $bs && make -j"$jobs" lib/libopenvswitch.la; } \
    >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
