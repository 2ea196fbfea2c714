//! credbox's command line, as clap parses it: every subcommand, its
//! arguments and its help. `main.rs` parses and dispatches; what each
//! command does lives in [`crate::protocol`] (the clients' front ends) and
//! [`crate::commands`] (the rest).
//!
//! The background refresh has no subcommand here: it is started as
//! `credbox --refresh-child` and reads its ticket from stdin (see
//! [`crate::refresh`]), and Cargo's `credbox --cargo-plugin` is caught
//! before clap, as main.rs says.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::manifest::Format;

/// credbox's command line.
#[derive(Parser)]
#[command(
    name = "credbox",
    version = crate::version::LONG,
    about = "Run Claude Code credential helpers as sandboxed WASI components"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run a helper and print its credential.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Compile a helper ahead of time, check that it implements the credbox
    /// world, and print its sha256 for pinning in the manifest.
    #[command(after_help = "Examples:
  credbox build examples/env-bearer/credbox.toml
      # compiles once and prints sha256 = \"…\" to paste into the manifest")]
    Build(BuildArgs),
    /// Manage the credential cache.
    #[command(
        subcommand,
        after_help = "Examples:
  credbox cache clear              # forget every cached credential and failure
  credbox cache clear env-bearer   # only env-bearer's (names as in `credbox status`)"
    )]
    Cache(CacheCommand),
    /// List cached credentials: age, expiry and last failure (never the
    /// credential itself).
    #[command(after_help = "Examples:
  credbox status   # HELPER, KEY, AGE, EXPIRES IN, LAST FAILURE; one line per entry")]
    Status,
    /// Create a helper (a Rust crate, or a Python or JavaScript project) and
    /// its credbox.toml from a sample, ready to build and run (outside this
    /// repository).
    #[command(after_help = "Examples:
  credbox new corp-helper                                 # a Rust crate from env-bearer
  credbox new corp-sso --lang python --template oauth-client-credentials")]
    New(NewArgs),
    /// Check a helper: manifest, component, environment, network and cache,
    /// one line per check; then print the Claude Code settings that use it.
    #[command(after_help = "Examples:
  API_TOKEN=abc credbox doctor examples/env-bearer/credbox.toml
      # one line a check (exit 0 when all passed, 10 when one failed)")]
    Doctor(DoctorArgs),
    /// Describe a component without running it: the world it targets and
    /// its version, what it imports and exports, size, sha256, and whether
    /// it is compiled.
    #[command(after_help = "Examples:
  credbox inspect examples/env-bearer/credbox.toml
  credbox inspect --json target/wasm32-wasip2/release/env_bearer.wasm")]
    Inspect(InspectArgs),
    /// Print AWS credentials for an AWS profile's `credential_process`
    /// (`credential_process = /path/to/credbox aws /path/to/credbox.toml`),
    /// or with --claude-export for Claude Code's `awsCredentialExport`.
    #[command(after_help = "Examples:
  # ~/.aws/config
  [profile work]
  credential_process = /usr/local/bin/credbox aws /home/me/helpers/sts/credbox.toml")]
    Aws(AwsArgs),
    /// Answer kubectl as an exec credential plugin (`command: credbox`,
    /// `args: [k8s, /path/to/credbox.toml]`), reading KUBERNETES_EXEC_INFO.
    #[command(after_help = "Examples:
  # a kubeconfig user
  exec:
    apiVersion: client.authentication.k8s.io/v1
    command: /usr/local/bin/credbox
    args: [k8s, /home/me/helpers/cluster/credbox.toml]")]
    K8s(K8sArgs),
    /// Answer Cargo as a credential provider (`credential-provider =
    /// ["/path/to/credbox", "cargo", "/path/to/credbox.toml"]`), in JSON
    /// lines on stdin and stdout.
    #[command(after_help = "Examples:
  # ~/.cargo/config.toml
  [registries.work]
  index = \"sparse+https://cargo.work.example/index/\"
  credential-provider = [\"/usr/local/bin/credbox\", \"cargo\", \"/home/me/helpers/registry/credbox.toml\"]")]
    Cargo(CargoArgs),
    /// Answer Google's auth libraries as an executable credential source
    /// (`credential_source.executable.command` = `/path/to/credbox gcp
    /// /path/to/credbox.toml`), reading GOOGLE_EXTERNAL_ACCOUNT_*.
    #[command(after_help = "Examples:
  # in the credential configuration file (gcloud iam workload-identity-pools create-cred-config):
  \"credential_source\": {\"executable\": {\"command\": \"/usr/local/bin/credbox gcp /home/me/helpers/wif/credbox.toml\"}}
  GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 gcloud auth print-access-token")]
    Gcp(GcpArgs),
    /// Log a helper in: run its `login` (which may show a URL and code to
    /// open), within [limits] login_timeout, and keep what it stores in the
    /// OS keystore (or the manifest's [state] file store).
    #[command(after_help = "Examples:
  credbox login examples/oauth-device-code/credbox.toml   # shows a URL and a code to open")]
    Login(LoginArgs),
    /// Log a helper out: forget its stored state and its cached
    /// credentials.
    #[command(after_help = "Examples:
  credbox logout examples/oauth-device-code/credbox.toml")]
    Logout(LogoutArgs),
    /// Answer git as its credential helper: set `credential.helper` to
    /// `!credbox git [MANIFEST]` (without a manifest, the user's routes
    /// choose one); git appends get, store or erase.
    #[command(
        override_usage = "credbox git [MANIFEST] <OPERATION>",
        after_help = "Examples:
  git config --global credential.helper '!credbox git /home/me/helpers/forge/credbox.toml'
  git config --global credential.helper '!credbox git'   # the user's routes choose"
    )]
    Git(GitArgs),
    /// Answer a Docker or OCI client (the Docker credential helper
    /// protocol): `docker-credential-credbox OPERATION` is the same.
    #[command(after_help = "Examples:
  echo registry.example.com | credbox docker get --manifest /home/me/helpers/registry/credbox.toml
  echo registry.example.com | docker-credential-credbox get   # the same, routed")]
    Docker(DockerArgs),
    /// Answer pip and uv as their `keyring` command (`--keyring-provider
    /// subprocess`): `keyring get SERVICE USERNAME` is the same, with
    /// credbox linked as `keyring` by `credbox install keyring`.
    #[command(after_help = "Examples:
  credbox install keyring   # then, with a route for the index:
  pip install --keyring-provider subprocess --index-url https://me@pypi.corp.example/simple/ tool
  credbox keyring get https://pypi.corp.example/simple/ me")]
    Keyring(KeyringArgs),
    /// Set credbox up for a client, or install its man pages.
    #[command(
        subcommand,
        after_help = "Examples:
  credbox install docker
  credbox install keyring
  credbox install man && man credbox"
    )]
    Install(InstallCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish or
    /// powershell) on stdout.
    #[command(after_help = "Examples:
  credbox completions bash > ~/.local/share/bash-completion/completions/credbox
  credbox completions fish > ~/.config/fish/completions/credbox.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command line of `credbox run` alone: the same arguments, help and
/// errors as [`Cli`]'s `run`, without building clap's tree of every
/// subcommand (a sixth of a cache hit's instructions).
#[derive(Parser)]
#[command(name = "credbox")]
pub struct RunOnly {
    /// `run`.
    #[command(subcommand)]
    pub command: RunOnlyCommand,
}

/// [`RunOnly`]'s one subcommand.
#[derive(Subcommand)]
pub enum RunOnlyCommand {
    /// Run a helper and print its credential.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
}

/// The examples under `credbox run --help`, for [`Cli`] and [`RunOnly`]
/// alike.
const RUN_EXAMPLES: &str = "Examples:
  API_TOKEN=abc credbox run examples/env-bearer/credbox.toml
      # prints {\"Authorization\":\"Bearer abc\"}
  credbox run --format api-key /home/me/helpers/env-bearer/credbox.toml
      # Claude Code's apiKeyHelper: prints the key alone";

/// `credbox cache`'s subcommands.
#[derive(Subcommand)]
pub enum CacheCommand {
    /// Forget cached credentials and failures, of one helper or all.
    #[command(after_help = "Examples:
  credbox cache clear              # every helper's
  credbox cache clear env-bearer   # one helper's, named as `credbox status` shows it")]
    Clear {
        /// The helper's name, as shown by `credbox status`.
        helper: Option<String>,
    },
}

/// `credbox install`'s subcommands.
#[derive(Subcommand)]
pub enum InstallCommand {
    /// Link `docker-credential-credbox` to credbox, so that Docker, Podman,
    /// skopeo and other OCI clients find it; then name `credbox` in their
    /// `credHelpers`.
    #[command(after_help = "Examples:
  credbox install docker                  # ~/.local/bin/docker-credential-credbox
  credbox install docker --dir /usr/local/bin")]
    Docker {
        /// Where to make the link (default: ~/.local/bin, or $XDG_BIN_HOME).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Link `keyring` to credbox, so that pip and uv with
    /// `--keyring-provider subprocess` find it on PATH.
    #[command(after_help = "Examples:
  credbox install keyring
  credbox install keyring --dir ~/bin")]
    Keyring {
        /// Where to make the link (default: ~/.local/bin, or $XDG_BIN_HOME).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Write credbox's man pages (credbox.1 and one credbox-SUBCOMMAND.1
    /// per subcommand), made from this command line's own definitions.
    #[command(after_help = "Examples:
  credbox install man && man credbox-run
  credbox install man --dir /usr/local/share/man/man1")]
    Man {
        /// Where to write them (default: ~/.local/share/man/man1, or
        /// $XDG_DATA_HOME/man/man1).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `credbox git`'s arguments.
#[derive(clap::Args)]
pub struct GitArgs {
    /// The helper's manifest (optional: else the user's routes choose),
    /// then the operation git appends: get, store or erase.
    #[arg(num_args = 1..=2, required = true, value_name = "[MANIFEST] OPERATION")]
    pub args: Vec<PathBuf>,
}

/// `credbox docker`'s arguments.
#[derive(clap::Args)]
pub struct DockerArgs {
    /// get, store, erase, list or version.
    pub operation: String,
    /// The helper's manifest (default: the user's routes choose one).
    #[arg(long, value_name = "MANIFEST")]
    pub manifest: Option<PathBuf>,
}

/// `credbox keyring`'s arguments: the real `keyring` command's, parsed by
/// [`crate::protocol::keyring::parse`] (options may follow the service, as
/// uv writes them).
#[derive(clap::Args)]
pub struct KeyringArgs {
    /// `[--mode password|creds] [--manifest MANIFEST] get SERVICE
    /// [USERNAME]`: prints USERNAME's password at the index SERVICE (with
    /// --mode creds, the username and the password), from the helper
    /// MANIFEST names, else the route for SERVICE; exit code 1, silently,
    /// when there is none.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<std::ffi::OsString>,
}

/// `credbox login`'s arguments.
#[derive(clap::Args)]
pub struct LoginArgs {
    /// The helper's manifest (credbox.toml): it identifies the helper's
    /// state.
    pub target: PathBuf,
    /// Show the helper's info logs and output (-vv: debug too).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}

/// `credbox logout`'s arguments.
#[derive(clap::Args)]
pub struct LogoutArgs {
    /// The helper's manifest (credbox.toml).
    pub target: PathBuf,
}

/// `credbox new`'s arguments.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The helper's name: its package, crate and component name.
    pub name: String,
    /// The language to write it in: a Rust crate, or a Python or
    /// JavaScript project built with componentize-py or componentize-js.
    #[arg(
        long,
        default_value = "rust",
        value_parser = clap::builder::PossibleValuesParser::new(
            crate::scaffold::Lang::ALL.iter().map(|(name, _)| *name),
        ),
    )]
    pub lang: String,
    /// The sample to start from (Python and JavaScript have env-bearer and
    /// oauth-client-credentials).
    #[arg(
        long,
        default_value = crate::scaffold::DEFAULT_TEMPLATE,
        value_parser = clap::builder::PossibleValuesParser::new(
            crate::scaffold::TEMPLATES
                .iter()
                .map(|t| clap::builder::PossibleValue::new(t.name).help(t.about)),
        ),
    )]
    pub template: String,
    /// Where to create it (default: ./NAME); must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `credbox doctor`'s arguments.
#[derive(clap::Args)]
pub struct DoctorArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    pub target: PathBuf,
}

/// `credbox inspect`'s arguments.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// A component (.wasm) or the manifest (credbox.toml) that names one.
    pub target: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `credbox build`'s arguments.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    pub target: PathBuf,
}

