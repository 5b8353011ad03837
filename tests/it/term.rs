//! Sessions in a pseudo-terminal (`script`, see [`Sandbox::in_terminal`]) driven by
//! what they print, as a user would: a loaded machine may take seconds to show a
//! prompt, and keys typed before the client is attached (or before it put the
//! terminal in raw mode) mean something else.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::Sandbox;

pub struct Session {
    child: Child,
    /// Open until the session ends: at its end, `script` would type ^D into it.
    input: Option<ChildStdin>,
    seen: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    /// How much of `seen` the expectations have consumed.
    cursor: usize,
}

impl Session {
    /// `box ARGS` in a terminal of its own.
    pub fn start(sb: &Sandbox, args: &[&str]) -> Session {
        let mut child = sb
            .in_terminal(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take();
        let mut out = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        Session {
            child,
            input,
            seen,
            reader: Some(reader),
            cursor: 0,
        }
    }

    /// The pid of `script`, the terminal's owner.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `text` comes after what earlier expectations consumed, then
    /// consumes it. A minute at most, for a machine under the whole suite's load.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let seen = self.seen.lock().unwrap();
                let rest = &seen[self.cursor..];
                if let Some(at) = rest.windows(text.len()).position(|w| w == text.as_bytes()) {
                    self.cursor += at + text.len();
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the session never printed {text:?}: {}",
                    String::from_utf8_lossy(&seen)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, keys: &[u8]) {
        let input = self.input.as_mut().expect("the session's input is open");
        input.write_all(keys).unwrap();
        input.flush().unwrap();
    }

    /// Closes the window: `script` killed, its terminal hangs up the session.
    pub fn close_window(&mut self) -> ExitStatus {
        crate::ctr::signal(self.id().into(), rustix::process::Signal::KILL);
        let st = self.child.wait().unwrap();
        self.input = None;
        st
    }

    /// Waits for the end of the session (five minutes at most: a hung client must
    /// fail its test), and returns its status and all it printed.
    pub fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(300);
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the session did not end: {}",
                    String::from_utf8_lossy(&self.seen.lock().unwrap())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.input = None;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let out = String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned();
        (st, out)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
