//! Signals as users type them (`SIGTERM`, `TERM`, `term`, `15`, `SIGRTMIN+3`,
//! `RTMAX-1`), for `box kill -s`, `--stop-signal` and an image's StopSignal. A signal
//! is carried as its number: real-time signals (systemd stops on `SIGRTMIN+3`) have
//! no name in `nix`'s `Signal`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid signal {0:?}: give a name such as SIGTERM, KILL or RTMIN+3, or a number from 1 to 64"
)]
pub struct BadSignal(pub String);

/// A signal number, 1 to 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

/// The first real-time signal as programs see it: glibc keeps 32 and 33 for itself,
/// so `SIGRTMIN` is 34, as in Docker's signal table (and systemd's `SIGRTMIN+3`, 37).
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

impl Signal {
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const TERM: Signal = Signal(libc::SIGTERM);

    pub fn number(self) -> i32 {
        self.0
    }

    pub fn from_number(n: i32) -> Option<Signal> {
        (1..=RTMAX).contains(&n).then_some(Signal(n))
    }
}

impl FromStr for Signal {
    type Err = BadSignal;

    fn from_str(s: &str) -> Result<Signal, BadSignal> {
        let bad = || BadSignal(s.to_string());
        if let Ok(n) = s.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(bad);
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let rt = |base: &str, sign: i32, limit: i32| -> Option<i32> {
            let rest = name.strip_prefix(base)?;
            if rest.is_empty() {
                return Some(if sign > 0 { RTMIN } else { RTMAX });
            }
            let op = if sign > 0 { '+' } else { '-' };
            let n: i32 = rest.strip_prefix(op)?.parse().ok()?;
            (0..=limit)
                .contains(&n)
                .then_some(if sign > 0 { RTMIN + n } else { RTMAX - n })
        };
        if let Some(n) = rt("RTMIN", 1, RTMAX - RTMIN).or_else(|| rt("RTMAX", -1, RTMAX - RTMIN)) {
            return Ok(Signal(n));
        }
        format!("SIG{name}")
            .parse::<nix::sys::signal::Signal>()
            .map(|s| Signal(s as i32))
            .map_err(|_| bad())
    }
}

impl fmt::Display for Signal {
    /// Its name (`SIGTERM`, `SIGRTMIN+3`), or its number if it has none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            RTMIN => f.write_str("SIGRTMIN"),
            RTMAX => f.write_str("SIGRTMAX"),
            // Docker's table: RTMIN+1 to RTMIN+15, then RTMAX-14 to RTMAX-1.
            n if n > RTMIN && n <= RTMIN + 15 => write!(f, "SIGRTMIN+{}", n - RTMIN),
            n if n > RTMIN + 15 => write!(f, "SIGRTMAX-{}", RTMAX - n),
            n => match nix::sys::signal::Signal::try_from(n) {
                Ok(s) => f.write_str(s.as_str()),
                Err(_) => write!(f, "{n}"),
            },
        }
    }
}

/// Parses a signal as [`Signal::from_str`] does.
pub fn parse(s: &str) -> Result<Signal, BadSignal> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("SIGTERM"), Ok(Signal::TERM));
        assert_eq!(parse("kill"), Ok(Signal::KILL));
        assert_eq!(parse("USR1").map(Signal::number), Ok(libc::SIGUSR1));
        assert_eq!(parse("9"), Ok(Signal::KILL));
        assert!(parse("SIGNOPE").is_err() && parse("99").is_err() && parse("0").is_err());
    }

    #[test]
    fn real_time_signals() {
        assert_eq!(parse("SIGRTMIN+3").map(Signal::number), Ok(37));
        assert_eq!(parse("rtmin+3").map(Signal::number), Ok(37));
        assert_eq!(parse("RTMIN").map(Signal::number), Ok(34));
        assert_eq!(parse("SIGRTMAX").map(Signal::number), Ok(64));
        assert_eq!(parse("RTMAX-1").map(Signal::number), Ok(63));
        assert_eq!(parse("37").map(Signal::number), Ok(37));
        assert_eq!(parse("64").map(Signal::number), Ok(64));
        assert!(parse("RTMIN+31").is_err() && parse("RTMIN-1").is_err());
        assert!(parse("RTMAX+1").is_err() && parse("RTMIN+x").is_err());
        assert_eq!(parse("RTMIN+3").unwrap().to_string(), "SIGRTMIN+3");
        assert_eq!(parse("RTMAX").unwrap().to_string(), "SIGRTMAX");
        assert_eq!(parse("63").unwrap().to_string(), "SIGRTMAX-1");
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    }
}
