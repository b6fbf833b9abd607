# bash completion for mslbctl (installed as
# share/bash-completion/completions/mslbctl): commands, subcommands,
# options, and service names from the server (mslbctl --json list) when it
# answers.
_mslbctl_services() {
    mslbctl --timeout 2 --json list 2>/dev/null \
        | sed -n 's/^ *"name": "\([^"]*\)",\{0,1\}$/\1/p'
}

_mslbctl() {
    local cur prev words cword
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local globals="--url --token --json --wait --timeout --help --version"
    local commands="list show create replace delete backend bridge status stats"
    local cmd="" sub="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --url|--token|--wait|--timeout|--file|--vip|--protocol|--port|\
            --mode|--bridge|--backend|--name|--ip|--mac|--weight|--state|--set)
                ((i++)) ;;
            -*) ;;
            *)  if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}
                elif [ -z "$sub" ]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done
    case $prev in
        --file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --protocol) COMPREPLY=($(compgen -W "tcp udp any" -- "$cur")); return ;;
        --mode) COMPREPLY=($(compgen -W "nat dr tun l3dsr mslb local slb" -- "$cur")); return ;;
        --state) COMPREPLY=($(compgen -W "up drain down" -- "$cur")); return ;;
        --url|--token|--wait|--timeout|--vip|--port|--bridge|--backend|\
        --name|--ip|--mac|--weight|--set) return ;;
    esac
    local opts=""
    case $cmd in
        "") COMPREPLY=($(compgen -W "$commands $globals" -- "$cur")); return ;;
        create) opts="--file --vip --protocol --port --mode --bridge --backend --set" ;;
        replace) opts="--file" ;;
        show|delete|stats)
            if [[ $cur != -* ]] && [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_mslbctl_services)" -- "$cur"))
                return
            fi ;;
        backend)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "add remove drain up down weight" -- "$cur"))
                return
            fi
            [ "$sub" = add ] && opts="--name --ip --mac --port --weight --state --set"
            if [[ $cur != -* ]] && [ "$(( COMP_CWORD - 1 ))" -ge 0 ] \
                && [ "${COMP_WORDS[COMP_CWORD-1]}" = "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_mslbctl_services)" -- "$cur"))
                return
            fi ;;
        bridge)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "show put delete" -- "$cur"))
                return
            fi
            [ "$sub" = put ] && opts="--file" ;;
    esac
    COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
}
complete -F _mslbctl mslbctl
