//! The `credbox` command: set it as Claude Code's `apiKeyHelper` or
//! `headersHelper`.
//!
//! Contract: on success the credential alone on stdout and exit 0; on any
//! failure nothing on stdout, one line on stderr
//! (`credbox: <helper>: <what happened> (<what to do>)`) and a non-zero exit
//! code that tells the failure's class (see the README).

#![no_main]

use std::ffi::{OsStr, OsString, c_char, c_int};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Parser, Subcommand};
use credbox::guest::log::LogLevel;
use credbox::protocol::{self, aws::Shape, cargo::Response, docker, git};
use credbox::redact::{MAX_LINE, one_line};
use credbox::request::{CargoRequest, Client};
use credbox::validation::Credential;
use credbox::{
    CredentialCache, Error, Format, LoadedManifest, Overrides, Policy, Refresh, Request, RunOptions,
};

#[derive(Parser)]
#[command(
    name = "credbox",
    version = credbox::version::LONG,
    about = "Run Claude Code credential helpers as sandboxed WASI components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a helper and print its credential.
    Run(RunArgs),
    /// Compile a helper ahead of time, check that it implements the credbox
    /// world, and print its sha256 for pinning in the manifest.
    Build(BuildArgs),
    /// Manage the credential cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// List cached credentials: age, expiry and last failure (never the
    /// credential itself).
    Status,
    /// Create a helper crate and its credbox.toml from a sample, ready to
    /// build and run (outside this repository).
    New(NewArgs),
    /// Check a helper: manifest, component, environment, network and cache,
    /// one line per check; then print the Claude Code settings that use it.
    Doctor(DoctorArgs),
    /// Describe a component without running it: the world it targets and
    /// its version, what it imports and exports, size, sha256, and whether
    /// it is compiled.
    Inspect(InspectArgs),
    /// Print AWS credentials for an AWS profile's `credential_process`
    /// (`credential_process = /path/to/credbox aws /path/to/credbox.toml`),
    /// or with --claude-export for Claude Code's `awsCredentialExport`.
    Aws(AwsArgs),
    /// Answer kubectl as an exec credential plugin (`command: credbox`,
    /// `args: [k8s, /path/to/credbox.toml]`), reading KUBERNETES_EXEC_INFO.
    K8s(K8sArgs),
    /// Answer Cargo as a credential provider (`credential-provider =
    /// ["/path/to/credbox", "cargo", "/path/to/credbox.toml"]`), in JSON
    /// lines on stdin and stdout.
    Cargo(CargoArgs),
    /// Log a helper in: run its `login` (which may show a URL and code to
    /// open), within [limits] login_timeout, and keep what it stores in the
    /// OS keystore (or the manifest's [state] file store).
    Login(LoginArgs),
    /// Log a helper out: forget its stored state and its cached
    /// credentials.
    Logout(LogoutArgs),
    /// Answer git as its credential helper: set `credential.helper` to
    /// `!credbox git [MANIFEST]` (without a manifest, the user's routes
    /// choose one); git appends get, store or erase.
    #[command(override_usage = "credbox git [MANIFEST] <OPERATION>")]
    Git(GitArgs),
    /// Answer a Docker or OCI client (the Docker credential helper
    /// protocol): `docker-credential-credbox OPERATION` is the same.
    Docker(DockerArgs),
    /// Set credbox up for a client.
    #[command(subcommand)]
    Install(InstallCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish or
    /// powershell) on stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command line of `credbox run` alone (see `real_main`): the same
/// arguments, help and errors as `Cli`'s `run`.
#[derive(Parser)]
#[command(name = "credbox")]
struct RunOnly {
    #[command(subcommand)]
    command: RunOnlyCommand,
}

#[derive(Subcommand)]
enum RunOnlyCommand {
    /// Run a helper and print its credential.
    Run(RunArgs),
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Forget cached credentials and failures, of one helper or all.
    Clear {
        /// The helper's name, as shown by `credbox status`.
        helper: Option<String>,
    },
}

#[derive(Subcommand)]
enum InstallCommand {
    /// Link `docker-credential-credbox` to credbox, so that Docker, Podman,
    /// skopeo and other OCI clients find it; then name `credbox` in their
    /// `credHelpers`.
    Docker {
        /// Where to make the link (default: ~/.local/bin, or $XDG_BIN_HOME).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct GitArgs {
    /// The helper's manifest (optional: else the user's routes choose),
    /// then the operation git appends: get, store or erase.
    #[arg(num_args = 1..=2, required = true, value_name = "[MANIFEST] OPERATION")]
    args: Vec<PathBuf>,
    /// Internal: this process is the background refresh of the cache
    /// entry with this key (see credbox::refresh).
    #[arg(
        long = "refresh-child",
        hide = true,
        value_name = "KEY",
        requires = "refresh_request"
    )]
    refresh_child: Option<String>,
    /// Internal: the refresh's request, as git's key=value lines.
    #[arg(long = "refresh-request", hide = true, value_name = "REQUEST")]
    refresh_request: Option<String>,
}

