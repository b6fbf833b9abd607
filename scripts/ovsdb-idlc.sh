#!/bin/sh
# Generates the C IDL for an OVSDB schema with OVS's own generator, as OVS
# and OVN do in their builds (annotate, c-idl-header, c-idl-source).
#   ovsdb-idlc.sh OVS_BUILD SCHEMA PREFIX OUTDIR BASENAME
# writes OUTDIR/BASENAME.h and OUTDIR/BASENAME.c; C names are PREFIXtable
# (e.g. mslbrec_service).  The generator imports ovs.dirs, which OVS's
# build writes from dirs.py.template: if the tree lacks it, a private copy
# of the python package gets one.
set -eu
ovs=$1
schema=$2
prefix=$3
outdir=$4
base=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pypath=$ovs/python
if [ ! -f "$ovs/python/ovs/dirs.py" ]; then
    cp -r "$ovs/python/ovs" "$tmp/ovs"
    sed -e 's,@pkgdatadir@,/usr/share/openvswitch,' \
        -e 's,@RUNDIR@,/var/run/openvswitch,' \
        -e 's,@LOGDIR@,/var/log/openvswitch,' \
        -e 's,@bindir@,/usr/bin,' \
        -e 's,@DBDIR@,/etc/openvswitch,' \
        "$ovs/python/ovs/dirs.py.template" >"$tmp/ovs/dirs.py"
    pypath=$tmp
fi
idlc() {
    PYTHONPATH=$pypath PYTHONDONTWRITEBYTECODE=yes \
        python3 "$ovs/ovsdb/ovsdb-idlc.in" "$@"
}
printf 's["idlPrefix"] = "%s"\ns["idlHeader"] = "\\"%s.h\\""\n' \
    "$prefix" "$base" >"$tmp/idl.ann"
idlc annotate "$schema" "$tmp/idl.ann" >"$tmp/idl.ovsidl"
idlc c-idl-header "$tmp/idl.ovsidl" >"$tmp/$base.h"
idlc c-idl-source "$tmp/idl.ovsidl" >"$tmp/$base.c"
mv "$tmp/$base.h" "$outdir/$base.h"
mv "$tmp/$base.c" "$outdir/$base.c"
