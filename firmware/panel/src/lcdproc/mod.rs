//! The LCDproc client protocol (LCDd, TCP 13666): [`wire`] is its text format.
pub mod wire;