#[derive(clap::Args)]
struct DockerArgs {
    /// get, store, erase, list or version.
    operation: String,
    /// The helper's manifest (default: the user's routes choose one).
    #[arg(long, value_name = "MANIFEST")]
    manifest: Option<PathBuf>,
    /// Internal: this process is the background refresh of the cache
    /// entry with this key (see credbox::refresh).
    #[arg(
        long = "refresh-child",
        hide = true,
        value_name = "KEY",
        requires = "refresh_server_url"
    )]
    refresh_child: Option<String>,
    /// Internal: the refresh's server URL.
    #[arg(long = "refresh-server-url", hide = true, value_name = "URL")]
    refresh_server_url: Option<String>,
}

#[derive(clap::Args)]
struct LoginArgs {
    /// The helper's manifest (credbox.toml): it identifies the helper's
    /// state.
    target: PathBuf,
    /// Show the helper's info logs and output (-vv: debug too).
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
}

#[derive(clap::Args)]
struct LogoutArgs {
    /// The helper's manifest (credbox.toml).
    target: PathBuf,
}

#[derive(clap::Args)]
struct NewArgs {
    /// The helper's name: its package, crate and component name.
    name: String,
    /// The sample to start from.
    #[arg(
        long,
        default_value = credbox::scaffold::DEFAULT_TEMPLATE,
        value_parser = clap::builder::PossibleValuesParser::new(
            credbox::scaffold::TEMPLATES
                .iter()
                .map(|t| clap::builder::PossibleValue::new(t.name).help(t.about)),
        ),
    )]
    template: String,
    /// Where to create it (default: ./NAME); must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DoctorArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    target: PathBuf,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// A component (.wasm) or the manifest (credbox.toml) that names one.
    target: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    target: PathBuf,
}

#[derive(clap::Args)]
struct AwsArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    target: PathBuf,
    /// Print Claude Code's `awsCredentialExport` shape
    /// (`{"Credentials":{...}}`) instead of `credential_process`'s.
    #[arg(long)]
    claude_export: bool,
    /// Internal: this process is the background refresh of this key.
    #[arg(long = "refresh-child", hide = true, value_name = "KEY")]
    refresh_child: Option<String>,
}

#[derive(clap::Args)]
struct K8sArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm); without
    /// it, the user's route for the cluster's server (provideClusterInfo).
    target: Option<PathBuf>,
    /// Internal: this process is the background refresh of this key.
    #[arg(long = "refresh-child", hide = true, value_name = "KEY")]
    refresh_child: Option<String>,
}

#[derive(clap::Args)]
struct CargoArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm). Cargo
    /// itself runs `credbox --cargo-plugin` and names it in each request.
    target: Option<PathBuf>,
    /// Cargo's flag for its providers (accepted, changes nothing).
    #[arg(long = "cargo-plugin", hide = true)]
    cargo_plugin: bool,
    /// Internal: the `get` request a background refresh answers.
    #[arg(long, hide = true, value_name = "JSON")]
    request: Option<String>,
    /// Internal: this process is the background refresh of this key.
    #[arg(long = "refresh-child", hide = true, value_name = "KEY")]
    refresh_child: Option<String>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    target: PathBuf,
    /// What to print: a JSON object of headers or a single API key.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Let the helper read this environment variable (repeatable).
    #[arg(long = "allow-env", value_name = "VAR")]
    allow_env: Vec<String>,
    /// Let the helper reach this origin, scheme://host[:port] (repeatable;
    /// added to [network] allow).
    #[arg(long = "allow-url", value_name = "URL")]
    allow_url: Vec<String>,
    /// Set a config value for the helper (repeatable; wins over [config]).
    #[arg(long, value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Instruction budget.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Wall-clock deadline, e.g. 5s or 1500ms.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Memory cap, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Show the helper's info logs and output (-vv: debug too).
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
    /// Neither read nor write the credential cache for this call, and
    /// create nothing under the cache directory.
    #[arg(long)]
    no_cache: bool,
    /// Internal: this process is the background refresh of the cache
    /// entry with this key (see credbox::refresh).
    #[arg(long = "refresh-child", hide = true, value_name = "KEY")]
    refresh_child: Option<String>,
}

