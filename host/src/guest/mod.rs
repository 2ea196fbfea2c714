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
//!
//! One file per concern, one per host interface:
//!
//! - `mod.rs` (here): [`run`], [`run_login`] and [`check`], and a run's
//!   steps: set up the store, link, instantiate, call, collect.
//! - `bindings.rs`: both worlds' bindings (`credbox:helper@0.1.0` and
//!   `@0.2.0`), the request and credential in each world's terms.
//! - `limits.rs`: fuel, the deadline (epoch ticker and timeout), the
//!   memory and table limiter, the host-side bounds, [`network_deadline`].
//! - `host.rs`: the `host` interface (`get-config`, `log`), both worlds.
//! - `state.rs`: the `state` interface, on the helper's own store.
//! - `keys.rs`: the `keys` interface, signing with the manifest's keys.
//! - `user.rs`: the `user` interface, only under `credbox login`.
//! - [`log`]: the helper's log lines, redacted and capped.
//! - [`stdio`]: its stdout and stderr, captured and capped.
//!
//! [`EPOCH_TICK`]: crate::engine::EPOCH_TICK
//! [`ResourceLimiter`]: wasmtime::ResourceLimiter

mod bindings;
mod host;
mod keys;
mod limits;
pub mod log;
mod state;
pub mod stdio;
mod user;

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::time::error::Elapsed;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::error::{Error, GuestFailure, HelperErrorKind, Result};
use crate::network::HttpHooks;
use crate::policy::Policy;
use crate::policy::config::ConfigPolicy;
use crate::policy::keys::KeysPolicy;
use crate::redact::Redactor;
use crate::request::Request;
use crate::units::first_line;
use bindings::{HelperError, world_v1, world_v2, world_v3};
use limits::MemoryLimiter;
use log::{GuestLog, LogLevel};
use state::StateAccess;
use stdio::Captured;

pub use limits::{FIELD_SIZE_LIMIT, MAX_RANDOM_BYTES, MAX_RESOURCES, network_deadline};
pub use state::{MAX_STATE_CALLS, MAX_STATE_VALUES};
pub use user::Mode;

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
    /// `credbox:helper@0.3.0`.
    V0_3,
}

impl WorldVersion {
    /// The world's full name, such as `credbox:helper/helper@0.2.0`.
    pub fn world(self) -> &'static str {
        match self {
            WorldVersion::V0_1 => "credbox:helper/helper@0.1.0",
            WorldVersion::V0_2 => "credbox:helper/helper@0.2.0",
            WorldVersion::V0_3 => "credbox:helper/helper@0.3.0",
        }
    }
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

/// Everything the store holds for one run. Each host interface's file
/// implements its side on it.
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
    /// A host call that ignores the deadline, for the tests of the
    /// [`crate::watchdog`] ([`host::STALL_ENV`]).
    stall: Option<std::time::Duration>,
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

/// A component linked and checked against one version of the world.
enum Pre {
    V1(world_v1::HelperPre<HostState>),
    V2(world_v2::HelperPre<HostState>),
    V3(world_v3::HelperPre<HostState>),
}

impl Pre {
    fn version(&self) -> WorldVersion {
        match self {
            Pre::V1(_) => WorldVersion::V0_1,
            Pre::V2(_) => WorldVersion::V0_2,
            Pre::V3(_) => WorldVersion::V0_3,
        }
    }

    /// Instantiates the component in `store`.
    async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::V1(pre) => Instance::V1(pre.instantiate_async(store).await?),
            Pre::V2(pre) => Instance::V2(pre.instantiate_async(store).await?),
            Pre::V3(pre) => Instance::V3(pre.instantiate_async(store).await?),
        })
    }
}

/// An instance of the component, in its world's version.
enum Instance {
    V1(world_v1::Helper),
    V2(world_v2::Helper),
    V3(world_v3::Helper),
}

/// What a helper answered: a credential (none from `login`) or its own
/// error.
type Answer = std::result::Result<Option<RawCredential>, HelperError>;

