//! The frame: `[length: u16 big-endian][version: u8][postcard(Message)]`, the length
//! counting the version byte and the payload, at most [`MAX_FRAME`]. A frame with another
//! version, trailing bytes, a name that is too long or not a name, or bytes postcard cannot
//! decode is an error, and the reader drops the connection (a stream cannot resynchronise).

use crate::messages::{Message, MAX_NAME};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 2;
/// Largest frame body (version byte + payload) in bytes.
pub const MAX_FRAME: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpcError {
    #[error("IPC frame of {0} bytes (at most {MAX_FRAME})")]
    TooLong(usize),
    #[error("empty IPC frame")]
    Empty,
    #[error("IPC protocol version {got}, this build speaks {PROTOCOL_VERSION}")]
    Version { got: u8 },
    #[error("IPC message cannot be decoded: {0}")]
    Garbage(String),
    #[error("IPC message has {0} trailing bytes")]
    Trailing(usize),
    #[error("IPC message: {0}")]
    Invalid(&'static str),
}

/// The frame of `msg`, length prefix included.
pub fn encode(msg: &Message) -> Result<Vec<u8>, IpcError> {
    check(msg)?;
    let payload = postcard::to_allocvec(msg).map_err(|e| IpcError::Garbage(e.to_string()))?;
    let body = payload.len() + 1;
    if body > MAX_FRAME {
        return Err(IpcError::TooLong(body));
    }
    let mut out = Vec::with_capacity(body + 2);
    out.extend_from_slice(&(body as u16).to_be_bytes());
    out.push(PROTOCOL_VERSION);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The message of one frame body (version byte + payload, without the length).
pub fn decode(body: &[u8]) -> Result<Message, IpcError> {
    if body.len() > MAX_FRAME {
        return Err(IpcError::TooLong(body.len()));
    }
    let (&version, payload) = body.split_first().ok_or(IpcError::Empty)?;
    if version != PROTOCOL_VERSION {
        return Err(IpcError::Version { got: version });
    }
    let (msg, rest) = postcard::take_from_bytes::<Message>(payload).map_err(|e| IpcError::Garbage(e.to_string()))?;
    if !rest.is_empty() {
        return Err(IpcError::Trailing(rest.len()));
    }
    check(&msg)?;
    Ok(msg)
}

fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn check(msg: &Message) -> Result<(), IpcError> {
    let ok = match msg {
        Message::Hello(h) => name_ok(&h.service) && h.version.len() <= MAX_NAME,
        Message::Heartbeat(h) => name_ok(&h.service),
        Message::Status(_) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(IpcError::Invalid("service name must be 1-64 of [A-Za-z0-9._-], version at most 64 bytes"))
    }
}

/// Bytes read from a stream, cut into frames.
#[derive(Debug, Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
}

impl FrameBuf {
    pub fn new() -> Self {
        FrameBuf::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `None` until one is complete. After an error the stream is
    /// unusable (the caller closes it); the buffer never holds more than one frame's worth
    /// of undecoded bytes beyond what was pushed.
    pub fn next_message(&mut self) -> Result<Option<Message>, IpcError> {
        let Some(len) = self.buf.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return Ok(None);
        };
        if len > MAX_FRAME {
            return Err(IpcError::TooLong(len));
        }
        if len == 0 {
            return Err(IpcError::Empty);
        }
        if self.buf.len() < 2 + len {
            return Ok(None);
        }
        let msg = decode(&self.buf[2..2 + len]);
        self.buf.drain(..2 + len);
        msg.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::*;

    fn beat(seq: u64) -> Message {
        Message::Heartbeat(Heartbeat {
            service: "recorder".into(),
            seq,
            progress: Some(Progress { bytes_fsynced: 123_456_789, cameras_expected: 4 }),
            role: Some(RoleState::Spare { armed: true, covering: 2 }),
        })
    }

    fn all() -> Vec<Message> {
        vec![
            Message::Hello(Hello { service: "failover".into(), pid: 4242, version: "0.1.0".into() }),
            beat(7),
            Message::Heartbeat(Heartbeat { service: "api".into(), seq: u64::MAX, progress: None, role: None }),
            Message::Status(Status {
                mode: Mode::Rescue,
                healthy: false,
                takeovers_allowed: false,
                last_reset: ResetCause::Watchdog,
                hardware: Level::Critical,
                reason: "3 watchdog resets in 30 min".into(),
            }),
        ]
    }

    #[test]
    fn every_message_round_trips_through_a_stream_cut_anywhere() {
        let stream: Vec<u8> = all().iter().flat_map(|m| encode(m).unwrap()).collect();
        for cut in [1, 2, 3, 5, 64] {
            let mut fb = FrameBuf::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                fb.push(chunk);
                while let Some(m) = fb.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, all(), "chunks of {cut}");
        }
    }

    #[test]
    fn a_wrong_version_is_named() {
        let mut f = encode(&beat(1)).unwrap();
        f[2] = 9;
        assert_eq!(decode(&f[2..]), Err(IpcError::Version { got: 9 }));
        assert_eq!(IpcError::Version { got: 9 }.to_string(), "IPC protocol version 9, this build speaks 2");
    }

    #[test]
    fn garbage_trailing_bytes_and_oversize_frames_are_refused() {
        assert!(matches!(decode(&[PROTOCOL_VERSION, 0xff, 0xff]), Err(IpcError::Garbage(_))));
        let mut f = encode(&beat(1)).unwrap();
        f.push(0);
        assert_eq!(decode(&f[2..]), Err(IpcError::Trailing(1)));
        assert_eq!(decode(&[]), Err(IpcError::Empty));
        let mut fb = FrameBuf::new();
        fb.push(&[0x10, 0x00]);
        assert_eq!(fb.next_message(), Err(IpcError::TooLong(0x1000)));
        let long = Message::Hello(Hello { service: "x".repeat(65), pid: 1, version: String::new() });
        assert!(matches!(encode(&long), Err(IpcError::Invalid(_))));
        let bad = Message::Heartbeat(Heartbeat { service: "a/b".into(), seq: 0, progress: None, role: None });
        assert!(matches!(encode(&bad), Err(IpcError::Invalid(_))));
    }

    #[test]
    fn an_incomplete_frame_waits_for_more_bytes() {
        let f = encode(&beat(3)).unwrap();
        let mut fb = FrameBuf::new();
        fb.push(&f[..f.len() - 1]);
        assert_eq!(fb.next_message(), Ok(None));
        fb.push(&f[f.len() - 1..]);
        assert_eq!(fb.next_message(), Ok(Some(beat(3))));
        assert_eq!(fb.next_message(), Ok(None));
    }

    /// The fuzz target's seeds are real frames (so the fuzzer starts from messages that decode).
    #[test]
    fn the_fuzz_seeds_decode() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/ipc");
        let mut fb = FrameBuf::new();
        fb.push(&std::fs::read(seeds.join("hello-then-beats")).unwrap());
        fb.push(&std::fs::read(seeds.join("status")).unwrap());
        let mut got = Vec::new();
        while let Some(m) = fb.next_message().unwrap() {
            got.push(m);
        }
        assert_eq!(got, all());
        let mut fb = FrameBuf::new();
        fb.push(&std::fs::read(seeds.join("wrong-version")).unwrap());
        assert_eq!(fb.next_message(), Err(IpcError::Version { got: 3 }));
    }
}
