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
[ "$fails" -eq 0 ] && echo "all completion checks passed"
exit "$fails"