impl Instance {
    /// Calls the export `call` names, and converts what it returns.
    async fn call(&self, store: &mut Store<HostState>, call: Call<'_>) -> wasmtime::Result<Answer> {
        match (self, call) {
            (Instance::V1(helper), Call::Fetch(request)) => {
                let outcome = helper
                    .call_fetch(store, &bindings::v1_request(request))
                    .await?;
                Ok(outcome
                    .map(|c| Some(bindings::from_v1(c)))
                    .map_err(bindings::from_v1_error))
            }
            (Instance::V1(_), Call::Login) => Ok(Err((
                HelperErrorKind::Misconfigured,
                "a credbox:helper@0.1.0 component has no `login`: nothing to log in to".to_owned(),
            ))),
            (Instance::V2(helper), Call::Fetch(request)) => {
                let outcome = helper
                    .call_fetch(store, &bindings::v2_request(request))
                    .await?;
                Ok(outcome
                    .map(|c| Some(bindings::from_v2(c)))
                    .map_err(bindings::from_v2_error))
            }
            (Instance::V2(helper), Call::Login) => {
                let outcome = helper.call_login(store).await?;
                Ok(outcome.map(|()| None).map_err(bindings::from_v2_error))
            }
            (Instance::V3(helper), Call::Fetch(request)) => {
                let outcome = helper
                    .call_fetch(store, &bindings::v3_request(request))
                    .await?;
                Ok(outcome
                    .map(|c| Some(bindings::from_v3(c)))
                    .map_err(bindings::from_v3_error))
            }
            (Instance::V3(helper), Call::Login) => {
                let outcome = helper.call_login(store).await?;
                Ok(outcome.map(|()| None).map_err(bindings::from_v3_error))
            }
        }
    }
}

/// A trap or host error that stopped the guest, and whether it happened
/// while instantiating.
struct Trap {
    error: wasmtime::Error,
    instantiating: bool,
}

/// The older world `component` names in an import or export
/// (`credbox:helper/…@0.1.0` or `@0.2.0`), if any.
fn names_older(engine: &Engine, component: &Component) -> Option<WorldVersion> {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .chain(ty.exports(engine).map(|(name, _)| name.to_owned()))
        .filter(|name| name.starts_with("credbox:helper/"))
        .collect();
    let named = |version: &str| names.iter().any(|name| name.ends_with(version));
    if named("@0.1.0") {
        Some(WorldVersion::V0_1)
    } else if named("@0.2.0") {
        Some(WorldVersion::V0_2)
    } else {
        None
    }
}

/// Links `component` against WASI and credbox's interfaces, and checks
/// that it exports what the `helper` world requires: the older world a
/// component names (0.1.0 or 0.2.0), else 0.3.0, and, for a component
/// that imports nothing of credbox's, 0.2.0 and then 0.1.0 if that fails.
/// `path` is only used in messages.
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
        world_v1::Helper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(internal)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| misfit(WorldVersion::V0_1, e))?;
        world_v1::HelperPre::new(pre)
            .map(Pre::V1)
            .map_err(|e| misfit(WorldVersion::V0_1, e))
    };
    let v2 = |mut linker: Linker<HostState>| -> Result<Pre> {
        world_v2::Helper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(internal)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| misfit(WorldVersion::V0_2, e))?;
        world_v2::HelperPre::new(pre)
            .map(Pre::V2)
            .map_err(|e| misfit(WorldVersion::V0_2, e))
    };
    match names_older(engine, component) {
        Some(WorldVersion::V0_1) => return v1(linker),
        Some(WorldVersion::V0_2) => return v2(linker),
        _ => {}
    }
    let fallback = linker.clone();
    world_v3::Helper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(internal)?;
    let v3 = linker
        .instantiate_pre(component)
        .map_err(|e| misfit(WorldVersion::V0_3, e))
        .and_then(|pre| {
            world_v3::HelperPre::new(pre)
                .map(Pre::V3)
                .map_err(|e| misfit(WorldVersion::V0_3, e))
        });
    // The 0.3.0 error is the one to show: it is the world to write for.
    v3.or_else(|e| {
        v2(fallback.clone())
            .or_else(|_| v1(fallback))
            .map_err(|_| e)
    })
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
///
/// `redactor` is the run's one redactor (made by [`redactor`]): the run
/// masks with it, and adds to it every state value the helper read or
/// wrote, so that the caller's later messages (validation's, which may
/// quote a header name the helper chose) mask those too.
#[allow(clippy::too_many_arguments)]
pub fn run(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    request: &Request,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
    redactor: &mut Redactor,
) -> Result<RawCredential> {
    let raw = execute(
        engine,
        component,
        policy,
        Call::Fetch(request),
        env,
        options,
        deadline,
        redactor,
    )?;
    Ok(raw.unwrap_or_default())
}

