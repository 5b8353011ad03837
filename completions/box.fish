# fish completion for box(1), from `box completion fish`. box itself answers
# each TAB (BOX_COMPLETE=fish box -- WORDS), from its flags and the user's own
# containers and images.
complete --keep-order --exclusive --command box --arguments "(BOX_COMPLETE=fish box -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
