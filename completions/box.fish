# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_box_global_optspecs
    string join \n h/help V/version
end

function __fish_box_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_box_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_box_using_subcommand
    set -l cmd (__fish_box_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c box -n "__fish_box_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c box -n "__fish_box_needs_command" -s V -l version -d 'Print version'
complete -c box -n "__fish_box_needs_command" -f -a "pull" -d 'Download an image from a registry'
complete -c box -n "__fish_box_needs_command" -f -a "images" -d 'List images'
complete -c box -n "__fish_box_needs_command" -f -a "rmi" -d 'Remove one or more images'
complete -c box -n "__fish_box_needs_command" -f -a "tag" -d 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'
complete -c box -n "__fish_box_needs_command" -f -a "image" -d 'Manage images'
complete -c box -n "__fish_box_needs_command" -f -a "info" -d 'Display system-wide information'
complete -c box -n "__fish_box_needs_command" -f -a "version" -d 'Show the box version information'
complete -c box -n "__fish_box_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c box -n "__fish_box_using_subcommand pull" -l platform -d 'Pull for this platform instead of the host\'s (os/arch[/variant])' -r
complete -c box -n "__fish_box_using_subcommand pull" -s q -l quiet -d 'Suppress verbose output: print only the image reference'
complete -c box -n "__fish_box_using_subcommand pull" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand images" -s a -l all -d 'Show all images (box keeps no intermediate images, so this is the default list)'
complete -c box -n "__fish_box_using_subcommand images" -s q -l quiet -d 'Only show image IDs'
complete -c box -n "__fish_box_using_subcommand images" -l digests -d 'Show digests'
complete -c box -n "__fish_box_using_subcommand images" -l no-trunc -d 'Don\'t truncate output'
complete -c box -n "__fish_box_using_subcommand images" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand rmi" -s f -l force -d 'Force removal of images with several tags'
complete -c box -n "__fish_box_using_subcommand rmi" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand tag" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "ls" -d 'List images'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "list" -d 'List images'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "pull" -d 'Download an image from a registry'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "rm" -d 'Remove one or more images'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "tag" -d 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "inspect" -d 'Display detailed information on one or more images'
complete -c box -n "__fish_box_using_subcommand image; and not __fish_seen_subcommand_from ls list pull rm tag inspect prune" -f -a "prune" -d 'Remove unused images'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from ls" -s a -l all -d 'Show all images (box keeps no intermediate images, so this is the default list)'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Only show image IDs'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from ls" -l digests -d 'Show digests'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from ls" -l no-trunc -d 'Don\'t truncate output'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from list" -s a -l all -d 'Show all images (box keeps no intermediate images, so this is the default list)'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only show image IDs'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from list" -l digests -d 'Show digests'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from list" -l no-trunc -d 'Don\'t truncate output'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from pull" -l platform -d 'Pull for this platform instead of the host\'s (os/arch[/variant])' -r
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from pull" -s q -l quiet -d 'Suppress verbose output: print only the image reference'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from rm" -s f -l force -d 'Force removal of images with several tags'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from tag" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from prune" -s a -l all -d 'Remove all unused images, not just dangling ones'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from prune" -s f -l force -d 'Do not prompt for confirmation'
complete -c box -n "__fish_box_using_subcommand image; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand info" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand version" -s h -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand completion" -s h -l help -d 'Print help'
