//! Links the `credbox` binary as a non-position-independent executable.
//!
//! credbox is started afresh for every credential request, and a cache hit
//! does almost nothing else, so start-up is its latency. As a PIE the
//! 27 MB binary needs ~37,000 relative relocations applied (and the pages
//! holding them copied) before `main`; linked at a fixed address it needs
//! none. Only the binaries are affected (the code is still compiled as
//! PIC, so libraries and proc-macros are untouched).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
