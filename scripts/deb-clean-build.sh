#!/usr/bin/env bash
# deb-clean-build.sh [OUTDIR]: builds mslb's .debs the way a Debian build
# daemon would, in a fresh Debian 12 build root (mmdebstrap, variant
# buildd) holding only the package's Build-Depends (apt-get build-dep),
# from a copy of this tree with scripts/debian/ as debian/; libopenvswitch
# is built inside from openvswitch-source (scripts/build-ovs.sh).  The
# .debs land in OUTDIR (default: the current directory).  Needs root and
# Debian's mirror; about 10 minutes on two cores.  Not part of the suite
# (tests/e2e/test_deb.sh builds with setup.sh's libopenvswitch instead).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
mirror=${MSLB_DEB_MIRROR:-http://deb.debian.org/debian}

if ! command -v mmdebstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap </dev/null
fi
root=$(mktemp -d /tmp/mslb-debroot.XXXXXX)
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$root"
}
trap cleanup EXIT

echo "deb-clean-build: build root in $root"
mmdebstrap --variant=buildd --include=apt bookworm "$root" \
    "deb $mirror bookworm main"
mkdir -p "$root/build/src"
tar -C "$src" --exclude='./build*' --exclude='./.git' -cf - . \
    | tar -C "$root/build/src" -xf -
cp -r "$root/build/src/scripts/debian" "$root/build/src/debian"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" apt-get update -q
chroot "$root" env DEBIAN_FRONTEND=noninteractive \
    apt-get build-dep -y -q /build/src </dev/null
chroot "$root" sh -c 'cd /build/src && dpkg-buildpackage -b -us -uc -j2'
cp "$root"/build/*.deb "$out"/
ls -l "$out"/*.deb