/// Runs `login` in `component` (`credbox login`): as [`run`], but with
/// `user.show` reaching the terminal, and `deadline` the end of the
/// login's time (`[limits] login_timeout`). A 0.1.0 component has no
/// `login`. `redactor` learns the state values, as in [`run`].
pub fn run_login(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
    redactor: &mut Redactor,
) -> Result<()> {
    execute(
        engine,
        component,
        policy,
        Call::Login,
        env,
        options,
        deadline,
        redactor,
    )
    .map(drop)
}

/// Which export a run calls.
#[derive(Clone, Copy)]
enum Call<'a> {
    Fetch(&'a Request),
    Login,
}

impl Call<'_> {
    /// Whether the run may talk to the user, and how long it may take.
    fn mode_and_timeout(self, policy: &Policy) -> (Mode, Duration) {
        match self {
            Call::Fetch(_) => (Mode::Fetch, policy.limits.timeout),
            Call::Login => (Mode::Login, policy.limits.login_timeout),
        }
    }
}

/// What the host keeps of a run to report on it: the redactor, which
/// learns the state values the helper handles, and its captured stdio.
struct Report {
    redactor: Redactor,
    stdout: Captured,
    stderr: Captured,
}

/// One run, step by step: set up the store, link, instantiate and call
/// under the limits, collect the outcome. `redactor` learns every state
/// value the helper read or wrote, whatever the outcome.
#[allow(clippy::too_many_arguments)]
fn execute(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    call: Call<'_>,
    env: Vec<(String, String)>,
    options: &RunOptions,
    deadline: Instant,
    redactor: &mut Redactor,
) -> Result<Option<RawCredential>> {
    let (mode, timeout) = call.mode_and_timeout(policy);
    // Keys are read when the helper runs, never on a cache hit: one that
    // cannot be fails the run here, before the helper starts.
    (policy.keys.load())
        .and_then(|()| policy.network.load_client_certs())
        .map_err(Error::Usage)?;
    let (state, mut report) = setup(
        policy,
        mode,
        env,
        options,
        network_deadline(deadline, timeout),
        redactor.clone(),
    );
    let remaining = deadline.saturating_duration_since(Instant::now());
    let pre = prepare(engine, component, &policy.component)?;
    let mut store = Store::new(engine, state);
    limits::bound(&mut store, policy.limits.fuel, |s| &mut s.limiter)?;
    let outcome = limits::within(engine, remaining, async {
        let instance = pre.instantiate(&mut store).await.map_err(|error| Trap {
            error,
            instantiating: true,
        })?;
        instance.call(&mut store, call).await.map_err(|error| Trap {
            error,
            instantiating: false,
        })
    })?;
    // The caller's messages after the run (validation's) mask what the
    // helper kept in its state too.
    for value in store.data().state.values() {
        redactor.add(value);
    }
    collect(
        store.data_mut(),
        outcome,
        policy,
        call,
        options,
        timeout,
        &mut report,
    )
}

/// The store's data for a run: WASI granting nothing but `env` and
/// captured stdio, the bounded HTTP context and resource table, the
/// policy's config and keys, the helper's state. Requests and state calls
/// give up at `network_deadline`.
fn setup(
    policy: &Policy,
    mode: Mode,
    env: Vec<(String, String)>,
    options: &RunOptions,
    network_deadline: Instant,
    redactor: Redactor,
) -> (HostState, Report) {
    // State calls block the run (a keystore round trip): they give up
    // when the helper's requests must, leaving it time to report it.
    let state = StateAccess::open(policy, network_deadline, matches!(mode, Mode::Fetch));
    // A secret cut by the capture's end must be seen whole to be masked:
    // state values, learnt during the run, are up to 16 KiB, and masked
    // in their encoded forms too (hex: twice that).
    let lookahead = redactor
        .longest()
        .max(crate::redact::longest_form(state.longest_value()));
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
    let mut http = WasiHttpCtx::new();
    http.set_field_size_limit(FIELD_SIZE_LIMIT);
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    let host = HostState {
        wasi,
        http,
        network: HttpHooks::new(policy.network.clone(), network_deadline),
        table,
        limiter: MemoryLimiter::new(policy.limits.memory),
        config: policy.config.clone(),
        keys: policy.keys.clone(),
        key_failure: None,
        env,
        mode,
        state,
        stall: host::stall(),
        log: GuestLog::new(
            &policy.name,
            redactor.clone(),
            options.log_level,
            Box::new(std::io::stderr()),
        ),
    };
    let report = Report {
        redactor,
        stdout,
        stderr,
    };
    (host, report)
}

