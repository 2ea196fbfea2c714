//! Refreshing a credential in the background: stale-while-revalidate.
//!
//! Once a cached credential's refresh time has passed, and while it is
//! still valid, no caller waits for the helper: the first caller to take
//! the entry's lock starts a refresh here and prints the cached credential;
//! the others find the lock taken and print it too (see
//! [`crate::cache::CredentialCache::get_or_run`]).
//!
//! The refresh is credbox itself, re-executed as `credbox
//! --refresh-child` ([`CHILD_FLAG`], the one hidden entry point) with
//! nothing else on its command line: what to refresh comes as a
//! [`Ticket`] on a pipe to its stdin (the manifest, the command line's
//! overrides, the client's request and the entry's key), so that no host,
//! path, username or registry shows in `ps`. It:
//!
//! - inherits the entry's lock (the same open file description, so the
//!   lock passes from caller to refresh without a moment free), and holds
//!   it until it exits;
//! - has stdout and stderr on `/dev/null`, and stdin on the ticket's pipe
//!   alone: a client reading the caller's output until end of file is
//!   never held up by it;
//! - runs detached from the caller (see [`crate::platform::spawn_detached`]),
//!   so that a signal to the caller's process group (a terminal closed,
//!   Ctrl-C) does not stop it half-way;
//! - is ended when its deadline passes ([`limit_lifetime`]), whatever it
//!   is doing.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cache::CacheKey;
use crate::policy::Overrides;
use crate::request::Request;

/// The hidden first argument that makes credbox the background refresh
/// of the [`Ticket`] on its stdin.
pub const CHILD_FLAG: &str = "--refresh-child";

/// Largest ticket a refresh reads: a client's request is capped at
/// [`crate::protocol::MAX_STDIN`]; the rest is a path and the flags.
const MAX_TICKET: u64 = 1 << 20;

/// What a background refresh needs to run the helper as its caller would
/// have: handed over on a pipe, never on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The manifest (or bare component) that answered the caller, as the
    /// caller named or routed it (the refresh starts in the caller's
    /// working directory).
    pub target: PathBuf,
    /// The caller's command-line overrides of the manifest.
    pub overrides: Overrides,
    /// The client's request.
    pub request: Request,
}

/// A [`Ticket`] with the key of the entry its refresh is for (the caller
/// took that entry's lock, which the refresh inherits).
#[derive(Debug, Serialize, Deserialize)]
pub struct Handed {
    /// What to run.
    pub ticket: Ticket,
    /// The entry's key, as [`CacheKey::as_str`]: the refresh writes only
    /// that entry, and only if the ticket still leads to it.
    pub key: String,
}

impl Handed {
    /// Reads the handed ticket from `input` (the refresh's stdin) to its
    /// end. `Err`: no ticket, too large, or not one.
    pub fn read(input: impl Read) -> std::io::Result<Handed> {
        let mut bytes = Vec::new();
        input.take(MAX_TICKET + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_TICKET {
            return Err(std::io::Error::other("the refresh ticket is too large"));
        }
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}

/// How a refresh ahead of expiry runs.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// In this process, under the entry's lock, while the caller waits
    /// (library use).
    Here,
    /// In a detached credbox, started with this ticket (the command-line
    /// program's way: the caller answers at once).
    Detached(Box<Ticket>),
}

/// Starts the refresh of `key` for `ticket`: credbox with [`CHILD_FLAG`],
/// holding `lock` (the entry's, taken by the caller), its ticket written
/// to its stdin. Does not wait for it to finish.
pub fn spawn(lock: &File, ticket: &Ticket, key: &CacheKey) -> std::io::Result<()> {
    let handed = serde_json::to_vec(&Handed {
        ticket: ticket.clone(),
        key: key.as_str().to_owned(),
    })
    .map_err(std::io::Error::other)?;
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg(CHILD_FLAG)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = crate::platform::spawn_detached(command, lock)?;
    // The child reads the ticket first thing; the pipe closes when `stdin`
    // is dropped. Not waited for: it outlives this process.
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no pipe"))?;
    stdin.write_all(&handed)
}

/// Ends this process once `deadline` has passed, whatever it is doing then
/// (see [`crate::platform::limit_lifetime`]).
pub fn limit_lifetime(deadline: Duration) {
    crate::platform::limit_lifetime(deadline);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_reads_back_whole_and_nothing_else_does() {
        use crate::request::{CargoRequest, Client, GitRequest};
        let requests = [
            Client::Git(GitRequest {
                protocol: Some("https".into()),
                host: Some("h:8443".into()),
                path: Some("a/b.git".into()),
                username: Some("me\u{e9}".into()),
                wwwauth: vec!["Bearer realm=\"x\"".into(), String::new()],
            }),
            Client::Docker {
                server_url: "registry.example".into(),
            },
            Client::Cargo(CargoRequest {
                registry_name: None,
                index_url: "sparse+https://r/\"q\"".into(),
                operation: "publish".into(),
                crate_name: Some("c".into()),
            }),
            Client::Kubernetes { server: None },
        ];
        for client in requests {
            let handed = Handed {
                ticket: Ticket {
                    target: PathBuf::from("rel/credbox.toml"),
                    overrides: Overrides {
                        config: vec!["a=b".into()],
                        timeout: Some("2s".into()),
                        ..Overrides::default()
                    },
                    request: Request::new(client),
                },
                key: "abc".into(),
            };
            let bytes = serde_json::to_vec(&handed).unwrap();
            let back = Handed::read(&bytes[..]).unwrap();
            assert_eq!((back.ticket, back.key), (handed.ticket, handed.key));
        }
        assert!(Handed::read(&b"{}"[..]).is_err());
        assert!(Handed::read(&b""[..]).is_err());
        // A sound ticket, padded past the cap, is refused unread.
        let handed = Handed {
            ticket: Ticket {
                target: PathBuf::from("m.toml"),
                overrides: Overrides::default(),
                request: Request::default(),
            },
            key: "k".into(),
        };
        let mut huge = serde_json::to_vec(&handed).unwrap();
        assert!(Handed::read(&huge[..]).is_ok());
        huge.resize(MAX_TICKET as usize + 1, b' ');
        assert!(Handed::read(&huge[..]).is_err());
    }
}
