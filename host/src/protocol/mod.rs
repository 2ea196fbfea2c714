//! The front end of each client credbox answers, one module each:
//! [`run`] (`credbox run`: Claude Code's `apiKeyHelper` and
//! `headersHelper`), [`git`] (git's credential helper protocol), [`docker`]
//! (the Docker credential helper protocol), [`aws`] (`credential_process`
//! and Claude Code's `awsCredentialExport`), [`kubernetes`] (exec
//! credential plugins), [`cargo`] (Cargo's credential provider protocol),
//! [`keyring`] (the `keyring` command pip and uv run) and [`gcp`] (Google
//! Cloud executable-sourced credentials). Each has a `handle` that parses
//! its client's input into a
//! [`crate::request::Request`], hands it to [`crate::serve`] (which finds
//! the helper that answers and runs it), and renders the checked
//! credential in the client's own format, failures included, with the
//! client's own "not mine" answer. [`rfc3339`] writes their expiry times.
//!
//! To add a client: a module here with its `handle` (input → request,
//! credential → text, its [`crate::serve::Manner`]), a subcommand in
//! [`crate::cli`], and one line in `main.rs`'s dispatch.
//!
//! Shared here: reading a request from stdin within a cap, and linking a
//! program name to credbox ([`install_program`]: `credbox install docker`
//! and `credbox install keyring`).

pub mod aws;
pub mod cargo;
pub mod docker;
pub mod gcp;
pub mod git;
pub mod keyring;
pub mod kubernetes;
pub mod rfc3339;
pub mod run;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Largest request read from a client's stdin: git's and Docker's are a
/// few hundred bytes.
pub const MAX_STDIN: usize = 64 * 1024;

/// A client's request that credbox cannot use: exit code 2 (as a usage
/// error), with `hint`, what to do, in the message's parentheses.
pub fn bad_request(message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::Environment {
        message: message.into(),
        hint: hint.into(),
    }
}

/// The default folder for [`install_program`]: the platform's folder for
/// a user's programs (`$XDG_BIN_HOME`, else `~/.local/bin`).
pub fn default_install_dir() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    Some(
        dirs.executable_dir()
            .map(Path::to_owned)
            .unwrap_or_else(|| dirs.home_dir().join(".local").join("bin")),
    )
}

/// Makes `dir/program` start `exe` (credbox itself, which main.rs
/// dispatches on the name it was started by): a symbolic link on Unix, a
/// hard link or copy named `program.exe` on Windows (see
/// [`crate::platform::link_program`]), creating `dir` if needed. Returns
/// what it did, for the user, with a note when `dir` is not on PATH (where
/// `clients`, named in it, look). A link that is already there and points
/// at `exe` is kept; any other file there is an error (nothing is
/// replaced).
pub fn install_program(dir: &Path, exe: &Path, program: &str, clients: &str) -> Result<String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let link = dir.join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
    let mut report = match std::fs::symlink_metadata(&link) {
        Ok(_) => match crate::platform::is_program_link(&link, exe) {
            true => format!("{} already links to {}\n", link.display(), exe.display()),
            false => {
                return Err(Error::Usage(format!(
                    "{} exists and is not a link to {}: remove it first, or choose another folder with --dir",
                    link.display(),
                    exe.display()
                )));
            }
        },
        Err(_) => {
            crate::platform::link_program(exe, &link).map_err(|e| {
                Error::Usage(format!("cannot create the link {}: {e}", link.display()))
            })?;
            format!("linked {} -> {}\n", link.display(), exe.display())
        }
    };
    let on_path =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|p| p == dir));
    if !on_path {
        report += &format!(
            "note: {} is not on PATH; add it, or {clients} will not find {program}\n",
            dir.display()
        );
    }
    Ok(report)
}

/// What to do about a request on stdin that is too large or not text.
const STDIN_HINT: &str =
    "the client writes its request on stdin: git's key=value lines, or a Docker server URL";

/// Reads a client's request from `input`: to end of file or, with
/// `until_blank_line`, to the first empty line (git's end of request),
/// refusing more than `cap` bytes or text that is not UTF-8.
pub fn read_capped(
    input: &mut (impl BufRead + ?Sized),
    cap: usize,
    until_blank_line: bool,
) -> Result<String> {
    let mut text = Vec::new();
    loop {
        let start = text.len();
        let read = (&mut *input)
            .take((cap + 1 - start) as u64)
            .read_until(b'\n', &mut text)
            .map_err(|e| {
                bad_request(format!("cannot read the request on stdin: {e}"), STDIN_HINT)
            })?;
        if text.len() > cap {
            return Err(bad_request(
                format!("the request on stdin is larger than {cap} bytes"),
                STDIN_HINT,
            ));
        }
        let line = &text[start..];
        if read == 0 || (until_blank_line && (line == b"\n" || line == b"\r\n")) {
            break;
        }
    }
    String::from_utf8(text)
        .map_err(|_| bad_request("the request on stdin is not UTF-8 text", STDIN_HINT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_to_a_blank_line_or_the_end_within_the_cap() {
        let mut input: &[u8] = b"a=1\nb=2\n\nafter=3\n";
        assert_eq!(read_capped(&mut input, 100, true).unwrap(), "a=1\nb=2\n\n");
        let mut input: &[u8] = b"a=1\nb=2";
        assert_eq!(read_capped(&mut input, 100, true).unwrap(), "a=1\nb=2");
        let mut input: &[u8] = b"host\n\nmore";
        assert_eq!(read_capped(&mut input, 100, false).unwrap(), "host\n\nmore");
        let mut input: &[u8] = &[b'x'; 101];
        let err = read_capped(&mut input, 100, false).unwrap_err().to_string();
        assert_eq!(err, "the request on stdin is larger than 100 bytes");
        let mut exact: &[u8] = &[b'x'; 100];
        assert_eq!(read_capped(&mut exact, 100, false).unwrap().len(), 100);
        let mut input: &[u8] = b"\xff\n";
        assert!(read_capped(&mut input, 100, false).is_err());
    }
}
