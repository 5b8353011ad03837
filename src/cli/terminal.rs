//! The user's side of an attached session: the terminal in raw mode, its size, the
//! detach keys (Docker's `--detach-keys` syntax), and ending as a signal would.

use std::str::FromStr;

use anyhow::bail;

/// Puts a terminal in raw mode for as long as it lives.
pub(super) struct RawMode(Option<rustix::termios::Termios>);

impl RawMode {
    pub(super) fn enable(tty: bool) -> RawMode {
        let stdin = std::io::stdin();
        if !tty || !rustix::termios::isatty(&stdin) {
            return RawMode(None);
        }
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}

/// The size of the user's terminal (stdout's, else stdin's).
pub(super) fn winsize() -> Option<rustix::termios::Winsize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()
}

/// Ends this process as signal `sig` would have, had box not caught it (to restore
/// the terminal first): the shell then sees the usual 128+N status.
pub(super) fn die_of(sig: nix::sys::signal::Signal) -> ! {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(sig);
    let _ = set.thread_unblock();
    let _ = nix::sys::signal::raise(sig);
    // Ignored by whoever started box: end with its status all the same.
    std::process::exit(128 + sig as i32)
}

/// The keys that detach a client from a container, leaving it running: Docker's
/// syntax, comma-separated keys, each `ctrl-<x>` (a letter, or one of `@[\]^_`) or a
/// single character; `ctrl-p,ctrl-q` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    fn default() -> DetachKeys {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl FromStr for DetachKeys {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<DetachKeys> {
        let mut keys = Vec::new();
        for key in s.split(',') {
            let lower = key.to_ascii_lowercase();
            let code = match (key.as_bytes(), lower.strip_prefix("ctrl-")) {
                ([one], _) => *one,
                (_, Some(x)) if x.len() == 1 => match x.as_bytes()[0] {
                    c @ b'a'..=b'z' => c - b'a' + 1,
                    c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => c - b'@',
                    _ => bail!(bad_keys(s)),
                },
                _ => bail!(bad_keys(s)),
            };
            keys.push(code);
        }
        Ok(DetachKeys(keys))
    }
}

fn bad_keys(s: &str) -> String {
    format!("invalid detach keys {s:?}: give comma-separated keys, each ctrl-<letter>, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or a single character (default ctrl-p,ctrl-q)")
}

/// Finds the detach keys in what the user typed, across reads: bytes that may start
/// the sequence are held back until the next ones show whether they do.
pub struct DetachScan {
    keys: Vec<u8>,
    held: Vec<u8>,
}

impl DetachScan {
    pub fn new(keys: &DetachKeys) -> DetachScan {
        DetachScan {
            keys: keys.0.clone(),
            held: Vec::new(),
        }
    }

    /// The bytes to pass on, and whether the user detached.
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            self.held.push(b);
            // The longest held tail that still starts the sequence; what comes
            // before it is passed on.
            while !self.keys.starts_with(&self.held) {
                out.push(self.held.remove(0));
            }
            if self.held.len() == self.keys.len() {
                self.held.clear();
                return (out, true);
            }
        }
        (out, false)
    }
}

/// How a copy of stdin ([`copy_stdin`]) ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StdinEnd {
    /// Stdin ended, or the other side took no more.
    Ended,
    /// The user typed the detach keys.
    Detached,
}

/// Copies this process's stdin to `pass` (which says whether it took the bytes) until
/// it ends, or until the detach keys, which are not passed on.
pub fn copy_stdin(keys: Option<&DetachKeys>, mut pass: impl FnMut(&[u8]) -> bool) -> StdinEnd {
    use std::io::Read;
    let mut buf = [0u8; 32 * 1024];
    let mut stdin = std::io::stdin().lock();
    let mut scan = keys.map(DetachScan::new);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return StdinEnd::Ended,
            Ok(n) => n,
        };
        let Some(scan) = scan.as_mut() else {
            if !pass(&buf[..n]) {
                return StdinEnd::Ended;
            }
            continue;
        };
        let (bytes, detach) = scan.scan(&buf[..n]);
        if !bytes.is_empty() && !pass(&bytes) {
            return StdinEnd::Ended;
        }
        if detach {
            return StdinEnd::Detached;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<u8> {
        s.parse::<DetachKeys>().unwrap().0
    }

    #[test]
    fn docker_syntax() {
        assert_eq!(keys("ctrl-p,ctrl-q"), vec![0x10, 0x11]);
        assert_eq!(DetachKeys::default().0, vec![0x10, 0x11]);
        assert_eq!(keys("ctrl-a"), vec![1]);
        assert_eq!(keys("CTRL-Z,x"), vec![26, b'x']);
        assert_eq!(
            keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"),
            vec![0, 27, 28, 29, 30, 31]
        );
        assert_eq!(keys("a,b,c"), b"abc".to_vec());
        for bad in ["", "ctrl-", "ctrl-1", "ctrl-ab", "ab", "a,,b", "shift-a"] {
            assert!(bad.parse::<DetachKeys>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn detach_keys_across_reads() {
        let mut d = DetachScan::new(&DetachKeys::default());
        assert_eq!(d.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(d.scan(b"\x11rest"), (vec![], true));
        let mut d = DetachScan::new(&DetachKeys::default());
        assert_eq!(d.scan(b"\x10x\x10\x10\x11"), (b"\x10x\x10".to_vec(), true));
        let mut d = DetachScan::new(&"a,a,b".parse().unwrap());
        assert_eq!(d.scan(b"aaab"), (b"a".to_vec(), true));
        let mut d = DetachScan::new(&"ctrl-x".parse().unwrap());
        assert_eq!(d.scan(b"ab\x18cd"), (b"ab".to_vec(), true));
    }
}
