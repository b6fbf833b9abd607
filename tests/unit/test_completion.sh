#!/usr/bin/env bash
# mslbctl's bash completion (restapi/cli/mslbctl.bash): commands,
# subcommands, options per command, option values.  No server: service
# names from `mslbctl --json list` come back empty.
set -u
. "$(dirname "$0")/../../restapi/cli/mslbctl.bash"
fails=0
comp() {   # comp "EXPECTED" WORDS...: the completion of the last word
    local want=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _mslbctl
    if [ "${COMPREPLY[*]}" != "$want" ]; then
        echo "FAIL: ${COMP_WORDS[*]}: '${COMPREPLY[*]}', expected '$want'"
        fails=$((fails + 1))
    fi
}
mslbctl() { return 1; }      # No server to ask for service names.
# lcomp "EXPECTED" LINE: the completion at the end of command line LINE
# (COMP_LINE, as bash gives it; its COMP_WORDS split at ':' and '=').
lcomp() {
    local want=$1
    COMP_LINE=$2
    COMP_POINT=${#COMP_LINE}
    COMP_WORDS=(unused)
    COMP_CWORD=0
    COMPREPLY=()
    _mslbctl
    if [ "${COMPREPLY[*]}" != "$want" ]; then
        echo "FAIL: '$COMP_LINE': '${COMPREPLY[*]}', expected '$want'"
        fails=$((fails + 1))
    fi
    unset COMP_LINE COMP_POINT
}
comp "backend bridge" mslbctl b
comp "add remove drain up down weight" mslbctl backend ""
comp "put" mslbctl bridge p
comp "--mode" mslbctl create web --mo
comp "nat dr tun l3dsr mslb local slb" mslbctl create web --mode ""
comp "tcp udp any" mslbctl create web --protocol ""
comp "--name" mslbctl backend add web --na
comp "--set" mslbctl backend add web --name s1 --se
comp "up drain down" mslbctl backend add web --state ""
comp "--file" mslbctl replace --fi
comp "--json" mslbctl status --js
# A URL with ':' does not shift the words; the service names come from
# `mslbctl list` asked with the line's --url and --token (services only,
# not their backends).
lcomp "add remove drain up down weight" "mslbctl --url http://h:8080 backend "
lcomp "--mode" "mslbctl --url http://[2001:db8::1]:8080 create web --mo"
mslbctl() {
    [ "$*" = "--url http://h:8080 --token t=1 --timeout 2 list" ] || return 1
    printf 'NAME  VIP           PROTO  PORT  MODE  BACKENDS\n'
    printf 'web   198.18.0.100  tcp    80    nat   s1,s2\n'
    printf 'dns   198.18.0.100  udp    53    nat   d1\n'
}
lcomp "web" "mslbctl --url http://h:8080 --token t=1 show w"
lcomp "web dns" "mslbctl --url http://h:8080 --token t=1 backend add "
lcomp "" "mslbctl show w"
[ "$fails" -eq 0 ] && echo "all completion checks passed"
exit "$fails"