/// `credbox aws`'s arguments.
#[derive(clap::Args)]
pub struct AwsArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    pub target: PathBuf,
    /// Print Claude Code's `awsCredentialExport` shape
    /// (`{"Credentials":{...}}`) instead of `credential_process`'s.
    #[arg(long)]
    pub claude_export: bool,
}

/// `credbox k8s`'s arguments.
#[derive(clap::Args)]
pub struct K8sArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm); without
    /// it, the user's route for the cluster's server (provideClusterInfo).
    pub target: Option<PathBuf>,
}

/// `credbox gcp`'s arguments.
#[derive(clap::Args)]
pub struct GcpArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    pub target: PathBuf,
}

/// `credbox cargo`'s arguments.
#[derive(clap::Args)]
pub struct CargoArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm). Cargo
    /// itself runs `credbox --cargo-plugin` and names it in each request.
    pub target: Option<PathBuf>,
    /// Cargo's flag for its providers (accepted, changes nothing).
    #[arg(long = "cargo-plugin", hide = true)]
    pub cargo_plugin: bool,
}

/// `credbox run`'s arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The helper's manifest (credbox.toml) or a component (.wasm).
    pub target: PathBuf,
    /// What to print: a JSON object of headers, a single API key, or a
    /// Proxy-Authorization value.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Who asks for headers: an MCP server's headersHelper (mcp, the
    /// default) or Claude Code's otelHeadersHelper (otel).
    #[arg(long, value_enum, value_name = "CLIENT")]
    pub client: Option<crate::request::RunClient>,
    /// Let the helper read this environment variable (repeatable).
    #[arg(long = "allow-env", value_name = "VAR")]
    pub allow_env: Vec<String>,
    /// Let the helper reach this origin, scheme://host[:port] (repeatable;
    /// added to [network] allow).
    #[arg(long = "allow-url", value_name = "URL")]
    pub allow_url: Vec<String>,
    /// Set a config value for the helper (repeatable; wins over [config]).
    #[arg(long, value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Instruction budget.
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Wall-clock deadline, e.g. 5s or 1500ms.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Memory cap, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Show the helper's info logs and output (-vv: debug too).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Neither read nor write the credential cache for this call, and
    /// create nothing under the cache directory.
    #[arg(long)]
    pub no_cache: bool,
}
