//! The guest: one sandboxed run of a helper component.
//!
//! The component gets WASI with nothing granted (no preopened directories,
//! no arguments, an empty stdin, no sockets, only allowlisted environment
//! variables, captured stdio), `wasi:http` requests to the origins the
//! network policy allows (see [`crate::network`]), and credbox's `host`
//! interface. Three limits bound the run:
//!
//! - **fuel**: every wasm instruction costs fuel; an exhausted budget traps.
//! - **deadline**: a [`tokio::time::timeout`] around instantiation and the
//!   `fetch` call. Epoch interruption makes running wasm yield to the
//!   executor every [`EPOCH_TICK`], so the timeout fires whether the guest
//!   is spinning in wasm or blocked in a host call such as a sleep.
//! - **memory**: a [`ResourceLimiter`] refuses growth past the cap, summed
//!   over all linear memories, and remembers that it did. What the host
//!   holds for the guest is bounded apart: at most [`MAX_RESOURCES`]
//!   resources (`wasi:http` fields, requests, bodies, streams...), each
//!   `fields` at most [`FIELD_SIZE_LIMIT`] bytes, each outgoing body
//!   buffering at most one chunk (see [`crate::network`]), random bytes at
//!   most [`MAX_RANDOM_BYTES`] per call, stdio captured up to
//!   [`stdio::CAPTURE_LIMIT`], log lines and messages cut before they are
//!   processed. Together they stay within 64 MiB of host memory beyond the
//!   cap, whatever the guest does.

pub mod log;
pub mod stdio;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::EPOCH_TICK;
use crate::error::{Error, GuestFailure, HelperErrorKind, Result};
use crate::network::HttpHooks;
use crate::policy::Policy;
use crate::policy::config::ConfigPolicy;
use crate::policy::keys::{Algorithm, KeysPolicy};
use crate::redact::Redactor;
use crate::request::{Client, Request};
use crate::state::StateStore;
use crate::units::first_line;
use log::{GuestLog, LogLevel};
use stdio::Captured;

/// Host bindings for the `credbox:helper/helper` world, both versions.
/// Host calls are sync; the deadline still cancels a guest blocked in
/// WASI's own async calls (sleeps, streams).
mod bindings {
    /// `credbox:helper@0.1.0`, frozen (wit/v0.1.0): its components keep
    /// running unchanged.
    pub mod v1 {
        wasmtime::component::bindgen!({
            path: "../wit/v0.1.0",
            world: "helper",
            exports: { default: async },
        });
    }
    /// `credbox:helper@0.2.0` (wit/helper.wit).
    pub mod v2 {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "helper",
            exports: { default: async },
        });
    }
}

use bindings::v1::credbox::helper::{host as v1_host, types as v1};
use bindings::v2::credbox::helper::{
    host as v2_host, keys as v2_keys, state as v2_state, types as v2, user as v2_user,
};

/// Most table elements a guest may have (function tables of real programs
/// hold a few thousand).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Most host resources a guest may hold at once (a helper making one
/// request holds about ten). Each is bounded in size, so this bounds the
/// host memory they take: 512 resources, none over 80 KiB, is at most
/// 40 MiB, and in practice far less (a request needs three of them).
pub const MAX_RESOURCES: usize = 512;

/// Largest `wasi:http` `fields` (headers), in wasmtime's in-memory
/// accounting: room for a few 8 KiB headers.
pub const FIELD_SIZE_LIMIT: usize = 16 << 10;

/// Most random bytes one `get-random-bytes` call may ask for (wasmtime's
/// default is 64 MiB).
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// A credential as the guest returned it, in host types: not yet checked
/// (see [`crate::validation`]). A 0.1.0 component fills only headers,
/// token and `expires_in`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawCredential {
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// A single token.
    pub token: Option<String>,
    /// A username and its secret.
    pub user_secret: Option<(String, String)>,
    /// AWS access key id, secret access key and session token.
    pub aws: Option<(String, String, Option<String>)>,
    /// Lifetime in seconds, when the helper knows it.
    pub expires_in: Option<u64>,
    /// End of validity in Unix seconds, when the helper knows it.
    pub expires_at: Option<u64>,
}

/// Which `credbox:helper` world a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorldVersion {
    /// `credbox:helper@0.1.0`.
    V0_1,
    /// `credbox:helper@0.2.0`.
    V0_2,
}