// credbox defines the C `main` itself instead of Rust's usual `fn main`
// (see `main` below).
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // credbox starts afresh for every credential request, so start-up is
    // most of a cached answer's time. Rust's own start-up
    // (`std::rt::lang_start`) spends a fifth of a cache hit's instructions
    // finding the main thread's stack bounds for its stack-overflow message
    // (glibc parses /proc/self/maps to answer). Skipping it, credbox does
    // by hand the parts that matter here: stdio descriptors that are closed
    // are opened on /dev/null (else a file credbox opens could become its
    // stdout), SIGPIPE is ignored (a closed pipe is an error, not a kill),
    // and stdout is flushed before exit. std still gets the arguments and
    // environment from glibc.
    //
    credbox::platform::start_process();
    let code = entry();
    let _ = std::io::stdout().flush();
    c_int::from(code)
}

fn entry() -> u8 {
    // A panic is a credbox bug: report it in one line, without a backtrace
    // even if RUST_BACKTRACE is set, and exit like any internal error.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("credbox: internal error: {what} (this is a credbox bug; please report it)");
    }));
    std::panic::catch_unwind(real_main).unwrap_or(1)
}

fn real_main() -> u8 {
    // Cargo runs a credential provider as `PROGRAM --cargo-plugin` and
    // passes the words after PROGRAM (here `cargo MANIFEST`) in each
    // request.
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(protocol::cargo::PLUGIN_FLAG)) {
        return cargo(CargoArgs {
            target: None,
            cargo_plugin: true,
            request: None,
            refresh_child: None,
        });
    }
    // Docker clients run `docker-credential-credbox <operation>`: credbox
    // under that name (a link made by `credbox install docker`).
    let mut args = std::env::args_os();
    let program = args.next().map(PathBuf::from);
    if program.as_deref().and_then(|p| p.file_name()) == Some(docker::PROGRAM.as_ref()) {
        let operation = args.next().unwrap_or_default();
        return docker(DockerArgs {
            operation: operation.to_string_lossy().into_owned(),
            manifest: None,
            refresh_child: None,
            refresh_server_url: None,
        });
    }
    // `credbox run`, the call Claude Code makes again and again, parses a
    // command line that knows only `run`: building clap's tree of every
    // subcommand was a sixth of a cache hit's instructions.
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new("run")) {
        return match RunOnly::try_parse() {
            Ok(RunOnly {
                command: RunOnlyCommand::Run(args),
            }) => run(args),
            Err(e) => clap_error(e),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match cli.command {
        Command::Run(args) => run(args),
        Command::Build(args) => build(args),
        Command::Cache(CacheCommand::Clear { helper }) => clear(helper.as_deref()),
        Command::Status => status(),
        Command::New(args) => print_or_fail(
            &args.name,
            credbox::scaffold::new(&args.name, Some(&args.template), args.dir.as_deref())
                .map(|created| created.summary()),
        ),
        Command::Doctor(args) => credbox::doctor::doctor(&args.target, &mut std::io::stdout()),
        Command::Inspect(args) => print_or_fail(
            &args.target.display().to_string(),
            credbox::inspect::report(&args.target, args.json),
        ),
        Command::Aws(args) => aws(args),
        Command::K8s(args) => k8s(args),
        Command::Cargo(args) => cargo(args),
        Command::Login(args) => login(args),
        Command::Logout(args) => logout(args),
        Command::Git(args) => git(args),
        Command::Docker(args) => docker(args),
        Command::Install(InstallCommand::Docker { dir }) => install_docker(dir),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "credbox", &mut std::io::stdout());
            0
        }
    }
}

/// Help and version go to stdout as usual; usage errors become one line.
fn clap_error(e: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return 0;
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    // "the following required arguments were not provided:" names them on
    // the next line.
    let first = match (first.strip_suffix(':'), lines.next()) {
        (Some(head), Some(what)) if !what.starts_with("Usage:") => format!("{head}: {what}"),
        _ => first.to_owned(),
    };
    eprintln!("credbox: {first} (see `credbox --help`)");
    2
}

