//! The engine: wasmtime configured for metering, and component loading.
//!
//! Fuel counts instructions; epoch interruption lets a running guest be
//! preempted so the wall-clock deadline can fire (see [`crate::guest`]).
//! Nothing here depends on the helper: the same configuration serves every
//! run.

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel};

use crate::error::{Error, Result};
use crate::files::{self, Links, ReadError};
use crate::private_dir::PrivateDir;
use crate::units::{first_line, hex_sha256};

/// How often the epoch ticks while a guest runs. The guest yields to the
/// host at each tick, which is when the deadline is checked, so this bounds
/// how late a deadline can fire.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Builds the engine every run uses.
pub fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    config
        // Instruction budget.
        .consume_fuel(true)
        // Preemption points for the deadline.
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        // Traps are reported by kind; wasm frames would only be noise in a
        // one-line error.
        .wasm_backtrace_max_frames(None);
    Engine::new(&config).map_err(|e| Error::Internal(format!("cannot configure wasmtime: {e}")))
}

/// A component ready to instantiate, and what is known about it.
pub struct Loaded {
    /// The compiled component.
    pub component: Component,
    /// Lowercase hex SHA-256 of the component file.
    pub sha256: String,
    /// Whether it was compiled now (`false`: loaded precompiled).
    pub compiled: bool,
}

/// Magic at the start of a compiled-component file: format version 1.
const ARTIFACT_MAGIC: &[u8; 8] = b"CBXART1\n";

/// Largest compiled-component file read back from the cache.
const MAX_ARTIFACT_SIZE: u64 = 1 << 30;

/// Reads the component file at `path` (a regular file of at most `cap`
/// bytes, see [`crate::files`]) and returns its bytes and SHA-256, refusing
/// it when it differs from the `pinned` digest.
pub fn read_component(path: &Path, pinned: Option<&str>, cap: u64) -> Result<(Vec<u8>, String)> {
    let bytes = files::read_regular(path, cap, Links::Follow).map_err(|e| {
        let what = match e {
            ReadError::NotFound => "; build it first (see the README)",
            ReadError::TooLarge(_) => "; raise [limits] component_size if it really is that big",
            _ => "",
        };
        Error::Usage(format!(
            "cannot read component {}: {e}{what}",
            path.display()
        ))
    })?;
    let sha256 = hex_sha256(&bytes);
    if let Some(pin) = pinned
        && !pin.eq_ignore_ascii_case(&sha256)
    {
        return Err(Error::Usage(format!(
            "{} has sha256 {sha256}, but the manifest pins {pin}; rebuild the helper or update the pin",
            path.display()
        )));
    }
    Ok((bytes, sha256))
}

/// How a load may use the compiled-component cache.
#[derive(Debug, Clone)]
pub enum Artifacts {
    /// No cache: always compile, in memory.
    Off,
    /// Load an intact compiled component from this folder if it holds one;
    /// never write or remove anything there (`run --no-cache`, `inspect`).
    ReadOnly(PrivateDir),
    /// Load from this folder; store what had to be compiled, and remove
    /// what was unusable.
    ReadWrite(PrivateDir),
}

impl Artifacts {
    fn dir(&self) -> Option<&PrivateDir> {
        match self {
            Artifacts::Off => None,
            Artifacts::ReadOnly(dir) | Artifacts::ReadWrite(dir) => Some(dir),
        }
    }
}

/// Loads the compiled form of the component `bytes` (digest `sha256`) from
/// `cache`, compiling it on a miss (and storing it, when the cache is
/// [`Artifacts::ReadWrite`]). `path` is only used in messages.
///
/// The cached file is keyed by the component's SHA-256 and the engine's
/// compatibility hash (wasmtime version and configuration), and carries a
/// SHA-256 of its own contents: a corrupt, truncated or foreign file is
/// recompiled, never loaded.
pub fn load(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    sha256: &str,
    cache: &Artifacts,
) -> Result<Loaded> {
    let name = artifact_name(engine, sha256);
    let writable = matches!(cache, Artifacts::ReadWrite(_));
    if let Some(component) = cache
        .dir()
        .and_then(|dir| load_artifact(engine, dir, &name, writable))
    {
        return Ok(Loaded {
            component,
            sha256: sha256.to_owned(),
            compiled: false,
        });
    }
    let component = compile(engine, bytes, path)?;
    if let Artifacts::ReadWrite(dir) = cache {
        // A cache that cannot be written costs speed, not correctness.
        if let Ok(serialized) = component.serialize() {
            let _ = dir.write_atomic(&name, &wrap_artifact(&serialized));
        }
    }
    Ok(Loaded {
        component,
        sha256: sha256.to_owned(),
        compiled: true,
    })
}

