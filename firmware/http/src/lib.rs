//! The HTTP layer both roles (NVR and spare) share:
//! - [`server`]: the hardened accept loop (header-read/idle/write timeouts,
//!   total and per-client-IP connection caps, optional TLS);
//! - [`auth`]: HTTP Basic against [`accounts`] with roles, rate limiting
//!   with exponential backoff, PBKDF2 ([`password`]) off the async workers
//!   and a bounded cache of verified credentials;
//! - [`routes`]: route tables that declare each route's access;
//! - [`failure`]: the JSON error reply of every route;
//! - [`health`]: `GET /api/v1/health`, the supervisor's `health.json`.

pub mod accounts;
pub mod auth;
pub mod failure;
pub mod health;
pub mod password;
pub mod routes;
pub mod server;

pub use accounts::{Account, AccountConfig, Role};
pub use auth::{AuthLimits, Authenticator, Denied, Identity};
pub use failure::Failure;
pub use routes::{Access, Route};
pub use server::{serve, ServerLimits};
