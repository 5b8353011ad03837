//! Signal names as users type them (`SIGTERM`, `TERM`, `term`, `15`), for `box kill
//! -s`, `--stop-signal` and an image's StopSignal.

use nix::sys::signal::Signal;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid signal {0:?}: give a name such as SIGTERM or KILL, or a number")]
pub struct BadSignal(pub String);

pub fn parse(s: &str) -> Result<Signal, BadSignal> {
    let bad = || BadSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("SIGTERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse("kill"), Ok(Signal::SIGKILL));
        assert_eq!(parse("USR1"), Ok(Signal::SIGUSR1));
        assert_eq!(parse("9"), Ok(Signal::SIGKILL));
        assert!(parse("SIGNOPE").is_err() && parse("99").is_err());
    }
}