/// Longest `credbox build` may compile: far more than any helper needs,
/// but a bound all the same.
pub const BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// [`load`], given up at `by`: the loading (a cached artifact, or a
/// compilation on a miss) runs on a thread of its own, and when `by`
/// passes first `Err(on_timeout())` is returned at once. Cranelift cannot
/// be interrupted, so the thread is left behind; the process exits soon
/// after (its result is lost, not half-written: the artifact cache writes
/// atomically).
pub fn load_by(
    engine: &Engine,
    path: &Path,
    bytes: Vec<u8>,
    sha256: &str,
    cache: Artifacts,
    by: std::time::Instant,
    on_timeout: impl FnOnce() -> Error,
) -> Result<Loaded> {
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    let (engine, path_owned, sha) = (engine.clone(), path.to_owned(), sha256.to_owned());
    std::thread::Builder::new()
        .name("credbox-compile".into())
        .spawn(move || {
            let loaded = load(&engine, &path_owned, &bytes, &sha, &cache);
            let _ = send.send(loaded);
        })
        .map_err(|e| Error::Internal(format!("cannot start the compiler thread: {e}")))?;
    let wait = by.saturating_duration_since(std::time::Instant::now());
    match receive.recv_timeout(wait) {
        Ok(loaded) => loaded,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(on_timeout()),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Internal(
            "the compiler thread stopped without an answer".into(),
        )),
    }
}

/// Longest a first compile may take when it runs ahead of a helper's run
/// ([`compile_ahead`]): more than any helper here needs (a 20 MB Python
/// component compiles in 10 to 45 s), less than `credbox build`'s bound.
pub const FIRST_COMPILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How often a caller waiting for a compile ahead looks for its result.
const AHEAD_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Compiles the component at `path` (digest `sha256`, `size` bytes) for
/// this engine into the compiled-component cache `dir` ahead of the run,
/// if it is not there yet: in a detached `credbox build` of its own, which
/// finishes even if this caller is killed (a client's own time limit), so
/// that the next call finds it. This caller waits for the result up to
/// [`FIRST_COMPILE_TIMEOUT`], and says why on stderr (one line, about
/// `helper`) once it has waited `announce_after` (the run's own timeout:
/// a small component compiles well within it, silently); the run's own
/// deadline starts after. One compile runs at a time for a component:
/// others wait for it.
///
/// Returns whether it waited (the compiled component was not there): the
/// run's deadline then starts now. A compile that failed or could not be
/// started is left to the run's own load, which reports why within its
/// deadline.
pub fn compile_ahead(
    engine: &Engine,
    dir: &PrivateDir,
    path: &Path,
    sha256: &str,
    size: usize,
    helper: &str,
    announce_after: std::time::Duration,
) -> Result<bool> {
    let name = artifact_name(engine, sha256);
    let compiled = || dir.path().join(&name).is_file();
    if compiled() {
        return Ok(false);
    }
    let start = std::time::Instant::now();
    let line = format!(
        "credbox: {}: compiling the component ({:.1} MB) for this machine, once; later runs start at once\n",
        crate::redact::one_line(helper, 128),
        size as f64 / 1e6
    );
    let lock_name = format!("{name}.lock");
    let outcome = (|| {
        let mut announced = false;
        let mut child = None;
        while start.elapsed() < FIRST_COMPILE_TIMEOUT {
            if !announced && start.elapsed() >= announce_after {
                let mut stderr = crate::platform::stderr_unlocked();
                let _ = std::io::Write::write_all(&mut *stderr, line.as_bytes());
                announced = true;
            }
            if compiled() {
                return Ok(true);
            }
            // No compile under way (none started, or it ended): start one,
            // holding the component's compile lock, which passes to it.
            if child.is_none()
                && let Ok(lock) = dir.lock_file(&lock_name)
                && lock.try_lock().is_ok()
            {
                if compiled() {
                    return Ok(true);
                }
                // A compile that cannot be started is the run's own, within its
                // deadline, as without this step.
                let Ok(exe) = std::env::current_exe() else {
                    return Ok(true);
                };
                let mut command = std::process::Command::new(exe);
                command
                    .arg("build")
                    .arg(path)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
                match crate::platform::spawn_detached(command, &lock) {
                    Ok(started) => child = Some(started),
                    Err(_) => return Ok(true),
                }
            }
            // Ours ended without a result: the run's load says why.
            if let Some(ours) = child.as_mut()
                && ours.try_wait().is_ok_and(|done| done.is_some())
            {
                return Ok(true);
            }
            std::thread::sleep(AHEAD_POLL);
        }
        Err(Error::CompileTimeout(FIRST_COMPILE_TIMEOUT))
    })();
    // Once compiled, nobody needs the compile's lock: the compiled folder
    // holds compiled components alone.
    let _ = dir.remove(&lock_name);
    outcome
}

