//! Paths to the WebAssembly components of credbox's example and test
//! helpers, compiled from source.
//!
//! `build.rs` builds every crate under `tests/guests/` and `examples/` for
//! `wasm32-wasip2` (one nested `cargo build --release`) and defines, for
//! each, a constant named after its package in upper snake case, holding
//! the absolute path of its `.wasm` file: [`GUEST_LOOP_FOREVER`] for
//! `guest-loop-forever`, [`ENV_BEARER`] for `env-bearer`, and so on.
//! [`ALL`] lists them all.
//!
//! [`tls`] holds the test TLS material that servers in tests present.

pub mod tls;

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

#[cfg(test)]
mod tests {
    /// The preamble of a component (a module has version `01 00 00 00`).
    const COMPONENT_HEADER: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn every_artifact_is_a_component() {
        for &(package, path) in super::ALL {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{package}: {path}: {e}"));
            assert!(
                bytes.starts_with(COMPONENT_HEADER),
                "{package}: {path} is not a component"
            );
        }
    }
}
