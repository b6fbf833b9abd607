#!/usr/bin/env bash
# Debian packaging (issue 13, item 1): scripts/debian/ builds mslb_*.deb
# with the standard tools (dpkg-buildpackage, debhelper) from a copy of
# the tree; the package is installed, the installed /usr/sbin/mslbd runs
# traffic through a VIP with only installed files, and the package is
# purged, leaving nothing.  Refuses to run on a machine that already has
# a package named mslb (it would replace it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat_topo.sh"
. "$(dirname "$0")/rest_lib.sh"
. "$(dirname "$0")/db_lib.sh"

SRC=$(cd "$E2E_DIR/../.." && pwd)
if dpkg-query -W -f='${Status}' mslb 2>/dev/null | grep -q installed; then
    die "a package named mslb is installed here already: not touching it"
fi

# A copy of the tree without build outputs, debian/ at its top.
mkdir -p "$D/src"
tar -C "$SRC" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$D/src" -xf -
cp -r "$D/src/scripts/debian" "$D/src/debian"
build_deb() {
    # setup.sh's libopenvswitch (without it the build makes its own:
    # scripts/deb-clean-build.sh shows that path, minutes longer).
    cd "$D/src" && OVS_BUILD=/var/cache/mslb/openvswitch \
        timeout 900 dpkg-buildpackage -b -us -uc -j2 >"$D/deb.log" 2>&1
}
check "dpkg-buildpackage builds the package" build_deb || true
DEB=$(ls "$D"/mslb_*_*.deb 2>/dev/null | head -1 || true)
check "a .deb" test -n "$DEB"
[ -n "$DEB" ] || { tail -n 30 "$D/deb.log" >&2; exit 1; }
check "it holds the daemon, the client, the schema, man pages, the unit" sh -c \
    "dpkg-deb -c '$DEB' >'$D/contents' &&
     grep -q '/usr/sbin/mslbd\$' '$D/contents' && grep -q '/usr/bin/mslbctl\$' '$D/contents' &&
     grep -q '/usr/share/mslb/mslb.ovsschema\$' '$D/contents' &&
     grep -q '/usr/share/man/man8/mslbd.8' '$D/contents' &&
     grep -q '/lib/systemd/system/mslbd.service\$' '$D/contents'"

E2E_AT_EXIT="dpkg --purge mslb >/dev/null 2>&1 || true"
check "dpkg -i installs it" sh -c "dpkg -i '$DEB' >'$D/dpkg-i.log' 2>&1"
check "the installed mslbd" sh -c "/usr/sbin/mslbd --version | grep -qx 'mslbd (mslb) 0.12.0'"

nat_topo_up
nat_config "$D/mslb.json"
MSLBD=/usr/sbin/mslbd mslbd_start "$D/mslb.json" --db "$D/mslb.db" --rest "$REST_PORT"
check "its database created from the packaged schema" grep -q \
    "from /usr/share/mslb/mslb.ovsschema" "$D/mslbd.log"
check "installed" wait_generation 1
check "ping the VIP and the gateway (ARP warm-up)" warm_up
check "traffic through the VIP" vip_works
check "the packaged mslbctl" sh -c "/usr/bin/mslbctl --url '$REST_URL' list | grep -q '^web '"
mslbd_stop

check "dpkg --purge removes it" sh -c "dpkg --purge mslb >'$D/dpkg-purge.log' 2>&1"
check "nothing of it is left" sh -c \
    "! test -e /usr/sbin/mslbd && ! test -e /usr/share/mslb && ! test -e /lib/systemd/system/mslbd.service"
E2E_AT_EXIT=