fn run(args: RunArgs) -> u8 {
    let overrides = Overrides {
        format: args.format,
        allow_env: args.allow_env,
        config: args.config,
        fuel: args.fuel,
        timeout: args.timeout,
        memory: args.memory,
        allow_url: args.allow_url,
    };
    let policy = match resolve(&args.target, &overrides) {
        Ok(policy) => policy,
        Err(e) => return fail(&args.target.display().to_string(), &e),
    };
    let options = RunOptions {
        log_level: match args.verbose {
            0 => LogLevel::Warn,
            1 => LogLevel::Info,
            _ => LogLevel::Debug,
        },
        no_cache: args.no_cache,
    };
    let request = Request::from_env(policy.format);
    let refresh = match args.refresh_child {
        Some(key) => Refresh::Child(key),
        None => Refresh::Detached(std::env::args_os().skip(1).collect()),
    };
    serve(&policy, &request, &options, &refresh, |credential| {
        credbox::output::render(credential, policy.format)
    })
}

/// `credbox aws`: AWS credentials for `credential_process`, or Claude
/// Code's `awsCredentialExport` (see `credbox::protocol::aws`).
fn aws(args: AwsArgs) -> u8 {
    let shape = if args.claude_export {
        Shape::ClaudeExport
    } else {
        Shape::CredentialProcess
    };
    answer(
        &args.target,
        &Request::new(Client::Aws),
        args.refresh_child,
        std::env::args_os().skip(1).collect(),
        |credential| protocol::aws::answer(credential, shape),
    )
}

/// `credbox k8s`: an `ExecCredential` for kubectl (see
/// `credbox::protocol::kubernetes`).
fn k8s(args: K8sArgs) -> u8 {
    use protocol::kubernetes::{EXEC_INFO_VAR, answer as exec_credential, parse_exec_info};
    let subject = args
        .target
        .as_deref()
        .map_or("k8s".to_owned(), |t| t.display().to_string());
    let value = match std::env::var(EXEC_INFO_VAR) {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            let error = Error::Environment {
                message: format!("{EXEC_INFO_VAR} is not UTF-8"),
                hint: "kubectl sets it to JSON: check the kubeconfig user's exec section".into(),
            };
            return fail(&subject, &error);
        }
    };
    let info = match parse_exec_info(value.as_deref()) {
        Ok(info) => info,
        Err(e) => return fail(&subject, &e),
    };
    // Without a manifest, the user's route for the cluster's server.
    let url = info
        .server
        .as_deref()
        .and_then(|server| credbox::routes::RequestUrl::parse(server).ok());
    let target = match protocol::manifest_for(args.target.as_deref(), url.as_ref()) {
        Ok(Some(target)) => target,
        Ok(None) => {
            let what = match &info.server {
                Some(server) => format!("no route in credbox's config.toml covers {server}"),
                None => "no manifest named, and no cluster server to route by (set provideClusterInfo: true in the kubeconfig)".to_owned(),
            };
            return fail("k8s", &Error::NotFound(what));
        }
        Err(e) => return fail("routes", &e),
    };
    let request = Request::new(Client::Kubernetes {
        server: info.server,
    });
    answer(
        &target,
        &request,
        args.refresh_child,
        std::env::args_os().skip(1).collect(),
        |credential| exec_credential(credential, info.api_version),
    )
}

/// Runs the helper of `target` for `request` and prints what `render`
/// makes of its credential, or the one-line error. `detached` are the
/// arguments of a background refresh (see `credbox::refresh`).
fn answer(
    target: &Path,
    request: &Request,
    refresh_child: Option<String>,
    detached: Vec<OsString>,
    render: impl FnOnce(&Credential) -> credbox::Result<String>,
) -> u8 {
    let policy = match resolve(target, &Overrides::default()) {
        Ok(policy) => policy,
        Err(e) => return fail(&target.display().to_string(), &e),
    };
    let refresh = match refresh_child {
        Some(key) => Refresh::Child(key),
        None => Refresh::Detached(detached),
    };
    serve(&policy, request, &RunOptions::default(), &refresh, render)
}

/// Runs the helper `policy` describes for `request` and prints what
/// `render` makes of its credential, or the one-line error. As a
/// background refresh (`Refresh::Child`) it prints nothing.
fn serve(
    policy: &Policy,
    request: &Request,
    options: &RunOptions,
    refresh: &Refresh,
    render: impl FnOnce(&Credential) -> credbox::Result<String>,
) -> u8 {
    let answer = match credbox::run(policy, request, options, refresh) {
        Ok(_) if matches!(refresh, Refresh::Child(_)) => return 0,
        Ok(answer) => answer,
        Err(e) => return fail(&policy.name, &e),
    };
    let text = match render(&answer.credential) {
        Ok(text) => text,
        Err(e) => return fail(&policy.name, &e),
    };
    warn(&policy.name, answer.warning);
    print_answer(&policy.name, &text)
}

