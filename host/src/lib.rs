//! credbox runs Claude Code credential helpers as sandboxed WASI components.
//!
//! A call flows one way, each step in the module named after it, and no
//! module imports a later step but one: the cache keeps [`validation`]'s
//! typed credential and checks it again on every hit.
//!
//! 1. [`manifest`] (`manifest.rs`): read the helper's `credbox.toml`
//!    strictly, or stand in a manifest of defaults for a bare component.
//!    It owns the file's schema (its TOML tables).
//! 2. [`policy`] (`policy.rs`, `policy/*.rs`, one file per capability):
//!    interpret the manifest and the command line's flags into what the
//!    run may do: limits, environment, config, cache rules, keys, state,
//!    network.
//! 3. [`cache`] (`cache/`): wraps the run. The key (`cache/key.rs`) is a
//!    [`fingerprint`] of the policy, the [`request`], the allowlisted
//!    environment's values and the component file's stamp. What to do with
//!    an entry is decided by a pure state machine (`cache/decide.rs`); the
//!    store (`cache/store.rs`) answers a hit at once, and on a miss takes
//!    the entry's lock and runs the steps below once across processes,
//!    then stores the result (`cache/entry.rs`). Past a credential's
//!    refresh time the cached one is answered at once and a detached
//!    credbox ([`refresh`]) runs the steps below:
//!    1. [`engine`] (`engine.rs`): configure wasmtime and load the
//!       compiled component (from the compiled-component cache).
//!    2. [`guest`] (`guest/`, one file per host interface): run `fetch`
//!       under fuel, deadline and memory limits; its HTTP requests go
//!       through [`network`] (`network.rs`).
//!    3. [`validation`] (`validation.rs`): check every part of the
//!       credential, and that the part the client needs is there; the
//!       cache stores the result.
//! 4. [`output`] (`output.rs`): render the credential for `credbox run`.
//! 5. [`serve`] (`serve.rs`): one path from a client's request to the
//!    bytes on stdout: the helper named or routed to, its credential (by
//!    [`run`]), the client's rendering, and how the client hears "not
//!    mine" and failures. Each client's front end is in [`protocol`]
//!    (`run`, `git`, `docker`, `aws`, `kubernetes`, `cargo`): it parses its
//!    client's input into a [`Request`] and hands it to [`serve`].
//!
//! Beside the flow, imported by the steps and importing none of them:
//! [`error`] (what every failure means: exit code, hint, the one-line
//! report, whether the cache remembers it), [`redact`] (secrets out of
//! every message), [`units`] (durations, sizes, digests), [`state`] (a
//! helper's own secrets, kept between runs in the OS keystore), [`files`]
//! (every file read: regular files only, never blocking, capped),
//! [`fingerprint`], [`private_dir`] (the user-private cache directory),
//! [`routes`] (which manifest answers a URL), [`platform`] (every call
//! that differs between operating systems) and [`watchdog`] (the process
//! ends at a run's deadline plus 250 ms, whatever a host call is doing).
//!
//! [`run`] strings the steps together; the `credbox` binary (`main.rs`)
//! parses the command line ([`cli`]) and dispatches to a front end or to
//! [`commands`] (`build`, `login`, `logout`, `status`, `cache clear`,
//! `install`; [`manpages`] renders `install man`'s pages from [`cli`]).
//! The other commands each have a module, which uses the steps
//! and which no step uses: [`scaffold`] (`credbox new`: a helper crate
//! from a sample), [`inspect`] (`credbox inspect`: a component's world,
//! imports and exports), [`doctor`] (`credbox doctor`: every check `run`
//! depends on, one line each), [`login`] (`credbox login` / `logout`: a
//! helper's host-kept state) and [`version`] (`--version`: credbox,
//! wasmtime and the WIT package).

#![warn(missing_docs)]

pub mod cache;
pub mod cli;
pub mod commands;
#[cfg(test)]
mod docs;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod files;
pub mod fingerprint;
pub mod guest;
pub mod inspect;
pub mod login;
pub mod manifest;
pub mod manpages;
pub mod network;
pub mod output;
pub mod platform;
pub mod policy;
pub mod private_dir;
pub mod protocol;
pub mod redact;
pub mod refresh;
pub mod request;
pub mod routes;
pub mod scaffold;
pub mod serve;
pub mod state;
pub mod units;
pub mod validation;
pub mod version;
pub mod watchdog;

pub use cache::{Answer, CacheKey, CredentialCache};
pub use error::{Error, Result};
pub use guest::RunOptions;
pub use manifest::{Format, LoadedManifest};
pub use policy::{Overrides, Policy};
pub use private_dir::PrivateDir;
pub use refresh::Refresh;
pub use request::Request;