impl WorldVersion {
    /// The world's full name, such as `credbox:helper/helper@0.2.0`.
    pub fn world(self) -> &'static str {
        match self {
            WorldVersion::V0_1 => "credbox:helper/helper@0.1.0",
            WorldVersion::V0_2 => "credbox:helper/helper@0.2.0",
        }
    }
}

/// Whether a run may talk to the user: only `credbox login` may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `fetch`: never interactive.
    Fetch,
    /// `login`: `user.show` reaches the terminal.
    Login,
}

/// How a run reports, as opposed to what it may do.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Lowest helper log level printed; `Info` and below also print what
    /// the helper wrote to stdout and stderr.
    pub log_level: LogLevel,
    /// Bypass the credential cache for this call: neither read nor write
    /// it, and create, write or remove nothing under the cache directory
    /// (an existing compiled component is still loaded).
    pub no_cache: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            log_level: LogLevel::Warn,
            no_cache: false,
        }
    }
}

/// Everything the store holds for one run.
struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    network: HttpHooks,
    table: ResourceTable,
    limiter: MemoryLimiter,
    config: ConfigPolicy,
    keys: KeysPolicy,
    /// The first key the helper could not use because credbox's
    /// environment lacks its variable (see [`KeysPolicy::sign`]).
    key_failure: Option<Error>,
    env: Vec<(String, String)>,
    log: GuestLog,
    mode: Mode,
    state: StateAccess,
}

/// The run's access to the helper's host-kept state (see [`crate::state`]).
enum StateAccess {
    /// A bare component: no manifest, no identity, no state.
    Nobody,
    /// The state could not be opened (the message says why); every call
    /// fails with it.
    Broken(String),
    /// The helper's own state.
    Store {
        store: StateStore,
        /// Each value read or written, masked in everything the run
        /// prints or stores (at most [`MAX_STATE_VALUES`]).
        values: Vec<String>,
        /// State calls made (at most [`MAX_STATE_CALLS`]).
        calls: usize,
        /// Whether a `get` found nothing, or a `delete` dropped something:
        /// a `misconfigured` helper is then told to log in
        /// ([`Error::LoginNeeded`]).
        missed: bool,
        /// The first failure of the store itself (no keystore, a locked
        /// one): reported instead of the helper's error that follows it.
        failure: Option<Error>,
    },
}

/// Most state calls in one run: a helper makes a few; a loop of them
/// would hammer the keystore.
pub const MAX_STATE_CALLS: usize = 256;
/// Most distinct state values one run may read or write: each is kept to
/// be masked (at most 16 KiB each, so 1 MiB at most).
pub const MAX_STATE_VALUES: usize = 64;

impl StateAccess {
    fn open(policy: &Policy, deadline: Instant) -> StateAccess {
        match StateStore::for_policy(policy) {
            Ok(None) => StateAccess::Nobody,
            Ok(Some(store)) => StateAccess::Store {
                store: store.with_deadline(deadline),
                values: Vec::new(),
                calls: 0,
                missed: false,
                failure: None,
            },
            Err(e) => StateAccess::Broken(format!("{e} ({})", e.hint())),
        }
    }

    fn missed(&self) -> bool {
        matches!(self, StateAccess::Store { missed: true, .. })
    }

    fn take_failure(&mut self) -> Option<Error> {
        match self {
            StateAccess::Store { failure, .. } => failure.take(),
            _ => None,
        }
    }

    fn values(&self) -> &[String] {
        match self {
            StateAccess::Store { values, .. } => values,
            _ => &[],
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.network,
        }
    }
}

