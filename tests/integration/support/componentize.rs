//! Python and JavaScript helpers built with componentize-py and
//! componentize-js (found on `PATH`; missing: a note and a skip, or a
//! failure under `CI=true`, as for every real client), and compiled by
//! credbox once.
//!
//! Such a component is 13 to 20 MB, most of it the interpreter: the tool
//! takes seconds to build one and credbox 10 to 45 s to compile it. So each
//! build is kept under the target folder, keyed by everything it is built
//! from (the tool and its version, its arguments, every input file), and
//! compiled by `credbox build` into one shared cache folder, keyed by the
//! component's digest as credbox keys it. A test gets a fresh cache with
//! that compiled artifact copied in ([`cache_for`]): its runs start in
//! milliseconds and share nothing else. The tools' output is not
//! reproducible (two builds of the same sources differ), so a build is
//! only reused for the same inputs, never across samples and templates.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::clients;
use super::util::{Cache, root};

/// A tool that builds components, at the release the helpers are tested
/// with.
pub struct Tool {
    /// Its path.
    program: PathBuf,
    /// What `--version` prints, trimmed: part of every build's key.
    version: &'static str,
}

/// Longest a build may take (usually 5 to 50 s).
const BUILD_DEADLINE: Duration = Duration::from_secs(180);

/// One build or compile at a time: on a small machine two at once only
/// slow each other, and the second caller then finds the first's result.
static BUILDING: Mutex<()> = Mutex::new(());

/// componentize-py 0.25.1. `None` (after a note) when it is missing
/// outside CI: the test passes without checking anything.
pub fn componentize_py() -> Option<Tool> {
    tool(
        "componentize-py",
        "componentize-py 0.25.1",
        "componentize-py 0.25.1: pip install 'componentize-py==0.25.1'",
    )
}

/// componentize-js 0.23.0, as [`componentize_py`].
pub fn componentize_js() -> Option<Tool> {
    tool(
        "componentize-js",
        "0.23.0",
        "componentize-js 0.23.0: npm install -g @bytecodealliance/componentize-js@0.23.0",
    )
}

fn tool(program: &str, version: &'static str, install: &str) -> Option<Tool> {
    let program = clients::require(program, install, |v| v.trim() == version)?;
    Some(Tool { program, version })
}

/// Where builds and the shared compile cache live, kept between runs.
fn store() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-helpers")
}

/// Runs `componentize-py <args>` in `dir`, which writes `output`
/// (relative to `dir`, or absolute), unless a build of the same `inputs`
/// (relative to `dir`) and arguments (but where `-o` writes) is kept: then
/// copies that. Returns `dir/output`.
#[track_caller]
pub fn build(tool: &Tool, dir: &Path, args: &[&str], inputs: &[PathBuf], output: &str) -> PathBuf {
    let mut key = Sha256::new();
    key.update(tool.version);
    // Where it writes (`-o`'s value) makes no difference to the build.
    let output_flag = args.iter().position(|a| *a == "-o");
    for (i, arg) in args.iter().enumerate() {
        key.update([0]);
        if output_flag.is_some_and(|o| o + 1 == i) {
            continue;
        }
        key.update(arg);
    }
    let mut inputs = inputs.to_vec();
    inputs.sort();
    for input in &inputs {
        let bytes = std::fs::read(dir.join(input))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(input).display()));
        key.update([1]);
        key.update(input.to_str().unwrap());
        key.update([0]);
        key.update(Sha256::digest(&bytes));
    }
    let key = hex(&key.finalize());
    let kept = store().join("components").join(format!("{key}.wasm"));
    let target = dir.join(output);
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if !kept.is_file() {
        let mut cmd = Command::new(&tool.program);
        cmd.args(args)
            .current_dir(dir)
            // No __pycache__ left in the sources (a sample's are in git).
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let done = clients::run(cmd, BUILD_DEADLINE).expect("componentize-py runs");
        assert!(
            done.code == Some(0) && !done.timed_out,
            "{} {} failed in {}: {done:#?}",
            tool.program.display(),
            args.join(" "),
            dir.display()
        );
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        let partial = kept.with_extension("partial");
        std::fs::copy(&target, &partial).unwrap();
        std::fs::rename(&partial, &kept).unwrap();
    } else if kept != target {
        std::fs::copy(&kept, &target).unwrap();
    }
    target
}

/// A lowercase hex string of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The shared cache folder credbox compiles Python components into.
fn compiled_cache() -> PathBuf {
    store().join("credbox-cache")
}

