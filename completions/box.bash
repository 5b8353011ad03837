# bash completion for box(1), from `box completion bash`. box itself answers
# each TAB (BOX_COMPLETE=bash box -- LINE WORD), from its flags and the user's own
# containers and images; bash's COMP_WORDS are not used, since bash splits
# repo:tag and --opt=value apart.
_box() {
    local IFS=$'\013'
    COMPREPLY=($(BOX_COMPLETE=bash "box" -- "${COMP_LINE:0:COMP_POINT}" "$2" 2>/dev/null))
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/:=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -o nosort -F _box box 2>/dev/null || complete -F _box box
