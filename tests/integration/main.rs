//! credbox's one integration-test binary.
//!
//! Every test runs the real `credbox` executable on real components
//! compiled from source by `tests/artifacts` (the examples and the hostile
//! guests under `tests/guests/`), and checks what a caller sees: the exit
//! code, stdout, the one stderr line, and how long it took. `claude_code`
//! runs it under the real Claude Code client, installed from npm on first
//! use. Helpers shared between tests live in [`support`]; a test module
//! imports from there, never from another test module.

mod support;

mod cache;
mod claude_code;
mod compiled;
mod completions;
mod containment;
mod core;
mod damage;
mod doctor;
mod hardening;
mod hostile;
mod inspect;
mod javascript;
mod keys;
mod login_device_code;
mod manpages;
mod network;
mod plugin;
mod protocol_aws;
mod protocol_cargo;
mod protocol_docker;
mod protocol_gcp;
mod protocol_git;
mod protocol_keyring;
mod protocol_kubernetes;
mod python;
mod refresh_ticket;
mod samples;
mod scaffold;
mod secrets;
mod state;
mod worlds;