impl HostState {
    fn get_config(&self, name: &str) -> Option<String> {
        self.config.get(name).map(str::to_owned).or_else(|| {
            self.env
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
    }
}

/// The `host` interface is the same in both worlds; only the generated
/// types differ.
macro_rules! host_interface {
    ($types:ident, $host:ident) => {
        impl $types::Host for HostState {}

        impl $host::Host for HostState {
            fn get_config(&mut self, name: String) -> Option<String> {
                HostState::get_config(self, &name)
            }

            fn log(&mut self, level: $host::Level, message: String) {
                let level = match level {
                    $host::Level::Debug => LogLevel::Debug,
                    $host::Level::Info => LogLevel::Info,
                    $host::Level::Warn => LogLevel::Warn,
                    $host::Level::Error => LogLevel::Error,
                };
                self.log.log(level, &message);
            }
        }
    };
}

host_interface!(v1, v1_host);
host_interface!(v2, v2_host);

impl HostState {
    /// Runs one state call: counted, on the helper's own store, with the
    /// value (the one read, or `remember`) masked from then on.
    fn with_state<T>(
        &mut self,
        remember: Option<&str>,
        call: impl FnOnce(&StateStore) -> Result<T>,
        seen: impl FnOnce(&T) -> Option<&str>,
    ) -> std::result::Result<T, v2::Error> {
        let (store, values, calls, failure) = match &mut self.state {
            StateAccess::Nobody => {
                return Err(v2::Error::Misconfigured(
                    "credbox keeps state only for a helper run from its manifest \
                     (a bare component has none)"
                        .into(),
                ));
            }
            StateAccess::Broken(why) => return Err(v2::Error::Misconfigured(why.clone())),
            StateAccess::Store {
                store,
                values,
                calls,
                failure,
                ..
            } => (store, values, calls, failure),
        };
        *calls += 1;
        if *calls > MAX_STATE_CALLS {
            return Err(v2::Error::Misconfigured(format!(
                "more than {MAX_STATE_CALLS} state calls in one run"
            )));
        }
        let mut learn = |value: &str, log: &mut GuestLog| {
            if values.iter().any(|v| v == value) {
                return Ok(());
            }
            if values.len() >= MAX_STATE_VALUES {
                return Err(v2::Error::Misconfigured(format!(
                    "more than {MAX_STATE_VALUES} distinct state values in one run"
                )));
            }
            log.add_secret(value);
            values.push(value.to_owned());
            Ok(())
        };
        if let Some(value) = remember
            && value.len() <= crate::state::MAX_VALUE_LEN
        {
            learn(value, &mut self.log)?;
        }
        let result = match call(store) {
            Ok(result) => result,
            Err(e) => {
                let wit = state_error(&e);
                if failure.is_none()
                    && matches!(e, Error::Environment { .. } | Error::Unavailable(_))
                {
                    *failure = Some(e);
                }
                return Err(wit);
            }
        };
        if let Some(value) = seen(&result) {
            learn(value, &mut self.log)?;
        }
        Ok(result)
    }
}

/// A state store's error in the WIT's terms. Its messages never hold a
/// value (see [`crate::state`]).
fn state_error(e: &Error) -> v2::Error {
    match e {
        Error::Misconfigured(m) => v2::Error::Misconfigured(m.clone()),
        Error::Unavailable(m) => v2::Error::Unavailable(m.clone()),
        Error::Environment { .. } | Error::Usage(_) => {
            v2::Error::Misconfigured(format!("{e} ({})", e.hint()))
        }
        e => v2::Error::Other(e.to_string()),
    }
}

impl v2_state::Host for HostState {
    fn get(&mut self, name: String) -> std::result::Result<Option<String>, v2::Error> {
        let value = self.with_state(None, |s| s.get(&name), |v| v.as_deref())?;
        if value.is_none()
            && let StateAccess::Store { missed, .. } = &mut self.state
        {
            *missed = true;
        }
        Ok(value)
    }

    fn set(&mut self, name: String, value: String) -> std::result::Result<(), v2::Error> {
        self.with_state(Some(&value), |s| s.set(&name, &value), |_| None)
    }

    fn delete(&mut self, name: String) -> std::result::Result<(), v2::Error> {
        self.with_state(None, |s| s.delete(&name), |_| None)?;
        // A helper that drops its state (a refresh token refused for good)
        // and then gives up needs a login, as one that found none.
        if let StateAccess::Store { missed, .. } = &mut self.state {
            *missed = true;
        }
        Ok(())
    }
}

impl v2_keys::Host for HostState {
    fn info(&mut self, name: String) -> std::result::Result<v2_keys::KeyInfo, v2::Error> {
        let info = self.keys.info(&name).map_err(|e| self.key_error(e))?;
        Ok(v2_keys::KeyInfo {
            algorithm: algorithm_to_wit(info.algorithm),
            key_id: info.key_id,
            public_key: info.public_key,
        })
    }

    fn sign(
        &mut self,
        name: String,
        algorithm: v2_keys::Algorithm,
        data: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, v2::Error> {
        let algorithm = match algorithm {
            v2_keys::Algorithm::HmacSha256 => Algorithm::HmacSha256,
            v2_keys::Algorithm::Es256 => Algorithm::Es256,
            v2_keys::Algorithm::Ed25519 => Algorithm::Ed25519,
        };
        self.keys
            .sign(&name, algorithm, &data)
            .map_err(|e| self.key_error(e))
    }
}

impl HostState {
    /// A [`KeysPolicy`] error as the guest's: `misconfigured` with the
    /// message (which names keys and variables, never key bytes). An
    /// unset variable is also kept, to be reported if the helper fails.
    fn key_error(&mut self, error: Error) -> v2::Error {
        let guest = match &error {
            Error::Misconfigured(message) => v2::Error::Misconfigured(message.clone()),
            Error::Environment { message, .. } => v2::Error::Misconfigured(message.clone()),
            other => v2::Error::Other(other.to_string()),
        };
        if matches!(error, Error::Environment { .. }) {
            self.key_failure.get_or_insert(error);
        }
        guest
    }
}

fn algorithm_to_wit(algorithm: Algorithm) -> v2_keys::Algorithm {
    match algorithm {
        Algorithm::HmacSha256 => v2_keys::Algorithm::HmacSha256,
        Algorithm::Es256 => v2_keys::Algorithm::Es256,
        Algorithm::Ed25519 => v2_keys::Algorithm::Ed25519,
    }
}

impl v2_user::Host for HostState {
    fn show(&mut self, message: String) -> std::result::Result<(), v2::Error> {
        match self.mode {
            Mode::Fetch => Err(v2::Error::Misconfigured(
                "the helper asked to show the user a message outside `credbox login` \
                 (fetch never interacts; log in first)"
                    .into(),
            )),
            Mode::Login => {
                self.log.show(&message);
                Ok(())
            }
        }
    }
}

/// Caps the total size of the guest's linear memories.
struct MemoryLimiter {
    cap: u64,
    used: u64,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        if self.used.saturating_add(growth) > self.cap {
            self.hit = true;
            return Ok(false);
        }
        self.used += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::park_timeout(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A component linked and checked against one version of the world.
enum Pre {
    V1(bindings::v1::HelperPre<HostState>),
    V2(bindings::v2::HelperPre<HostState>),
}

impl Pre {
    fn version(&self) -> WorldVersion {
        match self {
            Pre::V1(_) => WorldVersion::V0_1,
            Pre::V2(_) => WorldVersion::V0_2,
        }
    }
}

/// Whether `component` names `credbox:helper@0.1.0` in an import or export.
fn names_v0_1(engine: &Engine, component: &Component) -> bool {
    let ty = component.component_type();
    let named = |name: &str| name.starts_with("credbox:helper/") && name.ends_with("@0.1.0");
    ty.imports(engine).any(|(name, _)| named(name))
        || ty.exports(engine).any(|(name, _)| named(name))
}

/// Links `component` against WASI and credbox's interfaces, and checks
/// that it exports what the `helper` world requires: the 0.1.0 world for a
/// component that names `credbox:helper@0.1.0`, else 0.2.0 (and 0.1.0 if
/// that fails, for a component that imports nothing of credbox's). `path`
/// is only used in messages.
fn prepare(engine: &Engine, component: &Component, path: &Path) -> Result<Pre> {
    let mut linker = Linker::<HostState>::new(engine);
    let internal =
        |e: wasmtime::Error| Error::Internal(format!("cannot link WASI: {}", first_line(&e)));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(internal)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(internal)?;
    let misfit = |version: WorldVersion, e: wasmtime::Error| {
        Error::Usage(format!(
            "{} does not fit the {} world: {}",
            path.display(),
            version.world(),
            first_line(&e)
        ))
    };
    let v1 = |mut linker: Linker<HostState>| -> Result<Pre> {
        bindings::v1::Helper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(internal)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| misfit(WorldVersion::V0_1, e))?;
        bindings::v1::HelperPre::new(pre)
            .map(Pre::V1)
            .map_err(|e| misfit(WorldVersion::V0_1, e))
    };
    if names_v0_1(engine, component) {
        return v1(linker);
    }
    let fallback = linker.clone();
    bindings::v2::Helper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(internal)?;
    let v2 = linker
        .instantiate_pre(component)
        .map_err(|e| misfit(WorldVersion::V0_2, e))
        .and_then(|pre| {
            bindings::v2::HelperPre::new(pre)
                .map(Pre::V2)
                .map_err(|e| misfit(WorldVersion::V0_2, e))
        });
    // The 0.2.0 error is the one to show: it is the world to write for.
    v2.or_else(|e| v1(fallback).map_err(|_| e))
}

/// Checks, without running it, that `component` can be instantiated by
/// credbox: its imports are all provided and it exports `fetch` with the
/// right type. Returns the world version it targets.
pub fn check(engine: &Engine, component: &Component, path: &Path) -> Result<WorldVersion> {
    prepare(engine, component, path).map(|pre| pre.version())
}

/// The redactor of a run: it knows every value credbox hands the helper
/// (the allowlisted environment `env`, the config values).
pub fn redactor(policy: &Policy, env: &[(String, String)]) -> Redactor {
    Redactor::new(
        env.iter()
            .map(|(_, v)| v.as_str())
            .chain(policy.config.values()),
    )
}

/// Runs `fetch` in `component` under `policy`, handing it the allowlisted
/// environment `env`, and gives up at `deadline` (the end of the call's
/// time, of which compiling may have used some). Returns the credential
/// exactly as the helper gave it; validation is the caller's next step.
pub fn run(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    request: &Request,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
) -> Result<RawCredential> {
    let raw = execute(
        engine,
        component,
        policy,
        Call::Fetch(request),
        env,
        options,
        deadline,
    )?;
    Ok(raw.unwrap_or_default())
}

/// Runs `login` in `component` (`credbox login`): as [`run`], but with
/// `user.show` reaching the terminal, and `deadline` the end of the
/// login's time (`[limits] login_timeout`). A 0.1.0 component has no
/// `login`.
pub fn run_login(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
) -> Result<()> {
    execute(
        engine,
        component,
        policy,
        Call::Login,
        env,
        options,
        deadline,
    )
    .map(drop)
}

/// Which export a run calls.
#[derive(Clone, Copy)]
enum Call<'a> {
    Fetch(&'a Request),
    Login,
}

fn execute(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    call: Call<'_>,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
) -> Result<Option<RawCredential>> {
    let (mode, timeout) = match call {
        Call::Fetch(_) => (Mode::Fetch, policy.limits.timeout),
        Call::Login => (Mode::Login, policy.limits.login_timeout),
    };
    // Keys are read when the helper runs, never on a cache hit: one that
    // cannot be fails the run here, before the helper starts.
    (policy.keys.load())
        .and_then(|()| policy.network.load_client_certs())
        .map_err(Error::Usage)?;
    let mut redactor = redactor(policy, &env);
    // State calls block the run (a keystore round trip): they give up
    // when the helper's requests must, leaving it time to report it.
    let state = StateAccess::open(policy, network_deadline(deadline, timeout));
    // A secret cut by the capture's end must be seen whole to be masked:
    // state values, learnt during the run, are up to 16 KiB.
    let lookahead = match state {
        StateAccess::Store { .. } => redactor.longest().max(crate::state::MAX_VALUE_LEN),
        _ => redactor.longest(),
    };
    let stdout = Captured::new(lookahead);
    let stderr = Captured::new(lookahead);
    let wasi = WasiCtx::builder()
        .envs(&env)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .max_random_size(MAX_RANDOM_BYTES)
        .build();
    let remaining = deadline.saturating_duration_since(Instant::now());
    let mut http = WasiHttpCtx::new();
    http.set_field_size_limit(FIELD_SIZE_LIMIT);
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    let state = HostState {
        wasi,
        http,
        network: HttpHooks::new(policy.network.clone(), network_deadline(deadline, timeout)),
        table,
        limiter: MemoryLimiter {
            cap: policy.limits.memory,
            used: 0,
            hit: false,
        },
        config: policy.config.clone(),
        keys: policy.keys.clone(),
        key_failure: None,
        env,
        mode,
        state,
        log: GuestLog::new(
            &policy.name,
            redactor.clone(),
            options.log_level,
            Box::new(std::io::stderr()),
        ),
    };

    let pre = prepare(engine, component, &policy.component)?;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
        .set_fuel(policy.limits.fuel)
        .map_err(|e| Error::Internal(format!("cannot set fuel: {e}")))?;
    // Yield to the executor at every epoch tick, so the deadline below is
    // checked even while the guest spins in wasm.
    store.epoch_deadline_async_yield_and_update(1);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let ticker = EpochTicker::start(engine);
    let guest = async {
        // The error, and whether it happened while instantiating.
        match &pre {
            Pre::V1(pre) => {
                let helper = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| (e, true))?;
                let Call::Fetch(request) = call else {
                    return Ok(Err((
                        HelperErrorKind::Misconfigured,
                        "a credbox:helper@0.1.0 component has no `login`: nothing to log in to"
                            .to_owned(),
                    )));
                };
                let outcome = helper
                    .call_fetch(&mut store, &v1_request(request))
                    .await
                    .map_err(|e| (e, false))?;
                Ok(outcome.map(|c| Some(from_v1(c))).map_err(from_v1_error))
            }
            Pre::V2(pre) => {
                let helper = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| (e, true))?;
                match call {
                    Call::Fetch(request) => {
                        let outcome = helper
                            .call_fetch(&mut store, &v2_request(request))
                            .await
                            .map_err(|e| (e, false))?;
                        Ok(outcome.map(|c| Some(from_v2(c))).map_err(from_v2_error))
                    }
                    Call::Login => {
                        let outcome = helper
                            .call_login(&mut store)
                            .await
                            .map_err(|e| (e, false))?;
                        Ok(outcome.map(|()| None).map_err(from_v2_error))
                    }
                }
            }
        }
    };
    // The timer is made inside the runtime: tokio 1.54.1 timers need its
    // handle when created.
    let outcome = runtime.block_on(async { tokio::time::timeout(remaining, guest).await });
    drop(ticker);
    // Do not wait for a name lookup still blocked in the resolver (a DNS
    // server that stopped answering): the deadline has passed or the
    // helper is done with it.
    runtime.shutdown_background();

    // Every state value the helper read or wrote is masked from here on.
    for value in store.data().state.values() {
        redactor.add(value);
    }
    let result = match outcome {
        Err(_elapsed) => Err(Error::DeadlineExceeded(timeout)),
        Ok(Err((error, instantiating))) => Err(Error::from_guest_failure(
            GuestFailure {
                error,
                instantiating,
                memory_cap_hit: store.data().limiter.hit,
                stderr: &redactor.mask(&stderr.text(), stderr.dropped() == 0),
                fuel: policy.limits.fuel,
                memory: policy.limits.memory,
                resources: MAX_RESOURCES,
            },
            &redactor,
        )),
        Ok(Ok(Err((kind, message)))) => {
            let error = Error::from_helper(kind, &message, &redactor);
            match (error, &policy.state.manifest) {
                // It looked for its state, found none, and gave up: the
                // user must log in.
                (Error::Misconfigured(message), Some(manifest))
                    if matches!(call, Call::Fetch(_)) && store.data().state.missed() =>
                {
                    Err(Error::LoginNeeded {
                        message,
                        manifest: redactor.line(&manifest.display().to_string(), 512),
                    })
                }
                (error, _) => Err(error),
            }
        }
        Ok(Ok(Ok(credential))) => Ok(credential),
    };
    if options.log_level <= LogLevel::Info {
        replay_stdio(&mut store.data_mut().log, &redactor, &stdout, &stderr);
    }
    // A helper that failed after its state store did (no keystore, a
    // locked one) failed because of it: the store's failure is reported,
    // with its own hint.
    let result = match (result, store.data_mut().state.take_failure()) {
        (Err(error), Some(failure)) if error.is_explained_by_denial() => {
            return Err(failure.redacted(&redactor));
        }
        (result, _) => result,
    };
    // A helper that failed after credbox refused one of its requests most
    // likely failed because of it: the refusal is reported instead.
    let result =
        match (result, store.data().network.denial()) {
            (Err(error), Some(denial)) if error.is_explained_by_denial() => Err(
                Error::request_denied(&denial.url, &denial.reason, &redactor),
            ),
            (result, _) => result,
        };
    // Likewise a helper that failed after asking for a key whose variable
    // is unset: what to fix is credbox's environment, not the manifest.
    match (result, store.data_mut().key_failure.take()) {
        (Err(error), Some(unset)) if error.is_explained_by_denial() => Err(unset),
        (result, _) => result,
    }
}

/// The request in the 0.1.0 world's terms: it knows headers (with the MCP
/// server) and API keys; every other client reaches a 0.1.0 helper as a
/// request for headers, whose token or headers the client then uses.
fn v1_request(request: &Request) -> v1::Request {
    let (purpose, name, url) = match &request.client {
        Client::ApiKey => (v1::Purpose::ApiKey, None, None),
        Client::Headers {
            mcp_server_name,
            mcp_server_url,
        } => (
            v1::Purpose::Headers,
            mcp_server_name.clone(),
            mcp_server_url.clone(),
        ),
        _ => (v1::Purpose::Headers, None, None),
    };
    v1::Request {
        purpose,
        mcp_server_name: name,
        mcp_server_url: url,
    }
}

fn v2_request(request: &Request) -> v2::Request {
    let client = match &request.client {
        Client::Headers {
            mcp_server_name,
            mcp_server_url,
        } => v2::Client::Headers(v2::McpServer {
            name: mcp_server_name.clone(),
            url: mcp_server_url.clone(),
        }),
        Client::ApiKey => v2::Client::ApiKey,
        Client::Git(git) => v2::Client::Git(v2::GitRequest {
            protocol: git.protocol.clone(),
            host: git.host.clone(),
            path: git.path.clone(),
            username: git.username.clone(),
            wwwauth: git.wwwauth.clone(),
        }),
        Client::Docker { server_url } => v2::Client::Docker(v2::DockerRequest {
            server_url: server_url.clone(),
        }),
        Client::Aws => v2::Client::Aws,
        Client::Kubernetes { server } => v2::Client::Kubernetes(v2::KubernetesRequest {
            server: server.clone(),
        }),
        Client::Cargo(cargo) => v2::Client::Cargo(v2::CargoRequest {
            registry_name: cargo.registry_name.clone(),
            index_url: cargo.index_url.clone(),
            operation: cargo.operation.clone(),
            crate_name: cargo.crate_name.clone(),
        }),
        Client::Any => v2::Client::Any,
    };
    v2::Request { client }
}

fn from_v1(credential: v1::Credential) -> RawCredential {
    RawCredential {
        headers: credential
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        token: credential.token,
        expires_in: credential.expires_in,
        ..RawCredential::default()
    }
}

fn from_v2(credential: v2::Credential) -> RawCredential {
    RawCredential {
        headers: credential
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        token: credential.token,
        user_secret: credential.user_secret.map(|u| (u.username, u.secret)),
        aws: credential
            .aws
            .map(|a| (a.access_key_id, a.secret_access_key, a.session_token)),
        expires_in: credential.expires_in,
        expires_at: credential.expires_at,
    }
}

/// A helper's own error: its kind and its message (redacted and capped by
/// [`Error::from_helper`]).
fn from_v1_error(error: v1::Error) -> (HelperErrorKind, String) {
    match error {
        v1::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
        v1::Error::Denied(m) => (HelperErrorKind::Denied, m),
        v1::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
        v1::Error::Other(m) => (HelperErrorKind::Other, m),
    }
}

fn from_v2_error(error: v2::Error) -> (HelperErrorKind, String) {
    match error {
        v2::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
        v2::Error::Denied(m) => (HelperErrorKind::Denied, m),
        v2::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
        v2::Error::NotFound(m) => (HelperErrorKind::NotFound, m),
        v2::Error::Other(m) => (HelperErrorKind::Other, m),
    }
}

/// When the helper's requests must be done: a tenth of the timeout before
/// the run's deadline, so that a stalled network leaves the helper time to
/// report it (as `unavailable`) instead of being cut off. `doctor` gives
/// each of its network probes the same time.
pub fn network_deadline(deadline: Instant, timeout: Duration) -> Instant {
    deadline - timeout / 10
}

/// Shows what the helper printed, through the redacting, capped log. The
/// capture is masked as a whole first, so that a secret cut by the
/// capture's end is dropped, not shown in part.
fn replay_stdio(log: &mut GuestLog, redactor: &Redactor, stdout: &Captured, stderr: &Captured) {
    for (stream, captured) in [("stdout", stdout), ("stderr", stderr)] {
        let text = redactor.mask(&captured.text(), captured.dropped() == 0);
        for line in text.lines() {
            log.log(LogLevel::Info, &format!("{stream}: {line}"));
        }
        if captured.dropped() > 0 {
            log.log(
                LogLevel::Info,
                &format!("{stream}: {} more bytes dropped", captured.dropped()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limiter_sums_memories_and_remembers_refusals() {
        let mut limiter = MemoryLimiter {
            cap: 100,
            used: 0,
            hit: false,
        };
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        assert!(!limiter.hit);
        assert!(!limiter.memory_growing(40, 41, None).unwrap());
        assert!(limiter.hit);
    }
}
