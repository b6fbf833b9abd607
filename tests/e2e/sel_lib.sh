# shellcheck shell=bash
# tests/e2e/sel_lib.sh: the backend-selection checks of issue 9, for any
# mode's topology (source after lib.sh and rest_lib.sh).
#
#   weights   sel_split: N connections to a weighted service; each
#             server's count within 3 sigma of the binomial expectation.
#   changes   sel_churn: connections held open across one REST write that
#             adds, drains and removes backends; the kept and drained
#             backends' connections must be answered again by the same
#             server; new connections go only where they should.
#   upcalls   sel_upcall_check: new connections to a warm service cost
#             < 0.5 upcalls each (read from dpif-netdev/pmd-stats-show).
#
# The clients and servers are bench/tcpbench ($TCPBENCH, default next to
# $MSLBD): servers answer with their name (sel_serve), names are S1, S2...
# and weights are given in that order ("1:2:3" = S1 1, S2 2, S3 3).  Every
# connection has its own source port (SPORT, SPORT+1...), so that no
# 5-tuple repeats; sel_client_prep keeps the kernel's own ports above them.
# The client is host $SEL_CLIENT (c1), the service address $SEL_VIP ($VIP).
# $SEL_CTLS lists the unixctl sockets of the ovs-vswitchd whose upcalls
# count (default: the run's own).  Every figure is printed as a "# " line.

TCPBENCH=${TCPBENCH:-$(dirname "${MSLBD:-/nonexistent}")/bench/tcpbench}
[ -x "$TCPBENCH" ] || die "tcpbench not found at $TCPBENCH (build it, or set TCPBENCH)"
SEL_CLIENT=${SEL_CLIENT:-c1}

# say TEXT...: a figure for the reader, on stdout next to the checks.
say() { printf '# %s\n' "$*"; }

# jget FILE EXPR: EXPR (python, on the JSON object 'j') of FILE's last
# JSON line; of its last line whose "phase" is P when EXPR starts "P:".
jget() {
    "$PYTHON" - "$@" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
phase = None
if expr[:2] in ("1:", "2:"):
    phase, expr = int(expr[0]), expr[2:]
j = None
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if phase is None or o.get("phase") == phase:
        j = o
if j is None:
    sys.exit("no JSON result in %s" % path)
print(eval(expr))
PY
}

# sel_client_prep: the client's kernel picks source ports above the ones
# the checks choose (60001-65000).
sel_client_prep() {
    nsx "$SEL_CLIENT" sysctl -qw net.ipv4.ip_local_port_range="60001 65000"
}

# sel_serve HOST NAME PORT...: a tcpbench server answering "NAME" on every
# PORT in HOST (tag tcpb-HOST), once it listens.
sel_serve() {
    local h=$1
    shift
    spawn_in "$h" "tcpb-$h" "$TCPBENCH" serve -n "$@"
    wait_for 10 grep -q listening "$D/logs/tcpb-$h.log" || die "tcpbench on $h"
}

# sel_wait_port PORT: until connections to $SEL_VIP:PORT are answered.
sel_wait_port() {
    wait_for 15 nsx "$SEL_CLIENT" "$TCPBENCH" conn "${SEL_VIP:-$VIP}" "$1" 4 2 3 \
        || die "no connection to ${SEL_VIP:-$VIP}:$1"
}

# upcalls [CTL]: successful upcalls so far of the ovs-vswitchd at CTL
# (default: the run's own); every bridge of one ovs-vswitchd shares them.
upcalls() {
    ovs-appctl -t "${1:-$D/ovs-vswitchd.ctl}" --timeout=20 dpif-netdev/pmd-stats-show \
        | awk '/miss with success upcall:/ { s += $NF } END { print s + 0 }'
}

# conn TAG PORT N SPORT: N connections (16 at a time) from source ports
# SPORT...; the result (with the answers per server) in $D/TAG.json.
conn() {
    nsx "$SEL_CLIENT" "$TCPBENCH" conn "${SEL_VIP:-$VIP}" "$2" "$3" 16 60 "$4" \
        >"$D/$1.json" || true
    say "$1: $(cat "$D/$1.json")"
}

# binomial FILE N W1:W2:...: every server's count within 3 sigma of
# N * w / W, every connection answered, no other server.
binomial() {
    "$PYTHON" - "$@" <<'PY'
import json, math, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
n, weights = int(sys.argv[2]), [int(w) for w in sys.argv[3].split(":")]
names = j.get("names", {})
ok = j["connections"] == n and j["errors"] == 0 and set(names) <= {"S%d" % (i + 1) for i in range(len(weights))}
for i, w in enumerate(weights):
    p = w / sum(weights)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    got = names.get("S%d" % (i + 1), 0)
    z = (got - mean) / sd
    print("S%d weight %d: %d connections, expected %.1f +- %.1f (3 sigma %.0f), z = %+.2f"
          % (i + 1, w, got, mean, sd, 3 * sd, z))
    ok = ok and abs(z) <= 3
print("answered %d of %d, errors %d" % (j["connections"], n, j["errors"]))
sys.exit(0 if ok else 1)
PY
}

