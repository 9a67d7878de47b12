//! The supervisor's IPC (PRODUCT.md §1, issue 9): what services and the supervisor say to
//! each other over the supervisor's Unix socket, and how it is framed.
//!
//! Owns the message types ([`Message`]: [`Hello`], [`Heartbeat`] with the recorder's
//! [`Progress`], the supervisor's [`Status`]), the wire format ([`wire`]: a 2-byte length,
//! a protocol version byte, postcard; bounded and strictly checked) and the client every
//! service runs ([`client`]: a heartbeat every N ms, reconnecting with backoff).

pub mod client;
mod messages;
pub mod wire;

pub use messages::{Heartbeat, Hello, Level, Message, Mode, Progress, ResetCause, RoleState, Status, MAX_NAME};
pub use wire::{decode, encode, FrameBuf, IpcError, MAX_FRAME, PROTOCOL_VERSION};