/// `credbox cargo` and `credbox --cargo-plugin`: Cargo's credential
/// provider protocol on stdin and stdout (see `credbox::protocol::cargo`).
/// Every answer, failures included, is a line on stdout and the exit code
/// is 0, as Cargo expects; only losing stdout or stdin fails.
fn cargo(args: CargoArgs) -> u8 {
    if let Some(key) = args.refresh_child {
        // A background refresh: the request comes from --request.
        let request = args.request.as_deref().map(protocol::cargo::parse_request);
        if let (
            Some(target),
            Some(Ok(protocol::cargo::Message {
                action: protocol::cargo::Action::Get(request),
                ..
            })),
        ) = (args.target, request)
        {
            cargo_get(Some(target), &[], request, Some(key));
        }
        return 0;
    }
    let served = protocol::cargo::serve(
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        |words, request| cargo_get(args.target.clone(), words, request, None),
        |words, account, index_url| cargo_account(args.target.clone(), words, account, &index_url),
    );
    match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "credbox: cargo: cannot answer Cargo on stdout: {e} (Cargo stopped reading; nothing to fix here unless it keeps happening)"
            );
            1
        }
    }
}

/// The manifest and policy that answer Cargo about the registry of
/// `index_url`: the one on the command line (`cli`) or in the request's
/// `words`, else the user's route; `Err` is the answer to give instead.
fn cargo_policy(
    cli: Option<PathBuf>,
    words: &[String],
    index_url: &str,
) -> Result<(PathBuf, Policy), Response> {
    use protocol::cargo::{ErrorKind, failure, no_route};
    let named = protocol::cargo::manifest(cli, words)
        .map_err(|message| Response::error(ErrorKind::Other, format!("credbox: {message}")))?;
    let url = credbox::routes::RequestUrl::parse(index_url).ok();
    match protocol_policy(named.as_deref(), url.as_ref()) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(no_route(index_url)),
        Err((subject, e)) => Err(failure(&subject, &e)),
    }
}

/// `cargo login` and `cargo logout`: the helper's login, as `credbox
/// login` runs it (its messages on stderr, which Cargo shows), or
/// forgetting its state and cached credentials, as `credbox logout`.
fn cargo_account(
    cli: Option<PathBuf>,
    words: &[String],
    account: protocol::cargo::Account,
    index_url: &str,
) -> Response {
    use protocol::cargo::{Account, failure};
    let (_, policy) = match cargo_policy(cli, words, index_url) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let done = match account {
        Account::Login => {
            credbox::login::login(&policy, &RunOptions::default()).map(|_| Response::LoggedIn)
        }
        Account::Logout => credbox::login::logout(&policy).map(|_| Response::LoggedOut),
    };
    match done {
        Ok(response) => {
            let what = if response == Response::LoggedIn {
                "logged in"
            } else {
                "logged out"
            };
            eprintln!("credbox: {}: {what}", name(&policy.name));
            response
        }
        Err(e) => failure(&policy.name, &e),
    }
}

/// Answers one `get` request of Cargo's for the manifest on the command
/// line (`cli`) or in the request's `words`, else the user's route for the
/// registry's index URL (`url-not-supported` when none covers it).
fn cargo_get(
    cli: Option<PathBuf>,
    words: &[String],
    request: CargoRequest,
    refresh_child: Option<String>,
) -> Response {
    use protocol::cargo::{failure, request_line, response};
    // Without a manifest, the user's route for the index URL.
    let (target, policy) = match cargo_policy(cli, words, &request.index_url) {
        Ok(found) => found,
        Err(response) => return response,
    };
    // A background refresh gets the request on its command line: its
    // stdin is not Cargo's.
    let refresh = match refresh_child {
        Some(key) => Refresh::Child(key),
        None => Refresh::Detached(vec![
            "cargo".into(),
            target.clone().into_os_string(),
            "--request".into(),
            request_line(&request).into(),
        ]),
    };
    let request = Request::new(Client::Cargo(request));
    match credbox::run(&policy, &request, &RunOptions::default(), &refresh) {
        Ok(answer) => {
            // Cargo passes its provider's stderr through.
            warn(&policy.name, answer.warning);
            response(&policy.name, &answer.credential)
        }
        Err(e) => failure(&policy.name, &e),
    }
}

