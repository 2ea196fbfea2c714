//! The `credbox` command: set it as Claude Code's `apiKeyHelper` or
//! `headersHelper`, or as the credential helper of git, Docker, AWS,
//! kubectl or Cargo, or as pip's and uv's `keyring`.
//!
//! Contract: on success the credential alone on stdout and exit 0; on any
//! failure nothing on stdout, one line on stderr
//! (`credbox: <helper>: <what happened> (<what to do>)`) and a non-zero exit
//! code that tells the failure's class (see docs/src/exit-codes.md). Each client's
//! protocol adapts that as its client expects (see `credbox::protocol`).
//!
//! This file parses the command line and dispatches; everything a command
//! does is in the library, where it has unit tests.

#![no_main]

use std::ffi::{OsStr, c_char, c_int};
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use credbox::cli::{CacheCommand, Cli, Command, InstallCommand, RunArgs, RunOnly, RunOnlyCommand};
use credbox::protocol::{self, aws::Shape, docker, keyring};
use credbox::serve::Out;
use credbox::{Overrides, RunOptions, commands};

// credbox defines the C `main` itself instead of Rust's usual `fn main`.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // credbox starts afresh for every credential request, so start-up is
    // most of a cached answer's time. Rust's own start-up
    // (`std::rt::lang_start`) spends a fifth of a cache hit's instructions
    // finding the main thread's stack bounds for its stack-overflow message
    // (glibc parses /proc/self/maps to answer). Skipping it, credbox does
    // the parts that matter here itself (see `platform::start_process`),
    // and flushes stdout before exit. std still gets the arguments and
    // environment from the C runtime.
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
    std::panic::catch_unwind(|| {
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        dispatch(&mut Out::new(&mut stdout, &mut stderr))
    })
    .unwrap_or(1)
}

fn dispatch(out: &mut Out) -> u8 {
    let first = std::env::args_os().nth(1);
    let first = first.as_deref();
    // The background refresh: its ticket on stdin (see credbox::refresh).
    if first == Some(OsStr::new(credbox::refresh::CHILD_FLAG)) {
        return credbox::serve::refresh_child(std::io::stdin().lock());
    }
    // Cargo runs a credential provider as `PROGRAM --cargo-plugin` and
    // passes the words after PROGRAM (here `cargo MANIFEST`) in each
    // request.
    if first == Some(OsStr::new(protocol::cargo::PLUGIN_FLAG)) {
        return protocol::cargo::handle(None, std::io::stdin().lock(), out);
    }
    // Docker clients run `docker-credential-credbox <operation>`: credbox
    // under that name (a link made by `credbox install docker`).
    let mut args = std::env::args_os();
    let program = args.next().map(PathBuf::from);
    // (On Windows, as `docker-credential-credbox.exe`.)
    let name = program.as_deref().and_then(|p| p.file_name());
    let name = name.map(|n| n.to_string_lossy());
    let bare = name.as_deref().map(|n| {
        let suffix = std::env::consts::EXE_SUFFIX;
        match n.len().checked_sub(suffix.len()) {
            Some(at) if n.is_char_boundary(at) && n[at..].eq_ignore_ascii_case(suffix) => &n[..at],
            _ => n,
        }
    });
    if bare == Some(docker::PROGRAM) {
        let operation = args.next().unwrap_or_default();
        let operation = operation.to_string_lossy();
        return docker::handle(&operation, None, &mut std::io::stdin().lock(), out);
    }
    // pip and uv run `keyring get SERVICE [USERNAME]`: credbox under that
    // name (a link made by `credbox install keyring`).
    if bare == Some(keyring::PROGRAM) {
        return keyring::handle(&args.collect::<Vec<_>>(), out);
    }
    // `credbox run`, the call Claude Code makes again and again, parses a
    // command line that knows only `run`: building clap's tree of every
    // subcommand was a sixth of a cache hit's instructions.
    if first == Some(OsStr::new("run")) {
        return match RunOnly::try_parse() {
            Ok(RunOnly {
                command: RunOnlyCommand::Run(args),
            }) => run(args, out),
            Err(e) => clap_error(e, out),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e, out),
    };
    let stdin = std::io::stdin;
    match cli.command {
        Command::Run(args) => run(args, out),
        Command::Build(args) => commands::build(&args.target, out),
        Command::Cache(CacheCommand::Clear { helper }) => commands::clear(helper.as_deref(), out),
        Command::Status => commands::status(out),
        Command::New(args) => {
            // clap accepts only the names in `Lang::ALL`.
            let lang =
                credbox::scaffold::Lang::parse(&args.lang).unwrap_or(credbox::scaffold::Lang::Rust);
            let created =
                credbox::scaffold::new(&args.name, lang, Some(&args.template), args.dir.as_deref());
            commands::report(&args.name, created.map(|c| c.summary()), out)
        }
        Command::Doctor(args) => credbox::doctor::doctor(&args.target, &mut std::io::stdout()),
        Command::Inspect(args) => commands::report(
            &args.target.display().to_string(),
            credbox::inspect::report(&args.target, args.json),
            out,
        ),
        Command::Aws(args) => {
            let shape = match args.claude_export {
                true => Shape::ClaudeExport,
                false => Shape::CredentialProcess,
            };
            protocol::aws::handle(&args.target, shape, out)
        }
        Command::K8s(args) => {
            let exec_info = std::env::var(protocol::kubernetes::EXEC_INFO_VAR);
            protocol::kubernetes::handle(args.target.as_deref(), exec_info, out)
        }
        Command::Cargo(args) => {
            protocol::cargo::handle(args.target.as_deref(), stdin().lock(), out)
        }
        Command::Gcp(args) => protocol::gcp::handle(&args.target, |name| std::env::var(name), out),
        Command::Login(args) => commands::login(&args.target, args.verbose, out),
        Command::Logout(args) => commands::logout(&args.target, out),
        Command::Git(args) => {
            let (named, operation) = match args.args.as_slice() {
                [operation] => (None, operation),
                [manifest, operation] => (Some(manifest.as_path()), operation),
                _ => {
                    let error = credbox::Error::Usage("expected [MANIFEST] OPERATION".into());
                    return out.fail("git", &error);
                }
            };
            let operation = operation.to_string_lossy();
            protocol::git::handle(named, &operation, &mut stdin().lock(), out)
        }
        Command::Docker(args) => docker::handle(
            &args.operation,
            args.manifest.as_deref(),
            &mut stdin().lock(),
            out,
        ),
        Command::Keyring(args) => keyring::handle(&args.args, out),
        Command::Install(InstallCommand::Docker { dir }) => commands::install_docker(dir, out),
        Command::Install(InstallCommand::Keyring { dir }) => commands::install_keyring(dir, out),
        Command::Install(InstallCommand::Man { dir }) => commands::install_man(dir, out),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "credbox", &mut std::io::stdout());
            0
        }
    }
}

fn run(args: RunArgs, out: &mut Out) -> u8 {
    let overrides = Overrides {
        format: args.format,
        allow_env: args.allow_env,
        config: args.config,
        fuel: args.fuel,
        timeout: args.timeout,
        memory: args.memory,
        allow_url: args.allow_url,
    };
    let options = RunOptions {
        log_level: commands::log_level(args.verbose),
        no_cache: args.no_cache,
    };
    protocol::run::handle(&args.target, overrides, args.client, &options, out)
}

/// Help and version go to stdout as usual; usage errors become one line.
fn clap_error(e: clap::Error, out: &mut Out) -> u8 {
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
    out.line(&format!("credbox: {first} (see `credbox --help`)"));
    2
}
