#!/bin/sh
# libopenvswitch and jansson both define json_array(), json_object(),
# json_string()...  mslb uses jansson for its own JSON, so it links a copy of
# libopenvswitch.a whose JSON symbols carry an "ovs_" prefix (definitions
# and references alike).
#   ovs-rename-json.sh IN.a OUT.a [HEADER]
# HEADER, if given, is written with the same list as macros (see
# scripts/ovs-json-rename-header.sh) for the C files that call OVS's JSON.
set -eu
in=$1
out=$2
header=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp"
ar x "$in" json.o
nm -g --defined-only json.o | awk 'NF == 3 { print $3 " ovs_" $3 }' >map
objcopy --redefine-syms=map "$in" "$out.tmp"
mv "$out.tmp" "$out"
if [ -n "$header" ]; then
    sh "$here/ovs-json-rename-header.sh" map >"$header.tmp"
    mv "$header.tmp" "$header"
fi
