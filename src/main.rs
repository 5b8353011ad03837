//! The `box` binary: parse the command line, build the context, dispatch, and turn
//! an error into one line on stderr and exit status 125.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
