//! The `credbox` command: set it as Claude Code's `apiKeyHelper` or
//! `headersHelper`.
//!
//! Contract: on success the credential alone on stdout and exit 0; on any
//! failure nothing on stdout, one line on stderr
//! (`credbox: <helper>: <what happened> (<what to do>)`) and a non-zero exit
//! code that tells the failure's class (see the README).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use credbox::guest::log::LogLevel;
use credbox::{Error, Format, Overrides, Policy, Request, RunOptions};

#[derive(Parser)]
#[command(name = "credbox", version, about = "Run Claude Code credential helpers as sandboxed WASI components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a helper and print its credential.
    Run(RunArgs),
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
}

fn main() -> ExitCode {
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
    match std::panic::catch_unwind(real_main) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}

fn real_main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match cli.command {
        Command::Run(args) => run(args),
    }
}

/// Help and version go to stdout as usual; usage errors become one line.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    eprintln!("credbox: {first} (see `credbox --help`)");
    ExitCode::from(2)
}

fn run(args: RunArgs) -> ExitCode {
    let overrides = Overrides {
        format: args.format,
        allow_env: args.allow_env,
        config: args.config,
        fuel: args.fuel,
        timeout: args.timeout,
        memory: args.memory,
    };
    let policy = match Policy::resolve(&args.target, &overrides) {
        Ok(policy) => policy,
        Err(e) => return fail(&args.target.display().to_string(), &e),
    };
    let options = RunOptions {
        log_level: match args.verbose {
            0 => LogLevel::Warn,
            1 => LogLevel::Info,
            _ => LogLevel::Debug,
        },
    };
    let request = Request::from_env(policy.format);
    match credbox::run(&policy, &request, &options) {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&policy.name, &Error::Internal(format!("cannot write to stdout: {e}"))),
            }
        }
        Err(e) => fail(&policy.name, &e),
    }
}

/// Prints the one-line error and returns its exit code.
fn fail(helper: &str, error: &Error) -> ExitCode {
    eprintln!("credbox: {helper}: {error} ({})", error.hint());
    ExitCode::from(error.exit_code())
}