/// The run's result, from what the guest did (`outcome`) and what the
/// host saw it do (`host`, `report`).
fn collect(
    host: &mut HostState,
    outcome: std::result::Result<std::result::Result<Answer, Trap>, Elapsed>,
    policy: &Policy,
    call: Call<'_>,
    options: &RunOptions,
    timeout: Duration,
    report: &mut Report,
) -> Result<Option<RawCredential>> {
    // Every state value the helper read or wrote is masked from here on.
    for value in host.state.values() {
        report.redactor.add(value);
    }
    let result = verdict(host, outcome, policy, call, timeout, report);
    if options.log_level <= LogLevel::Info {
        replay_stdio(
            &mut host.log,
            &report.redactor,
            &report.stdout,
            &report.stderr,
        );
    }
    explain(result, host, &report.redactor)
}

/// The outcome as credbox's result: the deadline, a trap (with what it
/// hit), the helper's own error (a login needed when it found no state),
/// or its credential.
fn verdict(
    host: &HostState,
    outcome: std::result::Result<std::result::Result<Answer, Trap>, Elapsed>,
    policy: &Policy,
    call: Call<'_>,
    timeout: Duration,
    report: &Report,
) -> Result<Option<RawCredential>> {
    let redactor = &report.redactor;
    match outcome {
        Err(_elapsed) => Err(Error::DeadlineExceeded(timeout)),
        Ok(Err(Trap {
            error,
            instantiating,
        })) => Err(Error::from_guest_failure(
            GuestFailure {
                error,
                instantiating,
                memory_cap_hit: host.limiter.hit(),
                stderr: &redactor.mask(&report.stderr.text(), report.stderr.dropped() == 0),
                fuel: policy.limits.fuel,
                memory: policy.limits.memory,
                resources: MAX_RESOURCES,
            },
            redactor,
        )),
        Ok(Ok(Err((kind, message)))) => {
            let error = Error::from_helper(kind, &message, redactor);
            match (error, &policy.state.manifest) {
                // It looked for its state, found none, and gave up: the
                // user must log in.
                (Error::Misconfigured(message), Some(manifest))
                    if matches!(call, Call::Fetch(_)) && host.state.missed() =>
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
    }
}

/// A helper's failure explained by what the host refused it first, if
/// anything: its state store failing, a request denied, a key's variable
/// unset. That is reported instead, since it is what to fix.
fn explain(
    result: Result<Option<RawCredential>>,
    host: &mut HostState,
    redactor: &Redactor,
) -> Result<Option<RawCredential>> {
    // A helper that failed after its state store did (no keystore, a
    // locked one) failed because of it: the store's failure is reported,
    // with its own hint.
    let result = match (result, host.state.take_failure()) {
        (Err(error), Some(failure)) if error.is_explained_by_denial() => {
            return Err(failure.redacted(redactor));
        }
        (result, _) => result,
    };
    // A helper that failed after credbox refused one of its requests most
    // likely failed because of it: the refusal is reported instead.
    let result = match (result, host.network.denial()) {
        (Err(error), Some(denial)) if error.is_explained_by_denial() => {
            Err(Error::request_denied(&denial.url, &denial.reason, redactor))
        }
        (result, _) => result,
    };
    // A helper that failed after a response went over one of credbox's
    // caps failed because of it: the cap hit is named (the helper cannot
    // tell one response's cap from the run's).
    let result = match (result, host.network.cap_hit()) {
        (Err(error), Some(hit)) if error.is_explained_by_denial() => {
            Err(Error::HelperError(hit.describe()))
        }
        (result, _) => result,
    };
    // Likewise a helper that failed after asking for a key whose variable
    // is unset: what to fix is credbox's environment, not the manifest.
    match (result, host.key_failure.take()) {
        (Err(error), Some(unset)) if error.is_explained_by_denial() => Err(unset),
        (result, _) => result,
    }
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
