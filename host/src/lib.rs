//! credbox runs Claude Code credential helpers as sandboxed WASI components.
//!
//! A run flows one way, one module per step:
//!
//! 1. [`manifest`]: read the helper's `credbox.toml`, strictly.
//! 2. [`policy`]: merge defaults, manifest and flags into what the run may
//!    do (limits, environment, config).
//! 3. [`engine`]: configure wasmtime and compile the component.
//! 4. [`guest`]: run `fetch` under fuel, deadline and memory limits.
//! 5. [`validation`]: check the credential for the output format.
//! 6. [`output`]: render the exact text for stdout.
//!
//! [`run`] strings the steps together; the `credbox` binary adds the command
//! line and error reporting.

pub mod engine;
pub mod error;
pub mod guest;
pub mod manifest;
pub mod output;
pub mod policy;
pub mod redact;
pub mod validation;

pub use error::{Error, Result};
pub use guest::{Request, RunOptions};
pub use policy::{Format, Overrides, Policy};

/// Runs the helper that `policy` describes and returns the text to print:
/// a JSON object of headers or an API key, newline included.
///
/// The process environment is read here, and only for the variables the
/// policy allowlists.
pub fn run(policy: &Policy, request: &Request, options: &RunOptions) -> Result<String> {
    let engine = engine::new_engine()?;
    let component = engine::load_component(&engine, &policy.component)?;
    let env = policy.env.resolve(|name| std::env::var(name).ok());
    let raw = guest::run(&engine, &component, policy, request, env, options)?;
    let validated = validation::validate(raw, policy.format)?;
    Ok(output::render(&validated))
}
