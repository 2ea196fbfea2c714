//! The engine: wasmtime configured for metering, and component loading.
//!
//! Fuel counts instructions; epoch interruption lets a running guest be
//! preempted so the wall-clock deadline can fire (see [`crate::guest`]).
//! Nothing here depends on the helper: the same configuration serves every
//! run.

use std::path::Path;

use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel};

use crate::error::{Error, Result};

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

/// Reads and compiles the component at `path`.
pub fn load_component(engine: &Engine, path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read component {}: {e}; build it first (see the README)",
            path.display()
        ))
    })?;
    compile(engine, &bytes, path)
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

/// The first line of an error's top-level message (wasmtime errors can span
/// several lines).
pub(crate) fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
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
        assert!(matches!(err, Error::Usage(ref m) if m.contains("not a valid component")), "{err}");
    }

    #[test]
    fn missing_files_say_to_build() {
        let engine = new_engine().unwrap();
        let err = load_component(&engine, Path::new("/nonexistent/x.wasm")).unwrap_err();
        assert!(err.to_string().contains("build it first"), "{err}");
    }
}
