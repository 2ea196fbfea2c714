//! credbox's one integration-test binary.
//!
//! Every test runs the real `credbox` executable on real components
//! compiled from source by `tests/artifacts` (the examples and the hostile
//! guests under `tests/guests/`), and checks what a caller sees: the exit
//! code, stdout, the one stderr line, and how long it took.

mod server;
mod util;

mod cache;
mod compiled;
mod completions;
mod core;
mod doctor;
mod hostile;
mod inspect;
mod network;
mod plugin;
mod scaffold;
