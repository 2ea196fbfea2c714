//! `credbox login` and `credbox logout`: a helper's host-kept state (see
//! [`crate::state`]) filled by its `login` export, and forgotten.
//!
//! `login` is the only call that may talk to the user (`user.show`), and it
//! has its own deadline, `[limits] login_timeout`: the time to open a URL
//! and approve in a browser. `credbox run` and every client protocol never
//! prompt: a helper without its state fails as `misconfigured`, with the
//! hint to run `credbox login <manifest>` ([`Error::LoginNeeded`]).

use std::time::Instant;

use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::policy::Policy;
use crate::state::StateStore;
use crate::{CredentialCache, cache_root, engine, guest};

/// What a successful login did.
#[derive(Debug)]
pub struct LoginReport {
    /// Where the state went (`the OS keystore`, or the file store).
    pub store: String,
    /// The names the helper keeps now.
    pub names: Vec<String>,
    /// Cached credentials and failures of the helper forgotten, so that
    /// the next call uses the new login.
    pub cleared: usize,
}

/// The helper's state, or the refusal for a bare component.
fn state_of(policy: &Policy) -> Result<StateStore> {
    StateStore::for_policy(policy)?.ok_or_else(|| {
        Error::Usage(
            "a bare component has no state to log in with: run `credbox login` on its manifest \
             (credbox.toml)"
                .into(),
        )
    })
}

/// Runs the helper's `login` export under `policy`, after checking that
/// its state has somewhere to go: with no OS keystore, and no
/// `[state] store = "file"` in the manifest, nothing runs.
pub fn login(policy: &Policy, options: &RunOptions) -> Result<LoginReport> {
    let deadline = Instant::now() + policy.limits.login_timeout;
    // The check is part of the login: a keystore that never answers has
    // the login's time, not more.
    state_of(policy)?.with_deadline(deadline).probe()?;
    let state = state_of(policy)?;
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    let mut redactor = guest::redactor(policy, &env);
    let ran = (|| {
        let (bytes, sha256) = engine::read_component(
            &policy.component,
            policy.sha256.as_deref(),
            policy.limits.component_size,
        )?;
        let engine = engine::new_engine()?;
        let compiled = cache_root()
            .and_then(|root| root.subdir("compiled"))
            .map_or(engine::Artifacts::Off, engine::Artifacts::ReadWrite);
        let loaded = engine::load_by(
            &engine,
            &policy.component,
            bytes,
            &sha256,
            compiled,
            deadline,
            || Error::CompileTimeout(policy.limits.login_timeout),
        )?;
        guest::run_login(
            &engine,
            &loaded.component,
            policy,
            env,
            options,
            deadline,
            &mut redactor,
        )
    })();
    ran.map_err(|e| e.redacted(&redactor))?;
    let cleared = clear_cache(policy)?;
    Ok(LoginReport {
        store: state.describe(),
        names: state.names()?,
        cleared,
    })
}

/// Forgets the helper's state and its cached credentials and failures.
/// Returns how many state names and cache entries were removed.
pub fn logout(policy: &Policy) -> Result<(usize, usize)> {
    let names = state_of(policy)?.clear()?;
    Ok((names, clear_cache(policy)?))
}

/// Removes the helper's cache entries (they are filed under its name).
fn clear_cache(policy: &Policy) -> Result<usize> {
    CredentialCache::open(&cache_root()?)?.clear(Some(&policy.name))
}
