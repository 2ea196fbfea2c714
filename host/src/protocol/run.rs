//! `credbox run`: Claude Code's `apiKeyHelper` and `headersHelper` (and
//! any other program that runs a command for a credential).
//!
//! The credential goes on stdout in the manifest's (or `--format`'s) form,
//! rendered by [`crate::output`]: a JSON object of headers, or the API key
//! alone. The request says which MCP server asks, from Claude Code's
//! `CLAUDE_CODE_MCP_SERVER_NAME` and `CLAUDE_CODE_MCP_SERVER_URL`. A
//! failure is one line on stderr and the exit code of its class; the
//! helper's `not-found` is a failure like any other (exit code 10).

use std::path::Path;

use crate::error::Error;
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, ProxyRequest, Request, RunClient};
use crate::serve::{Helper, Manner, Out, answer_by};

/// Runs the helper at `target` (a manifest or a bare component) with the
/// command line's `overrides` and `options`, and writes its credential on
/// `out`'s stdout, or the one-line failure on its stderr; the exit code.
pub fn handle(
    target: &Path,
    overrides: Overrides,
    client: Option<RunClient>,
    options: &RunOptions,
    out: &mut Out,
) -> u8 {
    let helper = match Helper::load(target.to_owned(), overrides) {
        Ok(helper) => helper,
        Err(failure) => return out.fail(&failure.subject, &failure.error),
    };
    let format = helper.policy.format;
    let request = match Request::from_env(format, client) {
        Ok(request) => request,
        Err(error) => return out.fail(helper.name(), &error),
    };
    // A proxy's challenge says it refused the credential it was given: it
    // is not served again from the cache.
    // (Without the cache there is nothing to refuse.)
    if let Client::Proxy(ProxyRequest {
        challenge: Some(challenge),
        ..
    }) = &request.client
        && !options.no_cache
    {
        // Quoted: the redactor masks the word after a bare `Bearer `.
        let refusal = Error::Denied(format!(
            "the proxy refused a credential fetched moments ago; its challenge: scheme {:?}{}",
            challenge.scheme,
            challenge
                .realm
                .as_deref()
                .map(|realm| format!(", realm {realm:?}"))
                .unwrap_or_default(),
        ));
        if let Err(error) = helper.refused(&request, refusal) {
            return out.fail(helper.name(), &error);
        }
    }
    answer_by(&helper, &request, options, |credential| {
        crate::output::render(credential, format)
    })
    .write(out, &Manner::plain())
}