/// Where the compiled form of the component with digest `sha256` lives in
/// the compiled-component cache folder `dir` (which may not exist), for
/// this engine: `inspect` and `doctor` look whether it is there without
/// compiling anything.
pub fn artifact_path(engine: &Engine, dir: &Path, sha256: &str) -> std::path::PathBuf {
    dir.join(artifact_name(engine, sha256))
}

/// The cache file name for a component under this engine.
fn artifact_name(engine: &Engine, sha256: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{sha256}-{:016x}.cwasm", hasher.finish())
}

/// Magic, SHA-256 of the payload, payload.
fn wrap_artifact(serialized: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ARTIFACT_MAGIC.len() + 32 + serialized.len());
    out.extend_from_slice(ARTIFACT_MAGIC);
    out.extend_from_slice(&Sha256::digest(serialized));
    out.extend_from_slice(serialized);
    out
}

/// The payload of an intact artifact file.
fn unwrap_artifact(file: &[u8]) -> Option<&[u8]> {
    let rest = file.strip_prefix(ARTIFACT_MAGIC)?;
    let (digest, payload) = rest.split_at_checked(32)?;
    (Sha256::digest(payload).as_slice() == digest).then_some(payload)
}

/// Loads a cached artifact, or `None` (and, if `remove_bad`, removes it)
/// when it is unusable.
fn load_artifact(
    engine: &Engine,
    dir: &PrivateDir,
    name: &str,
    remove_bad: bool,
) -> Option<Component> {
    let file = dir.read(name, MAX_ARTIFACT_SIZE)?;
    let component = unwrap_artifact(&file).and_then(|payload| {
        // SAFETY: `deserialize` trusts its input to be wasmtime's own
        // output. This file lives in a directory private to this user
        // (checked by `PrivateDir`), was written atomically by credbox, and
        // its SHA-256 matches the one credbox stored with it; wasmtime
        // still checks the version and configuration it was built for.
        unsafe { Component::deserialize(engine, payload) }.ok()
    });
    if component.is_none() && remove_bad {
        let _ = dir.remove(name);
    }
    component
}

/// Compiles component bytes; `path` is only used in messages.
pub fn compile(engine: &Engine, bytes: &[u8], path: &Path) -> Result<Component> {
    if !bytes.starts_with(b"\0asm") {
        return Err(Error::Usage(format!(
            "{} is not a WebAssembly file",
            path.display()
        )));
    }
    Component::new(engine, bytes).map_err(|e| {
        Error::Usage(format!(
            "{} is not a valid component: {}",
            path.display(),
            first_line(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_with_the_path() {
        let engine = new_engine().unwrap();
        let err = compile(&engine, b"not wasm", Path::new("x.wasm")).unwrap_err();
        assert!(matches!(err, Error::Usage(ref m) if m.contains("x.wasm is not a WebAssembly")));
        // A core module header is not a component.
        let err = compile(&engine, b"\0asm\x01\0\0\0", Path::new("m.wasm")).unwrap_err();
        assert!(
            matches!(err, Error::Usage(ref m) if m.contains("not a valid component")),
            "{err}"
        );
    }

    #[test]
    fn missing_files_say_to_build() {
        let err = read_component(Path::new("/nonexistent/x.wasm"), None, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("build it first"), "{err}");
    }

    #[test]
    fn a_pin_mismatch_is_refused_before_compiling() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("x.wasm");
        std::fs::write(&path, b"abc").unwrap();
        let good = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        assert!(
            read_component(&path, Some(good), 1 << 20).is_ok(),
            "case does not matter"
        );
        let bad = "0".repeat(64);
        let err = read_component(&path, Some(&bad), 1 << 20).unwrap_err();
        assert!(
            err.to_string().contains("but the manifest pins 0000"),
            "{err}"
        );
    }

    #[test]
    fn artifacts_carry_a_checksum() {
        let wrapped = wrap_artifact(b"payload");
        assert_eq!(unwrap_artifact(&wrapped), Some(&b"payload"[..]));
        let mut flipped = wrapped.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unwrap_artifact(&flipped), None);
        assert_eq!(unwrap_artifact(&wrapped[..wrapped.len() - 1]), None);
        assert_eq!(unwrap_artifact(&wrapped[..10]), None);
        assert_eq!(unwrap_artifact(b"garbage"), None);
    }
}
