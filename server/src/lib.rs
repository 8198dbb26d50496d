//! `encore-server`: the seeds' servers on the network. One `encore serve`
//! holds the deployment's log and runs the accounting, license and log
//! servers as an HTTP API over the actor runtime; the typed [`client`] is how
//! every other process (the CLI, kiosks, players, the tests) reaches it.
//!
//! | module | role |
//! |---|---|
//! | [`deployment`] | the deployment directory: `encore init`, the keystore, credentials and roles |
//! | [`api`] | the actix-web handlers, problems, idempotency, the OpenAPI document |
//! | [`serve`] | listening (TLS or loopback HTTP), signals, graceful shutdown |
//! | [`client`] | the typed client |
//!
//! The handlers are thin: they authenticate, parse and call one runtime
//! method. Every rule stays in the domain; idempotency receipts and `If-Match`
//! preconditions are the runtime's (`encore_actors::request`).

pub mod api;
pub mod client;
pub mod deployment;
pub mod serve;

pub use client::{Answer, Client, ClientError};
pub use serve::{ServeError, ServeOptions};