/// Writes the answer on stdout; 0, or 1 when stdout is gone.
fn print_answer(helper: &str, text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        // Not a credbox bug: whoever started credbox stopped reading
        // (SIGPIPE is ignored, so this is an error, not a kill).
        Err(e) => {
            eprintln!(
                "credbox: {}: cannot write to stdout: {e} (the program that ran credbox stopped reading; nothing to fix here unless it keeps happening)",
                name(helper)
            );
            1
        }
    }
}

/// Prints a run's warning, if any, on stderr.
fn warn(helper: &str, warning: Option<String>) {
    if let Some(warning) = warning {
        eprintln!(
            "credbox: {}: warning: {}",
            name(helper),
            one_line(&warning, MAX_LINE)
        );
    }
}

/// The policy of the manifest that answers a client's request about
/// `url`: `named`, else the user's route. `Ok(None)`: no route.
fn protocol_policy(
    named: Option<&Path>,
    url: Option<&credbox::routes::RequestUrl>,
) -> Result<Option<(PathBuf, Policy)>, (String, Error)> {
    let manifest = match protocol::manifest_for(named, url) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return Ok(None),
        Err(e) => return Err(("routes".to_owned(), e)),
    };
    match resolve(&manifest, &Overrides::default()) {
        Ok(policy) => Ok(Some((manifest, policy))),
        Err(e) => Err((manifest.display().to_string(), e)),
    }
}

/// How a protocol's run refreshes ahead of expiry: as the background
/// refresh `child` of a caller, or by starting one, `credbox` with
/// `args` (which carry the manifest and the request: the refresh has no
/// stdin).
fn protocol_refresh(child: Option<String>, args: Vec<std::ffi::OsString>) -> Refresh {
    match child {
        Some(key) => Refresh::Child(key),
        None => Refresh::Detached(args),
    }
}

/// `credbox git [MANIFEST] OPERATION`: git's credential helper protocol
/// (see credbox::protocol::git). Failures are one stderr line and a
/// non-zero exit, as for `run`: git shows the line, ignores the exit code
/// and goes on to its next helper or its prompt, which is what its users
/// expect when a helper cannot answer. "Not mine" is silence and 0.
fn git(args: GitArgs) -> u8 {
    let (named, operation) = match args.args.as_slice() {
        [operation] => (None, operation),
        [manifest, operation] => (Some(manifest.as_path()), operation),
        _ => return fail("git", &Error::Usage("expected [MANIFEST] OPERATION".into())),
    };
    let operation = git::Operation::parse(&operation.to_string_lossy());
    if operation == git::Operation::Other {
        return 0;
    }
    let text = match args.refresh_request {
        Some(text) => Ok(text),
        None => protocol::read_capped(&mut std::io::stdin().lock(), protocol::MAX_STDIN, true),
    };
    let input = text.and_then(|text| git::Input::parse(&text));
    let input = match input {
        Ok(input) => input,
        Err(e) => return fail("git", &e),
    };
    if operation == git::Operation::Store {
        return 0;
    }
    let (manifest, policy) = match protocol_policy(named, input.url().as_ref()) {
        Ok(Some(found)) => found,
        Ok(None) => return 0,
        Err((subject, e)) => return fail(&subject, &e),
    };
    if operation == git::Operation::Erase {
        for request in input.erase_requests() {
            if let Err(e) = credbox::forget(&policy, &request) {
                return fail(&policy.name, &e);
            }
        }
        return 0;
    }
    let refresh_args = vec![
        "git".into(),
        format!("--refresh-request={}", input.request_text()).into(),
        manifest.into_os_string(),
        "get".into(),
    ];
    let child = args.refresh_child.is_some();
    let refresh = protocol_refresh(args.refresh_child, refresh_args);
    match fetch_credential(&policy, &input.request(), &refresh) {
        Ok(_) if child => 0,
        Ok((credential, warning)) => {
            warn(&policy.name, warning);
            match git::answer(&credential, &input) {
                Ok(text) => print_answer(&policy.name, &text),
                Err(e) => fail(&policy.name, &e),
            }
        }
        Err(Error::NotFound(_)) => 0,
        Err(e) => fail(&policy.name, &e),
    }
}

