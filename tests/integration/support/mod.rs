//! What the tests share, by concern. A test module imports from here and
//! from nowhere else: never from another test module.
//!
//! - [`util`]: running the credbox binary ([`util::Cache`],
//!   [`util::Outcome`]) and writing manifests for it.
//! - [`componentize`]: Python and JavaScript helpers built with
//!   componentize-py and componentize-js, compiled once.
//! - [`clients`]: finding the real clients (git, skopeo, aws, kubectl, pip,
//!   uv, the Secret Service tools) and running them bounded; under
//!   `CI=true` a missing one fails.
//! - [`claude_client`]: the real Claude Code client, installed from npm.
//! - [`keyring`]: a real Secret Service (gnome-keyring on a private bus).
//! - [`routes`]: the user's routes file (`config.toml`).
//! - [`secrets`]: looking for a secret, raw or encoded, where it must not
//!   be: outputs and every file under a directory.
//! - [`servers`]: loopback HTTP servers, and stand-ins for the APIs the
//!   clients talk to (a Python package index among them).
//! - [`small_disk`]: a real tmpfs of a few hundred KiB, to fill.
//! - [`sigv4`]: checking AWS Signature Version 4 as a service does.
//! - [`crypto`], [`testkeys`]: encodings, an HMAC and the test keys, to
//!   check credbox's output independently of the crates it uses.

pub mod claude_client;
pub mod clients;
pub mod componentize;
pub mod crypto;
pub mod keyring;
pub mod routes;
pub mod secrets;
pub mod servers;
pub mod sigv4;
pub mod small_disk;
pub mod testkeys;
pub mod util;
