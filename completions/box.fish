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
complete -c box -n "__fish_box_needs_command" -f -a "run" -d 'Create and run a new container from an image'
complete -c box -n "__fish_box_needs_command" -f -a "pull" -d 'Download an image from a registry'
complete -c box -n "__fish_box_needs_command" -f -a "images" -d 'List images'
complete -c box -n "__fish_box_needs_command" -f -a "rmi" -d 'Remove one or more images'
complete -c box -n "__fish_box_needs_command" -f -a "tag" -d 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'
complete -c box -n "__fish_box_needs_command" -f -a "image" -d 'Manage images'
complete -c box -n "__fish_box_needs_command" -f -a "info" -d 'Display system-wide information'
complete -c box -n "__fish_box_needs_command" -f -a "version" -d 'Show the box version information'
complete -c box -n "__fish_box_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c box -n "__fish_box_needs_command" -f -a "__shim" -d 'The per-container supervisor (started by box itself)'
complete -c box -n "__fish_box_using_subcommand run" -l name -d 'Assign a name to the container' -r
complete -c box -n "__fish_box_using_subcommand run" -s e -l env -d 'Set environment variables (KEY=VALUE, or KEY to pass the host\'s value)' -r
complete -c box -n "__fish_box_using_subcommand run" -l env-file -d 'Read environment variables from a file' -r -F
complete -c box -n "__fish_box_using_subcommand run" -s w -l workdir -d 'Working directory inside the container' -r
complete -c box -n "__fish_box_using_subcommand run" -s u -l user -d 'Username or UID (format: <name|uid>[:<group|gid>])' -r
complete -c box -n "__fish_box_using_subcommand run" -l entrypoint -d 'Overwrite the default ENTRYPOINT of the image' -r
complete -c box -n "__fish_box_using_subcommand run" -s h -l hostname -d 'Container host name' -r
complete -c box -n "__fish_box_using_subcommand run" -s v -l volume -d 'Bind mount a host path: HOST:CONTAINER[:ro|rw]' -r
complete -c box -n "__fish_box_using_subcommand run" -l mount -d 'Attach a mount: type=bind,source=..,target=..[,readonly] or type=tmpfs,target=..' -r
complete -c box -n "__fish_box_using_subcommand run" -l tmpfs -d 'Mount a tmpfs: PATH[:OPTIONS]' -r
complete -c box -n "__fish_box_using_subcommand run" -l cap-add -d 'Add Linux capabilities' -r
complete -c box -n "__fish_box_using_subcommand run" -l cap-drop -d 'Drop Linux capabilities' -r
complete -c box -n "__fish_box_using_subcommand run" -l security-opt -d 'Security options: seccomp=unconfined|PROFILE.json, no-new-privileges' -r
complete -c box -n "__fish_box_using_subcommand run" -l platform -d 'Pull for this platform (os/arch[/variant])' -r
complete -c box -n "__fish_box_using_subcommand run" -l network -d 'Network: none or host' -r
complete -c box -n "__fish_box_using_subcommand run" -l pull -d 'Pull image before running: always, missing or never' -r -f -a "always\t''
missing\t''
never\t''"
complete -c box -n "__fish_box_using_subcommand run" -l help -d 'Print help'
complete -c box -n "__fish_box_using_subcommand run" -s i -l interactive -d 'Keep STDIN open and pass it to the container'
complete -c box -n "__fish_box_using_subcommand run" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c box -n "__fish_box_using_subcommand run" -s d -l detach -d 'Run in the background and print the container id'
complete -c box -n "__fish_box_using_subcommand run" -l rm -d 'Remove the container when it exits'
complete -c box -n "__fish_box_using_subcommand run" -l read-only -d 'Mount the container\'s root filesystem read-only'
complete -c box -n "__fish_box_using_subcommand run" -l privileged -d 'Give extended privileges to this container'
complete -c box -n "__fish_box_using_subcommand run" -l init -d 'Run an init inside the container that forwards signals and reaps processes'
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
complete -c box -n "__fish_box_using_subcommand __shim" -s h -l help -d 'Print help'