# sel_split TAG PORT N SPORT WEIGHTS [WHAT]: N connections; check that the
# servers' counts follow WEIGHTS (binomial).
sel_split() {
    local tag=$1 port=$2 n=$3 sport=$4 w=$5 what=${6:-}
    conn "$tag" "$port" "$n" "$sport"
    binomial "$D/$tag.json" "$n" "$w" | while read -r l; do say "$tag: $l"; done || true
    check "${what}$n connections split $w, each server within 3 sigma" \
        binomial "$D/$tag.json" "$n" "$w"
}

# ------------------------------------------------- changes under load

declare -gA SEL_BEFORE=() SEL_SAME=() SEL_OTHER=() SEL_BROKEN=()

# sel_hold_begin TAG PORT N SPORT NAME...: N connections held open from
# SPORT...; check that all opened, each NAME answering some of them.
# SEL_BEFORE[NAME]: connections NAME answered.
sel_hold_begin() {
    local tag=$1 port=$2 n=$3 sport=$4 s all=() ok=0
    shift 4
    rm -f "$D/go-$tag"
    spawn_in "$SEL_CLIENT" "$tag" "$TCPBENCH" hold "${SEL_VIP:-$VIP}" "$port" "$n" \
        "$sport" "$D/go-$tag" 120
    wait_for 60 grep -q '"phase": 1' "$D/logs/$tag.log" || die "$tag: no phase 1"
    say "$tag before: $(grep '"phase": 1' "$D/logs/$tag.log")"
    SEL_BEFORE=()
    for s in "$@"; do
        SEL_BEFORE[$s]=$(jget "$D/logs/$tag.log" "1:j['names'].get('$s', 0)")
        all+=("$s ${SEL_BEFORE[$s]}")
        [ "${SEL_BEFORE[$s]}" -gt 0 ] || ok=1
    done
    [ "$(jget "$D/logs/$tag.log" "1:j['open']")" -eq "$n" ] || ok=1
    check "$tag: $n connections open, on ${all[*]}" test "$ok" -eq 0
}

# sel_hold_end TAG NAME...: every held connection asks again; fills
# SEL_SAME, SEL_OTHER, SEL_BROKEN per NAME (answered by the same server,
# by another, not at all).
sel_hold_end() {
    local tag=$1 s rc=0
    shift
    touch "$D/go-$tag"
    spawn_wait "$tag" 60 || rc=$?
    say "$tag after: $(grep '"phase": 2' "$D/logs/$tag.log" || echo "no phase 2 (exit $rc)")"
    for s in "$@"; do
        SEL_SAME[$s]=$(jget "$D/logs/$tag.log" "2:j['same'].get('$s', 0)" || echo -1)
        SEL_OTHER[$s]=$(jget "$D/logs/$tag.log" "2:j['other'].get('$s', 0)" || echo -1)
        SEL_BROKEN[$s]=$(jget "$D/logs/$tag.log" "2:j['broken_by'].get('$s', 0)" || echo -1)
        say "$tag: on $s before: ${SEL_BEFORE[$s]}; after the change answered by" \
            "$s: ${SEL_SAME[$s]}, by another: ${SEL_OTHER[$s]}, broken: ${SEL_BROKEN[$s]}"
    done
}

# sel_put SERVICE BODY: one REST write of SERVICE, waited for; check that
# it was installed.
sel_put() {
    local t0=$SECONDS
    api PUT "/v1/services/$1?wait=20" "$2"
    say "$1: PUT: HTTP $API_STATUS," \
        "$(tr -d ' \n' <<<"$API_BODY" | grep -o '"generation":[0-9]*,"installed":[a-z]*' || true) in $((SECONDS - t0)) s"
    check "$1: the change is one REST write, installed" _sel_installed
}
_sel_installed() { [ "$API_STATUS" = 200 ] && grep -q '"installed": *true' <<<"$API_BODY"; }

# sel_names_are FILE N "NAME...": N connections in FILE, all answered, by
# exactly the servers NAME... (sorted).
sel_names_are() {
    local want
    want=$("$PYTHON" -c 'import sys; print(sorted(sys.argv[1:]))' $3)
    test "$(jget "$1" "j['connections']")" -eq "$2"
    test "$(jget "$1" "j['errors']")" -eq 0
    test "$(jget "$1" "sorted(j['names'])")" = "$want"
}