/// A fresh cache with `component` (a path) compiled in it: compiled once
/// into the shared folder by `credbox build`, then copied.
#[track_caller]
pub fn cache_for(component: &Path) -> Cache {
    let digest = hex(&Sha256::digest(std::fs::read(component).unwrap()));
    let compiled = compiled_cache().join("compiled");
    let artifacts = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| {
                        let name = p.file_name().unwrap().to_str().unwrap();
                        name.starts_with(&digest) && name.ends_with(".cwasm")
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    {
        let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        if artifacts(&compiled).is_empty() {
            let out = Command::new(env!("CARGO_BIN_EXE_credbox"))
                .args(["build", component.to_str().unwrap()])
                .env("CREDBOX_CACHE_DIR", compiled_cache())
                .output()
                .unwrap();
            assert!(out.status.success(), "credbox build: {out:#?}");
        }
    }
    let found = artifacts(&compiled);
    assert!(
        !found.is_empty(),
        "credbox build left no artifact for {digest}"
    );
    let cache = Cache::new();
    let into = cache.path().join("compiled");
    std::fs::create_dir_all(&into).unwrap();
    for dir in [cache.path(), into.clone()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    for artifact in found {
        let to = into.join(artifact.file_name().unwrap());
        std::fs::copy(&artifact, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    cache
}

/// A Python sample, `examples/python/<name>`, built with the command its
/// README gives (from its folder, with the shared library and the
/// repository's WIT) into `out`.
#[track_caller]
pub fn build_python_sample(tool: &Tool, name: &str, out: &Path) -> PathBuf {
    let dir = root().join("examples/python").join(name);
    let output = out.join(format!("{name}.wasm"));
    let args = [
        "-d",
        "../../../wit",
        "-w",
        "helper-http",
        "componentize",
        "-p",
        ".",
        "-p",
        "../lib",
        "app",
        "-o",
        output.to_str().unwrap(),
    ];
    let inputs = python_inputs(
        &dir,
        &["app.py", "../lib/credbox_helper.py", "../../../wit"],
    );
    build(tool, &dir, &args, &inputs, output.to_str().unwrap())
}

/// A test helper under `tests/python-guests/<name>`, built like a sample.
#[track_caller]
pub fn build_python_guest(tool: &Tool, name: &str, out: &Path) -> PathBuf {
    let dir = root().join("tests/python-guests").join(name);
    let output = out.join(format!("{name}.wasm"));
    let lib = root().join("examples/python/lib");
    let wit = root().join("wit");
    let args = [
        "-d",
        wit.to_str().unwrap(),
        "-w",
        "helper-http",
        "componentize",
        "-p",
        ".",
        "-p",
        lib.to_str().unwrap(),
        "app",
        "-o",
        output.to_str().unwrap(),
    ];
    let inputs = python_inputs(
        &dir,
        &[
            "app.py",
            "../../../examples/python/lib/credbox_helper.py",
            "../../../wit",
        ],
    );
    build(tool, &dir, &args, &inputs, output.to_str().unwrap())
}

/// A JavaScript helper, `dir/app.js` (`examples/javascript/<name>` or
/// `tests/javascript-guests/<name>`), built with the command a generated
/// project's README gives in a folder under `out` laid out as one: the
/// app, the library, and the repository's WIT.
#[track_caller]
pub fn build_javascript(tool: &Tool, dir: &Path, out: &Path) -> PathBuf {
    let folder = out.join(dir.file_name().unwrap());
    let lib = root().join("examples/javascript/lib/credbox_helper.js");
    let mut copies = vec![
        (dir.join("app.js"), PathBuf::from("app.js")),
        (lib, PathBuf::from("credbox_helper.js")),
    ];
    // The WIT a generated project has: the package and its deps.
    for wit in python_inputs(root(), &["wit/helper.wit", "wit/deps"]) {
        copies.push((root().join(&wit), wit));
    }
    for (from, to) in copies {
        let to = folder.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let build_command = credbox::scaffold::JAVASCRIPT.build;
    let args: Vec<&str> = build_command.split(' ').skip(1).collect();
    build(tool, &folder, &args, &files_under(&folder), "helper.wasm")
}

/// Every file of `paths` (relative to `dir`; a folder counts with every
/// file under it), relative to `dir`.
fn python_inputs(dir: &Path, paths: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    while let Some(path) = pending.pop() {
        let full = dir.join(&path);
        if full.is_dir() {
            for entry in std::fs::read_dir(&full).unwrap() {
                pending.push(path.join(entry.unwrap().file_name()));
            }
        } else {
            files.push(path);
        }
    }
    files
}

/// Every file under `dir`, relative to it: a generated project's inputs.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    python_inputs(dir, &["."])
        .into_iter()
        .map(|p| p.strip_prefix(".").map(Path::to_owned).unwrap_or(p))
        .collect()
}
