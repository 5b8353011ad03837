//! The shim's attach clients: non-blocking sockets, each with a bounded buffer of
//! output not yet taken, so that a client that stops reading (a `box attach` piped
//! into a stalled reader, or stopped with Ctrl-Z) never blocks the shim: the
//! container, its log and the other clients go on.
//!
//! A client more than [`BOUND`] bytes behind holds the container's output back, as a
//! pipe would (a slow reader loses nothing); one that stays that far behind for
//! [`STALL`] is dropped, and the output flows again.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use crate::proto;

/// Output a client may have pending before it holds the container back.
pub const BOUND: usize = 1 << 20;
/// How long a client may stay [`BOUND`] behind (or, once the container has ended,
/// take nothing at all) before it is dropped.
pub const STALL: Duration = Duration::from_secs(2);

pub struct Client {
    stream: UnixStream,
    /// What the client sent that does not make a whole frame yet.
    inbuf: Vec<u8>,
    /// Frames not yet written to the client.
    out: VecDeque<u8>,
    /// False for control clients, which want no output.
    output: bool,
    /// Its end is the end of the container's stdin ([`proto::STDIN_ONCE`]).
    stdin_once: bool,
    detached: bool,
    /// It has sent stdin: while the container is behind on it, the shim reads no
    /// more from this client.
    sends_stdin: bool,
    /// Since when it has been more than [`BOUND`] behind.
    behind_since: Option<Instant>,
    /// When it last took something (or had nothing to take).
    progress: Instant,
    /// A write failed: it has gone; its end is read in [`Clients::serve`].
    broken: bool,
}

/// What a client's frames ask of the shim.
pub enum Request {
    /// Bytes for the container's stdin.
    Stdin(Vec<u8>),
    StdinEof,
    /// Rows and columns of the client's terminal.
    Resize(u16, u16),
    /// Deliver this signal to the container.
    Signal(i32),
    /// The user stops the container with this signal: no restart follows.
    Stop(i32),
    /// A stdin-once client left without detaching: the container's stdin ends.
    Hangup,
}

#[derive(Default)]
pub struct Clients(Vec<Client>);

impl Clients {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes every pending connection.
    pub fn accept(&mut self, listener: &UnixListener) {
        while let Ok((s, _)) = listener.accept() {
            self.add(s);
        }
    }

    pub fn add(&mut self, stream: UnixStream) {
        let _ = stream.set_nonblocking(true);
        self.0.push(Client {
            stream,
            inbuf: Vec::new(),
            out: VecDeque::new(),
            output: true,
            stdin_once: false,
            detached: false,
            sends_stdin: false,
            behind_since: None,
            progress: Instant::now(),
            broken: false,
        });
    }

    /// Queues a frame for every client (only those that want output, if `output`)
    /// and sends what the sockets take now.
    pub fn broadcast(&mut self, kind: u8, payload: &[u8], output: bool) {
        for c in self
            .0
            .iter_mut()
            .filter(|c| !c.broken && (c.output || !output))
        {
            if c.out.is_empty() {
                c.progress = Instant::now();
            }
            proto::encode_frame(&mut c.out, kind, payload);
            c.flush();
        }
    }

    /// True while a client is too far behind to take more output for now.
    pub fn holding_back(&self) -> bool {
        self.0.iter().any(|c| c.behind_since.is_some())
    }

    /// True while some client has output it has not taken.
    pub fn pending(&self) -> bool {
        self.0.iter().any(|c| !c.out.is_empty())
    }

    /// Drops the clients that have stayed too far behind for [`STALL`], and with
    /// `all`, any that has taken nothing for that long. Returns what their leaving
    /// means for the container, as for a client that leaves by itself.
    #[must_use]
    pub fn drop_stalled(&mut self, all: bool) -> Vec<Request> {
        let now = Instant::now();
        let mut requests = Vec::new();
        self.0.retain(|c| {
            let behind = c.behind_since.is_some_and(|t| now - t >= STALL);
            let idle = all && !c.out.is_empty() && now - c.progress >= STALL;
            !(behind || idle) || c.left(&mut requests)
        });
        requests
    }

