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
//! 4. Asks cargo for the `Cargo.lock` of each Rust template as a crate of
//!    its own (`template_locks`): this workspace's lock file holds more
//!    than a template needs, including dependency edges that only the
//!    features other members turn on create, and only cargo's resolver
//!    knows which; a generated crate given the cut-down file cargo writes
//!    builds with `--locked`.

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
    template_locks(&root);
}

/// Writes `$OUT_DIR/template_locks.rs`: `TEMPLATE_LOCKS`, for each sample
/// crate under `examples/` (a template of `credbox new`), the lock file
/// cargo writes for it and the SDK alone, from this workspace's
/// `Cargo.lock` (so at the versions credbox is tested with, offline).
/// Each is made in a workspace under `$OUT_DIR` with the two members and
/// this workspace's `[workspace.package]` and `[workspace.dependencies]`,
/// which `cargo metadata --offline` resolves. Where cargo cannot (no
/// registry index in its cache), a warning, and no entry: the template
/// then gets the workspace's lock cut down by `scaffold.rs` alone.
fn template_locks(root: &Path) {
    let root = root.canonicalize().expect("the repository's folder");
    for input in ["examples", "guest-sdk/Cargo.toml", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let inherited = &workspace[workspace
        .find("[workspace.package]")
        .expect("[workspace.package] in Cargo.toml")..];
    let mut samples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("examples/")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|dir| dir.join("src/lib.rs").is_file() && dir.join("credbox.toml").is_file())
        .collect();
    samples.sort();
    let mut code = String::from("const TEMPLATE_LOCKS: &[(&str, &str)] = &[\n");
    for sample in samples {
        let name = sample.file_name().unwrap().to_str().expect("a UTF-8 name");
        let dir = out.join("template-locks").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        for (member, manifest) in [
            (name, sample.join("Cargo.toml")),
            ("guest-sdk", root.join("guest-sdk/Cargo.toml")),
        ] {
            std::fs::create_dir_all(dir.join(member).join("src")).expect("a lock's folder");
            std::fs::write(dir.join(member).join("src/lib.rs"), "").expect("a stub lib.rs");
            std::fs::copy(manifest, dir.join(member).join("Cargo.toml")).expect("Cargo.toml");
        }
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[workspace]\nresolver = \"2\"\nmembers = [{name:?}, \"guest-sdk\"]\n\n{inherited}"
            ),
        )
        .expect("a lock's workspace");
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock");
        let mut cargo =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .args([
                "metadata",
                "--offline",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(dir.join("Cargo.toml"))
            .stdout(std::process::Stdio::null());
        for key in [
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
        ] {
            cargo.env_remove(key);
        }
        match cargo.output() {
            Ok(done) if done.status.success() => {
                code += &format!(
                    "    ({name:?}, include_str!({:?})),\n",
                    dir.join("Cargo.lock").display().to_string()
                );
            }
            Ok(done) => println!(
                "cargo:warning=no lock file of its own for the template {name}: {}",
                String::from_utf8_lossy(&done.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            Err(e) => {
                println!("cargo:warning=no lock file of its own for the template {name}: {e}")
            }
        }
    }
    code += "];\n";
    std::fs::write(out.join("template_locks.rs"), code).expect("writing template_locks.rs");
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
