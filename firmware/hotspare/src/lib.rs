//! The library half of the `hotspare` package: the site kit ([`kit`]) that the demo, the
//! failover benchmark (both in the binary) and the end-to-end tests (`tests/`) share. It is a
//! development tool: with default features (the production firmware) the library is empty.

#[cfg(feature = "dev-tools")]
pub mod kit;