    /// What to poll each client for, in order. With `hold_stdin`, clients that send
    /// stdin are not read: only their end (POLLHUP, which poll always reports) and
    /// what they are owed are watched.
    pub fn interests(&self, hold_stdin: bool) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        self.0
            .iter()
            .map(|c| {
                let mut f = if hold_stdin && c.sends_stdin {
                    PollFlags::empty()
                } else {
                    PollFlags::POLLIN
                };
                if !c.out.is_empty() {
                    f |= PollFlags::POLLOUT;
                }
                (c.stream.as_fd(), f)
            })
            .collect()
    }

    /// Serves the clients after a poll (`ready` in the order of [`Clients::interests`],
    /// taken before any client was added): writes what they can take, reads what they
    /// sent. Clients that left are removed. Returns their requests in order.
    pub fn serve(&mut self, ready: &[PollFlags]) -> Vec<Request> {
        let mut requests = Vec::new();
        let mut k = 0;
        self.0.retain_mut(|c| {
            let r = ready.get(k).copied().unwrap_or(PollFlags::empty());
            k += 1;
            if r.is_empty() {
                return true;
            }
            // Read first: a client's last words (a detach) come before its end.
            if r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                && !c.read(&mut requests)
            {
                return c.left(&mut requests);
            }
            if r.contains(PollFlags::POLLOUT) {
                c.flush();
            }
            true
        });
        requests
    }
}

