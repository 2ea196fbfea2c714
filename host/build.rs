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
//! 3. Lists the files `credbox new` vendors into a generated Rust crate
//!    (`scaffold.rs`): every file of `guest-sdk/src/` and of the WIT the
//!    SDK's bindings read (`wit/helper.wit`, `wit/deps/`), embedded with
//!    `include_str!` from the real files. Walking the folders means a file
//!    added to the SDK is vendored without anyone remembering to.

use std::path::{Path, PathBuf};

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

    sdk_files(&root);
}

/// Every file under `dir`, sorted, for a stable generated list.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Writes `$OUT_DIR/sdk_files.rs`: `SDK_SOURCES`, the SDK's `src/` files,
/// as `credbox-guest/src/…`; `SDK_WIT`, the WIT its bindings read, as
/// `credbox-guest/wit/…`; and `WIT_FILES`, the same WIT as `wit/…` (for
/// Python and JavaScript projects). Each is a slice of (path in a generated
/// project, contents), the contents embedded by `include_str!`.
fn sdk_files(root: &Path) {
    let root = root.canonicalize().expect("the repository's folder");
    let list = |name: &str, base: &Path, dirs: &[&str], prefix: &str| {
        let mut files = Vec::new();
        for dir in dirs {
            let path = base.join(dir);
            println!("cargo:rerun-if-changed={}", path.display());
            if path.is_dir() {
                walk(&path, &mut files);
            } else {
                files.push(path);
            }
        }
        let mut code = String::from("&[\n");
        for file in files {
            let relative = file.strip_prefix(base).expect("under its folder");
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_str().expect("a UTF-8 file name"))
                .collect::<Vec<_>>()
                .join("/");
            code += &format!(
                "    ({:?}, include_str!({:?})),\n",
                format!("{prefix}{relative}"),
                file.display().to_string()
            );
        }
        format!("const {name}: &[(&str, &str)] = {code}];\n")
    };
    let wit = ["helper.wit", "deps"];
    let code = list(
        "SDK_SOURCES",
        &root.join("guest-sdk"),
        &["src"],
        "credbox-guest/",
    ) + &list("SDK_WIT", &root.join("wit"), &wit, "credbox-guest/wit/")
        + &list("WIT_FILES", &root.join("wit"), &wit, "wit/");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("sdk_files.rs"), code).expect("writing sdk_files.rs");
}