/// Extra time a process waits for another one running the same helper,
/// beyond that run's own deadline.
const LOCK_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Answers `request` for the helper that `policy` describes: from the
/// credential cache when it can, else by running the helper once. The
/// answer holds the validated credential, for the client to render
/// ([`output::render`] for `credbox run`; each client protocol renders it
/// in its own form).
/// With `[cache] share = true` the helper is asked for
/// [`request::Client::Any`] whatever the client. `refresh` says where a
/// refresh ahead of expiry runs (see [`refresh`]).
///
/// With `options.no_cache`, nothing is created, written or removed under
/// the cache directory (an existing compiled-component cache is still
/// read, to start faster).
///
/// The process environment is read here, and only for the variables the
/// policy allowlists.
pub fn run(
    policy: &Policy,
    request: &Request,
    options: &RunOptions,
    refresh: &Refresh,
) -> Result<Answer> {
    let request = &asked(policy, request);
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    if options.no_cache {
        let compiled = private_dir::cache_root()
            .ok()
            .and_then(|root| PrivateDir::open_existing(&root.join("compiled")))
            .map_or(engine::Artifacts::Off, engine::Artifacts::ReadOnly);
        return fetch_by_deadline(policy, request, options, compiled, &env, watchdog::silent())
            .map(|(credential, _)| Answer {
                credential,
                warning: None,
            });
    }
    let (root, credentials) = match cache_root().and_then(|root| {
        let credentials = CredentialCache::open(&root)?;
        Ok((root, credentials))
    }) {
        Ok(opened) => opened,
        // A private cache root that exists but cannot be written (a
        // read-only filesystem, first run ever): a cache problem never
        // costs the credential. It is fetched without the cache, with one
        // warning. A root that is not safe (a link, another owner) is still
        // refused.
        Err(e @ Error::Environment { .. })
            if private_dir::cache_root()
                .ok()
                .and_then(|path| PrivateDir::open_existing(&path))
                .is_some() =>
        {
            let warning = format!("the cache could not be used: {e} ({})", e.hint());
            return fetch_by_deadline(
                policy,
                request,
                options,
                engine::Artifacts::Off,
                &env,
                watchdog::silent(),
            )
            .map(|(credential, _)| Answer {
                credential,
                warning: Some(warning),
            });
        }
        Err(e) => return Err(e),
    };
    let key = cache_key(policy, request, &env)?;
    // A compiled-component cache that cannot be made costs a compile.
    let fetch = || {
        let compiled = root
            .subdir("compiled")
            .map_or(engine::Artifacts::Off, engine::Artifacts::ReadWrite);
        let last_words = credentials.failure_recorder(&key, policy);
        fetch_by_deadline(policy, request, options, compiled, &env, last_words)
    };
    let wait = policy.limits.timeout + LOCK_MARGIN;
    match refresh {
        Refresh::Here => credentials.get_or_run(&key, policy, wait, fetch, None),
        Refresh::Detached(ticket) => {
            let start = |lock: &std::fs::File| refresh::spawn(lock, ticket, &key);
            credentials.get_or_run(&key, policy, wait, fetch, Some(&start))
        }
    }
}

/// The background refresh of the cache entry `wanted` (see [`refresh`]):
/// runs the helper `policy` describes for `request` and stores what it
/// answers, if `request` still leads to that entry. The caller's lock on
/// the entry is this process's; it ends, whatever it is doing, once a
/// caller would have stopped waiting for that lock.
pub fn refresh_entry(policy: &Policy, request: &Request, wanted: &str) -> Result<()> {
    let request = &asked(policy, request);
    let wait = policy.limits.timeout + LOCK_MARGIN;
    refresh::limit_lifetime(wait);
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    let root = cache_root()?;
    let credentials = CredentialCache::open(&root)?;
    let key = cache_key(policy, request, &env)?;
    if key.as_str() == wanted {
        let options = RunOptions::default();
        credentials.refresh(&key, policy, || {
            let compiled = root
                .subdir("compiled")
                .map_or(engine::Artifacts::Off, engine::Artifacts::ReadWrite);
            // A refresh the watchdog ends records why, for `status`.
            let last_words = credentials.failure_recorder(&key, policy);
            fetch_by_deadline(policy, request, &options, compiled, &env, last_words)
        });
    }
    Ok(())
}

/// Reads the component and runs it ([`fetch`]), all by the policy's
/// deadline; every message passes the run's redactor on its way out, to
/// stderr and to the cache's failure record alike. A [`watchdog`] ends the
/// process at the deadline plus its grace, after `last_words`, if the run
/// has not returned by then.
///
/// A component never compiled for this machine is compiled once first,
/// under a bound of its own ([`engine::compile_ahead`]: a large Python or
/// JavaScript component takes longer than any run's deadline); the run's
/// deadline then starts after it.
fn fetch_by_deadline(
    policy: &Policy,
    request: &Request,
    options: &RunOptions,
    compiled: engine::Artifacts,
    env: &[(String, String)],
    last_words: watchdog::LastWords,
) -> cache::Fetched {
    // The deadline bounds the whole call: reading and compiling the
    // component, then the guest's run. The component is read (and its pin
    // checked) only when it must run: a cached answer is keyed by the
    // file's metadata (cache::component_stamp).
    let mut deadline = std::time::Instant::now() + policy.limits.timeout;
    // One redactor for the whole run: the guest adds the state values it
    // sees, so that validation's messages (which may quote a header name
    // the helper chose) mask them too.
    let mut redactor = guest::redactor(policy, env);
    let prepared = engine::read_component(
        &policy.component,
        policy.sha256.as_deref(),
        policy.limits.component_size,
    )
    .and_then(|(bytes, sha256)| {
        let engine = engine::new_engine()?;
        if let engine::Artifacts::ReadWrite(dir) = &compiled
            && engine::compile_ahead(
                &engine,
                dir,
                &policy.component,
                &sha256,
                bytes.len(),
                &policy.name,
                policy.limits.timeout,
            )?
        {
            deadline = std::time::Instant::now() + policy.limits.timeout;
        }
        Ok((engine, bytes, sha256))
    });
    let (engine, bytes, sha256) = prepared.map_err(|e| e.redacted(&redactor))?;
    let _watchdog = watchdog::arm(&policy.name, deadline, policy.limits.timeout, last_words);
    fetch(
        &engine,
        policy,
        request,
        options,
        compiled,
        bytes,
        &sha256,
        env.to_vec(),
        deadline,
        &mut redactor,
    )
    .map_err(|e| e.redacted(&redactor))
}