impl Client {
    /// Writes what the socket takes now. A client whose socket fails is marked
    /// broken, with nothing pending: it has gone.
    fn flush(&mut self) {
        while !self.out.is_empty() && !self.broken {
            let (head, _) = self.out.as_slices();
            match self.stream.write(head) {
                Ok(n) if n > 0 => {
                    self.out.drain(..n);
                    self.progress = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Ok(_) | Err(_) => {
                    self.broken = true;
                    self.out.clear();
                }
            }
        }
        if self.out.len() > BOUND {
            self.behind_since.get_or_insert_with(Instant::now);
        } else {
            self.behind_since = None;
        }
    }

    /// Reads what the client sent; false once it has closed its end.
    fn read(&mut self, requests: &mut Vec<Request>) -> bool {
        // Small: requests are small frames and stdin comes in pieces of the client's
        // own size anyway, and a large buffer inlined into the supervisor's loop
        // makes its frame large: the stack probes then keep every page of it dirty
        // in each idle shim (see `pump`).
        let mut buf = [0u8; 4096];
        let alive = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break false,
                Ok(n) => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    break true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break e.kind() == ErrorKind::WouldBlock,
            }
        };
        while let Some((kind, payload)) = proto::take_frame(&mut self.inbuf) {
            let int = || {
                <[u8; 4]>::try_from(payload.as_slice())
                    .ok()
                    .map(i32::from_be_bytes)
            };
            match kind {
                proto::CONTROL => self.output = false,
                proto::STDIN_ONCE => self.stdin_once = true,
                proto::DETACH => self.detached = true,
                proto::STDIN => {
                    self.sends_stdin = true;
                    requests.push(Request::Stdin(payload));
                }
                proto::STDIN_EOF => requests.push(Request::StdinEof),
                proto::RESIZE if payload.len() == 4 => requests.push(Request::Resize(
                    u16::from_be_bytes([payload[0], payload[1]]),
                    u16::from_be_bytes([payload[2], payload[3]]),
                )),
                proto::SIGNAL => requests.extend(int().map(Request::Signal)),
                proto::STOP => requests.extend(int().map(Request::Stop)),
                _ => {}
            }
        }
        alive
    }

    /// The client has gone: says what that means for the container. Always false
    /// (the client is not kept).
    fn left(&self, requests: &mut Vec<Request>) -> bool {
        if self.stdin_once && !self.detached {
            requests.push(Request::Hangup);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_behind_holds_back_until_it_reads() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours);
        let chunk = vec![b'x'; 64 * 1024];
        // The socket's buffer fills, then ours, past the bound: nothing blocks.
        while !clients.holding_back() {
            clients.broadcast(proto::STDOUT, &chunk, true);
        }
        assert!(clients.pending());
        assert!(clients.drop_stalled(false).is_empty());
        assert!(!clients.is_empty(), "not stalled long enough to be dropped");
        // The client reads: the output flows again, whole frames in order.
        theirs.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut read_all = |got: &mut Vec<u8>| {
            let mut buf = [0u8; 65536];
            while let Ok(n @ 1..) = theirs.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        };
        while clients.pending() {
            read_all(&mut got);
            assert!(clients.serve(&[PollFlags::POLLOUT]).is_empty());
        }
        read_all(&mut got);
        assert!(!clients.holding_back());
        let mut frames = 0;
        while let Some((kind, payload)) = proto::take_frame(&mut got) {
            assert_eq!((kind, payload.len()), (proto::STDOUT, chunk.len()));
            frames += 1;
        }
        assert!(frames * chunk.len() > BOUND && got.is_empty());
    }

    #[test]
    fn a_stdin_once_client_that_goes_without_detaching_hangs_up() {
        for (detach, hangups) in [(false, 1), (true, 0)] {
            let (ours, mut theirs) = UnixStream::pair().unwrap();
            let mut clients = Clients::default();
            clients.add(ours);
            proto::write_frame(&mut theirs, proto::STDIN_ONCE, &[]).unwrap();
            proto::write_frame(&mut theirs, proto::STDIN, b"hi").unwrap();
            if detach {
                proto::write_frame(&mut theirs, proto::DETACH, &[]).unwrap();
            }
            drop(theirs);
            let mut requests = Vec::new();
            while !clients.is_empty() {
                requests.extend(clients.serve(&[PollFlags::POLLIN]));
            }
            assert!(matches!(&requests[0], Request::Stdin(b) if b == b"hi"));
            let n = requests
                .iter()
                .filter(|r| matches!(r, Request::Hangup))
                .count();
            assert_eq!(n, hangups, "detach: {detach}");
        }
    }

    /// A stdin-once client dropped for not reading has left without detaching: the
    /// container's stdin ends as if it had gone by itself. A detached one's does not.
    #[test]
    fn a_stalled_stdin_once_client_dropped_hangs_up() {
        let mut ends = Vec::new();
        let mut clients = Clients::default();
        for detach in [false, true] {
            let (ours, mut theirs) = UnixStream::pair().unwrap();
            clients.add(ours);
            proto::write_frame(&mut theirs, proto::STDIN_ONCE, &[]).unwrap();
            if detach {
                proto::write_frame(&mut theirs, proto::DETACH, &[]).unwrap();
            }
            ends.push(theirs);
        }
        while clients.0.iter().any(|c| !c.stdin_once) {
            let _ = clients.serve(&[PollFlags::POLLIN, PollFlags::POLLIN]);
        }
        let chunk = vec![b'x'; 64 * 1024];
        while !clients.0.iter().all(|c| c.behind_since.is_some()) {
            clients.broadcast(proto::STDOUT, &chunk, true);
        }
        std::thread::sleep(STALL + Duration::from_millis(100));
        let requests = clients.drop_stalled(false);
        assert!(clients.is_empty(), "both dropped");
        assert_eq!(requests.len(), 1, "one hang-up, for the one not detached");
        assert!(matches!(requests[0], Request::Hangup));
    }

    /// Behind on stdin, the shim stops reading the clients that send it, and only
    /// those: a control client's stop still comes through.
    #[test]
    fn stdin_senders_are_not_read_while_stdin_is_held() {
        let (ours, mut sender) = UnixStream::pair().unwrap();
        let (ours2, mut control) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours);
        clients.add(ours2);
        proto::write_frame(&mut sender, proto::STDIN, b"data").unwrap();
        proto::write_frame(&mut control, proto::CONTROL, &[]).unwrap();
        let requests = clients.serve(&[PollFlags::POLLIN, PollFlags::POLLIN]);
        assert!(matches!(&requests[..], [Request::Stdin(b)] if b == b"data"));
        let read = |clients: &Clients, hold| -> Vec<bool> {
            clients
                .interests(hold)
                .iter()
                .map(|(_, f)| f.contains(PollFlags::POLLIN))
                .collect()
        };
        assert_eq!(read(&clients, false), [true, true]);
        assert_eq!(read(&clients, true), [false, true]);
    }
}