/// `docker-credential-credbox OPERATION` (or `credbox docker`): the Docker
/// credential helper protocol (see credbox::protocol::docker). Failures go
/// on stdout, which Docker clients show, and on stderr, with a non-zero
/// exit code (credbox's own, so scripts can tell the class; clients only
/// look at zero or not). "Not mine" is the exact text clients look for.
fn docker(args: DockerArgs) -> u8 {
    let operation = args.operation.as_str();
    let url = match docker::Operation::parse(operation) {
        docker::Operation::List => return print_answer("docker", "{}\n"),
        docker::Operation::Version => {
            return print_answer(
                "docker",
                &format!(
                    "{} (credbox) {}\n",
                    docker::PROGRAM,
                    credbox::version::CREDBOX
                ),
            );
        }
        docker::Operation::Other(op) => {
            return docker_fail("docker", &docker::unknown_operation(&op));
        }
        docker::Operation::Store => {
            let _ = protocol::read_capped(&mut std::io::stdin().lock(), protocol::MAX_STDIN, false);
            return docker_fail("docker", &docker::store_refused());
        }
        docker::Operation::Get | docker::Operation::Erase => match &args.refresh_server_url {
            Some(url) => docker::server_url(url),
            None => protocol::read_capped(&mut std::io::stdin().lock(), protocol::MAX_STDIN, false)
                .and_then(|text| docker::server_url(&text)),
        },
    };
    let url = match url {
        Ok(url) => url,
        Err(e) => return docker_fail("docker", &e),
    };
    let found = protocol_policy(args.manifest.as_deref(), docker::route_url(&url).as_ref());
    let (manifest, policy) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return docker_not_found(),
        Err((subject, e)) => return docker_fail(&subject, &e),
    };
    let request = docker::request(&url);
    if operation == "erase" {
        return match credbox::forget(&policy, &request) {
            Ok(_) => 0,
            Err(e) => docker_fail(&policy.name, &e),
        };
    }
    let refresh_args = vec![
        "docker".into(),
        "get".into(),
        "--manifest".into(),
        manifest.into_os_string(),
        format!("--refresh-server-url={url}").into(),
    ];
    let child = args.refresh_child.is_some();
    let refresh = protocol_refresh(args.refresh_child, refresh_args);
    match fetch_credential(&policy, &request, &refresh) {
        Ok(_) if child => 0,
        Ok((credential, warning)) => {
            warn(&policy.name, warning);
            match docker::answer(&credential, &url) {
                Ok(text) => print_answer(&policy.name, &text),
                Err(e) => docker_fail(&policy.name, &e),
            }
        }
        Err(Error::NotFound(_)) => docker_not_found(),
        Err(e) => docker_fail(&policy.name, &e),
    }
}

/// Docker's "not found": the exact text on stdout, exit code 1.
fn docker_not_found() -> u8 {
    print_answer("docker", &format!("{}\n", docker::NOT_FOUND));
    1
}

/// A Docker helper's failure: the one line on stdout (clients show it)
/// and on stderr.
fn docker_fail(helper: &str, error: &Error) -> u8 {
    let code = fail(helper, error);
    let message = format!("{error} ({})", error.hint());
    println!(
        "credbox: {}: {}",
        name(helper),
        one_line(&message, MAX_LINE)
    );
    code
}

fn install_docker(dir: Option<PathBuf>) -> u8 {
    let Some(dir) = dir.or_else(docker::default_install_dir) else {
        return fail(
            "install",
            &Error::Usage("no home directory to install in: pass --dir".into()),
        );
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(
                "install",
                &Error::Internal(format!("cannot tell where credbox is: {e}")),
            );
        }
    };
    print_or_fail("install", docker::install(&dir, &exe))
}

/// Runs (or answers from the cache) the helper of `policy` for a
/// protocol's `request`, refreshing ahead of expiry as `refresh` says.
fn fetch_credential(
    policy: &Policy,
    request: &Request,
    refresh: &Refresh,
) -> credbox::Result<(credbox::validation::Credential, Option<String>)> {
    let options = RunOptions {
        log_level: LogLevel::Warn,
        no_cache: false,
    };
    credbox::run(policy, request, &options, refresh)
        .map(|answer| (answer.credential, answer.warning))
}

/// The manifest (or bare component) the command line names, and the policy
/// it and the flags describe.
fn resolve(target: &std::path::Path, overrides: &Overrides) -> credbox::Result<Policy> {
    let manifest = LoadedManifest::from_target(target)?;
    Policy::from_manifest(&manifest, overrides)
}

