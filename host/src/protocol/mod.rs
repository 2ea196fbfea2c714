//! The clients credbox answers besides Claude Code, one module each:
//! [`git`] (git's credential helper protocol) and [`docker`] (the Docker
//! credential helper protocol). Each parses its client's request into a
//! [`crate::request::Request`] and renders the checked credential in the
//! client's own format, with the client's own "not mine" answer.
//!
//! Shared here: reading a request from stdin within a cap, and finding the
//! manifest that answers: the one named on the command line, or the
//! user's route for the URL asked about ([`crate::routes`]).

pub mod docker;
pub mod git;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::routes::{RequestUrl, Routes};

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

/// What to do about a request on stdin that is too large or not text.
const STDIN_HINT: &str =
    "the client writes its request on stdin: git's key=value lines, or a Docker server URL";

/// Reads a client's request from `input`: to end of file or, with
/// `until_blank_line`, to the first empty line (git's end of request),
/// refusing more than `cap` bytes or text that is not UTF-8.
pub fn read_capped(input: &mut impl BufRead, cap: usize, until_blank_line: bool) -> Result<String> {
    let mut text = Vec::new();
    loop {
        let start = text.len();
        let read = Read::by_ref(input)
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

/// The manifest that answers a request about `url`: `named` (from the
/// command line) when given, else the most specific of the user's routes
/// ([`Routes::load`]). `Ok(None)`: no route covers it, so the client gets
/// its protocol's "not mine" answer.
pub fn manifest_for(named: Option<&Path>, url: Option<&RequestUrl>) -> Result<Option<PathBuf>> {
    if let Some(path) = named {
        return Ok(Some(path.to_owned()));
    }
    let Some(url) = url else {
        return Ok(None);
    };
    let routes = Routes::load()?;
    Ok(routes.lookup(url).map(|route| route.manifest.clone()))
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
