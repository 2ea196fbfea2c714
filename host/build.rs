//! Two jobs, both for the `credbox` binary:
//!
//! 1. Links it as a non-position-independent executable. credbox is started
//!    afresh for every credential request, and a cache hit does almost
//!    nothing else, so start-up is its latency. As a PIE the 27 MB binary
//!    needs ~37,000 relative relocations applied (and the pages holding
//!    them copied) before `main`; linked at a fixed address it needs none.
//!    Only the binaries are affected (the code is still compiled as PIC,
//!    so libraries and proc-macros are untouched).
//! 2. Tells the code which wasmtime (from `Cargo.lock`) and which WIT
//!    package (from `wit/helper.wit`) it is built with, for `--version`
//!    and `inspect` (see `src/version.rs`): read from the files that decide
//!    them, so they cannot drift.

use std::path::Path;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock = root.join("Cargo.lock");
    let wit = root.join("wit/helper.wit");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed={}", wit.display());

    let lock = std::fs::read_to_string(&lock).expect("Cargo.lock");
    let wasmtime = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"wasmtime\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .expect("wasmtime in Cargo.lock")
        .trim_matches('"');
    println!("cargo:rustc-env=CREDBOX_WASMTIME_VERSION={wasmtime}");

    let wit = std::fs::read_to_string(&wit).expect("wit/helper.wit");
    let package = wit
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .expect("a package line in wit/helper.wit")
        .trim_end_matches(';');
    println!("cargo:rustc-env=CREDBOX_WIT_PACKAGE={package}");
}
