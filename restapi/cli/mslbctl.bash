# bash completion for mslbctl (installed as
# share/bash-completion/completions/mslbctl): commands, subcommands,
# options, and service names from the server (mslbctl list, with the
# --url and --token of the line) when it answers.
_mslbctl_services() {
    mslbctl "$@" --timeout 2 list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_mslbctl() {
    # The words as the shell splits them on blanks only: bash's own
    # COMP_WORDS also splits at ':' and '=' (--url http://h:8080).
    local words cword
    if [ -n "${COMP_LINE:-}" ]; then
        local line=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}
        read -r -a words <<<"$line"
        [[ $line == *[[:blank:]] ]] && words+=("")
    else
        words=("${COMP_WORDS[@]}")
    fi
    cword=$(( ${#words[@]} - 1 ))
    local cur=${words[cword]} prev=${words[cword-1]}
    local globals="--url --token --json --wait --timeout --help --version"
    local commands="list show create replace delete backend bridge status stats"
    local cmd="" sub="" i conn=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --url|--token)
                conn+=("${words[i]}" "${words[i+1]}")
                ((i++)) ;;
            --wait|--timeout|--file|--vip|--protocol|--port|\
            --mode|--bridge|--backend|--name|--ip|--mac|--weight|--state|--set)
                ((i++)) ;;
            -*) ;;
            *)  if [ -z "$cmd" ]; then cmd=${words[i]}
                elif [ -z "$sub" ]; then sub=${words[i]}; fi ;;
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
                COMPREPLY=($(compgen -W "$(_mslbctl_services ${conn[@]+"${conn[@]}"})" -- "$cur"))
                return
            fi ;;
        backend)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "add remove drain up down weight" -- "$cur"))
                return
            fi
            [ "$sub" = add ] && opts="--name --ip --mac --port --weight --state --set"
            if [[ $cur != -* ]] && [ "$prev" = "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_mslbctl_services ${conn[@]+"${conn[@]}"})" -- "$cur"))
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
