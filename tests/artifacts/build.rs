//! Builds every helper crate under `tests/guests/` and `examples/` for
//! `wasm32-wasip2` in one nested `cargo build`, then writes
//! `$OUT_DIR/artifacts.rs` with one path constant per component.
//!
//! The same pattern as wasmtime's `crates/test-programs/artifacts`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target every helper is built for.
const TARGET: &str = "wasm32-wasip2";

/// Folders whose subfolders are helper crates.
const CRATE_FOLDERS: [&str; 2] = ["tests/guests", "examples"];

/// What the guests are built from: a change here rebuilds them. A folder is
/// scanned recursively, so a new crate counts too.
const INPUTS: [&str; 6] = [
    "wit",
    "guest-sdk",
    "tests/guests",
    "examples",
    "Cargo.toml",
    "Cargo.lock",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("guests-target");

    for path in INPUTS {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    ensure_target(&root);

    let crates: Vec<(String, PathBuf)> = CRATE_FOLDERS
        .iter()
        .flat_map(|folder| crate_dirs(&root.join(folder)))
        .map(|dir| (package_name(&dir.join("Cargo.toml")), dir))
        .collect();

    let mut cargo = Command::new(env::var_os("CARGO").unwrap());
    cargo
        .current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // Cargo reads a build script's stdout for directives: keep the
        // nested cargo's output on stderr (shown when the build fails).
        .stdout(Stdio::from(std::io::stderr()));
    for (package, _) in &crates {
        cargo.args(["-p", package]);
    }
    // Settings meant for the outer build (flags, profile, target) must not
    // leak into the nested one.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_CFG_") {
            cargo.env_remove(&*key);
        }
    }
    for key in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cargo.env_remove(key);
    }
    let status = cargo.status().expect("cannot run cargo");
    if !status.success() {
        panic!("building the guests for wasm32-wasip2 failed ({status}): see cargo's errors above");
    }

    let release = target_dir.join(TARGET).join("release");
    let mut code = String::new();
    let mut all = Vec::new();
    for (package, dir) in &crates {
        let wasm = release.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        let source = dir.strip_prefix(&root).unwrap().display();
        let name = package.to_uppercase().replace('-', "_");
        let path = wasm.to_str().expect("the target directory's path is UTF-8");
        code += &format!("/// The `{package}` component, built from `{source}`.\n");
        code += &format!("pub const {name}: &str = {path:?};\n");
        all.push(format!("({package:?}, {name})"));
    }
    code += "/// Every component above, as `(package name, path)`.\n";
    code += &format!("pub const ALL: &[(&str, &str)] = &[{}];\n", all.join(", "));
    fs::write(out_dir.join("artifacts.rs"), code).unwrap();
}

/// Makes sure the compiler has the standard library for [`TARGET`].
///
/// rustup installs the targets that `rust-toolchain.toml` names only when it
/// installs the toolchain itself; a toolchain installed before (or by hand)
/// lacks them. Then `rustup target add` adds it to the toolchain this build
/// runs with (rustup passes it down in `RUSTUP_TOOLCHAIN`); without rustup,
/// the build stops with a one-line instruction.
fn ensure_target(root: &Path) {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let has_target = || {
        let out = Command::new(&rustc)
            .args(["--print", "target-libdir", "--target", TARGET])
            .output()
            .unwrap_or_else(|e| panic!("cannot run rustc: {e}"));
        // The folder is printed whether or not it is there.
        let libdir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        out.status.success() && Path::new(&libdir).is_dir()
    };
    if has_target() {
        return;
    }
    let added = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", TARGET])
        // Keep stdout free for cargo's directives.
        .stdout(Stdio::from(std::io::stderr()))
        .status();
    match added {
        Ok(status) if status.success() && has_target() => println!(
            "cargo:warning=installed the {TARGET} target with `rustup target add {TARGET}` \
             (needed to build the test helpers)"
        ),
        Ok(status) => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed \
             ({status}): see its errors above"
        ),
        Err(e) => panic!(
            "the {TARGET} target is missing and rustup cannot be run ({e}): install the \
             standard library for {TARGET} for this Rust toolchain, then build again"
        ),
    }
}

/// The subfolders of `folder` that hold a `Cargo.toml`, sorted.
fn crate_dirs(folder: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The `name` in the `[package]` table of the manifest at `path`.
fn package_name(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return value.trim().trim_matches('"').to_owned();
        }
    }
    panic!("{}: no name in [package]", path.display());
}