# sel_churn TAG PORT SPORT SERVICE BODY KEPT DRAINED REMOVED NEW: 1,000
# connections held open over KEPT, DRAINED and REMOVED (names, "-" for
# none); one REST write (PUT SERVICE BODY); every held connection asks
# again: those on KEPT and DRAINED must be answered by the same server,
# those on REMOVED may break (counted); then 300 new connections (source
# ports SPORT + 1000...) must reach exactly the servers NEW ("S1 S4").
sel_churn() {
    local tag=$1 port=$2 sport=$3 svc=$4 body=$5 kept=$6 drained=$7 removed=$8 new=$9
    local names=() s
    for s in "$kept" "$drained" "$removed"; do
        [ "$s" = - ] || names+=("$s")
    done
    sel_hold_begin "$tag" "$port" 1000 "$sport" "${names[@]}"
    sel_put "$svc" "$body"
    sel_hold_end "$tag" "${names[@]}"
    if [ "$kept" != - ]; then
        check "$tag: connections on $kept (kept): all ${SEL_BEFORE[$kept]} answered again by $kept (${SEL_SAME[$kept]})" \
            test "${SEL_SAME[$kept]}" -eq "${SEL_BEFORE[$kept]}"
    fi
    if [ "$drained" != - ]; then
        check "$tag: connections on $drained (drained): all ${SEL_BEFORE[$drained]} answered again by $drained (${SEL_SAME[$drained]})" \
            test "${SEL_SAME[$drained]}" -eq "${SEL_BEFORE[$drained]}"
    fi
    if [ "$removed" != - ]; then
        say "$tag: connections on the removed $removed: ${SEL_BROKEN[$removed]} of" \
            "${SEL_BEFORE[$removed]} broke (allowed), ${SEL_SAME[$removed]} still" \
            "answered by $removed, ${SEL_OTHER[$removed]} by another"
    fi
    conn "$tag-new" "$port" 300 $((sport + 1000))
    check "$tag: new connections go to $new only: $(jget "$D/$tag-new.json" "j.get('names')" || true)" \
        sel_names_are "$D/$tag-new.json" 300 "$new"
}

# ------------------------------------------------------------ upcalls

# upcall_run TAG PORT N SPORT: N connections; sets UPC (upcalls of every
# ovs-vswitchd in $SEL_CTLS per connection, two decimals) and says the
# figures.
upcall_run() {
    local ctls=(${SEL_CTLS:-$D/ovs-vswitchd.ctl}) u0=() u1=() n i tot=0 per=""
    for i in "${!ctls[@]}"; do u0[i]=$(upcalls "${ctls[i]}"); done
    conn "$1" "$2" "$3" "$4"
    for i in "${!ctls[@]}"; do
        u1[i]=$(upcalls "${ctls[i]}")
        tot=$((tot + u1[i] - u0[i]))
        per+=" ${ctls[i]##*/}: $((u1[i] - u0[i]))"
    done
    n=$(jget "$D/$1.json" "j['connections']" || echo 0)
    UPC=$(awk -v u="$tot" -v n="$n" 'BEGIN { printf "%.2f", n ? u / n : 99 }')
    say "$1: $tot upcalls ($per ) for $n connections: $UPC per connection;" \
        "datapath flows: $(ovs-appctl -t "${ctls[0]}" upcall/show | sed -n 's/.*flows *: *//p' | head -n 1)"
}
lt_half() { awk -v x="$1" 'BEGIN { exit !(x < 0.5) }'; }

# sel_upcall_check TAG PORT SPORT [WHAT]: 2,000 connections warm the
# service, then 3,000 more must cost < 0.5 upcalls each (source ports
# SPORT... and SPORT + 2000...).
sel_upcall_check() {
    local tag=$1 port=$2 sport=$3 what=${4:-}
    conn "$tag-warm" "$port" 2000 "$sport"
    upcall_run "$tag" "$port" 3000 $((sport + 2000))
    check "${what}3,000 new connections to a warm service: $UPC upcalls per connection (< 0.5)" \
        lt_half "$UPC"
}

# sel_mode_checks LABEL CHURN_BODY [UPCALL_LABEL]: the checks of issue 9
# in one mode's test, with the servers' tcpbench on 7000 (service "split",
# S1-S3 weighted 1:2:3) and 7001: the weighted split on 7000; the write
# CHURN_BODY (service "churn" on 7001: S1 kept, S2 drained, S4 added, S3
# removed) under 1,000 held connections; upcalls on 7000.
sel_mode_checks() {
    wait_rest
    sel_client_prep
    sel_wait_port 7000
    sel_wait_port 7001
    sel_split split 7000 10000 2000 1:2:3 "$1: "
    sel_churn churn 7001 16000 churn "$2" S1 S2 S3 "S1 S4"
    sel_upcall_check upcalls 7000 12000 "${3:-$1: }"
}
