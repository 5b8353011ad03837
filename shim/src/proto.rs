//! The attach protocol between a shim and the `box` commands that talk to it, over
//! the shim's unix socket: frames of `kind: u8`, `len: u32` (big endian), payload.

use std::io::{self, Read, Write};

/// Shim to client: container output.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Shim to client: the container ended; payload is its exit status (i32 BE).
pub const EXIT: u8 = 3;
/// Shim to client: the container could not start; payload is the status (i32 BE)
/// followed by the message.
pub const START_FAILED: u8 = 4;
/// Shim to control clients: the container's process has ended; the shim is
/// recording that (and removing a `--rm` container) before it sends `EXIT`. Tells a
/// `box stop` that the shim is at work, not stuck.
pub const ENDED: u8 = 5;
/// Client to shim: bytes for the container's stdin.
pub const STDIN: u8 = 10;
/// Client to shim: the client's stdin ended.
pub const STDIN_EOF: u8 = 11;
/// Client to shim: the terminal's size, rows and columns (u16 BE each).
pub const RESIZE: u8 = 12;
/// Client to shim: deliver this signal (i32 BE) to the container's first process.
pub const SIGNAL: u8 = 13;
/// Client to shim: this client's stdin is the container's for good (`box run -i`,
/// Docker's StdinOnce): if the client goes away without detaching, the container's
/// stdin ends with it (end of file on a pipe, a hang-up on a terminal).
pub const STDIN_ONCE: u8 = 14;
/// Client to shim: the user detached (the detach keys); the client's end that follows
/// is not the end of the container's stdin.
pub const DETACH: u8 = 15;
/// Client to shim: this client only controls the container (`box stop`, `kill`,
/// `wait`); it gets no output, only `EXIT`, and the socket's end when the shim exits.
pub const CONTROL: u8 = 20;
/// Client to shim: the user stops the container: deliver this signal (i32 BE) and do
/// not restart it, whatever its restart policy says.
pub const STOP: u8 = 21;

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    encode_frame(&mut buf, kind, payload);
    w.write_all(&buf)
}

/// Appends one frame to `out`.
pub fn encode_frame(out: &mut impl Extend<u8>, kind: u8, payload: &[u8]) {
    out.extend([kind]);
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload.iter().copied());
}

/// Reads one frame; `None` at the end of the stream, a frame cut short by it
/// included (the shim drops a client that stops reading, wherever it was).
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 16 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut payload = vec![0u8; len];
    match r.read_exact(&mut payload) {
        Ok(()) => Ok(Some((head[0], payload))),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Splits frames out of a byte buffer that may hold partial ones (for the shim's
/// non-blocking reads).
pub fn take_frame(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let kind = buf[0];
    let payload = buf[5..5 + len].to_vec();
    buf.drain(..5 + len);
    Some((kind, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDOUT, b"hello").unwrap();
        write_frame(&mut buf, EXIT, &7i32.to_be_bytes()).unwrap();
        let mut partial = buf[..7].to_vec();
        assert_eq!(take_frame(&mut partial), None);
        partial.extend_from_slice(&buf[7..]);
        assert_eq!(take_frame(&mut partial), Some((STDOUT, b"hello".to_vec())));
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((EXIT, 7i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut cut = &buf[..7];
        assert_eq!(read_frame(&mut cut).unwrap(), None, "cut short");
    }
}