fn build(args: BuildArgs) -> u8 {
    let policy = match resolve(&args.target, &Overrides::default()) {
        Ok(policy) => policy,
        Err(e) => return fail(&args.target.display().to_string(), &e),
    };
    let start = std::time::Instant::now();
    match credbox::build(&policy) {
        Ok((loaded, world)) => {
            let how = if loaded.compiled {
                format!("compiled in {} ms", start.elapsed().as_millis())
            } else {
                "already compiled".to_owned()
            };
            eprintln!(
                "credbox: {}: {} implements {}; {how}",
                name(&policy.name),
                one_line(&policy.component.display().to_string(), MAX_LINE),
                world.world()
            );
            println!("sha256 = \"{}\"", loaded.sha256);
            0
        }
        Err(e) => fail(&policy.name, &e),
    }
}

fn login(args: LoginArgs) -> u8 {
    let policy = match resolve(&args.target, &Overrides::default()) {
        Ok(policy) => policy,
        Err(e) => return fail(&args.target.display().to_string(), &e),
    };
    let options = RunOptions {
        log_level: match args.verbose {
            0 => LogLevel::Warn,
            1 => LogLevel::Info,
            _ => LogLevel::Debug,
        },
        no_cache: false,
    };
    match credbox::login::login(&policy, &options) {
        Ok(report) => {
            let names = if report.names.is_empty() {
                "nothing stored".to_owned()
            } else {
                format!("keeps {}", report.names.join(", "))
            };
            eprintln!(
                "credbox: {}: logged in; {names} in {}",
                name(&policy.name),
                one_line(&report.store, MAX_LINE)
            );
            0
        }
        Err(e) => fail(&policy.name, &e),
    }
}

fn logout(args: LogoutArgs) -> u8 {
    let policy = match resolve(&args.target, &Overrides::default()) {
        Ok(policy) => policy,
        Err(e) => return fail(&args.target.display().to_string(), &e),
    };
    match credbox::login::logout(&policy) {
        Ok((names, entries)) => {
            let plural = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            eprintln!(
                "credbox: {}: logged out; forgot {} and {}",
                name(&policy.name),
                plural(names, "stored name", "stored names"),
                plural(entries, "cached entry", "cached entries")
            );
            0
        }
        Err(e) => fail(&policy.name, &e),
    }
}

fn clear(helper: Option<&str>) -> u8 {
    let cleared = credbox::cache_root()
        .and_then(|root| CredentialCache::open(&root))
        .and_then(|cache| cache.clear(helper));
    match cleared {
        Ok(n) => {
            eprintln!(
                "credbox: removed {n} cached entr{}",
                if n == 1 { "y" } else { "ies" }
            );
            0
        }
        Err(e) => fail("cache", &e),
    }
}

fn status() -> u8 {
    let cache = match credbox::cache_root().and_then(|root| CredentialCache::open(&root)) {
        Ok(cache) => cache,
        Err(e) => return fail("status", &e),
    };
    let now = credbox::cache::now_ms();
    let human = |ms: u64| credbox::units::format_seconds(ms / 1000);
    let ago = |ms: u64| human(now.saturating_sub(ms));
    let mut out = String::from("HELPER\tKEY\tAGE\tEXPIRES IN\tLAST FAILURE\n");
    for (key, entry) in cache.entries() {
        let (age, expires) = match &entry.credential {
            Some(c) if c.expires_ms > now => (ago(c.created_ms), human(c.expires_ms - now)),
            Some(c) => (
                ago(c.created_ms),
                format!("expired {} ago", ago(c.expires_ms)),
            ),
            None => ("-".into(), "-".into()),
        };
        let failure = match &entry.failure {
            Some(f) => format!("{} ago, {} in a row: {}", ago(f.at_ms), f.count, f.message),
            None => "-".into(),
        };
        // The key's first 12 characters (a file name: any length, any
        // characters).
        let short: String = key.chars().take(12).collect();
        out.push_str(&format!(
            "{}\t{short}\t{age}\t{expires}\t{}\n",
            name(&entry.helper),
            one_line(&failure, MAX_LINE)
        ));
    }
    print!("{out}");
    0
}

/// Prints a command's report, or its one-line error (about `subject`).
fn print_or_fail(subject: &str, report: credbox::Result<String>) -> u8 {
    match report {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => fail(subject, &e),
    }
}

/// Prints the one-line error and returns its exit code. The helper's name
/// and the message are cut and escaped (the name and paths come from the
/// manifest; a run's errors are redacted already, see `credbox::run`).
fn fail(helper: &str, error: &Error) -> u8 {
    let message = format!("{error} ({})", error.hint());
    eprintln!(
        "credbox: {}: {}",
        name(helper),
        one_line(&message, MAX_LINE)
    );
    error.exit_code()
}

/// A helper's name as printed: one line, at most 128 bytes.
fn name(helper: &str) -> String {
    one_line(helper, 128)
}