/// Runs the helper: engine, guest, validation, all by `deadline`.
/// `compiled` says how to use the compiled-component cache.
#[allow(clippy::too_many_arguments)]
fn fetch(
    engine: &wasmtime::Engine,
    policy: &Policy,
    request: &Request,
    options: &RunOptions,
    compiled: engine::Artifacts,
    bytes: Vec<u8>,
    sha256: &str,
    env: Vec<(String, String)>,
    deadline: std::time::Instant,
    redactor: &mut redact::Redactor,
) -> cache::Fetched {
    let loaded = engine::load_by(
        engine,
        &policy.component,
        bytes,
        sha256,
        compiled,
        deadline,
        || Error::CompileTimeout(policy.limits.timeout),
    )?;
    let raw = guest::run(
        engine,
        &loaded.component,
        policy,
        request,
        env,
        options,
        deadline,
        redactor,
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let credential = validation::validate(raw, &request.client, now)?;
    let lifetime = credential.expires_at.map(|at| at.saturating_sub(now));
    Ok((credential, lifetime))
}

/// Forgets the cached credential that answers `request` for the helper
/// `policy` describes (git's `erase` after a 401, Docker's `erase`), so the
/// next call runs the helper. Returns whether there was one.
pub fn forget(policy: &Policy, request: &Request) -> Result<bool> {
    let request = &asked(policy, request);
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    let key = cache_key(policy, request, &env)?;
    CredentialCache::open(&cache_root()?)?.forget(&key)
}

/// A server refused the credential cached for `request` (see
/// [`CredentialCache::refused`]): the next answer is fetched anew, unless
/// that credential was fetched so recently that the refusal is remembered
/// as a failure instead, with `refusal`'s message.
pub fn refused(policy: &Policy, request: &Request, refusal: Error) -> Result<bool> {
    let request = &asked(policy, request);
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    let key = cache_key(policy, request, &env)?;
    CredentialCache::open(&cache_root()?)?.refused(&key, policy, refusal)
}

/// What the helper is asked: `request`, or, with `[cache] share = true`,
/// [`request::Client::Any`] whoever asks.
fn asked(policy: &Policy, request: &Request) -> Request {
    if policy.cache.share {
        Request::new(request::Client::Any)
    } else {
        request.clone()
    }
}

/// The cache key of `request` (as [`asked`]) for the helper `policy`
/// describes, with the allowlisted environment `env`.
fn cache_key(policy: &Policy, request: &Request, env: &[(String, String)]) -> Result<CacheKey> {
    let stamp = cache::component_stamp(&policy.component, policy.limits.component_size)?;
    Ok(CacheKey::new(policy, &stamp, request, env))
}

/// Compiles the helper that `policy` describes into the compiled-component
/// cache (if it is not there yet) and checks that it fits the `helper`
/// world, without running it.
/// Returns the loaded component and the world version it targets.
pub fn build(policy: &Policy) -> Result<(engine::Loaded, guest::WorldVersion)> {
    let (bytes, sha256) = engine::read_component(
        &policy.component,
        policy.sha256.as_deref(),
        policy.limits.component_size,
    )?;
    let engine = engine::new_engine()?;
    let compiled = cache_root()?.subdir("compiled")?;
    let by = std::time::Instant::now() + engine::BUILD_TIMEOUT;
    let loaded = engine::load_by(
        &engine,
        &policy.component,
        bytes,
        &sha256,
        engine::Artifacts::ReadWrite(compiled),
        by,
        || {
            Error::Usage(format!(
                "compiling {} took longer than {}; the component is too large or too complex",
                redact::one_line(&policy.component.display().to_string(), 256),
                units::format_duration(engine::BUILD_TIMEOUT)
            ))
        },
    )?;
    let world = guest::check(&engine, &loaded.component, &policy.component)?;
    Ok((loaded, world))
}

/// credbox's private cache directory (see [`private_dir::cache_root`]).
pub fn cache_root() -> Result<PrivateDir> {
    PrivateDir::open(&private_dir::cache_root()?)
}
